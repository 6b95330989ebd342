//! `auditlens import`: audit log files as kube-apiserver writes them (one `Event` per line,
//! gzip too) and `EventList` JSON documents, through the same decoder and quarantine as the
//! webhook, straight into the store.
//!
//! JSON Lines are read on the calling thread in chunks of whole lines, decoded by one worker per
//! core, and handed on in file order; the importer writes each flush on a thread of its own while
//! the next one is decoded.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;
use schemas::batch::events_batch;
use schemas::{Event, QuarantineRow};

use crate::batcher::{BatchLimits, Buffer};
use crate::decode::{parse_body, Contents, Decoded};
use crate::stats::Stats;
use crate::store::{FileOptions, FlushStats, Store, StoreError};

/// `source` of imported events.
pub const SOURCE_FILE: &str = "file";
/// A longer line is quarantined (truncated) instead of being read whole.
pub const MAX_LINE_BYTES: usize = 64 * 1024 * 1024;
/// A JSON document (not JSON Lines) larger than this is refused.
pub const MAX_DOCUMENT_BYTES: u64 = 1024 * 1024 * 1024;
/// How much of a quarantined over-long line is kept.
const KEPT_PREFIX_BYTES: usize = 4096;
/// Lines are handed to the decoding workers in chunks of about this many bytes.
const CHUNK_BYTES: usize = 4 * 1024 * 1024;
/// Chunks read ahead of the one handed on, per worker: bounds the memory of a read.
const CHUNKS_AHEAD_PER_WORKER: usize = 2;

/// Why an import stopped.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: io::Error },
    #[error("{path} is not an audit log: {message}")]
    Document { path: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Counts of one input.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct InputSummary {
    pub lines: u64,
    pub events: u64,
    pub quarantined: u64,
}

/// Accepted events and quarantined inputs of a run of lines, in file order. The events borrow
/// their text from the lines.
#[derive(Debug, Default)]
pub struct Piece<'a> {
    pub events: Vec<Event<'a>>,
    pub quarantined: Vec<QuarantineRow>,
}

impl<'a> Piece<'a> {
    fn take(&mut self, decoded: Decoded<'a>) {
        self.events
            .extend(decoded.events.into_iter().map(|(row, _)| row));
        self.quarantined.extend(decoded.quarantined);
    }
}

/// Imports inputs into the store of one data directory.
pub struct Importer {
    store: Store,
    buffer: Buffer,
    limits: BatchLimits,
    cluster: String,
    stats: Arc<Stats>,
    /// The flush being written while the next one fills.
    writing: Option<JoinHandle<Result<FlushStats, StoreError>>>,
}

/// A piece as the importer buffers it: its events as one Arrow batch (built on the decoding
/// worker), its quarantined inputs as they are.
struct Columnar {
    events: Result<RecordBatch, ArrowError>,
    quarantined: Vec<QuarantineRow>,
}

fn columnar(piece: Piece<'_>) -> Columnar {
    Columnar {
        events: events_batch(&piece.events),
        quarantined: piece.quarantined,
    }
}

/// Counts bytes read, for progress.
struct Counting<R> {
    inner: R,
    count: Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Appends one line (without its newline) to `out`, keeping at most `MAX_LINE_BYTES` of it.
/// Returns `None` at the end of input, else whether the line was cut.
fn read_line(reader: &mut impl BufRead, out: &mut Vec<u8>) -> io::Result<Option<bool>> {
    let start = out.len();
    let mut cut = false;
    let mut any = false;
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            return Ok(any.then_some(cut));
        }
        any = true;
        let (chunk, done) = match memchr::memchr(b'\n', available) {
            Some(end) => (&available[..end], Some(end + 1)),
            None => (available, None),
        };
        let room = MAX_LINE_BYTES.saturating_sub(out.len() - start);
        if chunk.len() > room {
            cut = true;
        }
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let consumed = done.unwrap_or(available.len());
        reader.consume(consumed);
        if done.is_some() {
            if out.len() > start && out.last() == Some(&b'\r') {
                out.pop();
            }
            return Ok(Some(cut));
        }
    }
}

/// Receives what a reader decoded, piece by piece, in input order.
pub type Sink<'s, T> = dyn FnMut(T) -> Result<(), ImportError> + 's;

