//! The Parquet store: `events/` and `quarantine/` under `cluster=…/date=…/hour=…`, and the
//! flush protocol that keeps it and the WAL consistent across crashes.
//!
//! A flush from the WAL writes, in order: an intent (`wal/flush-pending`, naming the files and
//! the LSN the flush covers up to), each file (temp name, fsync, rename), the checkpoint
//! (`wal/checkpoint`), and removes the intent. On start, an intent whose LSN the checkpoint
//! does not reach means the flush was cut short: its files are deleted and the WAL replays them.

pub mod maintain;
pub mod object;
pub mod parquet;

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use datafusion::arrow::record_batch::RecordBatch;
use schemas::time::partition_of;
use schemas::QuarantineRow;
use serde::{Deserialize, Serialize};

pub use self::parquet::FileOptions;

/// Why the store could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage I/O failed at {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("could not encode Parquet: {0}")]
    Encode(String),
    #[error("object storage failed at {location}: {message}")]
    Object { location: String, message: String },
    #[error("store state file {path} is unreadable: {message}")]
    State { path: PathBuf, message: String },
}

pub(crate) fn io_error(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The hour (since the epoch, UTC) of a time in µs: rows of one hour share a partition.
pub(crate) fn hour_of(micros: i64) -> i64 {
    micros.div_euclid(3_600_000_000)
}

/// `cluster=…/date=…/hour=…`: the directory of a row.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PartitionKey {
    pub cluster: String,
    pub date: String,
    pub hour: String,
}

impl PartitionKey {
    pub fn new(cluster: &str, micros: i64) -> Self {
        let (date, hour) = partition_of(micros);
        PartitionKey {
            cluster: cluster.to_string(),
            date,
            hour,
        }
    }

    /// The directory names, outermost first.
    pub fn parts(&self) -> [String; 3] {
        [
            format!("cluster={}", self.cluster),
            format!("date={}", self.date),
            format!("hour={}", self.hour),
        ]
    }

    fn dir(&self, table: &Path) -> PathBuf {
        let mut dir = table.to_path_buf();
        dir.extend(self.parts());
        dir
    }
}

/// Events to write in one flush, as Arrow batches of the `events` schema by partition, and
/// quarantined inputs by partition.
#[derive(Debug, Default)]
pub struct Flush {
    pub events: BTreeMap<PartitionKey, Vec<RecordBatch>>,
    pub quarantine: BTreeMap<PartitionKey, Vec<QuarantineRow>>,
}

impl Flush {
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.quarantine.is_empty()
    }
}

/// What a flush wrote.
#[derive(Debug, Default, Clone, Copy)]
pub struct FlushStats {
    pub files: u64,
    pub bytes: u64,
    pub events: u64,
    pub quarantined: u64,
}

#[derive(Serialize, Deserialize)]
struct Intent {
    lsn_end: u64,
    files: Vec<PathBuf>,
}

#[derive(Serialize, Deserialize)]
struct Checkpoint {
    /// Every WAL record below this LSN is in the store.
    lsn_end: u64,
}

/// The store under one data directory.
#[derive(Debug, Clone)]
pub struct Store {
    events: PathBuf,
    quarantine: PathBuf,
    state: PathBuf,
    options: FileOptions,
}

/// Writes `bytes` to `path` atomically and durably.
pub(crate) fn write_state(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let temp = parquet::temp_path(path);
    fs::write(&temp, bytes).map_err(io_error(&temp))?;
    fs::File::open(&temp)
        .and_then(|f| f.sync_all())
        .map_err(io_error(&temp))?;
    fs::rename(&temp, path).map_err(io_error(path))?;
    sync_parent(path)
}

fn create_parent(path: &Path) -> Result<(), StoreError> {
    fs::create_dir_all(path.parent().unwrap_or(Path::new("."))).map_err(io_error(path))
}

pub(crate) fn sync_parent(path: &Path) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(io_error(dir))
}

pub(crate) fn read_state<T: for<'de> Deserialize<'de>>(
    path: &Path,
) -> Result<Option<T>, StoreError> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StoreError::State {
                path: path.to_path_buf(),
                message: e.to_string(),
            }),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(io_error(path)(error)),
    }
}

