//! Coverage in `serve`: `GET /v1/coverage` (the observed report as JSON, what
//! `auditlens coverage --observed --format json` prints) and `GET /metrics` (the ingest
//! counters, the alert sinks' counters, and a gauge per CIS requirement and cluster, refreshed in
//! the background).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use analyze::alerts::sink::SinkStats;
use analyze::observed::{observe, ObservedOptions, ObservedReport, ObservedStatus};
use analyze::{open_session, QueryOptions};

use crate::query_api::problem;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use ingest::stats::Stats;

/// Each cluster's last observed report, for `/metrics`.
pub type Latest = Arc<Mutex<BTreeMap<String, ObservedReport>>>;

/// Each alert sink's counters by sink name, for `/metrics` (filled once detection started).
pub type SinkMetrics = Arc<Mutex<Vec<(String, Arc<SinkStats>)>>>;

#[derive(Clone)]
struct CoverageState {
    data_dir: PathBuf,
    stats: Arc<Stats>,
    sinks: SinkMetrics,
    latest: Latest,
    rules: crate::detect::live::Statuses,
}

/// `GET /metrics`, and with `report` `GET /v1/coverage?cluster=C&since=24h&preset=NAME`.
pub fn routes(
    data_dir: PathBuf,
    stats: Arc<Stats>,
    sinks: SinkMetrics,
    latest: Latest,
    rules: crate::detect::live::Statuses,
    report: bool,
) -> Router {
    let mut router = Router::new().route("/metrics", get(metrics));
    if report {
        router = router.route("/v1/coverage", get(coverage));
    }
    router.with_state(CoverageState {
        data_dir,
        stats,
        sinks,
        latest,
        rules,
    })
}

async fn coverage(
    State(state): State<CoverageState>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let since_micros = match query.get("since").map(|s| humantime::parse_duration(s)) {
        None => None,
        Some(Ok(since)) => Some(
            chrono::Utc::now().timestamp_micros() - since.as_micros().min(i64::MAX as u128) as i64,
        ),
        Some(Err(error)) => {
            return problem(
                StatusCode::BAD_REQUEST,
                format!("since: {error} (expected a duration such as 24h or 7d)"),
            )
        }
    };
    let declared = match query.get("preset") {
        None => None,
        Some(name) => match analyze::coverage::load_preset(name) {
            Ok(policy) => Some((format!("preset {name}"), policy)),
            Err(error) => return problem(StatusCode::BAD_REQUEST, format!("preset: {error}")),
        },
    };
    let options = ObservedOptions {
        cluster: query.get("cluster").cloned(),
        since_micros,
        declared,
    };
    match report(&state.data_dir, &options).await {
        Ok(report) => Json(report).into_response(),
        Err(error) => problem(StatusCode::INTERNAL_SERVER_ERROR, error.to_string()),
    }
}

async fn report(
    data_dir: &std::path::Path,
    options: &ObservedOptions,
) -> anyhow::Result<ObservedReport> {
    let session = open_session(data_dir, &QueryOptions::default()).await?;
    Ok(observe(&session, options).await?)
}

/// Refreshes every cluster's report over the last `window`, every `every`, until the runtime
/// stops.
pub async fn refresh(data_dir: PathBuf, latest: Latest, window: Duration, every: Duration) {
    let mut ticker = tokio::time::interval(every);
    loop {
        ticker.tick().await;
        let since_micros = Some(
            chrono::Utc::now().timestamp_micros() - window.as_micros().min(i64::MAX as u128) as i64,
        );
        let clusters = match clusters(&data_dir, since_micros).await {
            Ok(clusters) => clusters,
            Err(error) => {
                tracing::warn!(%error, "coverage: cannot list the clusters");
                continue;
            }
        };
        let mut reports = BTreeMap::new();
        for cluster in clusters {
            let options = ObservedOptions {
                cluster: Some(cluster.clone()),
                since_micros,
                declared: None,
            };
            match report(&data_dir, &options).await {
                Ok(report) => {
                    reports.insert(cluster, report);
                }
                Err(error) => tracing::warn!(%error, %cluster, "coverage: report failed"),
            }
        }
        *latest.lock().unwrap_or_else(|e| e.into_inner()) = reports;
    }
}

async fn clusters(
    data_dir: &std::path::Path,
    since_micros: Option<i64>,
) -> anyhow::Result<Vec<String>> {
    let session = open_session(data_dir, &QueryOptions::default()).await?;
    Ok(analyze::observed::clusters(&session, since_micros).await?)
}

/// A label value in the exposition format.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A metric of every sink: name, type, help, and how to read it.
type SinkMetric = (
    &'static str,
    &'static str,
    &'static str,
    fn(&SinkStats) -> u64,
);

/// Counters of [`Stats`] that `/metrics` shows per cluster instead (from
/// [`ingest::metrics::Metrics`]).
const LABELLED: &[&str] = &["events_accepted", "events_quarantined"];

/// The sum of the sizes of the files directly in `dir` (0 if it cannot be read).
fn directory_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|entry| entry.metadata().ok())
                .filter(|meta| meta.is_file())
                .map(|meta| meta.len())
                .sum()
        })
        .unwrap_or(0)
}

