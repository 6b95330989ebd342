//! The durable path behind the webhook: a WAL thread that appends requests with group commit
//! and answers them once fsynced, a batcher thread that gathers their rows into buffers, and a
//! writer thread that turns each due buffer into Parquet and moves the WAL checkpoint. Every
//! queue between them is bounded; a full WAL queue is the webhook's 429.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use datafusion::arrow::record_batch::RecordBatch;
use schemas::batch::events_batch;
use schemas::{Event, QuarantineRow};
use tokio::sync::oneshot;

use crate::batcher::{BatchLimits, Buffer};
use crate::decode::{decode_borrowed, Decoded};
use crate::stats::Stats;
use crate::store::{FileOptions, Flush, Store, StoreError};
use crate::tail::Tail;
use crate::wal::record::{Record, RecordRef};
use crate::wal::{self, WalError, WalWriter};

/// Requests waiting for the WAL at most; one more is refused with 429.
pub const DEFAULT_WAL_QUEUE_REQUESTS: usize = 64;
/// Requests written to the WAL but not yet taken by the batcher, at most.
pub const DEFAULT_BATCH_QUEUE_REQUESTS: usize = 64;
/// Requests that share one fsync at most.
pub const DEFAULT_WAL_GROUP_MAX: usize = 64;
/// First wait before retrying a failed flush; it doubles up to [`MAX_FLUSH_RETRY`].
const FIRST_FLUSH_RETRY: Duration = Duration::from_millis(500);
const MAX_FLUSH_RETRY: Duration = Duration::from_secs(30);
/// Attempts of the final flush at shutdown before giving up (the WAL still holds the rows).
const SHUTDOWN_FLUSH_ATTEMPTS: u32 = 3;

/// Settings of the durable path.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    pub data_dir: PathBuf,
    pub limits: BatchLimits,
    pub file_options: FileOptions,
    pub wal_queue_requests: usize,
    pub batch_queue_requests: usize,
    pub wal_group_max: usize,
    pub wal_segment_bytes: u64,
    /// Where durable events are copied for the detection engine, if it runs.
    pub tap: Option<Tap>,
    /// Where durable events wait for queries until they are in Parquet.
    pub tail: Tail,
}

/// Events made durable, shared with the detection engine (not copied).
pub struct Tapped {
    pub cluster: String,
    /// A batch of the `events` schema.
    pub events: RecordBatch,
    /// Answered once the event rules ran on these events and their alerts are in the outbox
    /// (`--role detect` commits Kafka offsets then).
    pub done: Option<oneshot::Sender<Result<(), StorageFailed>>>,
}

/// How long the WAL thread waits for a full detection queue before the events skip detection
/// (counted in `detect_events_skipped`). A detection engine that is merely busy slows
/// acknowledgements (and the webhook sheds load with 429s) rather than leaving events
/// unchecked; one that is stuck holds them up once for this long, not once per request: until
/// its queue has room again, events skip it without waiting.
pub const TAP_WAIT: Duration = Duration::from_secs(2);

/// The detection engine's queue.
#[derive(Clone)]
pub struct Tap {
    tx: SyncSender<Tapped>,
    /// A wait ran out and the queue has not had room since.
    stuck: Arc<AtomicBool>,
}

impl Tap {
    pub fn new(tx: SyncSender<Tapped>) -> Self {
        Tap {
            tx,
            stuck: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Queues `tapped` if there is room, else hands it back (never skips detection).
    pub fn offer(&self, tapped: Tapped) -> Result<(), (AppendRefused, Box<Tapped>)> {
        match self.tx.try_send(tapped) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(back)) => Err((AppendRefused::Full, Box::new(back))),
            Err(TrySendError::Disconnected(back)) => Err((AppendRefused::Closed, Box::new(back))),
        }
    }
}

impl std::fmt::Debug for Tap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tap")
    }
}

