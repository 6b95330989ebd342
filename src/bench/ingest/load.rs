//! The closed-loop webhook load: N connections POST EventList bodies as fast as the server answers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};
use reqwest::StatusCode;

use super::latency::Histogram;
use crate::bench::generate::EventGenerator;

/// kube-apiserver's per-request timeout for the audit webhook (SPEC §3.1).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Wait after a 429 without a usable `Retry-After`.
const DEFAULT_RETRY_BACKOFF: Duration = Duration::from_millis(100);
/// Pause after a failed request so a dead server does not turn the loop into a spin.
const ERROR_BACKOFF: Duration = Duration::from_millis(100);
/// How often the progress bar's rate is refreshed.
const PROGRESS_TICK: Duration = Duration::from_millis(500);
/// Longest answer body kept in an error message.
const ERROR_BODY_CHARS: usize = 200;
const AUDIT_ID_KEY: &[u8] = br#""auditID":""#;
/// A UUID's last group (12 hex digits) is rewritten per POST: 8 bits of connection, 40 of sequence.
const STAMP_DIGITS: usize = 12;
const UUID_LEN: usize = 36;

/// Pre-generated EventList bodies, with where each auditID sits so every POST can carry fresh ones.
pub struct Pool {
    bodies: Vec<Vec<u8>>,
    audit_id_offsets: Vec<Vec<usize>>,
}

impl Pool {
    pub fn generate(
        bodies: usize,
        events_per_body: usize,
        seed: u64,
        start: DateTime<Utc>,
    ) -> Self {
        let mut generator = EventGenerator::new(seed, start);
        let mut pool = Pool {
            bodies: Vec::with_capacity(bodies),
            audit_id_offsets: Vec::with_capacity(bodies),
        };
        for _ in 0..bodies {
            let mut body = Vec::with_capacity(events_per_body * 1_500 + 128);
            generator.write_event_list(events_per_body, &mut body);
            let offsets = find_audit_ids(&body);
            debug_assert_eq!(offsets.len(), events_per_body);
            pool.bodies.push(body);
            pool.audit_id_offsets.push(offsets);
        }
        pool
    }

    pub fn mean_body_bytes(&self) -> u64 {
        let total: usize = self.bodies.iter().map(Vec::len).sum();
        (total / self.bodies.len().max(1)) as u64
    }

    /// A copy of body `index` whose auditIDs end in `stamp` as 12 hex digits.
    fn stamped(&self, index: usize, stamp: u64) -> Vec<u8> {
        let mut body = self.bodies[index].clone();
        let digits = format!(
            "{:0width$x}",
            stamp & ((1 << (4 * STAMP_DIGITS)) - 1),
            width = STAMP_DIGITS
        );
        for offset in &self.audit_id_offsets[index] {
            let tail = offset + UUID_LEN - STAMP_DIGITS;
            body[tail..tail + STAMP_DIGITS].copy_from_slice(digits.as_bytes());
        }
        body
    }
}

/// Offsets of the first character of every `"auditID":"<uuid>"` value.
fn find_audit_ids(body: &[u8]) -> Vec<usize> {
    let mut offsets = Vec::new();
    let mut at = 0;
    while let Some(found) = body[at..]
        .windows(AUDIT_ID_KEY.len())
        .position(|window| window == AUDIT_ID_KEY)
    {
        let start = at + found + AUDIT_ID_KEY.len();
        offsets.push(start);
        at = start + UUID_LEN;
    }
    offsets
}

/// What to run.
pub struct LoadPlan {
    pub url: String,
    pub connections: usize,
    pub warmup: Duration,
    pub duration: Duration,
    /// Each connection starts a POST at most this often (`None`: as fast as answered).
    pub interval: Option<Duration>,
}

/// Figures from the measured window (after the warm-up); `first_error` may come from the warm-up.
#[derive(Debug, Default)]
pub struct LoadStats {
    pub ok_requests: u64,
    pub accepted_events: u64,
    pub quarantined_events: u64,
    pub status_429: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    /// Latency of each successful attempt (a 429's wait is not included).
    pub latency: Histogram,
}

impl LoadStats {
    fn merge(&mut self, other: LoadStats) {
        self.ok_requests += other.ok_requests;
        self.accepted_events += other.accepted_events;
        self.quarantined_events += other.quarantined_events;
        self.status_429 += other.status_429;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.latency.merge(&other.latency);
    }
}

#[derive(Clone, Copy)]
struct Window {
    start: Instant,
    end: Instant,
}

impl Window {
    fn contains(&self, instant: Instant) -> bool {
        instant >= self.start && instant <= self.end
    }
}

enum Answer {
    Accepted { accepted: u64, quarantined: u64 },
    Overloaded { retry_after: Option<Duration> },
    Failed(String),
}

