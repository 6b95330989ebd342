//! The webhook on a real socket: what kube-apiserver (and a misbehaving client) sees.

mod common;

use std::io::Write;
use std::time::Duration;

use auditlens_ingest::server::{auth::TokenMap, ServerConfig};
use common::{event_list, row_count, strings, TestServer};
use serde_json::Value;

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

async fn post(server: &TestServer, path: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
    let response = client()
        .post(server.url(path))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.json::<Value>().await.unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_list_is_acknowledged_and_lands_in_parquet() {
    let server = TestServer::start(ServerConfig::default(), None).await;
    let (status, body) = post(&server, "/v1/audit?cluster=prod-eu", event_list("a", 400)).await;
    assert_eq!(
        (status, body),
        (200, serde_json::json!({"accepted": 400, "quarantined": 0}))
    );
    let (status, _) = post(&server, "/k8s-audit", event_list("b", 3)).await;
    assert_eq!(status, 200);
    let (data, stats) = server.stop().await;
    assert_eq!(stats.events_written, 403);
    let prod = data
        .path()
        .join("events/cluster=prod-eu/date=2026-11-30/hour=10");
    assert_eq!(row_count(&prod), 400);
    assert_eq!(row_count(&data.path().join("events/cluster=default")), 3);
    assert_eq!(
        strings(&prod, "source")
            .iter()
            .filter(|s| *s == "webhook")
            .count(),
        400
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_events_are_quarantined_and_the_rest_accepted() {
    let server = TestServer::start(ServerConfig::default(), None).await;
    let body = r#"{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[
        {"auditID":"ok","stage":"ResponseComplete","verb":"get","stageTimestamp":"2026-11-30T10:00:00.000000Z"},
        {"stage":"ResponseComplete","level":"Metadata"},
        {"auditID":"bad-time","stage":"ResponseComplete","verb":"get","stageTimestamp":"later"}]}"#;
    let (status, body) = post(&server, "/v1/audit", body).await;
    assert_eq!(
        (status, body),
        (200, serde_json::json!({"accepted": 1, "quarantined": 2}))
    );
    let (data, stats) = server.stop().await;
    assert_eq!(stats.events_quarantined, 2);
    let quarantine = data.path().join("quarantine");
    let mut reasons = strings(&quarantine, "reason");
    reasons.sort();
    assert_eq!(
        reasons,
        vec![
            "field `stageTimestamp`: unparsable timestamp `later`",
            "not an audit event: none of `auditID`, `verb`, `requestURI`, `objectRef`, `user`"
        ]
    );
    let mut locations = strings(&quarantine, "location");
    locations.sort();
    assert_eq!(locations, vec!["item 1", "item 2"]);
    assert!(strings(&quarantine, "raw")
        .iter()
        .any(|raw| raw.contains("\"level\":\"Metadata\"")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_get_400_naming_the_problem() {
    let server = TestServer::start(ServerConfig::default(), None).await;
    let cases = [
        ("{\"kind\":\"EventList\",", "not valid JSON"),
        (
            "[]",
            "not an audit `EventList`: expected a JSON object at byte 0 (line 1, column 1)",
        ),
        (
            r#"{"kind":"PodList","apiVersion":"audit.k8s.io/v1","items":[]}"#,
            "`kind` `PodList`",
        ),
        (
            r#"{"kind":"EventList","apiVersion":"audit.k8s.io/v2","items":[]}"#,
            "`apiVersion` `audit.k8s.io/v2`",
        ),
        (
            r#"{"kind":"EventList","apiVersion":"audit.k8s.io/v1"}"#,
            "without `items`",
        ),
        (
            r#"{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":{}}"#,
            "not an audit `EventList`",
        ),
    ];
    for (body, expected) in cases {
        let (status, answer) = post(&server, "/v1/audit", body).await;
        assert_eq!(status, 400, "for {body}");
        let message = answer["error"].as_str().unwrap();
        assert!(
            message.contains(expected),
            "{message:?} should mention {expected:?}"
        );
    }
    let (status, answer) = post(&server, "/v1/audit", "{\n\"kind\": oops}").await;
    assert_eq!(status, 400);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("at byte 10 (line 2, column 9)"),
        "{answer}"
    );
    let (status, _) = post(&server, "/v1/audit?cluster=../../etc", event_list("x", 1)).await;
    assert_eq!(status, 400);
    let (_, stats) = server.stop().await;
    assert_eq!(stats.requests_bad_body, 8);
    assert_eq!(stats.events_accepted, 0);
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_bodies_are_accepted_and_limits_hold() {
    let config = ServerConfig {
        max_body_bytes: 64 * 1024,
        ..ServerConfig::default()
    };
    let server = TestServer::start(config, None).await;
    let send = |body: Vec<u8>, encoding: Option<&'static str>| {
        let mut request = client().post(server.url("/v1/audit")).body(body);
        if let Some(encoding) = encoding {
            request = request.header("content-encoding", encoding);
        }
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(
        send(gzip(event_list("gz", 20).as_bytes()), Some("gzip")).await,
        200
    );
    // Over the limit as sent, and over it only once decompressed (a gzip bomb).
    assert_eq!(send(event_list("big", 400).into_bytes(), None).await, 413);
    assert_eq!(
        send(gzip(event_list("bomb", 400).as_bytes()), Some("gzip")).await,
        413
    );
    assert_eq!(send(b"not gzip".to_vec(), Some("gzip")).await, 400);
    assert_eq!(
        send(event_list("br", 1).into_bytes(), Some("br")).await,
        415
    );
    let (data, stats) = server.stop().await;
    assert_eq!(stats.requests_too_large, 2);
    assert_eq!(row_count(&data.path().join("events")), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_tokens_authenticate_and_name_the_cluster() {
    let tokens = TokenMap::parse("t-prod,prod\nt-dev,dev\nt-fleet,*\n", "test").unwrap();
    let server = TestServer::start(
        ServerConfig {
            tokens: Some(tokens),
            ..ServerConfig::default()
        },
        None,
    )
    .await;
    let send = |token: Option<&'static str>, path: &'static str| {
        let mut request = client().post(server.url(path)).body(event_list(path, 1));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move {
            let response = request.send().await.unwrap();
            let challenge = response.headers().get("www-authenticate").is_some();
            (response.status().as_u16(), challenge)
        }
    };
    assert_eq!(send(None, "/v1/audit").await, (401, true));
    assert_eq!(send(Some("wrong"), "/v1/audit").await, (401, true));
    assert_eq!(send(Some("t-prod"), "/v1/audit").await, (200, false));
    // One cluster's token cannot write another cluster's events; its own name is fine.
    assert_eq!(
        send(Some("t-dev"), "/v1/audit?cluster=staging").await,
        (403, false)
    );
    assert_eq!(
        send(Some("t-dev"), "/v1/audit?cluster=dev").await,
        (200, false)
    );
    // A `*` token names the cluster in the URL.
    assert_eq!(
        send(Some("t-fleet"), "/v1/audit?cluster=staging").await,
        (200, false)
    );
    let (data, stats) = server.stop().await;
    assert_eq!(stats.requests_unauthorized, 3);
    assert_eq!(row_count(&data.path().join("events/cluster=prod")), 1);
    assert_eq!(row_count(&data.path().join("events/cluster=dev")), 1);
    assert_eq!(row_count(&data.path().join("events/cluster=staging")), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_server_answers_429_with_retry_after_at_once() {
    let config = ServerConfig {
        max_in_flight: 1,
        ..ServerConfig::default()
    };
    let server = TestServer::start(config, None).await;
    // A request whose body never finishes holds the only slot.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    tx.send(Ok(b"{\"kind\":\"EventList\",".to_vec()))
        .await
        .unwrap();
    let stream = tokio_stream_from(rx);
    let url = server.url("/v1/audit");
    let slow = tokio::spawn(async move {
        client()
            .post(url)
            .body(reqwest::Body::wrap_stream(stream))
            .send()
            .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    let response = client()
        .post(server.url("/v1/audit"))
        .body(event_list("x", 1))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(response.headers()["retry-after"], "1");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "429 must come quickly"
    );
    drop(tx);
    let _ = slow.await;
    let (_, stats) = server.stop().await;
    assert_eq!(stats.requests_overloaded, 1);
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_endpoints_answer() {
    let server = TestServer::start(ServerConfig::default(), None).await;
    for path in ["/livez", "/readyz", "/healthz"] {
        let response = client().get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200, "{path}");
    }
    let verbose = client()
        .get(server.url("/readyz?verbose"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(verbose.contains("[+]wal ok"), "{verbose}");
    assert!(verbose.contains("[+]capacity ok"), "{verbose}");
    assert!(verbose.ends_with("readyz check passed\n"), "{verbose}");
    let wrong_method = client().get(server.url("/v1/audit")).send().await.unwrap();
    assert_eq!(wrong_method.status().as_u16(), 405);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_share_fsyncs_and_all_land() {
    let server = TestServer::start(ServerConfig::default(), None).await;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let url = server.url("/v1/audit");
        tasks.push(tokio::spawn(async move {
            client()
                .post(url)
                .body(event_list(&format!("c{i}"), 100))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    let (data, _) = server.stop().await;
    let mut ids = strings(&data.path().join("events"), "audit_id");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 1600, "every event exactly once");
}