/// What the decoding workers do with each piece before it is handed on (in parallel, unlike
/// the sink), while the lines it borrows from are at hand.
pub type Prepare<'p, T> = dyn for<'c> Fn(Piece<'c>) -> T + Sync + 'p;

/// Opens `path` (gzip detected by its magic bytes) and decodes it into `sink`, each piece
/// turned by `prepare` on the worker that decoded it. `progress` counts the bytes read from the
/// file.
pub fn read_path_prepared<T: Send>(
    path: &Path,
    progress: Arc<std::sync::atomic::AtomicU64>,
    prepare: &Prepare<'_, T>,
    sink: &mut Sink<'_, T>,
) -> Result<InputSummary, ImportError> {
    let shown = path.display().to_string();
    let read_error = |source| ImportError::Read {
        path: shown.clone(),
        source,
    };
    let file = File::open(path).map_err(read_error)?;
    let mut reader = BufReader::with_capacity(
        1 << 20,
        Counting {
            inner: file,
            count: progress,
        },
    );
    let gzip = reader
        .fill_buf()
        .map_err(read_error)?
        .starts_with(&[0x1f, 0x8b]);
    if gzip {
        let decoder = flate2::bufread::MultiGzDecoder::new(reader);
        let reader = BufReader::with_capacity(1 << 20, decoder);
        read_reader_prepared(&shown, reader, prepare, sink)
    } else {
        read_reader_prepared(&shown, reader, prepare, sink)
    }
}

/// One line of a [`Chunk`]: its number in the input and where its bytes are.
struct Line {
    number: u64,
    start: usize,
    end: usize,
    cut: bool,
}

/// Whole lines handed to a decoding worker.
struct Chunk {
    seq: u64,
    text: Vec<u8>,
    lines: Vec<Line>,
}

impl Chunk {
    fn new(seq: u64) -> Chunk {
        Chunk {
            seq,
            text: Vec::with_capacity(CHUNK_BYTES + (1 << 16)),
            lines: Vec::new(),
        }
    }

    fn reuse(mut self, seq: u64) -> Chunk {
        self.seq = seq;
        self.text.clear();
        self.lines.clear();
        self
    }
}

/// Decodes the lines of a chunk; also returns how many were not blank.
fn decode_chunk<'c>(name: &str, chunk: &'c Chunk, received_at: i64) -> (Piece<'c>, u64) {
    let mut piece = Piece::default();
    let mut lines = 0;
    for line in &chunk.lines {
        let bytes = &chunk.text[line.start..line.end];
        if bytes.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        lines += 1;
        decode_line(name, line, bytes, received_at, &mut piece);
    }
    (piece, lines)
}

fn decode_line<'c>(
    name: &str,
    line: &Line,
    bytes: &'c [u8],
    received_at: i64,
    piece: &mut Piece<'c>,
) {
    let number = line.number;
    let location = || format!("{name}:{number}");
    if line.cut {
        let kept =
            String::from_utf8_lossy(&bytes[..KEPT_PREFIX_BYTES.min(bytes.len())]).into_owned();
        let reason = format!("line is longer than {MAX_LINE_BYTES} bytes");
        piece
            .quarantined
            .push(quarantined(location(), reason, kept, received_at));
        return;
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        let raw = String::from_utf8_lossy(bytes).into_owned();
        let reason = "line is not valid UTF-8".to_string();
        piece
            .quarantined
            .push(quarantined(location(), reason, raw, received_at));
        return;
    };
    let mut decoded = Decoded::default();
    if text.contains("\"EventList\"") {
        match parse_body(bytes) {
            Ok(Contents::List(items)) => {
                for (index, item) in items.into_iter().enumerate() {
                    decoded.push(item.get(), SOURCE_FILE, received_at, || {
                        format!("{name}:{number} item {index}")
                    });
                }
            }
            Ok(Contents::Single(raw)) => decoded.push(raw, SOURCE_FILE, received_at, location),
            Err(error) => {
                let row = quarantined(location(), error.to_string(), text.to_string(), received_at);
                piece.quarantined.push(row);
                return;
            }
        }
    } else {
        decoded.push(text, SOURCE_FILE, received_at, location);
    }
    piece.take(decoded);
}

/// Decoded chunks, handed to the sink in input order.
struct InOrder<T> {
    next: u64,
    waiting: BTreeMap<u64, (T, InputSummary)>,
    summary: InputSummary,
    /// Chunks already decoded, whose buffers are used again.
    spare: Vec<Chunk>,
}

/// A chunk's sequence number, what it became, its counts, and the chunk to reuse.
type DecodedChunk<T> = (u64, T, InputSummary, Chunk);

