//! Counters of everything the ingest path accepts, quarantines, rejects and writes.

use std::sync::atomic::{AtomicU64, Ordering};

/// Shared, lock-free counters. Read with [`Stats::snapshot`].
#[derive(Debug, Default)]
pub struct Stats {
    pub events_accepted: AtomicU64,
    pub events_quarantined: AtomicU64,
    /// Requests refused whole, by reason.
    pub requests_bad_body: AtomicU64,
    pub requests_too_large: AtomicU64,
    pub requests_unauthorized: AtomicU64,
    pub requests_overloaded: AtomicU64,
    pub requests_unavailable: AtomicU64,
    pub wal_records_replayed: AtomicU64,
    pub flushes: AtomicU64,
    pub flush_errors: AtomicU64,
    pub files_written: AtomicU64,
    pub bytes_written: AtomicU64,
    pub events_written: AtomicU64,
    pub quarantined_written: AtomicU64,
    /// `--role ingest`: events too large for one Kafka message, forwarded without their request
    /// and response bodies (annotated `audit.k8s.io/truncated`).
    pub events_truncated: AtomicU64,
    /// Accepted events the detection engine never saw because it was too far behind.
    pub detect_events_skipped: AtomicU64,
    /// The labelled metrics: per cluster, per status code, the webhook's latency.
    pub metrics: crate::metrics::Metrics,
}

/// A copy of the counters at one moment.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct StatsSnapshot {
    pub events_accepted: u64,
    pub events_quarantined: u64,
    pub requests_bad_body: u64,
    pub requests_too_large: u64,
    pub requests_unauthorized: u64,
    pub requests_overloaded: u64,
    pub requests_unavailable: u64,
    pub wal_records_replayed: u64,
    pub flushes: u64,
    pub flush_errors: u64,
    pub files_written: u64,
    pub bytes_written: u64,
    pub events_written: u64,
    pub quarantined_written: u64,
    pub events_truncated: u64,
    pub detect_events_skipped: u64,
}

impl Stats {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// `accepted` events and `quarantined` inputs of `cluster` were made durable.
    pub fn events(&self, cluster: &str, accepted: usize, quarantined: usize) {
        Stats::add(&self.events_accepted, accepted as u64);
        Stats::add(&self.events_quarantined, quarantined as u64);
        self.metrics.events(cluster, accepted, quarantined);
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        StatsSnapshot {
            events_accepted: get(&self.events_accepted),
            events_quarantined: get(&self.events_quarantined),
            requests_bad_body: get(&self.requests_bad_body),
            requests_too_large: get(&self.requests_too_large),
            requests_unauthorized: get(&self.requests_unauthorized),
            requests_overloaded: get(&self.requests_overloaded),
            requests_unavailable: get(&self.requests_unavailable),
            wal_records_replayed: get(&self.wal_records_replayed),
            flushes: get(&self.flushes),
            flush_errors: get(&self.flush_errors),
            files_written: get(&self.files_written),
            bytes_written: get(&self.bytes_written),
            events_written: get(&self.events_written),
            quarantined_written: get(&self.quarantined_written),
            events_truncated: get(&self.events_truncated),
            detect_events_skipped: get(&self.detect_events_skipped),
        }
    }
}
