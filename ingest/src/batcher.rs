//! The batcher: gathers accepted events (one Arrow batch per request) by partition until a row,
//! byte or age limit says flush, then hands them to the store in one [`Flush`].

use std::time::{Duration, Instant};

use datafusion::arrow::record_batch::RecordBatch;
use schemas::batch::partition_times;
use schemas::QuarantineRow;

use crate::store::{hour_of, Flush, PartitionKey};

/// Flush once this many rows are buffered.
pub const DEFAULT_MAX_ROWS: usize = 1_000_000;
/// Flush once the buffered events take this many bytes of Arrow memory.
pub const DEFAULT_MAX_BYTES: usize = 128 * 1024 * 1024;
/// Flush once the oldest buffered row waited this long.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(30);

/// When a buffer must be flushed.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    pub max_rows: usize,
    pub max_bytes: usize,
    pub max_age: Duration,
}

impl Default for BatchLimits {
    fn default() -> Self {
        BatchLimits {
            max_rows: DEFAULT_MAX_ROWS,
            max_bytes: DEFAULT_MAX_BYTES,
            max_age: DEFAULT_MAX_AGE,
        }
    }
}

/// Rows waiting for a flush.
#[derive(Debug, Default)]
pub struct Buffer {
    flush: Flush,
    rows: usize,
    bytes: usize,
    oldest: Option<Instant>,
    /// The WAL LSN everything buffered and flushed so far reaches (exclusive), if WAL-backed.
    lsn_end: Option<u64>,
}

impl Buffer {
    /// Adds one request's events (a batch of the `events` schema); the batch is shared, not
    /// copied: each run of rows of one hour goes to its partition as a slice of it.
    pub fn add_events(&mut self, cluster: &str, events: RecordBatch) {
        let rows = events.num_rows();
        if rows == 0 {
            return;
        }
        self.touch(rows);
        self.bytes += events.get_array_memory_size();
        let times = partition_times(&events);
        let mut start = 0;
        while start < rows {
            let hour = hour_of(times[start]);
            let end = (start + 1..rows)
                .find(|&row| hour_of(times[row]) != hour)
                .unwrap_or(rows);
            self.flush
                .events
                .entry(PartitionKey::new(cluster, times[start]))
                .or_default()
                .push(events.slice(start, end - start));
            start = end;
        }
    }

    pub fn add_quarantined(&mut self, cluster: &str, rows: Vec<QuarantineRow>) {
        self.touch(rows.len());
        for row in rows {
            self.bytes += row.approx_bytes();
            let key = PartitionKey::new(cluster, row.received_at);
            self.flush.quarantine.entry(key).or_default().push(row);
        }
    }

    fn touch(&mut self, rows: usize) {
        if rows > 0 && self.oldest.is_none() {
            self.oldest = Some(Instant::now());
        }
        self.rows += rows;
    }

    /// Records that WAL records below `lsn_end` have reached this buffer.
    pub fn advance_lsn(&mut self, lsn_end: u64) {
        self.lsn_end = Some(self.lsn_end.map_or(lsn_end, |lsn| lsn.max(lsn_end)));
    }

