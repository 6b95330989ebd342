//! `auditlens import`: audit log files as kube-apiserver writes them (one `Event` per line,
//! gzip too) and `EventList` JSON documents, through the same decoder and quarantine as the
//! webhook, straight into the store.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;

use schemas::QuarantineRow;

use crate::batcher::{BatchLimits, Buffer};
use crate::decode::{parse_body, Contents, Decoded};
use crate::stats::Stats;
use crate::store::{FileOptions, Store, StoreError};

/// `source` of imported events.
pub const SOURCE_FILE: &str = "file";
/// A longer line is quarantined (truncated) instead of being read whole.
pub const MAX_LINE_BYTES: usize = 64 * 1024 * 1024;
/// A JSON document (not JSON Lines) larger than this is refused.
pub const MAX_DOCUMENT_BYTES: u64 = 1024 * 1024 * 1024;
/// How much of a quarantined over-long line is kept.
const KEPT_PREFIX_BYTES: usize = 4096;

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

/// Imports inputs into the store of one data directory.
pub struct Importer {
    store: Store,
    buffer: Buffer,
    limits: BatchLimits,
    cluster: String,
    stats: Arc<Stats>,
}

/// Counts bytes read, for progress.
struct Counting<R> {
    inner: R,
    count: Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

/// Reads one line into `line` (without the newline), keeping at most `MAX_LINE_BYTES`.
/// Returns `None` at the end of input, else whether the line was cut.
fn read_line(reader: &mut impl BufRead, line: &mut Vec<u8>) -> io::Result<Option<bool>> {
    line.clear();
    let mut cut = false;
    let mut any = false;
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            return Ok(any.then_some(cut));
        }
        any = true;
        let (chunk, done) = match available.iter().position(|&b| b == b'\n') {
            Some(end) => (&available[..end], Some(end + 1)),
            None => (available, None),
        };
        let room = MAX_LINE_BYTES.saturating_sub(line.len());
        if chunk.len() > room {
            cut = true;
        }
        line.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let consumed = done.unwrap_or(available.len());
        reader.consume(consumed);
        if done.is_some() {
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Ok(Some(cut));
        }
    }
}

/// Receives what a reader decoded, piece by piece.
pub type Sink<'s> = dyn FnMut(Decoded<'_>) -> Result<(), ImportError> + 's;

/// Opens `path` (gzip detected by its magic bytes) and decodes it into `sink`. `progress` counts
/// the bytes read from the file.
pub fn read_path(
    path: &Path,
    progress: Arc<std::sync::atomic::AtomicU64>,
    sink: &mut Sink<'_>,
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
        read_reader(&shown, BufReader::with_capacity(1 << 20, decoder), sink)
    } else {
        read_reader(&shown, reader, sink)
    }
}

/// Decodes JSON Lines (`Event` or `EventList` per line) or one JSON document from `reader` into
/// `sink`; `name` locates quarantined lines (`NAME:LINE`).
pub fn read_reader(
    name: &str,
    mut reader: impl BufRead,
    sink: &mut Sink<'_>,
) -> Result<InputSummary, ImportError> {
    let read_error = |source| ImportError::Read {
        path: name.to_string(),
        source,
    };
    let received_at = chrono::Utc::now().timestamp_micros();
    let mut summary = InputSummary::default();
    let mut line = Vec::new();
    let mut number = 0u64;
    while let Some(cut) = read_line(&mut reader, &mut line).map_err(read_error)? {
        number += 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        summary.lines += 1;
        let location = || format!("{name}:{number}");
        if cut {
            let kept =
                String::from_utf8_lossy(&line[..KEPT_PREFIX_BYTES.min(line.len())]).into_owned();
            let reason = format!("line is longer than {MAX_LINE_BYTES} bytes");
            give(sink, &mut summary, quarantined(location(), reason, kept))?;
            continue;
        }
        if number == 1 && serde_json::from_slice::<serde::de::IgnoredAny>(&line).is_err() {
            // Not one value per line: a pretty-printed document.
            return read_document(name, line, reader, summary, sink);
        }
        let Ok(text) = std::str::from_utf8(&line) else {
            let raw = String::from_utf8_lossy(&line).into_owned();
            let reason = "line is not valid UTF-8".to_string();
            give(sink, &mut summary, quarantined(location(), reason, raw))?;
            continue;
        };
        let mut decoded = Decoded::default();
        if text.contains("\"EventList\"") {
            match parse_body(text.as_bytes()) {
                Ok(Contents::List(items)) => {
                    for (index, item) in items.into_iter().enumerate() {
                        decoded.push(item.get(), SOURCE_FILE, received_at, || {
                            format!("{name}:{number} item {index}")
                        });
                    }
                }
                Ok(Contents::Single(raw)) => decoded.push(raw, SOURCE_FILE, received_at, location),
                Err(error) => {
                    let piece = quarantined(location(), error.to_string(), text.to_string());
                    give(sink, &mut summary, piece)?;
                    continue;
                }
            }
        } else {
            decoded.push(text, SOURCE_FILE, received_at, location);
        }
        give(sink, &mut summary, decoded)?;
    }
    Ok(summary)
}

