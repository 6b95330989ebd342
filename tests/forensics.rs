//! The saved investigations of `queries/forensics/` and the forensic views, run by name from
//! the command line over `fixtures/forensics/incident.jsonl` (its story is in `generate.py`);
//! each answer is checked against what the story says happened.

mod common;

use std::path::PathBuf;

use common::{event_list, http, import_incident, query, repo, run, Server};
use serde_json::Value;

/// A data directory holding the incident, imported once per test binary run.
fn incident() -> PathBuf {
    static DATA: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DATA.get_or_init(import_incident).path().to_path_buf()
}

/// Runs `auditlens query --saved NAME --param …` over the incident and parses the rows.
fn saved(name: &str, params: &[&str]) -> Vec<Value> {
    let data = incident().display().to_string();
    let queries = repo("queries/forensics");
    let mut args = vec![
        "query",
        "--data-dir",
        &data,
        "--queries",
        &queries,
        "--format",
        "jsonl",
        "--saved",
        name,
    ];
    for param in params {
        args.extend(["--param", param]);
    }
    let output = run(&args);
    assert!(
        output.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn column<'a>(rows: &'a [Value], name: &str) -> Vec<&'a str> {
    rows.iter()
        .map(|row| row[name].as_str().unwrap_or("NULL"))
        .collect()
}

#[test]
fn at_least_fifteen_investigations_are_listed_with_their_parameters() {
    let output = run(&[
        "query",
        "--list-saved",
        "--queries",
        &repo("queries/forensics"),
    ]);
    assert!(output.status.success());
    let listing = String::from_utf8_lossy(&output.stdout);
    let names: Vec<&str> = listing
        .lines()
        .filter(|line| !line.starts_with(' '))
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    assert!(names.len() >= 15, "{listing}");
    assert!(names.contains(&"secret-readers"), "{listing}");
    assert!(listing.contains("--param name=…"), "{listing}");
    assert!(listing.contains("(required)"), "{listing}");
}

#[test]
fn who_touched_an_object_and_who_read_a_secret() {
    let rows = saved(
        "object-history",
        &["resource=secrets", "name=db-pass", "namespace=shop"],
    );
    assert_eq!(
        column(&rows, "audit_id"),
        ["inc-001", "inc-002", "inc-004", "inc-005", "inc-028"]
    );
    let readers = saved("secret-readers", &["name=db-pass", "namespace=shop"]);
    let reads: Vec<(&str, i64)> = readers
        .iter()
        .map(|r| {
            (
                r["user_name"].as_str().unwrap(),
                r["reads"].as_i64().unwrap(),
            )
        })
        .collect();
    // mallory listed the namespace's secrets and got db-pass: both count.
    assert_eq!(
        reads,
        [
            ("alice@example.com", 2),
            ("mallory@example.com", 2),
            ("bob@example.com", 1),
            (
                "system:serviceaccount:kube-system:generic-garbage-collector",
                1
            )
        ]
    );
    let top = saved("top-secret-readers", &["limit=2"]);
    assert_eq!(
        column(&top, "user_name"),
        ["alice@example.com", "bob@example.com"]
    );
    assert_eq!(top[0]["secrets"], 2);
}

#[test]
fn everything_an_identity_did_in_a_time_range() {
    let rows = saved(
        "identity-activity",
        &[
            "user=alice@example.com",
            "from=2026-11-30T09:00:00Z",
            "to=2026-11-30T10:00:00Z",
        ],
    );
    // One row per request: the exec session's two stages are one request.
    assert_eq!(
        column(&rows, "audit_id"),
        ["inc-001", "inc-002", "inc-003", "inc-006", "inc-007", "inc-008"]
    );
    let later = saved(
        "identity-activity",
        &["user=alice@example.com", "from=2026-11-30T10:00:00Z"],
    );
    assert_eq!(column(&later, "audit_id"), ["inc-026"]);
}