    pub fn lsn_end(&self) -> Option<u64> {
        self.lsn_end
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Whether a limit is reached at `now`.
    pub fn is_due(&self, limits: &BatchLimits, now: Instant) -> bool {
        self.rows >= limits.max_rows
            || self.bytes >= limits.max_bytes
            || self
                .oldest
                .is_some_and(|oldest| now.duration_since(oldest) >= limits.max_age)
    }

    /// How long until the age limit makes the buffer due (`None` when empty).
    pub fn time_left(&self, limits: &BatchLimits, now: Instant) -> Option<Duration> {
        self.oldest
            .map(|oldest| limits.max_age.saturating_sub(now.duration_since(oldest)))
    }

    /// The buffered rows, to write; the flush must succeed before [`Self::clear`].
    pub fn pending(&mut self) -> &mut Flush {
        &mut self.flush
    }

    /// Forgets the rows after they were written.
    pub fn clear(&mut self) {
        self.flush = Flush::default();
        self.rows = 0;
        self.bytes = 0;
        self.oldest = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::batch::events_batch;
    use schemas::EventRow;

    fn rows_at(times: &[i64]) -> RecordBatch {
        let rows: Vec<EventRow> = times
            .iter()
            .enumerate()
            .map(|(i, &stage_at)| EventRow {
                audit_id: Some(format!("id-{i}").into()),
                stage_at: Some(stage_at),
                ..EventRow::default()
            })
            .collect();
        events_batch(&rows).unwrap()
    }

    fn rows(n: usize, stage_at: i64) -> RecordBatch {
        rows_at(&vec![stage_at; n])
    }

    #[test]
    fn rows_are_grouped_by_cluster_and_hour() {
        let mut buffer = Buffer::default();
        buffer.add_events("a", rows(2, 0));
        buffer.add_events("a", rows(1, 3_600_000_000));
        buffer.add_events("b", rows(1, 0));
        assert_eq!(buffer.rows(), 4);
        let partitions: Vec<(String, String)> = buffer
            .pending()
            .events
            .iter()
            .map(|(key, batches)| {
                (
                    format!("{}/{}", key.cluster, key.hour),
                    crate::store::rows_of(batches).to_string(),
                )
            })
            .collect();
        assert_eq!(
            partitions,
            vec![
                ("a/00".into(), "2".into()),
                ("a/01".into(), "1".into()),
                ("b/00".into(), "1".into())
            ]
        );
    }

    #[test]
    fn a_request_spanning_hours_is_split_without_losing_rows() {
        let hour = 3_600_000_000;
        let mut buffer = Buffer::default();
        buffer.add_events("a", rows_at(&[0, 1, hour, hour + 1, 2, 2 * hour]));
        let ids: Vec<(String, Vec<String>)> = buffer
            .pending()
            .events
            .iter()
            .map(|(key, batches)| {
                let ids = batches
                    .iter()
                    .flat_map(|batch| {
                        let column = batch.column_by_name("audit_id").unwrap();
                        let ids = datafusion::arrow::array::AsArray::as_string::<i32>(column);
                        (0..batch.num_rows())
                            .map(|row| ids.value(row).to_string())
                            .collect::<Vec<_>>()
                    })
                    .collect();
                (key.hour.clone(), ids)
            })
            .collect();
        let expected = |hour: &str, ids: &[&str]| {
            (
                hour.to_string(),
                ids.iter().map(|id| id.to_string()).collect::<Vec<_>>(),
            )
        };
        assert_eq!(
            ids,
            vec![
                expected("00", &["id-0", "id-1", "id-4"]),
                expected("01", &["id-2", "id-3"]),
                expected("02", &["id-5"]),
            ]
        );
    }

    #[test]
    fn each_limit_makes_the_buffer_due() {
        let now = Instant::now();
        let limits = BatchLimits {
            max_rows: 3,
            max_bytes: usize::MAX,
            max_age: Duration::from_secs(60),
        };
        let mut buffer = Buffer::default();
        assert!(!buffer.is_due(&limits, now));
        assert_eq!(buffer.time_left(&limits, now), None);
        buffer.add_events("a", rows(2, 0));
        assert!(!buffer.is_due(&limits, now));
        buffer.add_events("a", rows(1, 0));
        assert!(buffer.is_due(&limits, now));

        let by_bytes = BatchLimits {
            max_rows: usize::MAX,
            max_bytes: 100,
            max_age: Duration::from_secs(60),
        };
        let mut buffer = Buffer::default();
        buffer.add_events("a", rows(1, 0));
        assert!(
            buffer.is_due(&by_bytes, now),
            "one row takes over 100 bytes"
        );

        let by_age = BatchLimits {
            max_rows: usize::MAX,
            max_bytes: usize::MAX,
            max_age: Duration::from_millis(10),
        };
        let mut buffer = Buffer::default();
        buffer.add_events("a", rows(1, 0));
        assert!(!buffer.is_due(&by_age, Instant::now()));
        assert!(buffer.is_due(&by_age, Instant::now() + Duration::from_millis(20)));
        buffer.clear();
        assert!(buffer.is_empty());
    }

    #[test]
    fn the_lsn_only_moves_forward() {
        let mut buffer = Buffer::default();
        assert_eq!(buffer.lsn_end(), None);
        buffer.advance_lsn(5);
        buffer.advance_lsn(3);
        assert_eq!(buffer.lsn_end(), Some(5));
    }
}
