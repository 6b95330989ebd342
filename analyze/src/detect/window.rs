//! The sliding window of a window or sequence rule: the events that passed its filter, by event
//! time, bounded in length and in rows.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, BooleanArray};
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::physical_expr::PhysicalExpr;

use super::bodies::{Bodies, Memo};
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

impl Piece {
    fn new(batch: RecordBatch, times: Vec<i64>) -> Piece {
        let oldest = times.iter().copied().min().unwrap_or(0);
        let bytes = bytes_of(&batch);
        Piece {
            batch,
            times,
            oldest,
            bytes,
        }
    }

    /// The rows of `keep`, or `None` when none is left. Should the rows not be copied, all of
    /// them stay (and the error is logged): a row is never lost to a failed copy.
    fn retain(self, keep: &BooleanArray) -> Option<Piece> {
        if keep.true_count() == self.batch.num_rows() {
            return Some(self);
        }
        if keep.true_count() == 0 {
            return None;
        }
        let batch = match filter_record_batch(&self.batch, keep) {
            Ok(batch) => batch,
            Err(error) => {
                tracing::warn!(%error, "cannot copy a window's rows; it keeps all of them");
                return Some(self);
            }
        };
        let times = self
            .times
            .iter()
            .zip(keep.values().iter())
            .filter_map(|(time, kept)| kept.then_some(*time))
            .collect();
        Some(Piece::new(batch, times))
    }
}

/// Stretches of the window's length within which a compacting window keeps the earliest and
/// the latest row of each key: a rule's view of how far back its window reaches, or of when a
/// key was first seen, is off by at most a thirtieth of the window.
const COMPACTION_STRETCHES: i64 = 30;
/// A compacting window compacts again once it holds twice the rows its last compaction left,
/// and at least this many, unless the engine is told otherwise.
pub const DEFAULT_COMPACTION_ROWS: usize = 4096;