/// The detection rules' counters, per rule (and priority for alerts).
fn rule_metrics(out: &mut String, rules: &crate::detect::live::Statuses) {
    let rules = rules.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if rules.is_empty() {
        return;
    }
    type Read = fn(&analyze::detect::engine::RuleStatus) -> String;
    let families: [(&str, &str, &str, Read); 5] = [
        (
            "auditlens_rule_evaluations_total",
            "counter",
            "Times a rule ran (on a batch, or a window).",
            |r| r.runs.to_string(),
        ),
        (
            "auditlens_rule_errors_total",
            "counter",
            "Runs of a rule that failed (ingest and the other rules go on).",
            |r| r.failures.to_string(),
        ),
        (
            "auditlens_rule_evaluation_seconds_total",
            "counter",
            "Time spent running a rule.",
            |r| (r.run_micros as f64 / 1e6).to_string(),
        ),
        (
            "auditlens_rule_failing",
            "gauge",
            "1 when a rule could not be planned or its last run failed.",
            |r| u8::from(r.state != "ok").to_string(),
        ),
        (
            "auditlens_alerts_suppressed_total",
            "counter",
            "Alerts of a rule dropped by its dedup key within the suppression period.",
            |r| r.suppressed.to_string(),
        ),
    ];
    for (name, kind, help, read) in families {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for rule in &rules {
            let _ = writeln!(out, "{name}{{rule=\"{}\"}} {}", label(&rule.id), read(rule));
        }
    }
    let _ = writeln!(
        out,
        "# HELP auditlens_alerts_total Alerts raised, by rule and priority.\n# TYPE auditlens_alerts_total counter"
    );
    for rule in &rules {
        let _ = writeln!(
            out,
            "auditlens_alerts_total{{rule=\"{}\",priority=\"{}\"}} {}",
            label(&rule.id),
            label(&rule.priority),
            rule.alerts
        );
    }
}

async fn metrics(State(state): State<CoverageState>) -> Response {
    let mut out = String::new();
    let counters = serde_json::to_value(state.stats.snapshot()).unwrap_or_default();
    if let Some(counters) = counters.as_object() {
        for (name, value) in counters {
            if LABELLED.contains(&name.as_str()) {
                continue;
            }
            let _ = writeln!(out, "# TYPE auditlens_{name}_total counter");
            let _ = writeln!(out, "auditlens_{name}_total {value}");
        }
    }
    let sinks = state
        .sinks
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let sink_counters: [SinkMetric; 4] = [
        (
            "auditlens_alerts_delivered_total",
            "counter",
            "Alerts a sink delivered.",
            |s| s.delivered.load(Ordering::Relaxed),
        ),
        (
            "auditlens_alerts_delivery_failures_total",
            "counter",
            "Failed delivery attempts of a sink (retried).",
            |s| s.failures.load(Ordering::Relaxed),
        ),
        (
            "auditlens_alerts_dead_lettered_total",
            "counter",
            "Alerts a sink refused for good, written to its dead-letter file.",
            |s| s.dead_lettered.load(Ordering::Relaxed),
        ),
        (
            "auditlens_alerts_pending",
            "gauge",
            "Alerts in the alert log that a sink has not delivered yet.",
            |s| s.pending.load(Ordering::Relaxed),
        ),
    ];
    if !sinks.is_empty() {
        for (name, kind, help, read) in sink_counters {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for (sink, stats) in &sinks {
                let _ = writeln!(out, "{name}{{sink=\"{}\"}} {}", label(sink), read(stats));
            }
        }
    }
    out.push_str(&state.stats.metrics.encode());
    rule_metrics(&mut out, &state.rules);
    let _ = writeln!(
        out,
        "# HELP auditlens_log_messages_suppressed_total Warnings and errors not written by the log's rate limit (per call site).\n# TYPE auditlens_log_messages_suppressed_total counter\nauditlens_log_messages_suppressed_total {}",
        crate::logging::SUPPRESSED.load(Ordering::Relaxed)
    );
    let wal_bytes = directory_bytes(&state.data_dir.join("wal"));
    let _ = writeln!(
        out,
        "# HELP auditlens_wal_bytes Bytes in the write-ahead log: events acknowledged and not yet in Parquet.\n# TYPE auditlens_wal_bytes gauge\nauditlens_wal_bytes {wal_bytes}"
    );
    let latest = state
        .latest
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let _ = writeln!(
        out,
        "# HELP auditlens_coverage_requirement CIS 3.2 requirement status per cluster, from the stored events (1 for the current status)."
    );
    let _ = writeln!(out, "# TYPE auditlens_coverage_requirement gauge");
    for (cluster, report) in &latest {
        for requirement in &report.requirements {
            for (status, name) in [
                (ObservedStatus::Pass, "pass"),
                (ObservedStatus::Fail, "fail"),
                (ObservedStatus::NotObserved, "not_observed"),
            ] {
                let _ = writeln!(
                    out,
                    "auditlens_coverage_requirement{{cluster=\"{}\",requirement=\"{}\",status=\"{name}\"}} {}",
                    label(cluster),
                    label(&requirement.id),
                    u8::from(requirement.status == status)
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "# HELP auditlens_coverage_violations Events that break the Metadata-only guidance per cluster and requirement."
    );
    let _ = writeln!(out, "# TYPE auditlens_coverage_violations gauge");
    for (cluster, report) in &latest {
        for requirement in &report.requirements {
            let _ = writeln!(
                out,
                "auditlens_coverage_violations{{cluster=\"{}\",requirement=\"{}\"}} {}",
                label(cluster),
                label(&requirement.id),
                requirement.violation_count
            );
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}