impl Tap {
    /// Hands `events` to the engine, waiting at most [`TAP_WAIT`] for room (not at all while
    /// the engine is stuck).
    fn send(&self, cluster: &str, events: &RecordBatch, stats: &Stats) {
        if events.num_rows() == 0 {
            return;
        }
        let mut message = Tapped {
            cluster: cluster.to_string(),
            events: events.clone(),
            done: None,
        };
        let deadline = if self.stuck.load(Ordering::Relaxed) {
            Instant::now()
        } else {
            Instant::now() + TAP_WAIT
        };
        loop {
            match self.tx.try_send(message) {
                Ok(()) => {
                    self.stuck.store(false, Ordering::Relaxed);
                    return;
                }
                Err(TrySendError::Full(back)) if Instant::now() < deadline => {
                    message = back;
                    thread::sleep(Duration::from_millis(2));
                }
                Err(TrySendError::Full(back) | TrySendError::Disconnected(back)) => {
                    self.stuck.store(true, Ordering::Relaxed);
                    let skipped = back.events.num_rows() as u64;
                    let before = stats
                        .detect_events_skipped
                        .fetch_add(skipped, Ordering::Relaxed);
                    if before == 0 || (before + skipped).ilog2() > before.max(1).ilog2() {
                        tracing::error!(skipped = before + skipped, "the detection engine is behind; events skip detection (they are stored)");
                    }
                    return;
                }
            }
        }
    }
}

impl PipelineConfig {
    pub fn new(data_dir: &Path) -> Self {
        PipelineConfig {
            data_dir: data_dir.to_path_buf(),
            limits: BatchLimits::default(),
            file_options: FileOptions::default(),
            wal_queue_requests: DEFAULT_WAL_QUEUE_REQUESTS,
            batch_queue_requests: DEFAULT_BATCH_QUEUE_REQUESTS,
            wal_group_max: DEFAULT_WAL_GROUP_MAX,
            wal_segment_bytes: wal::DEFAULT_SEGMENT_BYTES,
            tap: None,
            tail: Tail::default(),
        }
    }
}