#[test]
fn the_incident_timeline_from_the_investigations() {
    let exec = saved("exec-sessions", &["namespace=shop"]);
    assert_eq!(column(&exec, "audit_id"), ["inc-006"]);
    assert_eq!(exec[0]["command"], "sh");
    assert_eq!(exec[0]["container"], "app");
    assert!(saved("exec-sessions", &["namespace=payments"]).is_empty());

    let rbac = saved("rbac-timeline", &[]);
    assert_eq!(
        column(&rbac, "audit_id"),
        ["inc-007", "inc-021", "inc-022", "inc-023", "inc-024"]
    );
    assert_eq!(rbac[0]["role_ref"], "view");
    assert_eq!(
        rbac[4]["subjects"],
        serde_json::json!(["mallory@example.com"])
    );
    let grants = saved("cluster-admin-grants", &[]);
    assert_eq!(column(&grants, "audit_id"), ["inc-024"]);

    let probing = saved("forbidden-then-allowed", &[]);
    assert_eq!(probing.len(), 1);
    assert_eq!(probing[0]["user_name"], "mallory@example.com");
    assert_eq!(probing[0]["denials"], 3);
    assert!(saved("forbidden-then-allowed", &["within=5 minutes"]).is_empty());

    let failures = saved("auth-failures-by-identity", &[]);
    assert_eq!(column(&failures, "user_name"), ["mallory@example.com"]);
    assert_eq!(failures[0]["requests"], 3);

    let ips = saved("first-seen-ips", &["user=mallory@example.com"]);
    assert_eq!(column(&ips, "source_ip"), ["198.51.100.9"]);
    assert_eq!(ips[0]["requests"], 8);

    assert_eq!(
        column(&saved("deleted-namespaces", &[]), "namespace"),
        ["audit"]
    );
    assert_eq!(column(&saved("privileged-pods", &[]), "pod"), ["miner"]);
    let impersonation = saved("impersonation", &[]);
    assert_eq!(column(&impersonation, "impersonated"), ["admin"]);
    assert_eq!(impersonation[0]["impersonator"], "alice@example.com");
    let anonymous = saved("anonymous-access", &[]);
    assert_eq!(column(&anonymous, "request_uri"), ["/version"]);
    assert_eq!(anonymous[0]["requests"], 2);
    assert_eq!(
        column(&saved("port-forwards", &[]), "audit_id"),
        ["inc-009"]
    );
    let tokens = saved("token-multiple-ips", &[]);
    assert_eq!(column(&tokens, "credential_id"), ["JTI=7f3c9a"]);
    assert_eq!(tokens[0]["ips"], 2);
}

#[test]
fn the_views_are_tables_of_every_session() {
    let data = incident();
    let rows = query(
        &data,
        "SELECT (SELECT count(*) FROM events) AS events, (SELECT count(*) FROM events_dedup) AS requests, \
         (SELECT count(*) FROM secret_access) AS secret_access, (SELECT count(*) FROM auth_failures) AS failures",
    );
    assert_eq!(rows[0]["events"], 25);
    // Two requests were logged at two stages each.
    assert_eq!(rows[0]["requests"], 23);
    assert_eq!(rows[0]["secret_access"], 7);
    assert_eq!(rows[0]["failures"], 3);
}

#[test]
fn parameters_are_values_never_sql_and_mistakes_are_named() {
    // A value that tries to end the string matches nothing instead of everything.
    let rows = saved(
        "object-history",
        &["resource=secrets", "name=x' OR '1'='1", "namespace=shop"],
    );
    assert!(rows.is_empty(), "{rows:?}");

    let data = incident().display().to_string();
    let queries = repo("queries/forensics");
    let base = ["query", "--data-dir", &data, "--queries", &queries];
    let missing = run(&[
        &base[..],
        &["--saved", "secret-readers", "--param", "name=db-pass"],
    ]
    .concat());
    assert!(!missing.status.success());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("parameter `namespace` is required"),
        "{stderr}"
    );

    let unknown = run(&[
        &base[..],
        &["--saved", "deleted-namespaces", "--param", "user=x"],
    ]
    .concat());
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(stderr.contains("unknown parameter `user`"), "{stderr}");

    let no_such = run(&[&base[..], &["--saved", "no-such-thing"]].concat());
    let stderr = String::from_utf8_lossy(&no_such.stderr);
    assert!(
        stderr.contains("no saved investigation named `no-such-thing`"),
        "{stderr}"
    );
}

