//! Wiring kube-apiserver: `auditlens certs init` makes the mTLS files, `auditlens
//! webhook-config` the kubeconfig for `--audit-webhook-config-file`; `kubectl` reads that
//! kubeconfig back, and its credentials deliver events that are stored under the cluster the
//! client certificate names.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::{event_list, query, run, text, Server};

/// One field of a kubeconfig, read by kubectl (offline).
fn kubeconfig_field(path: &Path, jsonpath: &str) -> String {
    let output = Command::new("kubectl")
        .args(["config", "view", "--raw", "--kubeconfig"])
        .arg(path)
        .arg(format!("-o=jsonpath={jsonpath}"))
        .output()
        .expect("kubectl is installed");
    assert!(output.status.success(), "kubectl: {}", text(&output.stderr));
    text(&output.stdout)
}

fn decode(data: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .expect("base64 data")
}

#[test]
fn certs_init_writes_secret_files_0600_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    let pki_text = pki.display().to_string();
    let made = run(&[
        "certs",
        "init",
        &pki_text,
        "--hosts",
        "auditlens.example,10.0.0.5",
        "--clusters",
        "prod,staging",
    ]);
    assert!(made.status.success(), "{}", text(&made.stderr));
    for (name, mode) in [
        ("ca.crt", 0o644),
        ("ca.key", 0o600),
        ("server.crt", 0o644),
        ("server.key", 0o600),
        ("client-prod.crt", 0o644),
        ("client-prod.key", 0o600),
        ("client-staging.crt", 0o644),
        ("client-staging.key", 0o600),
    ] {
        let meta = std::fs::metadata(pki.join(name)).unwrap_or_else(|_| panic!("{name}"));
        assert_eq!(meta.permissions().mode() & 0o777, mode, "{name}");
    }
    // The names the server certificate is valid for, and each client's CN, as openssl reads them.
    let server = Command::new("openssl")
        .args([
            "x509",
            "-noout",
            "-subject",
            "-ext",
            "subjectAltName",
            "-in",
        ])
        .arg(pki.join("server.crt"))
        .output()
        .unwrap();
    let server = text(&server.stdout);
    assert!(
        server.contains("DNS:auditlens.example") && server.contains("IP Address:10.0.0.5"),
        "{server}"
    );
    let client = Command::new("openssl")
        .args(["x509", "-noout", "-subject", "-in"])
        .arg(pki.join("client-staging.crt"))
        .output()
        .unwrap();
    assert!(
        text(&client.stdout).contains("CN = staging"),
        "{}",
        text(&client.stdout)
    );
    let verified = Command::new("openssl")
        .args(["verify", "-CAfile"])
        .arg(pki.join("ca.crt"))
        .arg(pki.join("server.crt"))
        .arg(pki.join("client-prod.crt"))
        .output()
        .unwrap();
    assert!(verified.status.success(), "{}", text(&verified.stdout));

    let before = std::fs::read(pki.join("ca.key")).unwrap();
    let again = run(&["certs", "init", &pki_text, "--hosts", "localhost"]);
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("already exists"),
        "{}",
        text(&again.stderr)
    );
    assert_eq!(std::fs::read(pki.join("ca.key")).unwrap(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_kubeconfig_delivers_events_over_mtls_under_the_certificates_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let file = common::certs_for_prod(dir.path(), "localhost,127.0.0.1");
    let data = dir.path().join("data");
    let server = Server::start(
        &data,
        &[
            "--tls-cert",
            &file("server.crt"),
            "--tls-key",
            &file("server.key"),
            "--client-ca",
            &file("ca.crt"),
            "--flush-max-age-ms",
            "200",
        ],
    );
    let url = format!("https://localhost:{}/v1/audit", server.addr.port());
    let printed = run(&[
        "webhook-config",
        "--url",
        &url,
        "--ca",
        &file("ca.crt"),
        "--client-cert",
        &file("client-prod.crt"),
        "--client-key",
        &file("client-prod.key"),
    ]);
    assert!(printed.status.success(), "{}", text(&printed.stderr));
    let kubeconfig = dir.path().join("webhook.yaml");
    std::fs::write(&kubeconfig, &printed.stdout).unwrap();
    assert!(text(&printed.stdout).contains("--audit-webhook-batch-max-size=400"));

    // kubectl reads it as a kubeconfig; the current context picks the server and credentials.
    assert_eq!(
        kubeconfig_field(&kubeconfig, "{.current-context}"),
        "auditlens"
    );
    let server_url = kubeconfig_field(&kubeconfig, "{.clusters[0].cluster.server}");
    assert_eq!(server_url, url);
    let ca = decode(&kubeconfig_field(
        &kubeconfig,
        "{.clusters[0].cluster.certificate-authority-data}",
    ));
    assert_eq!(ca, std::fs::read(file("ca.crt")).unwrap());
    let mut identity = decode(&kubeconfig_field(
        &kubeconfig,
        "{.users[0].user.client-certificate-data}",
    ));
    identity.extend(decode(&kubeconfig_field(
        &kubeconfig,
        "{.users[0].user.client-key-data}",
    )));

    // Deliver as kube-apiserver would with these credentials.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .identity(reqwest::Identity::from_pem(&identity).unwrap())
        .build()
        .unwrap();
    let response = client
        .post(&server_url)
        .body(event_list("wired", 4))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    server.terminate_cleanly();
    let rows = query(
        &data,
        "SELECT cluster, count(*) AS n FROM events GROUP BY cluster",
    );
    assert_eq!(rows, [serde_json::json!({"cluster": "prod", "n": 4})]);

    // A token instead of a certificate.
    let printed = run(&[
        "webhook-config",
        "--url",
        "https://10.0.0.5:30765/v1/audit?cluster=prod",
        "--token",
        "s3cret",
    ]);
    assert!(printed.status.success());
    std::fs::write(&kubeconfig, &printed.stdout).unwrap();
    assert_eq!(
        kubeconfig_field(&kubeconfig, "{.users[0].user.token}"),
        "s3cret"
    );
    assert_eq!(
        kubeconfig_field(&kubeconfig, "{.clusters[0].cluster.server}"),
        "https://10.0.0.5:30765/v1/audit?cluster=prod"
    );
}

/// The value of the sample `series` (name and labels as printed) on a `/metrics` page.
fn sample(page: &str, series: &str) -> Option<f64> {
    page.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_events_per_cluster_requests_by_code_and_alerts_by_rule() {
    let dir = tempfile::tempdir().unwrap();
    let rules = common::rules_dir(dir.path());
    let data = dir.path().join("data");
    let server = Server::start(&data, &["--rules", &rules]);
    let client = common::http();
    let post = |path: &str, body: String| client.post(server.url(path)).body(body).send();
    assert_eq!(
        post("/v1/audit?cluster=prod", event_list("m", 5))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        post("/v1/audit?cluster=lab", common::exec_event("x-1"))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        post("/v1/audit?cluster=prod", "{not json".into())
            .await
            .unwrap()
            .status(),
        400
    );
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let mut page = String::new();
    for _ in 0..100 {
        page = client
            .get(server.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if sample(
            &page,
            r#"auditlens_alerts_total{rule="exec-kube-system",priority="Warning"}"#,
        ) == Some(1.0)
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let value = |series: &str| {
        sample(&page, series).unwrap_or_else(|| panic!("{series} is missing from:\n{page}"))
    };
    assert_eq!(
        value(r#"auditlens_events_received_total{cluster="prod"}"#),
        5.0
    );
    assert_eq!(
        value(r#"auditlens_events_accepted_total{cluster="lab"}"#),
        1.0
    );
    assert_eq!(
        value(r#"auditlens_webhook_requests_total{code="200"}"#),
        2.0
    );
    assert_eq!(
        value(r#"auditlens_webhook_requests_total{code="400"}"#),
        1.0
    );
    assert_eq!(
        value("auditlens_webhook_request_duration_seconds_count"),
        3.0
    );
    let last = value(r#"auditlens_last_event_received_timestamp_seconds{cluster="lab"}"#);
    assert!((last - started).abs() < 60.0, "{last} vs {started}");
    assert_eq!(
        value(r#"auditlens_alerts_total{rule="exec-kube-system",priority="Warning"}"#),
        1.0
    );
    assert!(value(r#"auditlens_rule_evaluations_total{rule="exec-kube-system"}"#) >= 1.0);
    assert_eq!(
        value(r#"auditlens_rule_failing{rule="exec-kube-system"}"#),
        0.0
    );
    assert_eq!(
        value(&format!(
            r#"auditlens_build_info{{version="{}"}}"#,
            env!("CARGO_PKG_VERSION")
        )),
        1.0
    );
    let ready = client
        .get(server.url("/readyz?verbose"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let ready = ready.text().await.unwrap();
    for check in ["shutdown", "wal", "storage", "capacity"] {
        assert!(ready.contains(&format!("[+]{check} ok")), "{ready}");
    }
    // Every line is a comment or `name{labels} value`, and no family is declared twice.
    let mut declared = std::collections::HashSet::new();
    for line in page.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let name = rest.split(' ').next().unwrap();
            assert!(declared.insert(name.to_string()), "{name} declared twice");
        } else if !line.starts_with('#') && !line.is_empty() {
            let (series, value) = line.rsplit_once(' ').expect("name and value");
            assert!(series.starts_with("auditlens_"), "{line}");
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
    server.terminate_cleanly();
}