impl<T> InOrder<T> {
    fn new() -> Self {
        InOrder {
            next: 0,
            waiting: BTreeMap::new(),
            summary: InputSummary::default(),
            spare: Vec::new(),
        }
    }

    /// Waits for one decoded chunk, then hands on every chunk now in order.
    fn receive(
        &mut self,
        name: &str,
        done: &mpsc::Receiver<DecodedChunk<T>>,
        sink: &mut Sink<'_, T>,
    ) -> Result<(), ImportError> {
        let (seq, prepared, counts, chunk) = done.recv().map_err(|_| ImportError::Read {
            path: name.to_string(),
            source: io::Error::other("the decoding workers stopped"),
        })?;
        self.waiting.insert(seq, (prepared, counts));
        self.spare.push(chunk);
        while let Some((prepared, counts)) = self.waiting.remove(&self.next) {
            self.next += 1;
            self.summary.add(counts);
            sink(prepared)?;
        }
        Ok(())
    }
}

impl InputSummary {
    fn add(&mut self, other: InputSummary) {
        self.lines += other.lines;
        self.events += other.events;
        self.quarantined += other.quarantined;
    }

    fn of(piece: &Piece<'_>, lines: u64) -> InputSummary {
        InputSummary {
            lines,
            events: piece.events.len() as u64,
            quarantined: piece.quarantined.len() as u64,
        }
    }
}

/// Decodes JSON Lines (`Event` or `EventList` per line) or one JSON document from `reader` into
/// `sink`, each piece turned by `prepare` on the worker that decoded it; `name` locates
/// quarantined lines (`NAME:LINE`).
pub fn read_reader_prepared<T: Send>(
    name: &str,
    mut reader: impl BufRead,
    prepare: &Prepare<'_, T>,
    sink: &mut Sink<'_, T>,
) -> Result<InputSummary, ImportError> {
    let read_error = |source| ImportError::Read {
        path: name.to_string(),
        source,
    };
    let received_at = chrono::Utc::now().timestamp_micros();
    let mut chunk = Chunk::new(0);
    let Some(cut) = read_line(&mut reader, &mut chunk.text).map_err(read_error)? else {
        return Ok(InputSummary::default());
    };
    let first = &chunk.text;
    let blank = first.iter().all(u8::is_ascii_whitespace);
    if !cut && !blank && serde_json::from_slice::<serde::de::IgnoredAny>(first).is_err() {
        // Not one value per line: a pretty-printed document.
        return read_document(name, chunk.text, reader, prepare, sink);
    }
    chunk.lines.push(Line {
        number: 1,
        start: 0,
        end: chunk.text.len(),
        cut,
    });

    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let ahead = (workers * CHUNKS_AHEAD_PER_WORKER) as u64;
    let stop = AtomicBool::new(false);
    let (work_tx, work_rx) = mpsc::channel::<Chunk>();
    let work_rx = Mutex::new(work_rx);
    let (done_tx, done_rx) = mpsc::channel::<DecodedChunk<T>>();
    let mut order = InOrder::new();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let (done_tx, work_rx, stop) = (done_tx.clone(), &work_rx, &stop);
            scope.spawn(move || loop {
                let next = match work_rx.lock() {
                    Ok(rx) => rx.recv(),
                    Err(_) => return,
                };
                let Ok(chunk) = next else { return };
                if stop.load(Ordering::Relaxed) {
                    continue;
                }
                let (piece, lines) = decode_chunk(name, &chunk, received_at);
                let counts = InputSummary::of(&piece, lines);
                let prepared = prepare(piece);
                if done_tx.send((chunk.seq, prepared, counts, chunk)).is_err() {
                    return;
                }
            });
        }
        drop(done_tx);
        // The work channel closes when this returns, early or not, so the workers end.
        let result = (move || {
            let mut sent = 0u64;
            let mut number = 1u64;
            loop {
                let start = chunk.text.len();
                let Some(cut) = read_line(&mut reader, &mut chunk.text).map_err(read_error)? else {
                    break;
                };
                number += 1;
                let end = chunk.text.len();
                chunk.lines.push(Line {
                    number,
                    start,
                    end,
                    cut,
                });
                if chunk.text.len() >= CHUNK_BYTES {
                    while sent - order.next >= ahead {
                        order.receive(name, &done_rx, sink)?;
                    }
                    let next = match order.spare.pop() {
                        Some(spare) => spare.reuse(sent + 1),
                        None => Chunk::new(sent + 1),
                    };
                    let full = std::mem::replace(&mut chunk, next);
                    // The workers outlive this closure, so the channel is open.
                    let _ = work_tx.send(full);
                    sent += 1;
                }
            }
            if !chunk.lines.is_empty() {
                let _ = work_tx.send(chunk);
                sent += 1;
            }
            drop(work_tx);
            while order.next < sent {
                order.receive(name, &done_rx, sink)?;
            }
            Ok(order.summary)
        })();
        if result.is_err() {
            stop.store(true, Ordering::Relaxed);
        }
        result
    })
}

