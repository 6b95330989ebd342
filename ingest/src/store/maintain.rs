//! Keeping the store small and fast for a year: compaction merges the small files of a closed
//! hour into few large ones; retention deletes the days older than a cluster's limit.
//!
//! Compaction of one group of files, crash-safe:
//! 1. a manifest (`wal/compaction-pending`: the directory, the input files, the output name) is
//!    written and fsynced;
//! 2. the merged file is written under a temporary name, fsynced, checked (its row count is the
//!    inputs' sum) and renamed into place;
//! 3. the inputs are deleted, the directory fsynced, the manifest removed.
//!
//! After a crash, [`recover`] (run before every compaction and when `serve` starts) finishes a
//! compaction whose output is in place (deletes the inputs left) and undoes one whose output is
//! not (deletes the temporary file; the inputs were never touched). No row is lost or stored
//! twice. A file of a flush the WAL has not checkpointed yet is never an input (a crash could
//! rewrite it), nor any file younger than the minimum age.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use datafusion::arrow::compute::{concat_batches, sort_to_indices, take_record_batch, SortOptions};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
use serde::{Deserialize, Serialize};

use super::parquet::{encode, properties, temp_path, write_file, FileOptions};
use super::{io_error, read_state, sync_parent, write_state, StoreError};

/// Name of the manifest of a compaction in progress, under `wal/`.
const MANIFEST: &str = "compaction-pending";
/// The flush intent of the pipeline, under `wal/` (see [`super`]).
const FLUSH_INTENT: &str = "flush-pending";
/// A hook for tests: stop the process (`abort`) at a step of a compaction.
const CRASH_ENV: &str = "AUDITLENS_COMPACTION_CRASH";

/// What compaction does.
#[derive(Debug, Clone)]
pub struct CompactOptions {
    /// Files younger than this are left alone (their hour may still be written to).
    pub min_age: Duration,
    /// Rows of one output file at most; a partition with more gets several.
    pub max_rows: usize,
    pub file_options: FileOptions,
}

impl Default for CompactOptions {
    fn default() -> Self {
        CompactOptions {
            min_age: Duration::from_secs(2 * 3600),
            max_rows: 2_000_000,
            file_options: FileOptions::default(),
        }
    }
}

/// What one run did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct CompactSummary {
    pub partitions: usize,
    pub files_in: usize,
    pub files_out: usize,
    pub rows: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    dir: PathBuf,
    inputs: Vec<String>,
    output: String,
}

#[derive(Deserialize)]
struct Intent {
    files: Vec<PathBuf>,
}

/// The two tables: directory name, schema, the column files are sorted by.
fn tables() -> [(&'static str, SchemaRef, Option<&'static str>); 2] {
    [
        ("events", schemas::events_schema(), Some("stage_at")),
        ("quarantine", schemas::quarantine_schema(), None),
    ]
}

fn crash_point(step: &str) {
    if std::env::var(CRASH_ENV).is_ok_and(|at| at == step) {
        tracing::error!(step, "stopping in the middle of a compaction, as asked");
        std::process::abort();
    }
}

/// Finishes or undoes a compaction a crash interrupted.
pub fn recover(data_dir: &Path) -> Result<(), StoreError> {
    let path = data_dir.join("wal").join(MANIFEST);
    let Some(manifest) = read_state::<Manifest>(&path)? else {
        return Ok(());
    };
    let output = manifest.dir.join(&manifest.output);
    if output.exists() {
        for input in &manifest.inputs {
            remove_if_present(&manifest.dir.join(input))?;
        }
        tracing::warn!(dir = %manifest.dir.display(), output = %manifest.output, "finished an interrupted compaction");
    } else {
        remove_if_present(&temp_path(&output))?;
        tracing::warn!(dir = %manifest.dir.display(), "undid an interrupted compaction; its files are as they were");
    }
    sync_dir(&manifest.dir)?;
    fs::remove_file(&path).map_err(io_error(&path))?;
    Ok(())
}

fn remove_if_present(path: &Path) -> Result<(), StoreError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(io_error(path)(error)),
    }
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(io_error(dir))
}

/// The `cluster=…/date=…/hour=…` directories of a table.
fn hour_dirs(table: &Path) -> Result<Vec<PathBuf>, StoreError> {
    let mut dirs = Vec::new();
    for cluster in subdirs(table, "cluster=")? {
        for date in subdirs(&cluster, "date=")? {
            dirs.extend(subdirs(&date, "hour=")?);
        }
    }
    Ok(dirs)
}

fn subdirs(dir: &Path, prefix: &str) -> Result<Vec<PathBuf>, StoreError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(io_error(dir)(error)),
    };
    let mut dirs = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io_error(dir))?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with(prefix) && entry.path().is_dir() {
            dirs.push(entry.path());
        }
    }
    dirs.sort();
    Ok(dirs)
}