/// Which rows of a window are the same for its rule: those with the same values of `keys`.
struct Compaction {
    keys: Vec<Arc<dyn PhysicalExpr>>,
    /// Rows held at least before compacting.
    min_rows: usize,
    /// Rows the last compaction left.
    settled: usize,
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
    /// Set when the window keeps only the earliest and latest rows of each key.
    compaction: Option<Compaction>,
    /// Set when the window keeps only parts of the bodies.
    bodies: Option<Bodies>,
    /// Rows compacted away (another row of their key stays).
    pub compacted_rows: u64,
    /// Why the last compaction failed, until the engine reports it.
    compaction_error: Option<String>,
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
            compaction: None,
            bodies: None,
            compacted_rows: 0,
            compaction_error: None,
            dropped_rows: 0,
            dropped_new_rows: 0,
        }
    }

    /// A window whose rule does not read `new_events` holds no new rows apart.
    pub fn holding_new_events(mut self, holds: bool) -> Self {
        self.holds_new = holds;
        self
    }

    /// A window keeping, of the rows with the same values of `keys` (expressions over the rows
    /// it holds), only the earliest and the latest within each thirtieth of its length. It
    /// compacts once it holds `min_rows` rows and twice what its last compaction left (with
    /// `min_rows` 0, before every addition).
    pub fn compacting_by(
        mut self,
        keys: Option<Vec<Arc<dyn PhysicalExpr>>>,
        min_rows: usize,
    ) -> Self {
        self.compaction = keys.map(|keys| Compaction {
            keys,
            min_rows,
            settled: 0,
        });
        self
    }

    /// A window keeping, of each request and response body, only the parts `bodies` names.
    pub fn cutting_bodies(mut self, bodies: Option<Bodies>) -> Self {
        self.bodies = bodies;
        self
    }

    /// The batches with their bodies cut as the window keeps them.
    fn cut(&self, batches: [Option<RecordBatch>; 2]) -> [Option<RecordBatch>; 2] {
        let Some(bodies) = &self.bodies else {
            return batches;
        };
        let mut memo = Memo::default();
        batches.map(|batch| batch.map(|batch| bodies.cut(&batch, &mut memo)))
    }

    /// Adds new events that passed the filter: `history`, those the rule can read as `events`,
    /// to the window, and `fresh`, those it can read as `new_events`, apart until its next run.
    /// Either may be absent (no row of the batch can matter there); the rule is due either way.
    pub fn add_new(&mut self, history: Option<RecordBatch>, fresh: Option<RecordBatch>) {
        self.pending = true;
        let [history, fresh] = self.cut([history, fresh]);
        if let Some(fresh) = fresh.filter(|f| self.holds_new && f.num_rows() > 0) {
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
        if let Some(history) = history {
            self.keep(history);
        }
    }

    /// Adds events to the window that are not new (stored history, already evaluated).
    pub fn add_history(&mut self, batch: RecordBatch) {
        let [Some(batch), _] = self.cut([Some(batch), None]) else {
            return;
        };
        self.keep(batch);
    }

    /// Adds rows, as the window keeps them, to it.
    fn keep(&mut self, batch: RecordBatch) {
        if batch.num_rows() == 0 {
            return;
        }
        if self.compaction.as_ref().is_some_and(|c| {
            self.rows > 0 && (c.min_rows == 0 || self.rows >= c.min_rows.max(2 * c.settled))
        }) {
            self.compact();
        }
        let times = event_times(&batch);
        let piece = Piece::new(batch, times);
        self.rows += piece.batch.num_rows();
        self.bytes += piece.bytes;
        self.pieces.push_back(piece);
        // Over a bound, compacting comes before dropping rows, unless the window has hardly
        // grown since it last compacted (its keys are that many: compacting again would not
        // help).
        if self.over_bounds()
            && self
                .compaction
                .as_ref()
                .is_some_and(|c| self.rows.saturating_sub(c.settled) >= self.rows / 4)
        {
            self.compact();
        }
        // Over either bound, the oldest rows go first (the newest piece always stays).
        while self.over_bounds() && self.pieces.len() > 1 {
            let Some(piece) = self.pieces.pop_front() else {
                break;
            };
            self.rows -= piece.batch.num_rows();
            self.bytes -= piece.bytes;
            self.dropped_rows += piece.batch.num_rows() as u64;
        }
    }

    /// Why compacting failed since the last call, if it did.
    pub fn take_error(&mut self) -> Option<String> {
        self.compaction_error.take()
    }

    fn over_bounds(&self) -> bool {
        self.rows > self.max_rows || self.bytes > self.max_bytes
    }

    /// Keeps the earliest and the latest row of each key in each stretch. Should the keys not
    /// evaluate, every row stays, and the error waits for [`Window::take_error`].
    fn compact(&mut self) {
        let Some(compaction) = self.compaction.as_mut() else {
            return;
        };
        let keeps = match keep_masks(&compaction.keys, &self.pieces, self.length_micros) {
            Ok(keeps) => keeps,
            Err(error) => {
                self.compaction_error = Some(error);
                compaction.settled = self.rows;
                return;
            }
        };
        let mut kept = VecDeque::with_capacity(self.pieces.len());
        let (mut rows, mut bytes) = (0, 0);
        for (piece, keep) in self.pieces.drain(..).zip(keeps) {
            let before = piece.batch.num_rows();
            match piece.retain(&keep) {
                Some(piece) => {
                    self.compacted_rows += (before - piece.batch.num_rows()) as u64;
                    rows += piece.batch.num_rows();
                    bytes += piece.bytes;
                    kept.push_back(piece);
                }
                None => self.compacted_rows += before as u64,
            }
        }
        self.pieces = kept;
        self.rows = rows;
        self.bytes = bytes;
        compaction.settled = rows;
    }

    /// Bytes of Arrow data held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Drops the rows older than the window as seen from `now` (µs).
    pub fn evict(&mut self, now: i64) {
        let cutoff = now.saturating_sub(self.length_micros);
        let mut kept = VecDeque::with_capacity(self.pieces.len());
        for piece in self.pieces.drain(..) {
            if piece.oldest >= cutoff {
                kept.push_back(piece);
                continue;
            }
            let mask = BooleanArray::from_iter(piece.times.iter().map(|t| Some(*t >= cutoff)));
            self.rows -= piece.batch.num_rows();
            self.bytes -= piece.bytes;
            if let Some(piece) = piece.retain(&mask) {
                self.rows += piece.batch.num_rows();
                self.bytes += piece.bytes;
                kept.push_back(piece);
            }
        }
        self.pieces = kept;
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

/// For each piece, the rows that are the earliest or the latest of their key in their stretch
/// of event time.
fn keep_masks(
    keys: &[Arc<dyn PhysicalExpr>],
    pieces: &VecDeque<Piece>,
    length_micros: i64,
) -> Result<Vec<BooleanArray>, String> {
    let stretch = (length_micros / COMPACTION_STRETCHES).max(1);
    let Some(first) = pieces.front() else {
        return Ok(Vec::new());
    };
    let schema = first.batch.schema();
    let fields = keys
        .iter()
        .map(|key| key.data_type(&schema).map(SortField::new))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let converter = RowConverter::new(fields).map_err(|e| e.to_string())?;
    let mut rows = Vec::with_capacity(pieces.len());
    for piece in pieces {
        let values = keys
            .iter()
            .map(|key| {
                key.evaluate(&piece.batch)
                    .and_then(|value| value.into_array(piece.batch.num_rows()))
            })
            .collect::<Result<Vec<ArrayRef>, _>>()
            .map_err(|e| e.to_string())?;
        rows.push(
            converter
                .convert_columns(&values)
                .map_err(|e| e.to_string())?,
        );
    }
    // Per key and stretch: (piece, row, time) of the earliest and of the latest row.
    type Seen = [(usize, usize, i64); 2];
    let mut seen: HashMap<(datafusion::arrow::row::Row<'_>, i64), Seen> = HashMap::new();
    for (index, (piece, rows)) in pieces.iter().zip(&rows).enumerate() {
        for (row, &time) in piece.times.iter().enumerate() {
            let at = (index, row, time);
            seen.entry((rows.row(row), time.div_euclid(stretch)))
                .and_modify(|[earliest, latest]| {
                    if time < earliest.2 {
                        *earliest = at;
                    }
                    if time >= latest.2 {
                        *latest = at;
                    }
                })
                .or_insert([at, at]);
        }
    }
    let mut keep: Vec<Vec<bool>> = pieces
        .iter()
        .map(|piece| vec![false; piece.batch.num_rows()])
        .collect();
    for ends in seen.values() {
        for &(index, row, _) in ends {
            keep[index][row] = true;
        }
    }
    Ok(keep.into_iter().map(BooleanArray::from).collect())
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
            window.add_new(Some(rows.clone()), Some(rows));
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
        window.add_new(Some(rows.clone()), Some(rows));
        assert!(window.has_fresh());
        let (all, fresh) = window.take_run();
        assert_eq!((all.len(), fresh.len()), (1, 0));
        // Rows: the same, counted in rows.
        let mut window = Window::new(hour, 15, usize::MAX);
        window.add_history(batch(0, 10, 1));
        window.add_history(batch(1_000, 10, 1));
        assert_eq!((window.rows(), window.dropped_rows), (10, 10));
        // A single batch over the bound stays: the newest rows are the last to go.
        let mut window = Window::new(hour, 5, 1);
        window.add_history(batch(0, 10, 1));
        assert_eq!(window.rows(), 10);
        // Evicting by time gives the bytes back.
        let mut window = Window::new(std::time::Duration::from_micros(500), 100, usize::MAX);
        window.add_history(batch(0, 10, 1024));
        let before = window.bytes();
        window.add_history(batch(10_000, 10, 1024));
        window.evict(10_009);
        assert_eq!(window.rows(), 10);
        assert!(window.bytes() < 2 * before && window.bytes() > 0);
    }
}

#[cfg(test)]
mod compaction_tests {
    use super::*;
    use crate::detect::input::{detection_schema, input_batch};
    use datafusion::arrow::array::AsArray;
    use datafusion::physical_expr::expressions::col;
    use schemas::{EventRow, UserInfo};

    const SECOND: i64 = 1_000_000;

    /// One row per (user, time in seconds), audit ID `user@time`.
    fn uses(rows: &[(&str, i64)]) -> RecordBatch {
        let rows: Vec<EventRow> = rows
            .iter()
            .map(|&(user, at)| EventRow {
                source: "webhook".into(),
                received_at: at * SECOND,
                stage_at: Some(at * SECOND),
                audit_id: Some(format!("{user}@{at}").into()),
                user: Some(UserInfo {
                    name: Some(user.to_string().into()),
                    ..UserInfo::default()
                }),
                ..EventRow::default()
            })
            .collect();
        input_batch(rows.iter().map(|row| ("prod", row))).unwrap()
    }

    fn ids(window: &mut Window) -> Vec<String> {
        let (all, _) = window.take_run();
        let mut ids: Vec<String> = all
            .iter()
            .flat_map(|batch| {
                let ids = batch.column_by_name("audit_id").unwrap().as_string::<i32>();
                ids.iter()
                    .map(|id| id.unwrap().to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        ids.sort();
        ids
    }

    #[test]
    fn a_compacting_window_keeps_the_earliest_and_latest_row_of_each_key() {
        let schema = detection_schema();
        let user = col("user_name", &schema).unwrap();
        // 30 stretches of 10 s in a window of 300 s.
        let length = std::time::Duration::from_secs(300);
        let mut window = Window::new(length, 1_000_000, usize::MAX)
            .compacting_by(Some(vec![user]), DEFAULT_COMPACTION_ROWS);
        // Within the first stretch alice is seen 5 000 times, bob twice; in the next, alice once.
        let mut rows: Vec<(&str, i64)> = (0..5_000).map(|i| ("alice", i % 10)).collect();
        rows.extend([("bob", 3), ("bob", 4), ("alice", 15)]);
        window.add_history(uses(&rows));
        // The next batch compacts what was there before it, not itself.
        window.add_new(Some(uses(&[("alice", 16), ("alice", 17)])), None);
        let kept = ids(&mut window);
        assert_eq!(
            kept,
            ["alice@0", "alice@15", "alice@16", "alice@17", "alice@9", "bob@3", "bob@4"],
            "the earliest and latest of each key in each stretch"
        );
        assert_eq!(window.compacted_rows, 5_000 - 2);
        // Once alice's first stretch ages out, she is still in the window: the latest row of
        // a key stays as long as any of its rows would.
        window.evict(312 * SECOND);
        let kept = ids(&mut window);
        assert_eq!(kept, ["alice@15", "alice@16", "alice@17"]);
    }

    #[test]
    fn a_compacting_window_over_its_bound_compacts_before_dropping_rows() {
        let user = col("user_name", &detection_schema()).unwrap();
        let length = std::time::Duration::from_secs(300);
        let mut window = Window::new(length, 100, usize::MAX)
            .compacting_by(Some(vec![user]), DEFAULT_COMPACTION_ROWS);
        let rows: Vec<(&str, i64)> = (0..150).map(|i| ("alice", i % 10)).collect();
        window.add_history(uses(&rows));
        assert_eq!(
            (window.rows(), window.dropped_rows, window.compacted_rows),
            (2, 0, 148)
        );
    }

    #[test]
    fn a_window_that_cannot_compute_its_keys_keeps_every_row() {
        let schema = detection_schema();
        // A key reading a column beyond the batch's: it cannot evaluate.
        let broken: Arc<dyn PhysicalExpr> =
            Arc::new(datafusion::physical_expr::expressions::Column::new(
                "nowhere",
                schema.fields().len() + 5,
            ));
        let length = std::time::Duration::from_secs(300);
        let mut window = Window::new(length, 1_000_000, usize::MAX)
            .compacting_by(Some(vec![broken]), DEFAULT_COMPACTION_ROWS);
        let rows: Vec<(&str, i64)> = (0..5_000).map(|i| ("alice", i % 10)).collect();
        window.add_history(uses(&rows));
        window.add_history(uses(&[("alice", 11)]));
        assert_eq!((window.rows(), window.compacted_rows), (5_001, 0));
        assert!(window.take_error().is_some(), "the failure is reported");
        assert!(window.take_error().is_none(), "once");
    }
}
