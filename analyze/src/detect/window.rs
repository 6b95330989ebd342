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

struct Piece {
    batch: RecordBatch,
    times: Vec<i64>,
    oldest: i64,
}

/// Events kept for one rule.
pub struct Window {
    length_micros: i64,
    max_rows: usize,
    pieces: VecDeque<Piece>,
    rows: usize,
    /// Batches added since the rule last ran.
    fresh: Vec<RecordBatch>,
    /// Rows dropped because the window was full.
    pub dropped_rows: u64,
}

impl Window {
    pub fn new(length: std::time::Duration, max_rows: usize) -> Self {
        Window {
            length_micros: i64::try_from(length.as_micros()).unwrap_or(i64::MAX),
            max_rows: max_rows.max(1),
            pieces: VecDeque::new(),
            rows: 0,
            fresh: Vec::new(),
            dropped_rows: 0,
        }
    }

    /// Adds filtered events; `fresh` marks them as new for the next run (seeded history is not).
    pub fn add(&mut self, batch: RecordBatch, fresh: bool) {
        if batch.num_rows() == 0 {
            return;
        }
        let times = event_times(&batch);
        let oldest = times.iter().copied().min().unwrap_or(0);
        if fresh {
            self.fresh.push(batch.clone());
        }
        self.rows += batch.num_rows();
        self.pieces.push_back(Piece {
            batch,
            times,
            oldest,
        });
        while self.rows > self.max_rows {
            let Some(piece) = self.pieces.pop_front() else {
                break;
            };
            self.rows -= piece.batch.num_rows();
            self.dropped_rows += piece.batch.num_rows() as u64;
        }
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
            if batch.num_rows() == 0 {
                continue;
            }
            let times: Vec<i64> = piece.times.into_iter().filter(|t| *t >= cutoff).collect();
            let oldest = times.iter().copied().min().unwrap_or(cutoff);
            kept.push_back(Piece {
                batch,
                times,
                oldest,
            });
        }
        self.pieces = kept;
        Ok(())
    }

    pub fn has_fresh(&self) -> bool {
        !self.fresh.is_empty()
    }

    /// The whole window and the fresh part, for a run; the fresh part starts anew.
    pub fn take_run(&mut self) -> (Arc<Vec<RecordBatch>>, Arc<Vec<RecordBatch>>) {
        let all = self.pieces.iter().map(|p| p.batch.clone()).collect();
        let fresh = std::mem::take(&mut self.fresh);
        (Arc::new(all), Arc::new(fresh))
    }

    pub fn rows(&self) -> usize {
        self.rows
    }
}
