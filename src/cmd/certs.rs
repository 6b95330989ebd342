//! `auditlens certs init DIR`: a CA, a server certificate and one client certificate per
//! cluster, for mutual TLS between kube-apiservers and auditlens (and for the PostgreSQL
//! listener's clients).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use chrono::{Datelike, Duration, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

#[derive(Debug, clap::Subcommand)]
pub enum CertsCommand {
    /// Create `ca.crt`, `ca.key`, `server.crt`, `server.key` and, per cluster,
    /// `client-CLUSTER.crt` / `client-CLUSTER.key` (CN = the cluster name) in DIR. Keys are
    /// written with mode 0600; existing files are never overwritten.
    Init(InitArgs),
}

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Directory to write the files to (created if missing).
    pub dir: PathBuf,
    /// Names and addresses the server certificate is valid for (DNS names or IP addresses).
    #[arg(long, value_delimiter = ',', required = true)]
    pub hosts: Vec<String>,
    /// Clusters to issue client certificates for; the CN of each names the cluster its
    /// events are stored under.
    #[arg(long, value_delimiter = ',', default_value = "default")]
    pub clusters: Vec<String>,
    /// Days the server and client certificates are valid (the CA: ten times as long).
    #[arg(long, default_value_t = 365)]
    pub days: i64,
}

pub fn run(command: CertsCommand) -> anyhow::Result<ExitCode> {
    match command {
        CertsCommand::Init(args) => init(&args),
    }
}

/// A PEM file to write, and whether it is secret.
struct Output {
    name: String,
    pem: String,
    secret: bool,
}

fn init(args: &InitArgs) -> anyhow::Result<ExitCode> {
    if args.days <= 0 {
        bail!("--days must be positive");
    }
    for cluster in &args.clusters {
        ingest::server::auth::validate_cluster(cluster)
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("--clusters {cluster}"))?;
    }
    if args.hosts.iter().any(|host| host.trim().is_empty()) {
        bail!("--hosts holds an empty name");
    }
    let mut outputs = Vec::new();
    let ca_key = KeyPair::generate()?;
    outputs.push(Output {
        name: "ca.key".into(),
        pem: ca_key.serialize_pem(),
        secret: true,
    });
    let ca = CertifiedIssuer::self_signed(ca_params(args.days * 10)?, ca_key)?;
    outputs.push(Output {
        name: "ca.crt".into(),
        pem: ca.pem(),
        secret: false,
    });
    let server = leaf(
        "auditlens",
        args.hosts.clone(),
        ExtendedKeyUsagePurpose::ServerAuth,
        args.days,
        &ca,
    )
    .context("--hosts")?;
    outputs.extend(pair("server", server));
    for cluster in &args.clusters {
        let client = leaf(
            cluster,
            Vec::new(),
            ExtendedKeyUsagePurpose::ClientAuth,
            args.days,
            &ca,
        )?;
        outputs.extend(pair(&format!("client-{cluster}"), client));
    }
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    if let Some(existing) = outputs
        .iter()
        .map(|output| args.dir.join(&output.name))
        .find(|path| path.exists())
    {
        bail!(
            "{} already exists; certs init never overwrites (remove the files or choose another directory)",
            existing.display()
        );
    }
    for output in &outputs {
        write(&args.dir.join(&output.name), &output.pem, output.secret)?;
    }
    println!(
        "wrote {} files to {}: ca.crt, server.crt/key for {}, client certificates for {}",
        outputs.len(),
        args.dir.display(),
        args.hosts.join(", "),
        args.clusters.join(", ")
    );
    Ok(ExitCode::SUCCESS)
}

fn pair(stem: &str, (cert, key): (String, String)) -> [Output; 2] {
    [
        Output {
            name: format!("{stem}.crt"),
            pem: cert,
            secret: false,
        },
        Output {
            name: format!("{stem}.key"),
            pem: key,
            secret: true,
        },
    ]
}

/// Valid from yesterday (clocks drift) for `days` days.
fn validity(params: &mut CertificateParams, days: i64) {
    let date = |at: chrono::DateTime<Utc>| {
        rcgen::date_time_ymd(at.year(), at.month() as u8, at.day() as u8)
    };
    let now = Utc::now();
    params.not_before = date(now - Duration::days(1));
    params.not_after = date(now + Duration::days(days));
}

fn ca_params(days: i64) -> anyhow::Result<CertificateParams> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params
        .distinguished_name
        .push(DnType::CommonName, "auditlens CA");
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    validity(&mut params, days);
    Ok(params)
}

/// A certificate and its key, signed by `ca`; `names` (DNS names or IP addresses) become its
/// subject alternative names.
fn leaf(
    common_name: &str,
    names: Vec<String>,
    usage: ExtendedKeyUsagePurpose,
    days: i64,
    ca: &CertifiedIssuer<'_, KeyPair>,
) -> anyhow::Result<(String, String)> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(names)?;
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![usage];
    validity(&mut params, days);
    let cert = params.signed_by(&key, ca)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// Writes a new file; secret ones are created with mode 0600.
fn write(path: &Path, pem: &str, secret: bool) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mode = if secret { 0o600 } else { 0o644 };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(pem.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}