fn read_document<T>(
    name: &str,
    first: Vec<u8>,
    reader: impl BufRead,
    prepare: &Prepare<'_, T>,
    sink: &mut Sink<'_, T>,
) -> Result<InputSummary, ImportError> {
    let mut document = first;
    document.push(b'\n');
    reader
        .take(MAX_DOCUMENT_BYTES)
        .read_to_end(&mut document)
        .map_err(|source| ImportError::Read {
            path: name.to_string(),
            source,
        })?;
    let received_at = chrono::Utc::now().timestamp_micros();
    let not_audit = |message: String| ImportError::Document {
        path: name.to_string(),
        message,
    };
    let mut decoded = Decoded::default();
    match parse_body(&document) {
        Ok(Contents::List(items)) => {
            for (index, item) in items.into_iter().enumerate() {
                decoded.push(item.get(), SOURCE_FILE, received_at, || {
                    format!("{name} item {index}")
                });
            }
        }
        Ok(Contents::Single(raw)) => {
            decoded.push(raw, SOURCE_FILE, received_at, || name.to_string())
        }
        // A document without an EventList envelope may still be one event.
        Err(
            crate::decode::BodyError::WrongKind(_) | crate::decode::BodyError::WrongApiVersion(_),
        ) => {
            let text = std::str::from_utf8(&document).map_err(|e| not_audit(e.to_string()))?;
            decoded.push(text, SOURCE_FILE, received_at, || name.to_string());
        }
        Err(error) => return Err(not_audit(error.to_string())),
    }
    let mut piece = Piece::default();
    piece.take(decoded);
    let lines = document.iter().filter(|&&b| b == b'\n').count() as u64;
    let summary = InputSummary::of(&piece, lines);
    sink(prepare(piece))?;
    Ok(summary)
}

fn quarantined(location: String, reason: String, raw: String, received_at: i64) -> QuarantineRow {
    QuarantineRow {
        source: SOURCE_FILE.to_string(),
        received_at,
        location,
        reason,
        raw,
    }
}

impl Importer {
    pub fn new(
        data_dir: &Path,
        cluster: &str,
        limits: BatchLimits,
        options: FileOptions,
        stats: Arc<Stats>,
    ) -> Result<Self, ImportError> {
        Ok(Importer {
            store: Store::open(data_dir, options)?,
            buffer: Buffer::default(),
            limits,
            cluster: cluster.to_string(),
            stats,
            writing: None,
        })
    }

    /// Opens `path` (gzip detected by its magic bytes) and imports it. `progress` counts the
    /// bytes read from the file.
    pub fn import_path(
        &mut self,
        path: &Path,
        progress: Arc<std::sync::atomic::AtomicU64>,
    ) -> Result<InputSummary, ImportError> {
        read_path_prepared(path, progress, &columnar, &mut |piece| self.add(piece))
    }

    /// Imports JSON Lines (`Event` or `EventList` per line) or one JSON document from `reader`;
    /// `name` locates quarantined lines (`NAME:LINE`).
    pub fn import_reader(
        &mut self,
        name: &str,
        reader: impl BufRead,
    ) -> Result<InputSummary, ImportError> {
        read_reader_prepared(name, reader, &columnar, &mut |piece| self.add(piece))
    }

    fn add(&mut self, piece: Columnar) -> Result<(), ImportError> {
        let events = piece
            .events
            .map_err(|e| StoreError::Encode(e.to_string()))?;
        self.stats
            .events(&self.cluster, events.num_rows(), piece.quarantined.len());
        self.buffer.add_events(&self.cluster, events);
        self.buffer
            .add_quarantined(&self.cluster, piece.quarantined);
        if self.buffer.is_due(&self.limits, Instant::now()) {
            self.flush()?;
        }
        Ok(())
    }