impl Store {
    /// The store in `data_dir`, creating its directories.
    pub fn open(data_dir: &Path, options: FileOptions) -> Result<Store, StoreError> {
        let store = Store {
            events: data_dir.join("events"),
            quarantine: data_dir.join("quarantine"),
            state: data_dir.join("wal"),
            options,
        };
        for dir in [&store.events, &store.quarantine, &store.state] {
            fs::create_dir_all(dir).map_err(io_error(dir))?;
        }
        Ok(store)
    }

    /// A file of the store's own state (next to the WAL checkpoint).
    pub fn state_path(&self, name: &str) -> PathBuf {
        self.state.join(name)
    }

    fn intent_path(&self) -> PathBuf {
        self.state.join("flush-pending")
    }

    fn checkpoint_path(&self) -> PathBuf {
        self.state.join("checkpoint")
    }

    /// Finishes or undoes a flush a crash interrupted; returns the WAL checkpoint (the first
    /// LSN not yet in the store).
    pub fn recover(&self) -> Result<u64, StoreError> {
        let checkpoint =
            read_state::<Checkpoint>(&self.checkpoint_path())?.map_or(0, |c| c.lsn_end);
        if let Some(intent) = read_state::<Intent>(&self.intent_path())? {
            if intent.lsn_end > checkpoint {
                for file in &intent.files {
                    for path in [file.clone(), parquet::temp_path(file)] {
                        match fs::remove_file(&path) {
                            Ok(()) => {
                                tracing::warn!(path = %path.display(), "removed a file of an interrupted flush; the WAL replays its events")
                            }
                            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                            Err(error) => return Err(io_error(&path)(error)),
                        }
                    }
                }
            }
            let path = self.intent_path();
            fs::remove_file(&path).map_err(io_error(&path))?;
        }
        Ok(checkpoint)
    }

    fn planned_files(&self, flush: &Flush, stem: &str) -> Vec<PathBuf> {
        let name = format!("{stem}.parquet");
        let events = flush
            .events
            .keys()
            .map(|key| key.dir(&self.events).join(&name));
        let quarantine = flush
            .quarantine
            .keys()
            .map(|key| key.dir(&self.quarantine).join(&name));
        events.chain(quarantine).collect()
    }

    /// Writes every partition of `flush` as one file named `STEM.parquet`. With `checkpoint`
    /// (the WAL LSN the flush covers up to), the write follows the crash-safe protocol above
    /// and advances the checkpoint.
    pub fn write(
        &self,
        flush: &Flush,
        stem: &str,
        checkpoint: Option<u64>,
    ) -> Result<FlushStats, StoreError> {
        let files = self.planned_files(flush, stem);
        if let Some(lsn_end) = checkpoint {
            let intent = serde_json::to_vec(&Intent {
                lsn_end,
                files: files.clone(),
            })
            .map_err(|e| StoreError::Encode(e.to_string()))?;
            write_state(&self.intent_path(), &intent)?;
        }
        let mut stats = FlushStats::default();
        let mut paths = files.iter();
        for batches in flush.events.values() {
            // planned_files lists one path per partition, in this order.
            let path = paths.next().expect("one planned file per events partition");
            create_parent(path)?;
            stats.bytes += parquet::write_event_batches(path, batches, &self.options)?;
            stats.events += rows_of(batches);
            stats.files += 1;
        }
        for rows in flush.quarantine.values() {
            let path = paths
                .next()
                .expect("one planned file per quarantine partition");
            create_parent(path)?;
            stats.bytes += parquet::write_quarantine(path, rows, &self.options)?;
            stats.quarantined += rows.len() as u64;
            stats.files += 1;
        }
        for path in &files {
            sync_parent(path)?;
        }
        if let Some(lsn_end) = checkpoint {
            let state = serde_json::to_vec(&Checkpoint { lsn_end })
                .map_err(|e| StoreError::Encode(e.to_string()))?;
            write_state(&self.checkpoint_path(), &state)?;
            let intent = self.intent_path();
            fs::remove_file(&intent).map_err(io_error(&intent))?;
        }
        Ok(stats)
    }
}

/// Rows in `batches`.
pub(crate) fn rows_of(batches: &[RecordBatch]) -> u64 {
    batches.iter().map(|batch| batch.num_rows() as u64).sum()
}

#[cfg(test)]
mod tests;
