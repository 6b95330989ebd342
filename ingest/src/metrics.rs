//! Prometheus metrics with labels (per cluster, per status code) and the webhook's latency
//! histogram, beside the plain counters of [`crate::stats::Stats`]. Served by `/metrics` in the
//! text exposition format.
//!
//! Cluster labels are bounded: after [`MAX_CLUSTERS`] distinct names, further clusters are
//! counted under `cluster="_other"`, so requests naming new clusters cannot grow the series
//! without end.

use std::collections::HashSet;
use std::sync::Mutex;

use prometheus::{
    exponential_buckets, GaugeVec, Histogram, HistogramOpts, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};

/// Distinct cluster label values kept; more are folded into `_other`.
pub const MAX_CLUSTERS: usize = 1000;
/// The label value of clusters beyond [`MAX_CLUSTERS`].
pub const OTHER_CLUSTER: &str = "_other";

/// The labelled metrics.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    duration: Histogram,
    in_flight: IntGauge,
    received: IntCounterVec,
    accepted: IntCounterVec,
    quarantined: IntCounterVec,
    last_received: GaugeVec,
    clusters: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let vec = IntCounterVec::new(Opts::new(name, help).namespace("auditlens"), labels)
        .expect("a valid metric definition");
    registry
        .register(Box::new(vec.clone()))
        .expect("each metric is registered once");
    vec
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let requests = counter(
            &registry,
            "webhook_requests_total",
            "Webhook requests answered, by HTTP status code.",
            &["code"],
        );
        let duration = Histogram::with_opts(
            HistogramOpts::new(
                "webhook_request_duration_seconds",
                "Time from a webhook request's arrival to its answer (the 200 waits for the fsync).",
            )
            .namespace("auditlens")
            // 0.5 ms to about 16 s.
            .buckets(exponential_buckets(0.0005, 2.0, 16).expect("valid buckets")),
        )
        .expect("a valid metric definition");
        registry
            .register(Box::new(duration.clone()))
            .expect("each metric is registered once");
        let in_flight = IntGauge::with_opts(
            Opts::new(
                "webhook_requests_in_flight",
                "Webhook requests being read, decoded or made durable now (--max-in-flight at most).",
            )
            .namespace("auditlens"),
        )
        .expect("a valid metric definition");
        registry
            .register(Box::new(in_flight.clone()))
            .expect("each metric is registered once");
        let received = counter(
            &registry,
            "events_received_total",
            "Audit events in inputs that were made durable (accepted or quarantined), per cluster: compare with kube-apiserver's apiserver_audit_event_total.",
            &["cluster"],
        );
        let accepted = counter(
            &registry,
            "events_accepted_total",
            "Audit events accepted into the write-ahead log (or forwarded to Kafka), per cluster.",
            &["cluster"],
        );
        let quarantined = counter(
            &registry,
            "events_quarantined_total",
            "Inputs quarantined (stored in the quarantine table with the reason), per cluster.",
            &["cluster"],
        );
        let last_received = GaugeVec::new(
            Opts::new(
                "last_event_received_timestamp_seconds",
                "Unix time at which the cluster's last audit event was made durable.",
            )
            .namespace("auditlens"),
            &["cluster"],
        )
        .expect("a valid metric definition");
        registry
            .register(Box::new(last_received.clone()))
            .expect("each metric is registered once");
        let build = IntGauge::with_opts(
            Opts::new(
                "build_info",
                "The running auditlens: always 1, with its version.",
            )
            .namespace("auditlens")
            .const_label("version", env!("CARGO_PKG_VERSION")),
        )
        .expect("a valid metric definition");
        build.set(1);
        registry
            .register(Box::new(build))
            .expect("each metric is registered once");
        Metrics {
            registry,
            requests,
            duration,
            in_flight,
            received,
            accepted,
            quarantined,
            last_received,
            clusters: Mutex::new(HashSet::new()),
        }
    }

    /// The label value for `cluster`: itself, or [`OTHER_CLUSTER`] once [`MAX_CLUSTERS`] others
    /// have been seen.
    fn cluster_label(&self, cluster: &str) -> String {
        let mut seen = self.clusters.lock().unwrap_or_else(|e| e.into_inner());
        if seen.contains(cluster) {
            return cluster.to_string();
        }
        if seen.len() < MAX_CLUSTERS {
            seen.insert(cluster.to_string());
            return cluster.to_string();
        }
        OTHER_CLUSTER.to_string()
    }

    /// `accepted` events and `quarantined` inputs of `cluster` were made durable.
    pub fn events(&self, cluster: &str, accepted: usize, quarantined: usize) {
        if accepted + quarantined == 0 {
            return;
        }
        let label = self.cluster_label(cluster);
        let labels = [label.as_str()];
        self.received
            .with_label_values(&labels)
            .inc_by((accepted + quarantined) as u64);
        self.accepted
            .with_label_values(&labels)
            .inc_by(accepted as u64);
        self.quarantined
            .with_label_values(&labels)
            .inc_by(quarantined as u64);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or_default();
        self.last_received.with_label_values(&labels).set(now);
    }

    /// A webhook request was answered with `code` after `seconds`.
    pub fn request(&self, code: u16, seconds: f64) {
        self.requests
            .with_label_values(&[code.to_string().as_str()])
            .inc();
        self.duration.observe(seconds);
    }

    /// Marks a webhook request in flight until the guard is dropped.
    pub fn in_flight(&self) -> InFlightGuard<'_> {
        self.in_flight.inc();
        InFlightGuard(&self.in_flight)
    }

    /// The metrics in Prometheus' text exposition format.
    pub fn encode(&self) -> String {
        TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .unwrap_or_default()
    }
}

/// Decrements the in-flight gauge when dropped.
pub struct InFlightGuard<'a>(&'a IntGauge);

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_counted_per_cluster_and_received_sums_both() {
        let metrics = Metrics::new();
        metrics.events("prod", 3, 1);
        metrics.events("prod", 2, 0);
        metrics.events("lab", 0, 0);
        metrics.request(200, 0.004);
        metrics.request(429, 0.0001);
        let text = metrics.encode();
        assert!(
            text.contains(r#"auditlens_events_received_total{cluster="prod"} 6"#),
            "{text}"
        );
        assert!(
            text.contains(r#"auditlens_events_accepted_total{cluster="prod"} 5"#),
            "{text}"
        );
        assert!(
            text.contains(r#"auditlens_events_quarantined_total{cluster="prod"} 1"#),
            "{text}"
        );
        assert!(!text.contains(r#"cluster="lab""#), "{text}");
        assert!(
            text.contains(r#"auditlens_webhook_requests_total{code="429"} 1"#),
            "{text}"
        );
        assert!(
            text.contains("auditlens_webhook_request_duration_seconds_count 2"),
            "{text}"
        );
        assert!(text.contains(r#"auditlens_build_info{version=""#), "{text}");
    }

    #[test]
    fn clusters_beyond_the_limit_share_one_label() {
        let metrics = Metrics::new();
        for i in 0..MAX_CLUSTERS + 5 {
            metrics.events(&format!("c{i}"), 1, 0);
        }
        let text = metrics.encode();
        assert!(
            text.contains(r#"auditlens_events_accepted_total{cluster="_other"} 5"#),
            "{text}"
        );
        let series = text
            .lines()
            .filter(|line| line.starts_with("auditlens_events_accepted_total{"))
            .count();
        assert_eq!(series, MAX_CLUSTERS + 1);
    }
}
