//! `auditlens webhook-config`: the kubeconfig kube-apiserver reads from
//! `--audit-webhook-config-file`, with the CA and the client credentials embedded, and the
//! recommended `--audit-webhook-*` flags as a comment.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};

#[derive(Debug, clap::Args)]
pub struct WebhookConfigArgs {
    /// The webhook's URL as the apiserver reaches it, e.g.
    /// `https://10.0.0.5:30765/v1/audit?cluster=prod` (a NodePort or host address for static-pod
    /// apiservers: they cannot resolve Service names).
    #[arg(long)]
    pub url: String,
    /// CA certificate (PEM) that signed the server certificate; embedded.
    #[arg(long)]
    pub ca: Option<PathBuf>,
    /// Client certificate (PEM) for mTLS; its CN names the cluster. Embedded.
    #[arg(long, requires = "client_key")]
    pub client_cert: Option<PathBuf>,
    /// The client certificate's key (PEM). Embedded.
    #[arg(long, requires = "client_cert")]
    pub client_key: Option<PathBuf>,
    /// A bearer token from the server's --tokens-file (with --client-cert too when the server
    /// has both --client-ca and --tokens-file: it then asks for both).
    #[arg(long)]
    pub token: Option<String>,
}

pub fn run(args: WebhookConfigArgs) -> anyhow::Result<ExitCode> {
    print!("{}", render(&args)?);
    Ok(ExitCode::SUCCESS)
}

fn render(args: &WebhookConfigArgs) -> anyhow::Result<String> {
    let url = reqwest::Url::parse(&args.url).with_context(|| format!("--url {}", args.url))?;
    if !matches!(url.scheme(), "https" | "http") {
        bail!("--url {}: the scheme must be https (or http)", args.url);
    }
    if url.scheme() == "http" && (args.ca.is_some() || args.client_cert.is_some()) {
        bail!(
            "--url {}: --ca and --client-cert need an https URL",
            args.url
        );
    }
    if url.scheme() == "https" && args.ca.is_none() {
        eprintln!("note: no --ca given; kube-apiserver then verifies the server certificate against its system roots");
    }
    if args.client_cert.is_none() && args.token.is_none() {
        eprintln!("note: no --client-cert or --token; the server must then accept unauthenticated requests");
    }
    let mut cluster = format!("    server: {}\n", yaml_string(&args.url));
    if let Some(ca) = &args.ca {
        cluster.push_str(&format!(
            "    certificate-authority-data: {}\n",
            pem_base64(ca, "--ca")?
        ));
    }
    let mut user = String::new();
    if let (Some(cert), Some(key)) = (&args.client_cert, &args.client_key) {
        user.push_str(&format!(
            "    client-certificate-data: {}\n    client-key-data: {}\n",
            pem_base64(cert, "--client-cert")?,
            pem_base64(key, "--client-key")?
        ));
    }
    if let Some(token) = &args.token {
        if token.trim().is_empty() {
            bail!("--token is empty");
        }
        user.push_str(&format!("    token: {}\n", yaml_string(token)));
    }
    let user = if user.is_empty() {
        "  user: {}\n".to_string()
    } else {
        format!("  user:\n{user}")
    };
    Ok(format!(
        "# kubeconfig for kube-apiserver's --audit-webhook-config-file (made by auditlens webhook-config).
# Recommended kube-apiserver flags (the batch values are kube-apiserver's defaults):
#   --audit-policy-file=/etc/kubernetes/audit/policy.yaml
#   --audit-webhook-config-file=/etc/kubernetes/audit/webhook/webhook.yaml
#   --audit-webhook-mode=batch
#   --audit-webhook-batch-max-size=400
#   --audit-webhook-batch-max-wait=30s
#   --audit-webhook-batch-throttle-qps=10
#   --audit-webhook-batch-throttle-burst=15
#   --audit-webhook-initial-backoff=10s
#   --audit-webhook-truncate-enabled=true
# Kubermatic: store this file under the key webhook.yaml of the Secret that
# spec.auditLogging.webhookBackend.auditWebhookConfig names.
apiVersion: v1
kind: Config
clusters:
- name: auditlens
  cluster:
{cluster}users:
- name: kube-apiserver
{user}contexts:
- name: auditlens
  context:
    cluster: auditlens
    user: kube-apiserver
current-context: auditlens
"
    ))
}

/// A PEM file's bytes, base64-encoded, after checking it holds PEM.
fn pem_base64(path: &std::path::Path, flag: &str) -> anyhow::Result<String> {
    let bytes =
        std::fs::read(path).with_context(|| format!("{flag}: cannot read {}", path.display()))?;
    if !bytes.starts_with(b"-----BEGIN ") {
        bail!("{flag}: {} is not a PEM file", path.display());
    }
    use base64::Engine;
    Ok(base64::engine::general_purpose::STANDARD.encode(&bytes))
}

/// A double-quoted YAML scalar.
fn yaml_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_http_url_with_certificates_is_refused() {
        let args = WebhookConfigArgs {
            url: "http://10.0.0.5:9765/v1/audit".into(),
            ca: Some("ca.crt".into()),
            client_cert: None,
            client_key: None,
            token: None,
        };
        let error = render(&args).unwrap_err().to_string();
        assert!(error.contains("https"), "{error}");
    }
}
