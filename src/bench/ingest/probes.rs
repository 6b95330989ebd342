//! Alert latency: while the load runs, a probe POSTs one exec into a kube-system pod every
//! [`PROBE_INTERVAL`] (its own request, as any other; each probe names another pod, so no alert
//! is suppressed as a repeat) and an HTTP receiver, configured as the
//! server's alert webhook, notes when the alert naming the probe's audit ID arrives. Latency is
//! from the webhook's 200 to the alert's arrival at the sink.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::routing::post;

use super::latency::Histogram;

/// Time between two probes.
pub const PROBE_INTERVAL: Duration = Duration::from_millis(500);
/// How long after the load a missing probe alert is still waited for.
const GRACE: Duration = Duration::from_secs(10);

type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

/// The receiver of the server's alerts.
pub struct Receiver {
    pub addr: SocketAddr,
    arrivals: Arrivals,
    task: tokio::task::JoinHandle<()>,
}

/// What the probes measured.
pub struct ProbeStats {
    pub sent: u64,
    pub received: u64,
    pub latency: Histogram,
}

impl Receiver {
    pub async fn start() -> anyhow::Result<Receiver> {
        let arrivals: Arrivals = Arc::default();
        let store = arrivals.clone();
        let app = axum::Router::new().route(
            "/alerts",
            post(move |alert: axum::Json<serde_json::Value>| {
                let store = store.clone();
                async move {
                    let now = Instant::now();
                    if let Some(ids) = alert.0["audit_ids"].as_array() {
                        let mut arrivals = store.lock().unwrap_or_else(|e| e.into_inner());
                        for id in ids.iter().filter_map(|id| id.as_str()) {
                            if id.starts_with("probe-") {
                                arrivals.entry(id.to_string()).or_insert(now);
                            }
                        }
                    }
                    axum::http::StatusCode::OK
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the alert receiver")?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Receiver {
            addr,
            arrivals,
            task,
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}/alerts", self.addr)
    }
}

fn probe_body(id: &str) -> String {
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ");
    format!(
        r#"{{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"{id}","stage":"ResponseStarted","requestURI":"/api/v1/namespaces/kube-system/pods/kube-proxy-{id}/exec?command=sh&stdin=true&tty=true","verb":"create","user":{{"username":"probe@example.com","groups":["system:authenticated"]}},"sourceIPs":["10.1.2.3"],"userAgent":"kubectl/v1.31.0","objectRef":{{"resource":"pods","namespace":"kube-system","name":"kube-proxy-{id}","subresource":"exec","apiVersion":"v1"}},"responseStatus":{{"metadata":{{}},"code":101}},"requestReceivedTimestamp":"{now}","stageTimestamp":"{now}"}}]}}"#
    )
}

/// Sends probes to `url` for `duration`, then waits for their alerts.
pub async fn run(url: &str, receiver: Receiver, duration: Duration) -> anyhow::Result<ProbeStats> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let mut acknowledged: Vec<(String, Instant)> = Vec::new();
    let started = Instant::now();
    let mut sequence = 0u64;
    while started.elapsed() < duration {
        sequence += 1;
        let id = format!("probe-{sequence}");
        let response = client.post(url).body(probe_body(&id)).send().await;
        if let Ok(response) = response {
            if response.status().is_success() {
                acknowledged.push((id, Instant::now()));
            }
        }
        tokio::time::sleep(PROBE_INTERVAL).await;
    }
    let deadline = Instant::now() + GRACE;
    loop {
        let arrived = receiver
            .arrivals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len();
        if arrived >= acknowledged.len() || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let arrivals = receiver
        .arrivals
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    receiver.task.abort();
    let mut latency = Histogram::default();
    let mut received = 0;
    for (id, acked) in &acknowledged {
        if let Some(arrived) = arrivals.get(id) {
            received += 1;
            latency.record(arrived.saturating_duration_since(*acked));
        }
    }
    Ok(ProbeStats {
        sent: acknowledged.len() as u64,
        received,
        latency,
    })
}