/// A server over a copy of the incident, with a token.
fn serve_incident(extra: &[&str]) -> (tempfile::TempDir, Server) {
    let dir = import_incident();
    let tokens = dir.path().join("tokens.csv");
    std::fs::write(&tokens, "responder-token,prod\n").unwrap();
    let tokens = tokens.display().to_string();
    let queries = repo("queries/forensics");
    let mut args = vec![
        "--tokens-file",
        tokens.as_str(),
        "--queries",
        queries.as_str(),
    ];
    args.extend_from_slice(extra);
    let server = Server::start(dir.path(), &args);
    (dir, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_query_service_answers_in_every_format_and_refuses_what_is_not_a_query() {
    let (_dir, server) = serve_incident(&[]);
    let client = http();
    let post = |accept: &str| {
        client
            .post(server.url("/v1/query"))
            .bearer_auth("responder-token")
            .header("accept", accept)
    };
    let sql = "SELECT count(*) AS n FROM events";
    let ndjson = post("application/x-ndjson").body(sql).send().await.unwrap();
    assert_eq!(ndjson.status(), 200);
    assert_eq!(ndjson.headers()["content-type"], "application/x-ndjson");
    assert_eq!(ndjson.text().await.unwrap().trim(), r#"{"n":25}"#);
    let csv = post("text/csv").body(sql).send().await.unwrap();
    assert_eq!(csv.text().await.unwrap(), "n\n25\n");
    let arrow = post("application/vnd.apache.arrow.stream")
        .body(sql)
        .send()
        .await
        .unwrap();
    let bytes = arrow.bytes().await.unwrap();
    let reader =
        datafusion::arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes), None)
            .unwrap();
    let batches: Vec<_> = reader.map(Result::unwrap).collect();
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 1);
    let n = batches[0]
        .column(0)
        .as_any()
        .downcast_ref::<datafusion::arrow::array::Int64Array>()
        .unwrap()
        .value(0);
    assert_eq!(n, 25);

    // A saved investigation with parameters, and ad-hoc SQL with parameters.
    let readers: Vec<Value> = post("application/x-ndjson")
        .json(&serde_json::json!({"saved": "secret-readers", "params": {"name": "db-pass", "namespace": "shop"}}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        readers,
        saved("secret-readers", &["name=db-pass", "namespace=shop"])
    );
    let adhoc = post("application/x-ndjson")
        .json(&serde_json::json!({"sql": "SELECT audit_id FROM events WHERE user_name = $user ORDER BY audit_id LIMIT 1", "params": {"user": "mallory@example.com"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        adhoc.text().await.unwrap().trim(),
        r#"{"audit_id":"inc-020"}"#
    );

    // Mistakes and refusals, as 4xx with a JSON message naming the problem.
    let invalid = post("application/x-ndjson")
        .body("SELECT no_such_column FROM events")
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.status(), 400);
    assert!(invalid.text().await.unwrap().contains("no_such_column"));
    for statement in [
        "DROP TABLE events",
        "COPY (SELECT 1) TO '/tmp/x.csv'",
        "CREATE EXTERNAL TABLE x STORED AS CSV LOCATION '/etc/passwd'",
        "SET datafusion.execution.batch_size = 1",
    ] {
        let refused = post("application/x-ndjson")
            .body(statement)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 403, "{statement}");
        assert!(
            refused.text().await.unwrap().contains("read-only"),
            "{statement}"
        );
    }
    let file = post("application/x-ndjson")
        .body("SELECT * FROM '/etc/passwd'")
        .send()
        .await
        .unwrap();
    assert!(file.status().is_client_error(), "{}", file.status());
    let missing = post("application/x-ndjson")
        .json(&serde_json::json!({"saved": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let unacceptable = post("application/xml").body(sql).send().await.unwrap();
    assert_eq!(unacceptable.status(), 406);
    let anonymous = client
        .post(server.url("/v1/query"))
        .body(sql)
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    // The command line against the server prints what it prints locally.
    let url = server.url("");
    let output = run(&[
        "query",
        "--server",
        &url,
        "--token",
        "responder-token",
        "--format",
        "jsonl",
        "--saved",
        "rbac-timeline",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let remote: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(remote, saved("rbac-timeline", &[]));
    let listing = run(&[
        "query",
        "--server",
        &url,
        "--token",
        "responder-token",
        "--list-saved",
    ]);
    assert!(
        listing.status.success(),
        "{}",
        String::from_utf8_lossy(&listing.stderr)
    );
    let local = run(&[
        "query",
        "--list-saved",
        "--queries",
        &repo("queries/forensics"),
    ]);
    assert_eq!(
        listing.stdout, local.stdout,
        "the server lists what the directory holds"
    );
    let table = run(&["query", "--server", &url, "--token", "responder-token", sql]);
    assert!(
        table.status.success(),
        "{}",
        String::from_utf8_lossy(&table.stderr)
    );
    assert!(String::from_utf8_lossy(&table.stdout).contains("| 25 |"));
    let refused = run(&[
        "query",
        "--server",
        &url,
        "--token",
        "responder-token",
        "DROP TABLE events",
    ]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("403"));
    server.terminate_cleanly();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heavy_query_is_bounded_and_never_delays_the_webhook() {
    let (_dir, server) = serve_incident(&["--query-max-concurrent", "1", "--query-timeout", "3s"]);
    let client = http();
    let heavy = {
        let request = client
            .post(server.url("/v1/query"))
            .bearer_auth("responder-token")
            .body("SELECT count(*) FROM generate_series(1, 100000000000) a");
        tokio::spawn(async move {
            match request.send().await {
                Ok(response) => (response.status().as_u16(), response.text().await.is_ok()),
                Err(_) => (0, false),
            }
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    // The second query finds the only slot taken.
    let second = client
        .post(server.url("/v1/query"))
        .bearer_auth("responder-token")
        .body("SELECT 1")
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 429);
    // The webhook answers while the query runs.
    for round in 0..3 {
        common::assert_webhook_answers_promptly(
            &server,
            "responder-token",
            &format!("during-{round}"),
            50,
        )
        .await;
    }
    // The time limit ends the query: its response breaks off instead of completing.
    let (status, completed) = heavy.await.unwrap();
    assert_eq!(status, 200);
    assert!(
        !completed,
        "the heavy query should have been stopped at its time limit"
    );
    let after = client
        .post(server.url("/v1/query"))
        .bearer_auth("responder-token")
        .body("SELECT 1 AS one")
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 200);
    server.terminate_cleanly();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_sees_an_event_as_soon_as_it_was_acknowledged() {
    // Nothing is flushed to Parquet during the test.
    let (dir, server) = serve_incident(&["--flush-max-age-ms", "600000"]);
    let client = http();
    let response = client
        .post(server.url("/v1/audit?cluster=prod"))
        .bearer_auth("responder-token")
        .body(event_list("fresh", 3))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let count = |sql: &'static str| {
        let request = client
            .post(server.url("/v1/query"))
            .bearer_auth("responder-token")
            .body(sql);
        async move {
            let text = request.send().await.unwrap().text().await.unwrap();
            let row: Value = serde_json::from_str(text.trim()).unwrap_or_else(|_| panic!("{text}"));
            row["n"].as_i64().unwrap()
        }
    };
    assert_eq!(
        count("SELECT count(*) AS n FROM events WHERE audit_id LIKE 'fresh-%'").await,
        3
    );
    // Filters, time ranges and partition columns apply to those rows as to stored ones.
    assert_eq!(
        count("SELECT count(*) AS n FROM events WHERE audit_id LIKE 'fresh-%' AND cluster = 'prod' AND date = '2026-11-30' AND stage_at >= TIMESTAMP '2026-11-30 10:01:00'").await,
        2
    );
    assert_eq!(count("SELECT count(*) AS n FROM events").await, 28);
    // They are not in Parquet yet: the local command, which reads the files only, misses them.
    let stored = query(
        dir.path(),
        "SELECT count(*) AS n FROM events WHERE audit_id LIKE 'fresh-%'",
    );
    assert_eq!(stored[0]["n"], 0);
    server.terminate_cleanly();
    let stored = query(
        dir.path(),
        "SELECT count(*) AS n FROM events WHERE audit_id LIKE 'fresh-%'",
    );
    assert_eq!(stored[0]["n"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flushed_rows_leave_the_tail_and_are_counted_once() {
    let (dir, server) = serve_incident(&["--flush-max-age-ms", "300"]);
    let client = http();
    let response = client
        .post(server.url("/v1/audit?cluster=prod"))
        .bearer_auth("responder-token")
        .body(event_list("flushed", 4))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let sql = "SELECT count(*) AS n FROM events WHERE audit_id LIKE 'flushed-%'";
    common::wait_for("the rows in Parquet", || {
        (query(dir.path(), sql)[0]["n"] == 4).then_some(())
    })
    .await;
    // Give the writer its moment to let go of the tail after the rename.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let text = client
        .post(server.url("/v1/query"))
        .bearer_auth("responder-token")
        .body(sql)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(text.trim(), r#"{"n":4}"#);
    server.terminate_cleanly();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn off_loopback_without_client_identity_the_history_is_not_served() {
    let dir = import_incident();
    let port = common::free_port().port();
    let mut child = std::process::Command::new(common::BIN)
        .args([
            "serve",
            "--no-rules",
            "--allow-insecure",
            "--log-format",
            "json",
        ])
        .args(["--listen", &format!("0.0.0.0:{port}"), "--data-dir"])
        .arg(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = http();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while client.get(format!("{base}/livez")).send().await.is_err() {
        assert!(std::time::Instant::now() < deadline, "serve did not start");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let query = client
        .post(format!("{base}/v1/query"))
        .body("SELECT count(*) FROM events")
        .send()
        .await
        .unwrap();
    assert_eq!(query.status(), 404);
    let coverage = client
        .get(format!("{base}/v1/coverage"))
        .send()
        .await
        .unwrap();
    assert_eq!(coverage.status(), 404);
    let metrics = client.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), 200);
    let _ = child.kill();
    let _ = child.wait();
}