/// Installs rustls' ring provider: reqwest is built without a default one and panics without it.
pub fn install_tls_provider() {
    // An error means a provider is installed already, which is all we need.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Runs the load and waits for every connection's last request.
pub async fn run(plan: &LoadPlan, pool: Arc<Pool>) -> anyhow::Result<LoadStats> {
    install_tls_provider();
    let began = Instant::now();
    let window = Window {
        start: began + plan.warmup,
        end: began + plan.warmup + plan.duration,
    };
    let url: Arc<str> = Arc::from(plan.url.as_str());
    let live_events = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::with_capacity(plan.connections);
    for connection in 0..plan.connections {
        // One client per connection: each keeps its own keep-alive connection, like separate batches.
        let client = reqwest::Client::builder()
            .http1_only()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(1)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .context("building the HTTP client")?;
        let worker = Worker {
            connection,
            client,
            url: url.clone(),
            pool: pool.clone(),
            window,
            live_events: live_events.clone(),
            interval: plan.interval,
            connections: plan.connections,
        };
        workers.push(tokio::spawn(worker.run()));
    }
    let progress = tokio::spawn(show_progress(window, began, live_events));
    let mut total = LoadStats::default();
    for worker in workers {
        total.merge(worker.await.context("a load connection panicked")?);
    }
    progress.abort();
    Ok(total)
}

/// A progress bar on stderr (hidden when stderr is not a terminal).
async fn show_progress(window: Window, began: Instant, live_events: Arc<AtomicU64>) {
    let total = window.end - began;
    let bar = indicatif::ProgressBar::new(total.as_secs());
    let style = indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} s  {msg}");
    if let Ok(style) = style {
        bar.set_style(style);
    }
    let mut last = (Instant::now(), 0u64);
    while Instant::now() < window.end {
        tokio::time::sleep(PROGRESS_TICK).await;
        let now = Instant::now();
        let events = live_events.load(Ordering::Relaxed);
        let rate = (events - last.1) as f64 / (now - last.0).as_secs_f64();
        last = (now, events);
        let phase = if now < window.start {
            "warm-up"
        } else {
            "measuring"
        };
        bar.set_position((now - began).as_secs());
        bar.set_message(format!("{phase}, {rate:.0} events/s"));
    }
    bar.finish_and_clear();
}

struct Worker {
    connection: usize,
    client: reqwest::Client,
    url: Arc<str>,
    pool: Arc<Pool>,
    window: Window,
    live_events: Arc<AtomicU64>,
    interval: Option<Duration>,
    connections: usize,
}

impl Worker {
    async fn run(self) -> LoadStats {
        let mut stats = LoadStats::default();
        let mut body_index = self.connection % self.pool.bodies.len();
        let mut sequence = 0u64;
        // Paced connections start spread over one interval, not all at once.
        let mut next = self.interval.map(|interval| {
            Instant::now() + interval.mul_f64(self.connection as f64 / self.connections as f64)
        });
        while Instant::now() < self.window.end {
            if let (Some(at), Some(interval)) = (next.as_mut(), self.interval) {
                tokio::time::sleep_until((*at).into()).await;
                *at += interval;
            }
            let stamp = ((self.connection as u64) << 40) | sequence;
            sequence += 1;
            // A 429 means "send this batch again later": same body, same auditIDs.
            loop {
                let body = self.pool.stamped(body_index, stamp);
                let sent = Instant::now();
                let answer = post(&self.client, &self.url, body).await;
                let done = Instant::now();
                let counted = self.window.contains(done);
                match answer {
                    Answer::Accepted {
                        accepted,
                        quarantined,
                    } => {
                        self.live_events.fetch_add(accepted, Ordering::Relaxed);
                        if counted {
                            stats.ok_requests += 1;
                            stats.accepted_events += accepted;
                            stats.quarantined_events += quarantined;
                            stats.latency.record(done - sent);
                        }
                        break;
                    }
                    Answer::Overloaded { retry_after } => {
                        stats.status_429 += u64::from(counted);
                        // Wait as told, but not past the end: then this connection is done.
                        let resume = done + retry_after.unwrap_or(DEFAULT_RETRY_BACKOFF);
                        tokio::time::sleep_until(resume.min(self.window.end).into()).await;
                        if Instant::now() >= self.window.end {
                            break;
                        }
                    }
                    Answer::Failed(error) => {
                        stats.errors += u64::from(counted);
                        stats.first_error.get_or_insert(error);
                        tokio::time::sleep(ERROR_BACKOFF).await;
                        break;
                    }
                }
            }
            body_index = (body_index + 1) % self.pool.bodies.len();
        }
        stats
    }
}

async fn post(client: &reqwest::Client, url: &str, body: Vec<u8>) -> Answer {
    let sent = client
        .post(url)
        .header(CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await;
    let response = match sent {
        Ok(response) => response,
        Err(error) => {
            return Answer::Failed(format!("POST {url}: {:#}", anyhow::Error::new(error)))
        }
    };
    let status = response.status();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    // Read the whole answer so the connection can be reused.
    let text = match response.bytes().await {
        Ok(bytes) => bytes,
        Err(error) => {
            return Answer::Failed(format!(
                "reading the answer: {:#}",
                anyhow::Error::new(error)
            ))
        }
    };
    if status == StatusCode::TOO_MANY_REQUESTS {
        return Answer::Overloaded { retry_after };
    }
    let snippet = || {
        String::from_utf8_lossy(&text)
            .chars()
            .take(ERROR_BODY_CHARS)
            .collect::<String>()
    };
    if !status.is_success() {
        return Answer::Failed(format!("HTTP {status}: {}", snippet()));
    }
    let counts = serde_json::from_slice::<serde_json::Value>(&text)
        .ok()
        .and_then(|answer| {
            let accepted = answer.get("accepted")?.as_u64()?;
            let quarantined = answer
                .get("quarantined")
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0);
            Some((accepted, quarantined))
        });
    match counts {
        Some((accepted, quarantined)) => Answer::Accepted {
            accepted,
            quarantined,
        },
        None => Answer::Failed(format!(
            "HTTP {status} without `accepted` count: {}",
            snippet()
        )),
    }
}

#[cfg(test)]
mod tests;
