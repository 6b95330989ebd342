//! The sliding window of a window or sequence rule: the events that passed its filter, by event
//! time, bounded in length and in rows.

use std::collections::VecDeque;
use std::sync::Arc;

use datafusion::arrow::array::BooleanArray;
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;

use super::input::event_times;

/// Rows a window holds at most when the engine is not told otherwise.
pub const DEFAULT_MAX_WINDOW_ROWS: usize = 200_000;
/// Bytes of Arrow data a window holds at most when the engine is not told otherwise.
pub const DEFAULT_MAX_WINDOW_BYTES: usize = 64 * 1024 * 1024;

struct Piece {
    batch: RecordBatch,
    times: Vec<i64>,
    oldest: i64,
    bytes: usize,
}

/// The bytes `batch`'s rows take, not counting the parts of shared buffers outside them, nor
/// a column shared with an earlier one (the null columns of what a rule does not read) twice.
fn bytes_of(batch: &RecordBatch) -> usize {
    let columns = batch.columns();
    columns
        .iter()
        .enumerate()
        .filter(|(index, column)| {
            !columns[..*index]
                .iter()
                .any(|earlier| std::sync::Arc::ptr_eq(earlier, column))
        })
        .map(|(_, column)| {
            column
                .to_data()
                .get_slice_memory_size()
                .unwrap_or_else(|_| column.get_array_memory_size())
        })
        .sum::<usize>()
        + batch.num_rows() * std::mem::size_of::<i64>()
}

/// Events kept for one rule.
pub struct Window {
    length_micros: i64,
    max_rows: usize,
    max_bytes: usize,
    pieces: VecDeque<Piece>,
    rows: usize,
    bytes: usize,
    /// Rows were added since the rule last ran.
    pending: bool,
    /// Whether the rule reads the rows added since its last run (`new_events`): only then are
    /// they held apart from the window.
    holds_new: bool,
    /// The rows added since the rule last ran, when it reads them, and their bytes: bounded
    /// like the window, as a window rule runs only every `every`.
    fresh: VecDeque<(RecordBatch, usize)>,
    fresh_rows: usize,
    fresh_bytes: usize,
    /// Rows dropped because the window was full.
    pub dropped_rows: u64,
    /// New rows the rule did not see as new because too many waited for its next run.
    pub dropped_new_rows: u64,
}

impl Window {
    pub fn new(length: std::time::Duration, max_rows: usize, max_bytes: usize) -> Self {
        Window {
            length_micros: i64::try_from(length.as_micros()).unwrap_or(i64::MAX),
            max_rows: max_rows.max(1),
            max_bytes: max_bytes.max(1),
            pieces: VecDeque::new(),
            rows: 0,
            bytes: 0,
            pending: false,
            holds_new: true,
            fresh: VecDeque::new(),
            fresh_rows: 0,
            fresh_bytes: 0,
            dropped_rows: 0,
            dropped_new_rows: 0,
        }
    }

    /// A window whose rule does not read `new_events` holds no new rows apart.
    pub fn holding_new_events(mut self, holds: bool) -> Self {
        self.holds_new = holds;
        self
    }

    /// Adds filtered events to the window; `fresh`, the same rows with the columns the next run
    /// reads of new events, marks them as new (seeded history is not).
    pub fn add(&mut self, batch: RecordBatch, fresh: Option<RecordBatch>) {
        if batch.num_rows() == 0 {
            return;
        }
        let times = event_times(&batch);
        let oldest = times.iter().copied().min().unwrap_or(0);
        if let Some(fresh) = fresh {
            self.pending = true;
            if self.holds_new {
                let bytes = bytes_of(&fresh);
                self.fresh_rows += fresh.num_rows();
                self.fresh_bytes += bytes;
                self.fresh.push_back((fresh, bytes));
                while (self.fresh_rows > self.max_rows || self.fresh_bytes > self.max_bytes)
                    && self.fresh.len() > 1
                {
                    let Some((dropped, bytes)) = self.fresh.pop_front() else {
                        break;
                    };
                    self.fresh_rows -= dropped.num_rows();
                    self.fresh_bytes -= bytes;
                    self.dropped_new_rows += dropped.num_rows() as u64;
                }
            }
        }
        let bytes = bytes_of(&batch);
        self.rows += batch.num_rows();
        self.bytes += bytes;
        self.pieces.push_back(Piece {
            batch,
            times,
            oldest,
            bytes,
        });
        // Over either bound, the oldest rows go first (the newest piece always stays).
        while (self.rows > self.max_rows || self.bytes > self.max_bytes) && self.pieces.len() > 1 {
            let Some(piece) = self.pieces.pop_front() else {
                break;
            };
            self.rows -= piece.batch.num_rows();
            self.bytes -= piece.bytes;
            self.dropped_rows += piece.batch.num_rows() as u64;
        }
    }

