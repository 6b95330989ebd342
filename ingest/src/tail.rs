//! The tail: events that are acknowledged (in the WAL) but not yet in Parquet. Queries read it
//! beside the files, so an event is queryable as soon as the webhook answered 200. It holds the
//! events the batcher holds (the same Arrow batches, shared, not copied) and lets go of them once their flush is stored,
//! so it is bounded by the batch limits.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use datafusion::arrow::record_batch::RecordBatch;

/// A handle on the tail; clones share it.
#[derive(Debug, Default, Clone)]
pub struct Tail(Arc<Mutex<TailState>>);

#[derive(Debug, Default)]
struct TailState {
    next: u64,
    /// `(sequence number, cluster, events)`, oldest first.
    segments: VecDeque<(u64, String, RecordBatch)>,
}

impl Tail {
    fn state(&self) -> std::sync::MutexGuard<'_, TailState> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds one request's events; returns their sequence number.
    pub(crate) fn push(&self, cluster: &str, rows: RecordBatch) -> u64 {
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

    /// The events not yet in Parquet (batches of the `events` schema), by cluster.
    pub fn snapshot(&self) -> Vec<(String, RecordBatch)> {
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
            .map(|(_, _, rows)| rows.num_rows())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn released_segments_leave_and_later_ones_stay() {
        let tail = Tail::default();
        let rows = RecordBatch::new_empty(schemas::events_schema());
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
