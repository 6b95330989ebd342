//! The tail: events that are acknowledged (in the WAL) but not yet in Parquet. Queries read it
//! beside the files, so an event is queryable as soon as the webhook answered 200. It holds the
//! rows the batcher holds (shared, not copied) and lets go of them once their flush is stored,
//! so it is bounded by the batch limits.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use crate::store::{PartitionKey, SharedRows};

/// A handle on the tail; clones share it.
#[derive(Debug, Default, Clone)]
pub struct Tail(Arc<Mutex<TailState>>);

#[derive(Debug, Default)]
struct TailState {
    next: u64,
    /// `(sequence number, cluster, rows)`, oldest first.
    segments: VecDeque<(u64, String, SharedRows)>,
}

impl Tail {
    fn state(&self) -> std::sync::MutexGuard<'_, TailState> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds one request's rows; returns their sequence number.
    pub(crate) fn push(&self, cluster: &str, rows: SharedRows) -> u64 {
        let mut state = self.state();
        let seq = state.next;
        state.next += 1;
        state.segments.push_back((seq, cluster.to_string(), rows));
        seq
    }

    /// Forgets every segment up to and including `seq`: they are in Parquet now.
    pub(crate) fn release_through(&self, seq: u64) {
        let mut state = self.state();
        while state.segments.front().is_some_and(|(s, _, _)| *s <= seq) {
            state.segments.pop_front();
        }
    }

    /// The rows not yet in Parquet, by cluster.
    pub fn snapshot(&self) -> Vec<(String, SharedRows)> {
        self.state()
            .segments
            .iter()
            .map(|(_, cluster, rows)| (cluster.clone(), rows.clone()))
            .collect()
    }

    /// Rows held.
    pub fn len(&self) -> usize {
        self.state()
            .segments
            .iter()
            .map(|(_, _, rows)| rows.len())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The `date` and `hour` partition values of a row, as the store names its directories.
pub fn partition_of(cluster: &str, row: &schemas::EventRow) -> (String, String) {
    let key = PartitionKey::new(cluster, row.partition_time());
    (key.date, key.hour)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn released_segments_leave_and_later_ones_stay() {
        let tail = Tail::default();
        let rows: SharedRows = Arc::new(Vec::new());
        let first = tail.push("a", rows.clone());
        let second = tail.push("b", rows.clone());
        assert_eq!(tail.snapshot().len(), 2);
        tail.release_through(first);
        let left = tail.snapshot();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].0, "b");
        tail.release_through(second);
        assert!(tail.snapshot().is_empty());
    }
}
