//! End to end with the real binary: serve a webhook batch and stop it, import files, query.

mod common;

use common::{event_list, http, query, repo, run, Server};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_acknowledges_flushes_on_sigterm_and_query_sees_it() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]);
    let fixture = std::fs::read(repo("fixtures/eventlist.json")).unwrap();
    let response = http()
        .post(server.url("/v1/audit?cluster=demo"))
        .body(fixture)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"accepted": 6, "quarantined": 0})
    );
    let response = http()
        .post(server.url("/k8s-audit"))
        .body(event_list("falco-path", 2))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    tokio::task::spawn_blocking(move || server.terminate_cleanly())
        .await
        .unwrap();

    let rows = query(
        data.path(),
        "SELECT cluster, user_name, verb, object_resource, object_subresource, response_code, authz_decision \
         FROM events ORDER BY stage_at",
    );
    assert_eq!(rows.len(), 8);
    let exec = rows
        .iter()
        .find(|r| r["object_subresource"] == "exec")
        .expect("the exec event");
    assert_eq!(exec["cluster"], "demo");
    assert_eq!(exec["user_name"], "alice@example.com");
    assert_eq!(exec["response_code"], 101);
    let forbidden = query(
        data.path(),
        "SELECT user_name FROM events WHERE authz_decision = 'forbid'",
    );
    assert_eq!(
        forbidden,
        vec![json!({"user_name": "system:serviceaccount:ci:deployer"})]
    );
    let by_cluster = query(
        data.path(),
        "SELECT cluster, count(*) AS n FROM events GROUP BY cluster ORDER BY cluster",
    );
    assert_eq!(
        by_cluster,
        vec![
            json!({"cluster": "default", "n": 2}),
            json!({"cluster": "demo", "n": 6})
        ]
    );
}

#[test]
fn import_stores_valid_events_and_quarantines_the_rest_with_reasons() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().display().to_string();
    let gz = data.path().join("audit.log.gz");
    {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(
            std::fs::File::create(&gz).unwrap(),
            flate2::Compression::fast(),
        );
        encoder.write_all(event_list("gz", 5).as_bytes()).unwrap();
        encoder.write_all(b"\nthis line is not json\n").unwrap();
        encoder.finish().unwrap();
    }
    let output = run(&[
        "import",
        "--data-dir",
        &dir,
        "--cluster",
        "lab",
        "--format",
        "json",
        &repo("fixtures/kube-apiserver-audit.log"),
        &repo("fixtures/eventlist.json"),
        &gz.display().to_string(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["events"], 6 + 6 + 5);
    assert_eq!(summary["quarantined"], 1);
    assert_eq!(summary["inputs"][2]["quarantined"], 1);

    let counts = query(
        data.path(),
        "SELECT source, count(*) AS n FROM events WHERE cluster = 'lab' GROUP BY source",
    );
    assert_eq!(counts, vec![json!({"source": "file", "n": 17})]);
    let quarantined = query(data.path(), "SELECT location, reason, raw FROM quarantine");
    assert_eq!(quarantined.len(), 1);
    assert!(
        quarantined[0]["location"]
            .as_str()
            .unwrap()
            .ends_with("audit.log.gz:2"),
        "{quarantined:?}"
    );
    assert!(quarantined[0]["reason"]
        .as_str()
        .unwrap()
        .contains("not valid JSON"));
    assert_eq!(quarantined[0]["raw"], "this line is not json");
}

#[test]
fn import_reads_stdin() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(common::BIN)
        .args(["import", "--format", "json", "--data-dir"])
        .arg(data.path())
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(event_list("stdin", 3).as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["events"], 3);
}

#[test]
fn query_refuses_writes_and_explains_bad_sql() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().display().to_string();
    for sql in [
        "CREATE EXTERNAL TABLE x STORED AS PARQUET LOCATION '/etc'",
        "INSERT INTO events VALUES (1)",
        "COPY (SELECT 1) TO '/tmp/out.parquet'",
        "DROP TABLE events",
        "SET datafusion.execution.batch_size = 1",
    ] {
        let output = run(&["query", "--data-dir", &dir, sql]);
        assert!(!output.status.success(), "{sql} must be refused");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("read-only") || stderr.contains("refused"),
            "{sql}: {stderr}"
        );
    }
    let output = run(&["query", "--data-dir", &dir, "SELEC 1"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("error"));
    let output = run(&[
        "query",
        "--data-dir",
        &dir,
        "--format",
        "csv",
        "SELECT count(*) AS n FROM events",
    ]);
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stdout), "n\n0\n");
}

#[test]
fn serve_refuses_plain_http_off_loopback_without_auth() {
    let data = tempfile::tempdir().unwrap();
    let output = run(&[
        "serve",
        "--listen",
        "0.0.0.0:0",
        "--data-dir",
        &data.path().display().to_string(),
    ]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--allow-insecure"));
}

/// `bench ingest` says whether the server it measured ran the rules: a figure "with the rule
/// pack" taken where the rules directory is missing would otherwise be a figure without them.
#[test]
fn bench_ingest_reports_whether_detection_ran() {
    let bench = |serve_arg: String| -> Value {
        let output = run(&[
            "bench",
            "ingest",
            "--duration-secs",
            "1",
            "--warmup-secs",
            "0",
            "--connections",
            "2",
            "--bodies",
            "2",
            "--format",
            "json",
            &serve_arg,
        ]);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("one JSON report")
    };
    let rules = std::fs::read_dir(repo("queries/detections"))
        .unwrap()
        .filter(|entry| {
            entry
                .as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "sql"))
        })
        .count() as u64;
    let with_rules = bench(format!(
        "--serve-arg=--rules={}",
        repo("queries/detections")
    ));
    assert_eq!(with_rules["server"]["rules_running"], rules);
    let without = bench("--serve-arg=--no-rules".to_string());
    assert_eq!(without["server"]["rules_running"], 0);
}