/// Merges the small files of every closed hour.
pub fn compact(data_dir: &Path, options: &CompactOptions) -> Result<CompactSummary, StoreError> {
    recover(data_dir)?;
    let mut summary = CompactSummary::default();
    let now = SystemTime::now();
    for (table, schema, sort_by) in tables() {
        for dir in hour_dirs(&data_dir.join(table))? {
            // Listed before the intent is read: a file that exists now was named by an intent
            // written before it, which is either still there or finished.
            let files = eligible_files(&dir, now, options.min_age)?;
            let pending = pending_flush_files(data_dir)?;
            let files: Vec<(String, u64)> = files
                .into_iter()
                .filter(|(name, _)| !pending.contains(&dir.join(name)))
                .collect();
            if files.len() < 2 {
                continue;
            }
            let mut merged_any = false;
            for group in groups(files, options.max_rows) {
                if group.len() < 2 {
                    continue;
                }
                let rows = merge(data_dir, &dir, &group, &schema, sort_by, options)?;
                summary.files_in += group.len();
                summary.files_out += 1;
                summary.rows += rows;
                merged_any = true;
            }
            if merged_any {
                summary.partitions += 1;
            }
        }
    }
    Ok(summary)
}

/// Finished Parquet files of `dir` older than `min_age`, with their row counts.
fn eligible_files(
    dir: &Path,
    now: SystemTime,
    min_age: Duration,
) -> Result<Vec<(String, u64)>, StoreError> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_error(dir))? {
        let entry = entry.map_err(io_error(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".parquet") {
            continue;
        }
        let meta = entry.metadata().map_err(io_error(&entry.path()))?;
        let age = meta
            .modified()
            .ok()
            .and_then(|modified| now.duration_since(modified).ok())
            .unwrap_or_default();
        if age < min_age {
            continue;
        }
        let rows = row_count(&entry.path())?;
        files.push((name, rows));
    }
    files.sort();
    Ok(files)
}

fn pending_flush_files(data_dir: &Path) -> Result<Vec<PathBuf>, StoreError> {
    Ok(
        read_state::<Intent>(&data_dir.join("wal").join(FLUSH_INTENT))?
            .map(|intent| intent.files)
            .unwrap_or_default(),
    )
}

