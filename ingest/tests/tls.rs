//! TLS and mTLS on a real socket with real certificates: a client without a certificate signed
//! by the client CA is refused, and a client certificate's CN names the cluster.

mod common;

use std::path::Path;
use std::sync::Arc;

use auditlens_ingest::server::tls::{server_config, TlsFiles};
use auditlens_ingest::server::ServerConfig;
use common::{event_list, row_count, TestServer};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

struct Pki {
    dir: tempfile::TempDir,
}

fn issue(cn: &str, sans: Vec<String>, ca: &CertifiedIssuer<'_, KeyPair>) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(sans).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    let cert = params.signed_by(&key, ca).unwrap();
    (cert.pem(), key.serialize_pem())
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "auditlens test CA");
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        std::fs::write(dir.path().join("ca.crt"), ca.pem()).unwrap();
        let (cert, key) = issue(
            "auditlens",
            vec!["localhost".into(), "127.0.0.1".into()],
            &ca,
        );
        std::fs::write(dir.path().join("server.crt"), cert).unwrap();
        std::fs::write(dir.path().join("server.key"), key).unwrap();
        let (cert, key) = issue("prod-cluster", vec![], &ca);
        std::fs::write(dir.path().join("client.crt"), cert).unwrap();
        std::fs::write(dir.path().join("client.key"), key).unwrap();
        // A client certificate from a CA the server does not trust.
        let mut rogue_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        rogue_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let rogue =
            CertifiedIssuer::self_signed(rogue_params, KeyPair::generate().unwrap()).unwrap();
        let (cert, key) = issue("prod-cluster", vec![], &rogue);
        std::fs::write(dir.path().join("rogue.crt"), cert).unwrap();
        std::fs::write(dir.path().join("rogue.key"), key).unwrap();
        Pki { dir }
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    fn files(&self, mtls: bool) -> TlsFiles {
        TlsFiles {
            cert: self.path("server.crt"),
            key: self.path("server.key"),
            client_ca: mtls.then(|| self.path("ca.crt")),
        }
    }
}

fn client(pki: &Pki, identity: Option<&str>, server: &TestServer) -> reqwest::Client {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(pki.path("ca.crt")).unwrap())
        .unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match identity {
        Some(name) => {
            let cert = CertificateDer::from_pem_file(pki.path(&format!("{name}.crt"))).unwrap();
            let key = PrivateKeyDer::from_pem_file(pki.path(&format!("{name}.key"))).unwrap();
            builder.with_client_auth_cert(vec![cert], key).unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    reqwest::Client::builder()
        .use_preconfigured_tls(config)
        .resolve("localhost", server.addr)
        .build()
        .unwrap()
}

fn https(server: &TestServer, path: &str) -> String {
    format!("https://localhost:{}{path}", server.addr.port())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_requires_a_client_certificate_and_its_cn_names_the_cluster() {
    let pki = Pki::new();
    let tls = server_config(&pki.files(true)).unwrap();
    let server = TestServer::start(ServerConfig::default(), Some(tls)).await;

    let anonymous = client(&pki, None, &server)
        .post(https(&server, "/v1/audit"))
        .body(event_list("a", 1))
        .send()
        .await;
    assert!(
        anonymous.is_err(),
        "a client without a certificate must be refused"
    );
    let rogue = client(&pki, Some("rogue"), &server)
        .post(https(&server, "/v1/audit"))
        .body(event_list("r", 1))
        .send()
        .await;
    assert!(
        rogue.is_err(),
        "a certificate from another CA must be refused"
    );

    let trusted = client(&pki, Some("client"), &server);
    let response = trusted
        .post(https(&server, "/v1/audit"))
        .body(event_list("ok", 2))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let response = trusted
        .post(https(&server, "/v1/audit?cluster=named"))
        .body(event_list("q", 1))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status().as_u16(),
        403,
        "a certificate cannot write another cluster's events"
    );
    let response = trusted
        .post(https(&server, "/v1/audit?cluster=prod-cluster"))
        .body(event_list("same", 1))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);

    let (data, _) = server.stop().await;
    assert_eq!(
        row_count(&data.path().join("events/cluster=prod-cluster")),
        3
    );
    assert!(!data.path().join("events/cluster=named").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_without_client_ca_serves_https_only() {
    let pki = Pki::new();
    let tls = server_config(&pki.files(false)).unwrap();
    let server = TestServer::start(ServerConfig::default(), Some(tls)).await;
    let response = client(&pki, None, &server)
        .post(https(&server, "/v1/audit"))
        .body(event_list("a", 1))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let plain = reqwest::Client::new()
        .post(server.url("/v1/audit"))
        .body(event_list("p", 1))
        .send()
        .await;
    assert!(
        plain.map(|r| r.status().as_u16() != 200).unwrap_or(true),
        "plain HTTP must not be accepted"
    );
    let (data, _) = server.stop().await;
    assert_eq!(row_count(&data.path().join("events/cluster=default")), 1);
}

#[test]
fn unusable_tls_files_are_named() {
    let pki = Pki::new();
    let mut files = pki.files(false);
    files.cert = Path::new("/nonexistent/server.crt").to_path_buf();
    let error = server_config(&files).err().unwrap().to_string();
    assert!(error.contains("/nonexistent/server.crt"), "{error}");
    let mut files = pki.files(false);
    files.key = pki.path("client.key");
    let error = server_config(&files).err().unwrap().to_string();
    assert!(error.contains("server certificate and key"), "{error}");
}
