//! The write-ahead log: accepted input is appended and fsynced here before the webhook answers
//! 200, replayed on start, and deleted segment by segment once the store holds it.
//!
//! - [`record`]: what one record holds;
//! - [`segment`]: the framing and the files.

pub mod record;
pub mod segment;

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use segment::Segment;

/// A new segment is started once the current one is this large.
pub const DEFAULT_SEGMENT_BYTES: u64 = 64 * 1024 * 1024;

/// Why the WAL could not be used.
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    #[error("WAL I/O failed at {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("WAL directory {0} is in use by another auditlens process")]
    Locked(PathBuf),
    #[error("WAL segment {path} is damaged at byte {offset} ({reason}) and is not the last segment: move it away to start without it, knowing its records after that point are lost")]
    Damaged {
        path: PathBuf,
        offset: usize,
        reason: &'static str,
    },
    #[error("WAL segment {path}: {source}")]
    Malformed {
        path: PathBuf,
        source: record::MalformedRecord,
    },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> WalError + '_ {
    move |source| WalError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The appending end of the WAL. Only one exists per directory (a lock file guards it).
pub struct WalWriter {
    dir: PathBuf,
    file: File,
    segment_len: u64,
    max_segment_bytes: u64,
    next_lsn: u64,
    _lock: File,
}

/// What replaying the WAL found.
#[derive(Debug, Default)]
pub struct ReplayStats {
    pub records: u64,
    /// Bytes cut from the end of the last segment (an append a crash interrupted).
    pub torn_bytes: u64,
}

impl WalWriter {
    /// Opens the WAL in `dir`, calling `replay` with every record at or after `from_lsn`, in LSN
    /// order, and repairs a torn tail. Appends then continue after the last record.
    pub fn open(
        dir: &Path,
        from_lsn: u64,
        max_segment_bytes: u64,
        mut replay: impl FnMut(u64, record::Record),
    ) -> Result<(WalWriter, ReplayStats), WalError> {
        fs::create_dir_all(dir).map_err(io_error(dir))?;
        let lock_path = dir.join("LOCK");
        let lock = File::create(&lock_path).map_err(io_error(&lock_path))?;
        if lock.try_lock().is_err() {
            return Err(WalError::Locked(dir.to_path_buf()));
        }
        let segments = segment::list(dir).map_err(io_error(dir))?;
        let mut stats = ReplayStats::default();
        let mut next_lsn = from_lsn;
        let mut last_len = 0u64;
        for (index, Segment { path, .. }) in segments.iter().enumerate() {
            let bytes = fs::read(path).map_err(io_error(path))?;
            let frames = segment::read_frames(&bytes);
            let is_last = index + 1 == segments.len();
            if let Some(reason) = frames.damage {
                if !is_last {
                    return Err(WalError::Damaged {
                        path: path.clone(),
                        offset: frames.valid_len,
                        reason,
                    });
                }
                tracing::warn!(path = %path.display(), offset = frames.valid_len, reason, "cutting a torn write from the end of the WAL");
                stats.torn_bytes = (bytes.len() - frames.valid_len) as u64;
                segment::truncate(path, frames.valid_len).map_err(io_error(path))?;
            }
            for (lsn, payload) in frames.records {
                next_lsn = next_lsn.max(lsn + 1);
                if lsn < from_lsn {
                    continue;
                }
                let record =
                    record::Record::decode(payload).map_err(|source| WalError::Malformed {
                        path: path.clone(),
                        source,
                    })?;
                stats.records += 1;
                replay(lsn, record);
            }
            last_len = frames.valid_len as u64;
        }
        let (first_lsn, segment_len) = match segments.last() {
            Some(last) => (last.first_lsn, last_len),
            None => (next_lsn, 0),
        };
        let file = segment::open_for_append(dir, first_lsn).map_err(io_error(dir))?;
        let writer = WalWriter {
            dir: dir.to_path_buf(),
            file,
            segment_len,
            max_segment_bytes,
            next_lsn,
            _lock: lock,
        };
        Ok((writer, stats))
    }

    /// The LSN the next appended record gets.
    pub fn next_lsn(&self) -> u64 {
        self.next_lsn
    }

    /// Appends `payloads` as consecutive records with one fsync; returns the first one's LSN.
    pub fn append(&mut self, payloads: &[Vec<u8>]) -> Result<u64, WalError> {
        if self.segment_len >= self.max_segment_bytes {
            self.file =
                segment::open_for_append(&self.dir, self.next_lsn).map_err(io_error(&self.dir))?;
            self.segment_len = 0;
        }
        let first = self.next_lsn;
        let size: usize = payloads.iter().map(|p| p.len() + 16).sum();
        let mut bytes = Vec::with_capacity(size);
        for (offset, payload) in payloads.iter().enumerate() {
            segment::encode_frame(&mut bytes, first + offset as u64, payload);
        }
        segment::write_durably(&mut self.file, &bytes).map_err(io_error(&self.dir))?;
        self.segment_len += bytes.len() as u64;
        self.next_lsn += payloads.len() as u64;
        Ok(first)
    }
}

/// Deletes the segments that hold only records below `checkpoint` (all of them are in the
/// store). The newest segment is never deleted. Returns how many were removed.
pub fn remove_segments_before(dir: &Path, checkpoint: u64) -> Result<usize, WalError> {
    let segments = segment::list(dir).map_err(io_error(dir))?;
    let mut removed = 0;
    for pair in segments.windows(2) {
        // Every record of pair[0] has an LSN below pair[1]'s first.
        if pair[1].first_lsn <= checkpoint {
            fs::remove_file(&pair[0].path).map_err(io_error(&pair[0].path))?;
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests;