    /// Starts writing what is buffered, once the previous flush is written.
    fn flush(&mut self) -> Result<(), ImportError> {
        self.wait()?;
        if self.buffer.is_empty() {
            return Ok(());
        }
        let flush = std::mem::take(self.buffer.pending());
        self.buffer.clear();
        let store = self.store.clone();
        let stem = format!("i-{}", uuid::Uuid::now_v7().simple());
        self.writing = Some(std::thread::spawn(move || store.write(&flush, &stem, None)));
        Ok(())
    }

    /// Waits for the flush being written.
    fn wait(&mut self) -> Result<(), ImportError> {
        let Some(writing) = self.writing.take() else {
            return Ok(());
        };
        let written = writing
            .join()
            .unwrap_or_else(|_| Err(StoreError::Encode("the Parquet writer panicked".into())))?;
        Stats::add(&self.stats.flushes, 1);
        Stats::add(&self.stats.files_written, written.files);
        Stats::add(&self.stats.bytes_written, written.bytes);
        Stats::add(&self.stats.events_written, written.events);
        Stats::add(&self.stats.quarantined_written, written.quarantined);
        Ok(())
    }

    /// Writes what is buffered and waits until it is written.
    pub fn finish(mut self) -> Result<(), ImportError> {
        self.flush()?;
        self.wait()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_cut_and_reading_goes_on() {
        let mut input = vec![b'x'; MAX_LINE_BYTES + 10];
        input.extend_from_slice(b"\nnext\r\nlast");
        let mut reader = io::Cursor::new(input);
        let mut line = Vec::new();
        assert_eq!(read_line(&mut reader, &mut line).unwrap(), Some(true));
        assert_eq!(line.len(), MAX_LINE_BYTES);
        line.clear();
        assert_eq!(read_line(&mut reader, &mut line).unwrap(), Some(false));
        assert_eq!(line, b"next");
        assert_eq!(read_line(&mut reader, &mut line).unwrap(), Some(false));
        assert_eq!(line, b"nextlast", "a line is appended");
        assert_eq!(read_line(&mut reader, &mut line).unwrap(), None);
    }

    fn lines_of(text: &str) -> (Vec<String>, Vec<String>, InputSummary) {
        let mut ids = Vec::new();
        let mut quarantined = Vec::new();
        let summary = read_reader_prepared(
            "input",
            io::Cursor::new(text.to_string()),
            &|piece| {
                let ids: Vec<String> = piece
                    .events
                    .iter()
                    .filter_map(|row| row.audit_id.as_deref().map(String::from))
                    .collect();
                (ids, piece.quarantined)
            },
            &mut |(piece_ids, piece_quarantined)| {
                ids.extend(piece_ids);
                quarantined.extend(piece_quarantined.into_iter().map(|row| row.location));
                Ok(())
            },
        )
        .unwrap();
        (ids, quarantined, summary)
    }

    #[test]
    fn many_chunks_arrive_in_input_order_with_their_line_numbers() {
        // Enough lines for many chunks, with a bad line in a late one.
        let padding = "p".repeat(4000);
        let mut text = String::new();
        let total = 5_000;
        for i in 0..total {
            if i == 4_321 {
                text.push_str("{not json\n");
            } else {
                text.push_str(&format!(
                    r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"id-{i}","verb":"get","userAgent":"{padding}"}}"#
                ));
                text.push('\n');
            }
        }
        let (ids, quarantined, summary) = lines_of(&text);
        let expected: Vec<String> = (0..total)
            .filter(|&i| i != 4_321)
            .map(|i| format!("id-{i}"))
            .collect();
        assert_eq!(ids, expected);
        assert_eq!(quarantined, vec!["input:4322".to_string()]);
        assert_eq!(summary.lines, total as u64);
        assert_eq!(summary.events, total as u64 - 1);
        assert_eq!(summary.quarantined, 1);
    }

    #[test]
    fn an_error_from_the_sink_stops_the_read() {
        let line = r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a","verb":"get"}"#;
        let text = format!("{line}\n").repeat(100_000);
        let mut calls = 0;
        let result = read_reader_prepared("input", io::Cursor::new(text), &|_| (), &mut |()| {
            calls += 1;
            Err(ImportError::Document {
                path: "input".into(),
                message: "stop".into(),
            })
        });
        assert!(matches!(result, Err(ImportError::Document { .. })));
        assert_eq!(calls, 1);
    }
}