/// Why the pipeline could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Wal(#[from] WalError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("could not start the {0} thread: {1}")]
    Thread(&'static str, std::io::Error),
    #[error("the {0} thread panicked")]
    Panicked(&'static str),
}

/// The WAL could not make a request durable.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the write-ahead log failed: {0}")]
pub struct StorageFailed(pub String);

/// A request's accepted input, to append.
pub struct Append {
    /// The encoded WAL record ([`crate::wal::record::RecordRef::encode`]).
    pub payload: Vec<u8>,
    pub cluster: String,
    /// The accepted events as one batch of the `events` schema, in the order they came.
    pub events: RecordBatch,
    pub quarantined: Vec<QuarantineRow>,
    /// Answered once the record is fsynced (or the WAL failed).
    pub reply: oneshot::Sender<Result<(), StorageFailed>>,
}

impl Append {
    /// The append of `decoded` (from `source`, received at `received_at` µs) for `cluster`:
    /// the raw events for the WAL and their Arrow batch, built straight from the decoded text.
    pub fn new(
        decoded: Decoded<'_>,
        source: &str,
        cluster: String,
        received_at: i64,
        reply: oneshot::Sender<Result<(), StorageFailed>>,
    ) -> Append {
        let raw: Vec<&str> = decoded.events.iter().map(|(_, raw)| *raw).collect();
        let payload = RecordRef {
            cluster: &cluster,
            source,
            received_at,
            events: &raw,
            quarantined: &decoded.quarantined,
        }
        .encode();
        let mut quarantined = decoded.quarantined;
        let events = batch_or_quarantine(&decoded.events, &mut quarantined, |index| {
            format!("event {index} of the request")
        });
        Append {
            payload,
            cluster,
            events,
            quarantined,
            reply,
        }
    }
}

/// The Arrow batch of decoded events. Building one cannot fail for decoded events; should it,
/// the events are quarantined (located by `location` of their position), not lost.
pub fn batch_or_quarantine(
    events: &[(Event<'_>, &str)],
    quarantined: &mut Vec<QuarantineRow>,
    location: impl Fn(usize) -> String,
) -> RecordBatch {
    match events_batch(events.iter().map(|(row, _)| row)) {
        Ok(batch) => batch,
        Err(error) => {
            tracing::error!(%error, events = events.len(), "cannot build the events batch; the events are quarantined");
            for (index, (row, raw)) in events.iter().enumerate() {
                quarantined.push(QuarantineRow {
                    source: row.source.to_string(),
                    received_at: row.received_at,
                    location: location(index),
                    reason: format!("cannot build the events batch: {error}"),
                    raw: raw.to_string(),
                });
            }
            RecordBatch::new_empty(schemas::events_schema())
        }
    }
}

/// Why an append was not queued.
#[derive(Debug, PartialEq, Eq)]
pub enum AppendRefused {
    /// The WAL is behind: try again shortly.
    Full,
    /// The pipeline is stopping or has failed.
    Closed,
}

enum WalMessage {
    Append(Append),
    Stop,
}

struct BatchMessage {
    lsn_end: u64,
    cluster: String,
    events: RecordBatch,
    quarantined: Vec<QuarantineRow>,
}

/// A cheap, cloneable way in, for request handlers.
#[derive(Clone)]
pub struct PipelineHandle {
    tx: SyncSender<WalMessage>,
    failed: Arc<AtomicBool>,
}

impl PipelineHandle {
    /// Queues `append` without waiting; its `reply` says when it is durable.
    pub fn try_append(&self, append: Append) -> Result<(), AppendRefused> {
        self.offer(append).map_err(|(refused, _)| refused)
    }

    /// [`PipelineHandle::try_append`], handing `append` back when it was not queued, to offer
    /// it again later.
    pub fn offer(&self, append: Append) -> Result<(), (AppendRefused, Box<Append>)> {
        let unwrap = |message| match message {
            WalMessage::Append(append) => Box::new(append),
            WalMessage::Stop => unreachable!("only appends are offered"),
        };
        if self.failed.load(Ordering::Relaxed) {
            return Err((AppendRefused::Closed, Box::new(append)));
        }
        match self.tx.try_send(WalMessage::Append(append)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(message)) => Err((AppendRefused::Full, unwrap(message))),
            Err(TrySendError::Disconnected(message)) => {
                Err((AppendRefused::Closed, unwrap(message)))
            }
        }
    }

    /// False once the WAL failed: nothing more can be made durable.
    pub fn is_healthy(&self) -> bool {
        !self.failed.load(Ordering::Relaxed)
    }
}

/// The running durable path.
pub struct Pipeline {
    handle: PipelineHandle,
    wal_thread: JoinHandle<()>,
    batcher_thread: JoinHandle<Result<(), StoreError>>,
}

fn spawn<T: Send + 'static>(
    name: &'static str,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<JoinHandle<T>, PipelineError> {
    thread::Builder::new()
        .name(format!("auditlens-{name}"))
        .spawn(work)
        .map_err(|error| PipelineError::Thread(name, error))
}

/// Decodes a replayed record's events again. They were valid when written; if one no longer
/// is (a newer decoder), or the batch cannot be built, it goes to the quarantine rather than
/// being lost.
fn replay_message(lsn: u64, record: Record) -> BatchMessage {
    let Record {
        cluster,
        source,
        received_at,
        events: raws,
        mut quarantined,
    } = record;
    let location = |index: usize| format!("wal record {lsn} event {index}");
    let mut events = Vec::with_capacity(raws.len());
    let mut indices = Vec::with_capacity(raws.len());
    for (index, raw) in raws.iter().enumerate() {
        match decode_borrowed(raw, &source, received_at) {
            Ok(row) => {
                events.push((row, raw.as_str()));
                indices.push(index);
            }
            Err(reason) => quarantined.push(QuarantineRow {
                source: source.clone(),
                received_at,
                location: location(index),
                reason,
                raw: raw.clone(),
            }),
        }
    }
    let batch = batch_or_quarantine(&events, &mut quarantined, |at| location(indices[at]));
    BatchMessage {
        lsn_end: lsn + 1,
        cluster,
        events: batch,
        quarantined,
    }
}

impl Pipeline {
    /// Recovers the store, replays the WAL into the batcher and starts both threads.
    pub fn start(config: PipelineConfig, stats: Arc<Stats>) -> Result<Pipeline, PipelineError> {
        let store = Store::open(&config.data_dir, config.file_options.clone())?;
        let checkpoint = store.recover()?;
        let wal_dir = config.data_dir.join("wal");
        let (batch_tx, batch_rx) = mpsc::sync_channel(config.batch_queue_requests.max(1));
        let batcher_thread = {
            let (stats, wal_dir, limits) = (stats.clone(), wal_dir.clone(), config.limits);
            let tail = config.tail.clone();
            spawn("batcher", move || {
                run_batcher(batch_rx, store, limits, stats, wal_dir, tail)
            })?
        };
        let (writer, replay) = WalWriter::open(
            &wal_dir,
            checkpoint,
            config.wal_segment_bytes,
            |lsn, record| {
                let message = replay_message(lsn, record);
                if let Some(tap) = &config.tap {
                    tap.send(&message.cluster, &message.events, &stats);
                }
                // The batcher outlives this call; a send error means it died, which join reports.
                let _ = batch_tx.send(message);
            },
        )?;
        Stats::add(&stats.wal_records_replayed, replay.records);
        if replay.records > 0 {
            tracing::info!(
                records = replay.records,
                from_lsn = checkpoint,
                "replayed the write-ahead log"
            );
        }
        let (tx, rx) = mpsc::sync_channel(config.wal_queue_requests.max(1));
        let failed = Arc::new(AtomicBool::new(false));
        let wal_thread = {
            let (failed, group_max) = (failed.clone(), config.wal_group_max.max(1));
            let (tap, stats) = (config.tap.clone(), stats.clone());
            spawn("wal", move || {
                run_wal(rx, writer, batch_tx, group_max, failed, tap, stats)
            })?
        };
        Ok(Pipeline {
            handle: PipelineHandle { tx, failed },
            wal_thread,
            batcher_thread,
        })
    }

    pub fn handle(&self) -> PipelineHandle {
        self.handle.clone()
    }

    /// Writes what is queued, flushes everything to Parquet and stops. Blocks; call it from a
    /// blocking context once no request is in flight.
    pub fn shutdown(self) -> Result<(), PipelineError> {
        // If the WAL thread is gone already, the send fails and joining tells why.
        let _ = self.handle.tx.send(WalMessage::Stop);
        drop(self.handle);
        self.wal_thread
            .join()
            .map_err(|_| PipelineError::Panicked("wal"))?;
        let flushed = self
            .batcher_thread
            .join()
            .map_err(|_| PipelineError::Panicked("batcher"))?;
        Ok(flushed?)
    }
}

fn run_wal(
    rx: Receiver<WalMessage>,
    mut writer: WalWriter,
    batch_tx: SyncSender<BatchMessage>,
    group_max: usize,
    failed: Arc<AtomicBool>,
    tap: Option<Tap>,
    stats: Arc<Stats>,
) {
    let mut stopping = false;
    while !stopping {
        let Ok(first) = rx.recv() else { break };
        let mut group = Vec::new();
        for message in std::iter::once(first).chain(std::iter::from_fn(|| rx.try_recv().ok())) {
            match message {
                WalMessage::Append(append) => group.push(append),
                WalMessage::Stop => {
                    stopping = true;
                    break;
                }
            }
            if group.len() >= group_max {
                break;
            }
        }
        if group.is_empty() {
            continue;
        }
        if failed.load(Ordering::Relaxed) {
            for append in group {
                let _ = append.reply.send(Err(StorageFailed(
                    "an earlier write failed; restart auditlens".into(),
                )));
            }
            continue;
        }
        let payloads: Vec<Vec<u8>> = group
            .iter_mut()
            .map(|a| std::mem::take(&mut a.payload))
            .collect();
        match writer.append(&payloads) {
            Ok(first_lsn) => {
                let mut messages = Vec::with_capacity(group.len());
                for (offset, append) in group.into_iter().enumerate() {
                    // The requester may have gone (client timeout); the record is durable anyway.
                    let _ = append.reply.send(Ok(()));
                    messages.push(BatchMessage {
                        lsn_end: first_lsn + offset as u64 + 1,
                        cluster: append.cluster,
                        events: append.events,
                        quarantined: append.quarantined,
                    });
                }
                // Every request of the group is answered before detection can make one wait.
                if let Some(tap) = &tap {
                    for message in &messages {
                        tap.send(&message.cluster, &message.events, &stats);
                    }
                }
                for message in messages {
                    if batch_tx.send(message).is_err() {
                        tracing::error!(
                            "the batcher stopped; accepted events stay in the WAL until restart"
                        );
                        failed.store(true, Ordering::Relaxed);
                    }
                }
            }
            Err(error) => {
                // After a failed write or fsync the file's state is unknown: stop accepting.
                tracing::error!(%error, "write-ahead log append failed; refusing further requests");
                failed.store(true, Ordering::Relaxed);
                for append in group {
                    let _ = append.reply.send(Err(StorageFailed(error.to_string())));
                }
            }
        }
    }
}

/// Rows taken from the batcher, for the writer thread.
struct WriteJob {
    flush: Flush,
    lsn_end: Option<u64>,
    /// The tail's segments up to this one are in `flush`.
    tail_through: Option<u64>,
}

fn write(
    job: &mut WriteJob,
    store: &Store,
    stats: &Stats,
    wal_dir: &Path,
) -> Result<(), StoreError> {
    let stem = match job.lsn_end {
        Some(lsn) => format!("w-{lsn:020}"),
        None => format!("i-{}", uuid::Uuid::now_v7().simple()),
    };
    let started = Instant::now();
    let written = store.write(&job.flush, &stem, job.lsn_end)?;
    Stats::add(&stats.flushes, 1);
    Stats::add(&stats.files_written, written.files);
    Stats::add(&stats.bytes_written, written.bytes);
    Stats::add(&stats.events_written, written.events);
    Stats::add(&stats.quarantined_written, written.quarantined);
    tracing::debug!(
        files = written.files,
        events = written.events,
        bytes = written.bytes,
        millis = started.elapsed().as_millis() as u64,
        "flushed to Parquet"
    );
    if let Some(lsn) = job.lsn_end {
        if let Err(error) = wal::remove_segments_before(wal_dir, lsn) {
            tracing::warn!(%error, "could not remove old WAL segments; will retry at the next flush");
        }
    }
    Ok(())
}

/// Writes flushes in order, retrying a failing one with backoff (the WAL keeps its rows
/// meanwhile and the queues in front fill, so the webhook sheds load). Once `stopping` is set, a
/// flush that fails [`SHUTDOWN_FLUSH_ATTEMPTS`] times is given up and reported.
fn run_writer(
    rx: Receiver<WriteJob>,
    store: Store,
    stats: Arc<Stats>,
    wal_dir: PathBuf,
    stopping: Arc<AtomicBool>,
    tail: Tail,
) -> Result<(), StoreError> {
    while let Ok(mut job) = rx.recv() {
        let mut retry_delay = FIRST_FLUSH_RETRY;
        let mut attempt = 1;
        loop {
            match write(&mut job, &store, &stats, &wal_dir) {
                Ok(()) => {
                    if let Some(seq) = job.tail_through {
                        tail.release_through(seq);
                    }
                    break;
                }
                Err(error) => {
                    Stats::add(&stats.flush_errors, 1);
                    if stopping.load(Ordering::Relaxed) && attempt >= SHUTDOWN_FLUSH_ATTEMPTS {
                        return Err(error);
                    }
                    tracing::error!(%error, attempt, retry_in_ms = retry_delay.as_millis() as u64, "flush to Parquet failed; events stay in the WAL");
                    thread::sleep(retry_delay);
                    retry_delay = (retry_delay * 2).min(MAX_FLUSH_RETRY);
                    attempt += 1;
                }
            }
        }
    }
    Ok(())
}

fn writer_thread_error(message: &str) -> StoreError {
    StoreError::Io {
        path: PathBuf::from("(writer thread)"),
        source: std::io::Error::other(message.to_string()),
    }
}

/// Gathers rows and hands each due buffer to a writer thread, so that encoding Parquet never
/// stops rows from coming in: at most one flush is written while one more waits.
fn run_batcher(
    rx: Receiver<BatchMessage>,
    store: Store,
    limits: BatchLimits,
    stats: Arc<Stats>,
    wal_dir: PathBuf,
    tail: Tail,
) -> Result<(), StoreError> {
    let stopping = Arc::new(AtomicBool::new(false));
    let (jobs, job_rx) = mpsc::sync_channel::<WriteJob>(1);
    let writer = {
        let (stats, stopping, tail) = (stats.clone(), stopping.clone(), tail.clone());
        thread::Builder::new()
            .name("auditlens-writer".into())
            .spawn(move || run_writer(job_rx, store, stats, wal_dir, stopping, tail))
            .map_err(|_| writer_thread_error("cannot start the writer thread"))?
    };
    let mut buffer = Buffer::default();
    let mut tail_through = None;
    loop {
        let wait = buffer
            .time_left(&limits, Instant::now())
            .unwrap_or(Duration::from_secs(3600));
        let mut disconnected = false;
        match rx.recv_timeout(wait) {
            Ok(message) => {
                tail_through = Some(tail.push(&message.cluster, message.events.clone()));
                buffer.add_events(&message.cluster, message.events);
                buffer.add_quarantined(&message.cluster, message.quarantined);
                buffer.advance_lsn(message.lsn_end);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => disconnected = true,
        }
        let due = disconnected || buffer.is_due(&limits, Instant::now());
        if due && !buffer.is_empty() {
            let job = WriteJob {
                flush: std::mem::take(buffer.pending()),
                lsn_end: buffer.lsn_end(),
                tail_through: tail_through.take(),
            };
            buffer.clear();
            // Blocks while one flush is written and another waits: backpressure, by design.
            if jobs.send(job).is_err() {
                // The writer died: stop taking rows (they stay in the WAL); the WAL thread then
                // sees the batcher gone and refuses requests with 503.
                tracing::error!("the Parquet writer stopped; no more rows are taken");
                break;
            }
        }
        if disconnected {
            break;
        }
    }
    stopping.store(true, Ordering::Relaxed);
    drop(jobs);
    writer
        .join()
        .map_err(|_| writer_thread_error("the writer thread panicked"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(n: usize) -> RecordBatch {
        events_batch(&vec![schemas::EventRow::default(); n]).unwrap()
    }

    #[test]
    fn a_stuck_detection_engine_holds_acknowledgements_up_once() {
        let (tx, rx) = mpsc::sync_channel(1);
        let tap = Tap::new(tx);
        let stats = Stats::default();
        tap.send("prod", &rows(3), &stats);
        // The queue is full and nobody reads it: the first request waits, then skips.
        let started = Instant::now();
        tap.send("prod", &rows(2), &stats);
        assert!(started.elapsed() >= TAP_WAIT);
        // The next ones skip at once, counted, while the queue stays full.
        let started = Instant::now();
        tap.send("prod", &rows(4), &stats);
        assert!(started.elapsed() < TAP_WAIT / 2);
        assert_eq!(stats.detect_events_skipped.load(Ordering::Relaxed), 6);
        // Once the engine takes from its queue, requests reach it again.
        assert_eq!(rx.recv().unwrap().events.num_rows(), 3);
        tap.send("prod", &rows(5), &stats);
        assert_eq!(rx.recv().unwrap().events.num_rows(), 5);
        assert_eq!(stats.detect_events_skipped.load(Ordering::Relaxed), 6);
    }
}
