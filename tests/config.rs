//! The configuration file of `serve`: `config example`, `config check`, the order flag >
//! environment > file > default on a running server, and docs/configuration.md kept equal to
//! `config reference` (`AUDITLENS_BLESS=1` rewrites it).

mod common;

use std::path::Path;
use std::process::Command;

use common::{event_list, http, query, repo, run, text, BIN};

fn check(file: &Path) -> std::process::Output {
    run(&["config", "check", &file.display().to_string()])
}

#[test]
fn the_example_checks_and_mistakes_are_named_by_key() {
    let dir = tempfile::tempdir().unwrap();
    let example = run(&["config", "example"]);
    assert!(example.status.success());
    let printed = text(&example.stdout);
    assert!(printed.contains("# tls_cert = "), "{printed}");
    assert!(printed.contains("# query_max_concurrent = 4"), "{printed}");
    let file = dir.path().join("example.toml");
    std::fs::write(&file, &example.stdout).unwrap();
    let checked = check(&file);
    assert!(checked.status.success(), "{}", text(&checked.stderr));
    assert!(text(&checked.stdout).contains(": ok"));

    std::fs::write(
        &file,
        "listen = \"0.0.0.0:9765\"\nlisten_adress = \"x\"\nmax_in_flight = \"many\"\nno_rules = 1\n",
    )
    .unwrap();
    let checked = check(&file);
    assert!(!checked.status.success());
    let message = text(&checked.stderr);
    // Every key problem at once; a value clap cannot parse names its flag.
    assert!(message.contains("listen_adress: unknown key"), "{message}");
    assert!(
        message.contains("no_rules: expected true or false"),
        "{message}"
    );
    std::fs::write(&file, "max_in_flight = \"many\"\n").unwrap();
    let message = text(&check(&file).stderr);
    assert!(
        message.contains("--max-in-flight") && message.contains("many"),
        "{message}"
    );
    // What serve itself would refuse.
    std::fs::write(&file, "tls_cert = \"/etc/server.crt\"\n").unwrap();
    let message = text(&check(&file).stderr);
    assert!(message.contains("tls_key"), "{message}");
    std::fs::write(&file, "listen = \"0.0.0.0:9765\"\n").unwrap();
    let message = text(&check(&file).stderr);
    assert!(
        message.contains("refusing to serve plain HTTP"),
        "{message}"
    );
}

/// Starts `serve --config FILE` with `env` and `flags`, posts one event without naming a
/// cluster, stops, and returns the cluster it was stored under.
async fn cluster_stored(config: &Path, env: Option<&str>, flags: &[&str]) -> String {
    let data = tempfile::tempdir().unwrap();
    let port = common::free_port().port();
    let mut command = Command::new(BIN);
    command
        .args(["serve", "--no-rules", "--config"])
        .arg(config)
        .arg("--data-dir")
        .arg(data.path())
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(flags)
        .env_remove("AUDITLENS_CLUSTER")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    if let Some(cluster) = env {
        command.env("AUDITLENS_CLUSTER", cluster);
    }
    let mut child = command.spawn().unwrap();
    let client = http();
    let url = format!("http://127.0.0.1:{port}/v1/audit");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let response = loop {
        match client.post(&url).body(event_list("c", 1)).send().await {
            Ok(response) => break response,
            Err(_) => {
                assert!(std::time::Instant::now() < deadline, "serve did not start");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    };
    assert_eq!(response.status(), 200);
    // SIGTERM: the server flushes and exits.
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    assert!(child.wait().unwrap().success());
    let rows = query(data.path(), "SELECT DISTINCT cluster FROM events");
    rows[0]["cluster"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flag_beats_the_environment_which_beats_the_file_which_beats_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("auditlens.toml");
    std::fs::write(&config, "cluster = \"from-file\"\nflush_max_age_ms = 100\n").unwrap();
    assert_eq!(cluster_stored(&config, None, &[]).await, "from-file");
    assert_eq!(
        cluster_stored(&config, Some("from-env"), &[]).await,
        "from-env"
    );
    assert_eq!(
        cluster_stored(&config, Some("from-env"), &["--cluster", "from-flag"]).await,
        "from-flag"
    );
    let empty = dir.path().join("empty.toml");
    std::fs::write(&empty, "").unwrap();
    assert_eq!(cluster_stored(&empty, None, &[]).await, "default");
}

#[test]
fn an_unknown_key_stops_serve_before_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("auditlens.toml");
    std::fs::write(&config, "clustr = \"x\"\n").unwrap();
    let output = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("clustr: unknown key"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn the_configuration_reference_is_current() {
    let printed = run(&["config", "reference"]);
    assert!(printed.status.success());
    let path = repo("docs/configuration.md");
    if std::env::var_os("AUDITLENS_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &printed.stdout).unwrap();
    }
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        current == text(&printed.stdout),
        "docs/configuration.md is stale: rerun with AUDITLENS_BLESS=1"
    );
}
