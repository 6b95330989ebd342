//! Helpers for end-to-end tests: the real `auditlens` binary as a child process.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub mod kafka;
pub mod s3;

pub const BIN: &str = env!("CARGO_BIN_EXE_auditlens");

/// A running `auditlens serve`.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    /// Log lines it printed, for failure messages.
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `serve` on a free loopback port with `args` added; waits until it listens.
    /// Without `--rules` in `args`, detection is off (tests of the webhook and store).
    pub fn start(data_dir: &Path, args: &[&str]) -> Server {
        Server::start_until(data_dir, args, "listening")
    }

    /// [`Server::start`], ready once it logged `ready` (a role without a listener has no
    /// address: `addr` is then unspecified).
    pub fn start_until(data_dir: &Path, args: &[&str], ready: &str) -> Server {
        let detection: &[&str] = if args.contains(&"--rules") {
            &[]
        } else {
            &["--no-rules"]
        };
        let mut child = Command::new(BIN)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--log-format",
                "json",
                "--data-dir",
            ])
            .arg(data_dir)
            .args(detection)
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start auditlens serve");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        {
            let log = log.clone();
            let ready = ready.to_string();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if let Ok(value) = serde_json::from_str::<serde_json::Value>(&line) {
                        if value["message"] == ready.as_str() {
                            let address = value["address"].as_str().unwrap_or("0.0.0.0:0");
                            let _ = tx.send(address.to_string());
                        }
                    }
                    log.lock().unwrap().push(line);
                }
            });
        }
        let addr = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) => addr.parse().expect("listening address"),
            Err(_) => {
                let _ = child.kill();
                panic!("auditlens serve did not start: {:?}", log.lock().unwrap());
            }
        };
        Server { child, addr, log }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id() as libc::pid_t;
        // Signal our own child.
        unsafe_kill(pid, libc::SIGTERM);
        self.child.wait().unwrap()
    }

    /// Sends SIGTERM and asserts the server flushed and exited 0.
    pub fn terminate_cleanly(self) {
        let log = self.log.clone();
        let status = self.terminate();
        assert!(
            status.success(),
            "serve must exit 0 on SIGTERM: {:?}",
            log.lock().unwrap()
        );
    }

    /// SIGKILL: the process dies at once, wherever it is.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

#[allow(unsafe_code)]
fn unsafe_kill(pid: libc::pid_t, signal: libc::c_int) {
    // SAFETY: kill(2) has no memory-safety preconditions.
    unsafe {
        libc::kill(pid, signal);
    }
}

/// A path of the repository (fixtures, queries) as an argument.
pub fn repo(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(path)
        .display()
        .to_string()
}

/// Runs `auditlens ARGS` to completion.
pub fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("run auditlens")
}

/// Runs `auditlens query SQL --format jsonl` over `data_dir` and parses the rows.
pub fn query(data_dir: &Path, sql: &str) -> Vec<serde_json::Value> {
    let output = Command::new(BIN)
        .args(["query", "--format", "jsonl", "--data-dir"])
        .arg(data_dir)
        .arg(sql)
        .output()
        .expect("run auditlens query");
    assert!(
        output.status.success(),
        "query failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON object per line"))
        .collect()
}

pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// An `EventList` body of `n` valid events with audit IDs `PREFIX-0`….
pub fn event_list(prefix: &str, n: usize) -> String {
    let items: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"{prefix}-{i}","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/pods","verb":"list","user":{{"username":"alice","groups":["dev"]}},"sourceIPs":["10.0.0.1"],"objectRef":{{"resource":"pods","namespace":"default","apiVersion":"v1"}},"responseStatus":{{"metadata":{{}},"code":200}},"requestReceivedTimestamp":"2026-11-30T10:00:00.000001Z","stageTimestamp":"2026-11-30T10:{:02}:00.000000Z"}}"#,
                i % 60
            )
        })
        .collect();
    format!(
        r#"{{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{{}},"items":[{}]}}"#,
        items.join(",")
    )
}

/// A rule raising an alert (Warning) for every exec into a kube-system pod.
pub const EXEC_RULE: &str = "-- id: exec-kube-system
-- title: Exec into a kube-system pod
-- severity: Warning
-- mitre: T1609
-- level: Metadata
-- mode: event
-- output: {user_name} exec'd into kube-system/{object_name}
-- description: An exec session in a kube-system pod.
SELECT cluster, audit_id, stage_at AS time, user_name, object_name
FROM events
WHERE object_subresource = 'exec' AND object_namespace = 'kube-system'
";

pub fn exec_event(id: &str) -> String {
    exec_event_by(id, "mallory")
}

/// An `EventList` of one exec into `kube-system/coredns-1` by `user`, audit ID `id`.
pub fn exec_event_by(id: &str, user: &str) -> String {
    format!(
        r#"{{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"{id}","stage":"ResponseStarted","requestURI":"/api/v1/namespaces/kube-system/pods/coredns-1/exec?command=sh","verb":"create","user":{{"username":"{user}","groups":["system:authenticated"]}},"sourceIPs":["203.0.113.9"],"objectRef":{{"resource":"pods","namespace":"kube-system","name":"coredns-1","subresource":"exec","apiVersion":"v1"}},"responseStatus":{{"metadata":{{}},"code":101}},"requestReceivedTimestamp":"2026-11-30T10:00:00.000000Z","stageTimestamp":"2026-11-30T10:00:00.100000Z"}}]}}"#
    )
}

pub fn rules_dir(root: &Path) -> String {
    let dir = root.join("rules");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("exec-kube-system.sql"), EXEC_RULE).unwrap();
    dir.display().to_string()
}

pub fn free_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

pub async fn wait_for<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Bytes a command printed, as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A new data directory holding `fixtures/forensics/incident.jsonl` as cluster `prod` (25
/// events; the story is in `fixtures/forensics/generate.py`).
pub fn import_incident() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let output = run(&[
        "import",
        "--data-dir",
        &dir.path().display().to_string(),
        "--cluster",
        "prod",
        &repo("fixtures/forensics/incident.jsonl"),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    dir
}

/// Runs `auditlens certs init DIR/pki --hosts HOSTS --clusters prod`; returns a function giving
/// the path of one of its files (`ca.crt`, `server.key`, `client-prod.crt`, …).
pub fn certs_for_prod(dir: &Path, hosts: &str) -> impl Fn(&str) -> String {
    let pki = dir.join("pki");
    let made = run(&[
        "certs",
        "init",
        &pki.display().to_string(),
        "--hosts",
        hosts,
        "--clusters",
        "prod",
    ]);
    assert!(made.status.success(), "{}", text(&made.stderr));
    move |name: &str| pki.join(name).display().to_string()
}

/// Posts `n` events (audit IDs `PREFIX-…`) to the webhook with `token` and asserts the 200
/// came within 2 s: what a test checks while a heavy query runs.
pub async fn assert_webhook_answers_promptly(server: &Server, token: &str, prefix: &str, n: usize) {
    let started = Instant::now();
    let response = http()
        .post(server.url("/v1/audit"))
        .bearer_auth(token)
        .body(event_list(prefix, n))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the webhook took {:?} while a query ran",
        started.elapsed()
    );
}