fn row_count(path: &Path) -> Result<u64, StoreError> {
    let file = fs::File::open(path).map_err(io_error(path))?;
    let reader = SerializedFileReader::new(file).map_err(|e| StoreError::State {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    Ok(reader.metadata().file_metadata().num_rows().max(0) as u64)
}

/// Consecutive files whose rows together stay within `max_rows` (a larger file alone).
fn groups(files: Vec<(String, u64)>, max_rows: usize) -> Vec<Vec<(String, u64)>> {
    let mut groups: Vec<Vec<(String, u64)>> = Vec::new();
    let mut rows = 0u64;
    for file in files {
        let fits = rows + file.1 <= max_rows as u64;
        match groups.last_mut() {
            Some(group) if fits => {
                rows += file.1;
                group.push(file);
            }
            _ => {
                rows = file.1;
                groups.push(vec![file]);
            }
        }
    }
    groups
}

/// Merges `group` (files of `dir`) into one file, by the protocol in the module's comment;
/// returns the rows merged.
fn merge(
    data_dir: &Path,
    dir: &Path,
    group: &[(String, u64)],
    schema: &SchemaRef,
    sort_by: Option<&str>,
    options: &CompactOptions,
) -> Result<u64, StoreError> {
    let expected: u64 = group.iter().map(|(_, rows)| rows).sum();
    let mut batches = Vec::new();
    for (name, _) in group {
        let path = dir.join(name);
        let file = fs::File::open(&path).map_err(io_error(&path))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .and_then(|builder| builder.build())
            .map_err(|e| encode_error(&path, e))?;
        for batch in reader {
            batches.push(batch.map_err(|e| encode_error(&path, e))?);
        }
    }
    let all = concat_batches(schema, &batches).map_err(|e| encode_error(dir, e))?;
    drop(batches);
    let sort_column = sort_by.and_then(|column| schema.index_of(column).ok());
    let all = match sort_column {
        Some(index) => {
            let order = sort_to_indices(
                all.column(index),
                Some(SortOptions {
                    descending: false,
                    nulls_first: true,
                }),
                None,
            )
            .map_err(|e| encode_error(dir, e))?;
            take_record_batch(&all, &order).map_err(|e| encode_error(dir, e))?
        }
        None => all,
    };
    if all.num_rows() as u64 != expected {
        return Err(StoreError::Encode(format!(
            "compaction of {} read {} rows, the files hold {expected}",
            dir.display(),
            all.num_rows()
        )));
    }
    let output = format!("compacted-{}.parquet", uuid::Uuid::now_v7());
    let manifest = Manifest {
        dir: dir.to_path_buf(),
        inputs: group.iter().map(|(name, _)| name.clone()).collect(),
        output: output.clone(),
    };
    let manifest_path = data_dir.join("wal").join(MANIFEST);
    let encoded = serde_json::to_vec(&manifest).map_err(|e| StoreError::Encode(e.to_string()))?;
    write_state(&manifest_path, &encoded)?;
    crash_point("after-manifest");
    let output_path = dir.join(&output);
    let props = properties(&options.file_options, sort_column)?;
    let rows_per_group = options.file_options.row_group_rows.max(1);
    write_file(&output_path, |file| {
        let mut offset = 0;
        encode(file, schema.clone(), props, || {
            if offset >= all.num_rows() {
                return None;
            }
            let length = rows_per_group.min(all.num_rows() - offset);
            let slice: RecordBatch = all.slice(offset, length);
            offset += length;
            Some(Ok(slice))
        })
    })?;
    if row_count(&output_path)? != expected {
        fs::remove_file(&output_path).map_err(io_error(&output_path))?;
        fs::remove_file(&manifest_path).map_err(io_error(&manifest_path))?;
        return Err(StoreError::Encode(format!(
            "the compacted file of {} does not hold the {expected} rows of its inputs; nothing was changed",
            dir.display()
        )));
    }
    sync_parent(&output_path)?;
    crash_point("after-output");
    for (name, _) in group {
        remove_if_present(&dir.join(name))?;
    }
    sync_dir(dir)?;
    fs::remove_file(&manifest_path).map_err(io_error(&manifest_path))?;
    tracing::info!(dir = %dir.display(), files = group.len(), rows = expected, %output, "compacted");
    Ok(expected)
}

fn encode_error(path: &Path, error: impl std::fmt::Display) -> StoreError {
    StoreError::State {
        path: path.to_path_buf(),
        message: error.to_string(),
    }
}

/// How long each cluster's data is kept.
#[derive(Debug, Clone, Default)]
pub struct Retention {
    /// Days kept for clusters not named in `per_cluster`; `None` keeps everything.
    pub default_days: Option<u32>,
    pub per_cluster: BTreeMap<String, u32>,
    /// Clusters whose data is kept whatever `default_days` says.
    pub keep_all: Vec<String>,
}

/// What one retention run deleted.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct ExpireSummary {
    /// `table/cluster=…/date=…` directories deleted.
    pub deleted: Vec<String>,
}

/// Deletes the `date=` partitions older than each cluster's limit, relative to `today`
/// (`YYYY-MM-DD`, UTC): with 30 days kept, the day 30 days before today is the oldest kept.
pub fn expire(
    data_dir: &Path,
    retention: &Retention,
    today: chrono::NaiveDate,
) -> Result<ExpireSummary, StoreError> {
    let mut summary = ExpireSummary::default();
    for (table, _, _) in tables() {
        let table_dir = data_dir.join(table);
        for cluster_dir in subdirs(&table_dir, "cluster=")? {
            let cluster = dir_value(&cluster_dir, "cluster=");
            if retention.keep_all.contains(&cluster) {
                continue;
            }
            let Some(days) = retention
                .per_cluster
                .get(&cluster)
                .copied()
                .or(retention.default_days)
            else {
                continue;
            };
            let oldest_kept = today - chrono::Duration::days(i64::from(days));
            for date_dir in subdirs(&cluster_dir, "date=")? {
                let date = dir_value(&date_dir, "date=");
                let Ok(date) = chrono::NaiveDate::parse_from_str(&date, "%Y-%m-%d") else {
                    continue;
                };
                if date < oldest_kept {
                    fs::remove_dir_all(&date_dir).map_err(io_error(&date_dir))?;
                    let shown = format!(
                        "{table}/{}/{}",
                        cluster_dir
                            .file_name()
                            .unwrap_or_default()
                            .to_string_lossy(),
                        date_dir.file_name().unwrap_or_default().to_string_lossy()
                    );
                    tracing::info!(partition = %shown, days, "deleted: older than the retention");
                    summary.deleted.push(shown);
                }
            }
            sync_dir(&cluster_dir)?;
        }
    }
    Ok(summary)
}

fn dir_value(dir: &Path, prefix: &str) -> String {
    dir.file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .trim_start_matches(prefix)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_stay_within_the_row_limit() {
        let files = vec![
            ("a".to_string(), 40),
            ("b".to_string(), 40),
            ("c".to_string(), 40),
            ("d".to_string(), 500),
            ("e".to_string(), 10),
        ];
        let names: Vec<Vec<String>> = groups(files, 100)
            .into_iter()
            .map(|g| g.into_iter().map(|(n, _)| n).collect())
            .collect();
        assert_eq!(names, [vec!["a", "b"], vec!["c"], vec!["d"], vec!["e"]]);
    }
}