fn read_document(
    name: &str,
    first: Vec<u8>,
    reader: impl BufRead,
    mut summary: InputSummary,
    sink: &mut Sink<'_>,
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
    summary.lines = document.iter().filter(|&&b| b == b'\n').count() as u64;
    give(sink, &mut summary, decoded)?;
    Ok(summary)
}

fn quarantined(location: String, reason: String, raw: String) -> Decoded<'static> {
    let mut decoded = Decoded::default();
    decoded.quarantined.push(QuarantineRow {
        source: SOURCE_FILE.to_string(),
        received_at: chrono::Utc::now().timestamp_micros(),
        location,
        reason,
        raw,
    });
    decoded
}

fn give(
    sink: &mut Sink<'_>,
    summary: &mut InputSummary,
    decoded: Decoded<'_>,
) -> Result<(), ImportError> {
    summary.events += decoded.events.len() as u64;
    summary.quarantined += decoded.quarantined.len() as u64;
    sink(decoded)
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
        })
    }

    /// Opens `path` (gzip detected by its magic bytes) and imports it. `progress` counts the
    /// bytes read from the file.
    pub fn import_path(
        &mut self,
        path: &Path,
        progress: Arc<std::sync::atomic::AtomicU64>,
    ) -> Result<InputSummary, ImportError> {
        read_path(path, progress, &mut |decoded| self.add(decoded))
    }

    /// Imports JSON Lines (`Event` or `EventList` per line) or one JSON document from `reader`;
    /// `name` locates quarantined lines (`NAME:LINE`).
    pub fn import_reader(
        &mut self,
        name: &str,
        reader: impl BufRead,
    ) -> Result<InputSummary, ImportError> {
        read_reader(name, reader, &mut |decoded| self.add(decoded))
    }

    fn add(&mut self, decoded: Decoded<'_>) -> Result<(), ImportError> {
        self.stats.events(
            &self.cluster,
            decoded.events.len(),
            decoded.quarantined.len(),
        );
        let rows: Vec<_> = decoded.events.into_iter().map(|(row, _)| row).collect();
        self.buffer.add_events(&self.cluster, rows);
        self.buffer
            .add_quarantined(&self.cluster, decoded.quarantined);
        if self.buffer.is_due(&self.limits, std::time::Instant::now()) {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ImportError> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let stem = format!("i-{}", uuid::Uuid::now_v7().simple());
        let written = self.store.write(self.buffer.pending(), &stem, None)?;
        self.buffer.clear();
        Stats::add(&self.stats.flushes, 1);
        Stats::add(&self.stats.files_written, written.files);
        Stats::add(&self.stats.bytes_written, written.bytes);
        Stats::add(&self.stats.events_written, written.events);
        Stats::add(&self.stats.quarantined_written, written.quarantined);
        Ok(())
    }

    /// Writes what is buffered.
    pub fn finish(mut self) -> Result<(), ImportError> {
        self.flush()
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
        assert_eq!(read_line(&mut reader, &mut line).unwrap(), Some(false));
        assert_eq!(line, b"next");
        assert_eq!(read_line(&mut reader, &mut line).unwrap(), Some(false));
        assert_eq!(line, b"last");
        assert_eq!(read_line(&mut reader, &mut line).unwrap(), None);
    }
}
