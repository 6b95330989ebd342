//! Alerts end to end: `serve` with a rule, an audit event over the webhook, the alert in the
//! alert log (`alerts` table), the file sink and an HTTP receiver — including a receiver that is
//! down until after a restart of `serve`, and one that refuses alerts.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use axum::routing::post;
use common::{exec_event, free_port, http, query, rules_dir, wait_for, Server};

/// An HTTP receiver that records alert bodies and answers `status`.
struct Receiver {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<serde_json::Value>>>,
    task: tokio::task::JoinHandle<()>,
}

async fn receiver(addr: SocketAddr, status: StatusCode) -> Receiver {
    let received = Arc::new(Mutex::new(Vec::new()));
    let store = received.clone();
    let app = axum::Router::new().route(
        "/alerts",
        post(move |body: axum::Json<serde_json::Value>| {
            let store = store.clone();
            async move {
                store.lock().unwrap().push(body.0);
                status
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Receiver {
        addr,
        received,
        task,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_reaches_a_receiver_that_comes_up_after_a_restart() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let rules = rules_dir(root.path());
    let alerts_file = root.path().join("alerts.jsonl");
    let webhook_addr = free_port();
    let webhook = format!("http://{webhook_addr}/alerts");
    let args = [
        "--rules",
        rules.as_str(),
        "--alerts-webhook",
        webhook.as_str(),
        "--alerts-file",
        alerts_file.to_str().unwrap(),
    ];

    // The receiver is down: the alert is stored and written to the file, not lost.
    let server = Server::start(&data, &args);
    let response = http()
        .post(server.url("/v1/audit?cluster=prod"))
        .body(exec_event("exec-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let line = wait_for("the file sink", || {
        std::fs::read_to_string(&alerts_file)
            .ok()
            .filter(|t| !t.is_empty())
    })
    .await;
    let alert: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(alert["rule_id"], "exec-kube-system");
    assert_eq!(alert["cluster"], "prod");
    assert_eq!(alert["priority"], "Warning");
    assert_eq!(alert["source"], "k8s_audit");
    assert_eq!(alert["audit_ids"], serde_json::json!(["exec-1"]));
    assert_eq!(alert["output"], "mallory exec'd into kube-system/coredns-1");
    assert_eq!(alert["output_fields"]["ka.user.name"], "mallory");
    // The running server reports each rule's state.
    let status: serde_json::Value = http()
        .get(server.url("/v1/rules"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rule = &status["rules"][0];
    assert_eq!(rule["id"], "exec-kube-system");
    assert_eq!(rule["state"], "ok");
    assert_eq!(rule["alerts"], 1);
    assert_eq!(rule["failures"], 0);
    server.terminate_cleanly();

    let stored = query(&data, "SELECT uuid, rule_id, audit_ids FROM alerts");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["uuid"], alert["uuid"]);

    // The receiver comes up; after a restart, auditlens delivers the alert from its outbox.
    let up = receiver(webhook_addr, StatusCode::OK).await;
    let server = Server::start(&data, &args);
    let delivered = wait_for("the webhook delivery", || {
        let received = up.received.lock().unwrap();
        (!received.is_empty()).then(|| received.clone())
    })
    .await;
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0]["uuid"], alert["uuid"]);
    // The file sink had it already: it is not written twice.
    let lines = std::fs::read_to_string(&alerts_file).unwrap();
    assert_eq!(lines.lines().count(), 1);
    server.terminate_cleanly();
    up.task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_refuses_an_alert_gets_it_dead_lettered() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let rules = rules_dir(root.path());
    // Bound at once: a port picked first could be taken by the time it is bound.
    let refusing = receiver(([127, 0, 0, 1], 0).into(), StatusCode::BAD_REQUEST).await;
    let webhook = format!("http://{}/alerts", refusing.addr);
    let server = Server::start(&data, &["--rules", &rules, "--alerts-webhook", &webhook]);
    let response = http()
        .post(server.url("/v1/audit"))
        .body(exec_event("exec-2"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let dead_letters = data.join("alerts/dead-letter/webhook.jsonl");
    let text = wait_for("the dead-letter file", || {
        std::fs::read_to_string(&dead_letters)
            .ok()
            .filter(|t| !t.is_empty())
    })
    .await;
    let entry: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    assert!(entry["reason"].as_str().unwrap().contains("400"), "{entry}");
    assert_eq!(entry["alert"]["audit_ids"], serde_json::json!(["exec-2"]));
    assert_eq!(refusing.received.lock().unwrap().len(), 1);
    server.terminate_cleanly();
    refusing.task.abort();
}

const DELETIONS_RULE: &str = "-- id: three-deletions
-- title: Three deletions by one user within an hour
-- severity: Warning
-- mitre: T1485
-- level: Metadata
-- mode: sequence
-- window: 1h
-- filter: verb = 'delete'
-- dedup: cluster, user_name
-- suppress: 1h
-- output: {user_name} deleted {n} objects
-- description: Mass deletion.
SELECT cluster, array_agg(audit_id) AS audit_ids, user_name, count(*) AS n
FROM events
GROUP BY cluster, user_name
HAVING count(*) >= 3
";

fn deletion(id: &str) -> String {
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ");
    format!(
        r#"{{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"{id}","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/shop/pods/{id}","verb":"delete","user":{{"username":"erin"}},"objectRef":{{"resource":"pods","namespace":"shop","name":"{id}","apiVersion":"v1"}},"responseStatus":{{"metadata":{{}},"code":200}},"stageTimestamp":"{now}"}}]}}"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_remembers_stored_events_across_a_restart() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let rules = root.path().join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(rules.join("three-deletions.sql"), DELETIONS_RULE).unwrap();
    let alerts_file = root.path().join("alerts.jsonl");
    let args = [
        "--rules",
        rules.to_str().unwrap(),
        "--alerts-file",
        alerts_file.to_str().unwrap(),
    ];
    let server = Server::start(&data, &args);
    for id in ["d1", "d2"] {
        let response = http()
            .post(server.url("/v1/audit"))
            .body(deletion(id))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    server.terminate_cleanly();
    assert!(
        !alerts_file.exists(),
        "two deletions must not alert: {}",
        std::fs::read_to_string(&alerts_file).unwrap_or_default()
    );

    // After the restart the window holds d1 and d2 again, from the stored events.
    let server = Server::start(&data, &args);
    let response = http()
        .post(server.url("/v1/audit"))
        .body(deletion("d3"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = wait_for("the alert", || {
        std::fs::read_to_string(&alerts_file)
            .ok()
            .filter(|t| !t.is_empty())
    })
    .await;
    let alert: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(alert["audit_ids"], serde_json::json!(["d1", "d2", "d3"]));
    assert_eq!(alert["output"], "erin deleted 3 objects");
    server.terminate_cleanly();
}
