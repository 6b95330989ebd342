//! Tests of the load loop against a minimal HTTP/1.1 webhook that answers 429 once, then 200.

use std::collections::HashSet;
use std::sync::Mutex;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use super::*;

const EVENTS_PER_BODY: usize = 10;

fn start() -> DateTime<Utc> {
    // unwrap: a valid literal.
    DateTime::parse_from_rfc3339("2025-06-01T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn audit_ids(body: &[u8]) -> Vec<String> {
    let list: serde_json::Value = serde_json::from_slice(body).expect("the body is JSON");
    let items = list["items"].as_array().expect("an EventList");
    items
        .iter()
        .map(|item| item["auditID"].as_str().expect("auditID").to_owned())
        .collect()
}

#[test]
fn stamped_bodies_stay_valid_with_fresh_audit_ids() {
    let pool = Pool::generate(2, EVENTS_PER_BODY, 1, start());
    let first = audit_ids(&pool.stamped(0, 1));
    let second = audit_ids(&pool.stamped(0, 2));
    assert_eq!(first.len(), EVENTS_PER_BODY);
    for id in first.iter().chain(&second) {
        uuid::Uuid::parse_str(id).expect("still a UUID");
    }
    let all: HashSet<&String> = first.iter().chain(&second).collect();
    assert_eq!(all.len(), 2 * EVENTS_PER_BODY);
    assert!(first[0].ends_with("000000000001"));
}

/// What the fake webhook saw, and whether it refuses everything.
#[derive(Default)]
struct Seen {
    always_429: bool,
    answered_429: bool,
    accepted_ids: Vec<String>,
}

async fn serve_connection(stream: TcpStream, seen: Arc<Mutex<Seen>>) {
    let mut reader = BufReader::new(stream);
    loop {
        let mut content_length = 0;
        let mut line = String::new();
        loop {
            line.clear();
            if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    content_length = value.trim().parse().expect("a Content-Length");
                }
            }
        }
        let mut body = vec![0; content_length];
        reader.read_exact(&mut body).await.expect("the body");
        let ids = audit_ids(&body);
        let answer = {
            let mut seen = seen.lock().expect("not poisoned");
            if seen.always_429 {
                "HTTP/1.1 429 Too Many Requests\r\nretry-after: 1\r\ncontent-length: 0\r\n\r\n"
                    .to_owned()
            } else if seen.answered_429 {
                let answer = format!("{{\"accepted\":{},\"quarantined\":0}}", ids.len());
                seen.accepted_ids.extend(ids);
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{answer}",
                    answer.len()
                )
            } else {
                seen.answered_429 = true;
                "HTTP/1.1 429 Too Many Requests\r\nretry-after: 0\r\ncontent-length: 0\r\n\r\n"
                    .to_owned()
            }
        };
        reader
            .get_mut()
            .write_all(answer.as_bytes())
            .await
            .expect("answering");
    }
}

/// Starts the fake webhook; returns its URL.
async fn fake_webhook(seen: Arc<Mutex<Seen>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binding");
    let url = format!(
        "http://{}/v1/audit",
        listener.local_addr().expect("an address")
    );
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve_connection(stream, seen.clone()));
        }
    });
    url
}

#[tokio::test]
async fn load_retries_429_and_counts_accepted_events() {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let url = fake_webhook(seen.clone()).await;
    let pool = Arc::new(Pool::generate(3, EVENTS_PER_BODY, 1, start()));
    let plan = LoadPlan {
        url,
        connections: 2,
        warmup: Duration::ZERO,
        duration: Duration::from_millis(500),
        interval: None,
    };
    let stats = run(&plan, pool).await.expect("the load runs");
    assert_eq!(stats.errors, 0, "{:?}", stats.first_error);
    assert_eq!(stats.status_429, 1);
    assert!(stats.ok_requests > 0);
    assert_eq!(
        stats.accepted_events,
        stats.ok_requests * EVENTS_PER_BODY as u64
    );
    assert_eq!(stats.latency.count(), stats.ok_requests);
    let seen = seen.lock().expect("not poisoned");
    let unique: HashSet<&String> = seen.accepted_ids.iter().collect();
    assert_eq!(
        unique.len(),
        seen.accepted_ids.len(),
        "every accepted POST carried fresh auditIDs"
    );
}

// Regression: a Retry-After reaching past the end of the run made the connection resend at once,
// hundreds of 429s per second instead of one per connection.
#[tokio::test]
async fn retry_after_is_honoured_at_the_end_of_the_run() {
    let seen = Arc::new(Mutex::new(Seen {
        always_429: true,
        ..Seen::default()
    }));
    let url = fake_webhook(seen).await;
    let pool = Arc::new(Pool::generate(2, EVENTS_PER_BODY, 1, start()));
    let plan = LoadPlan {
        url,
        connections: 2,
        warmup: Duration::ZERO,
        duration: Duration::from_millis(300),
        interval: None,
    };
    let began = Instant::now();
    let stats = run(&plan, pool).await.expect("the load runs");
    assert_eq!(
        stats.status_429, 2,
        "one 429 per connection, then a wait until the end"
    );
    assert_eq!(stats.ok_requests, 0);
    assert!(
        began.elapsed() < Duration::from_secs(1),
        "the wait stops at the end of the run"
    );
}

#[tokio::test]
async fn a_paced_load_keeps_to_its_rate() {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let url = fake_webhook(seen).await;
    let pool = Arc::new(Pool::generate(2, EVENTS_PER_BODY, 1, start()));
    let plan = LoadPlan {
        url,
        connections: 2,
        warmup: Duration::ZERO,
        duration: Duration::from_millis(1_000),
        interval: Some(Duration::from_millis(250)),
    };
    let stats = run(&plan, pool).await.expect("the load runs");
    assert_eq!(stats.errors, 0, "{:?}", stats.first_error);
    // Two connections, one POST each per 250 ms, for one second: about eight, never the
    // hundreds an unpaced loop sends to a fast local server.
    assert!(
        (4..=10).contains(&stats.ok_requests),
        "{} requests",
        stats.ok_requests
    );
}