    /// Bytes of Arrow data held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Drops the rows older than the window as seen from `now` (µs).
    pub fn evict(&mut self, now: i64) -> Result<(), ArrowError> {
        let cutoff = now.saturating_sub(self.length_micros);
        let mut kept = VecDeque::with_capacity(self.pieces.len());
        for piece in self.pieces.drain(..) {
            if piece.oldest >= cutoff {
                kept.push_back(piece);
                continue;
            }
            let mask = BooleanArray::from_iter(piece.times.iter().map(|t| Some(*t >= cutoff)));
            let batch = filter_record_batch(&piece.batch, &mask)?;
            self.rows -= piece.batch.num_rows() - batch.num_rows();
            self.bytes -= piece.bytes;
            if batch.num_rows() == 0 {
                continue;
            }
            let bytes = bytes_of(&batch);
            self.bytes += bytes;
            let times: Vec<i64> = piece.times.into_iter().filter(|t| *t >= cutoff).collect();
            let oldest = times.iter().copied().min().unwrap_or(cutoff);
            kept.push_back(Piece {
                batch,
                times,
                oldest,
                bytes,
            });
        }
        self.pieces = kept;
        Ok(())
    }

    pub fn has_fresh(&self) -> bool {
        self.pending
    }

    /// The whole window and the fresh part (empty when the window does not hold new rows
    /// apart), for a run; the fresh part starts anew.
    pub fn take_run(&mut self) -> (Arc<Vec<RecordBatch>>, Arc<Vec<RecordBatch>>) {
        let all = self.pieces.iter().map(|p| p.batch.clone()).collect();
        let fresh = std::mem::take(&mut self.fresh)
            .into_iter()
            .map(|(batch, _)| batch)
            .collect();
        self.pending = false;
        self.fresh_rows = 0;
        self.fresh_bytes = 0;
        (Arc::new(all), Arc::new(fresh))
    }

    pub fn rows(&self) -> usize {
        self.rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::input::input_batch;
    use schemas::EventRow;

    fn batch(first: i64, rows: usize, body: usize) -> RecordBatch {
        let rows: Vec<EventRow> = (0..rows)
            .map(|i| EventRow {
                source: "webhook".into(),
                received_at: first + i as i64,
                stage_at: Some(first + i as i64),
                audit_id: Some(format!("{first}-{i}").into()),
                request_object: Some("x".repeat(body).into()),
                ..EventRow::default()
            })
            .collect();
        input_batch(rows.iter().map(|row| ("prod", row))).unwrap()
    }

    #[test]
    fn the_oldest_rows_go_when_a_bound_is_reached() {
        let hour = std::time::Duration::from_secs(3600);
        // Bytes: three pieces of ~100 KiB in a window of 250 KiB keep the two newest.
        let mut window = Window::new(hour, 1_000_000, 250 * 1024);
        for piece in 0..3 {
            let rows = batch(piece * 1_000, 10, 10 * 1024);
            window.add(rows.clone(), Some(rows));
        }
        assert_eq!((window.rows(), window.dropped_rows), (20, 10));
        assert!(window.bytes() <= 250 * 1024, "{} bytes", window.bytes());
        let (all, fresh) = window.take_run();
        assert_eq!(all.len(), 2);
        assert_eq!(fresh.len(), 2, "new rows are bounded like the window");
        assert_eq!(window.dropped_new_rows, 10);
        assert!(!window.has_fresh(), "a run takes the new rows");
        // A rule that does not read new rows: they are not held apart, and it still runs.
        let mut window = Window::new(hour, 1_000_000, usize::MAX).holding_new_events(false);
        let rows = batch(0, 10, 1);
        window.add(rows.clone(), Some(rows));
        assert!(window.has_fresh());
        let (all, fresh) = window.take_run();
        assert_eq!((all.len(), fresh.len()), (1, 0));
        // Rows: the same, counted in rows.
        let mut window = Window::new(hour, 15, usize::MAX);
        window.add(batch(0, 10, 1), None);
        window.add(batch(1_000, 10, 1), None);
        assert_eq!((window.rows(), window.dropped_rows), (10, 10));
        // A single batch over the bound stays: the newest rows are the last to go.
        let mut window = Window::new(hour, 5, 1);
        window.add(batch(0, 10, 1), None);
        assert_eq!(window.rows(), 10);
        // Evicting by time gives the bytes back.
        let mut window = Window::new(std::time::Duration::from_micros(500), 100, usize::MAX);
        window.add(batch(0, 10, 1024), None);
        let before = window.bytes();
        window.add(batch(10_000, 10, 1024), None);
        window.evict(10_009).unwrap();
        assert_eq!(window.rows(), 10);
        assert!(window.bytes() < 2 * before && window.bytes() > 0);
    }
}
