//! One Parquet file of `events` or `quarantine` rows: zstd, events sorted by `stage_at`, written
//! to a temporary name, fsynced, then renamed into place.

use std::fs::{self, File};
use std::path::Path;

use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::metadata::SortingColumn;
use datafusion::parquet::file::properties::WriterProperties;
use schemas::{events_schema, EventBatchBuilder, QuarantineBatchBuilder, QuarantineRow};

use super::{RowRef, StoreError};

/// Rows per row group: small enough that a time range skips most of a file, large enough to
/// compress well.
pub const DEFAULT_ROW_GROUP_ROWS: usize = 65_536;
/// zstd level of the column chunks.
pub const DEFAULT_ZSTD_LEVEL: i32 = 3;

/// How files are encoded.
#[derive(Debug, Clone)]
pub struct FileOptions {
    pub row_group_rows: usize,
    pub zstd_level: i32,
}

impl Default for FileOptions {
    fn default() -> Self {
        FileOptions {
            row_group_rows: DEFAULT_ROW_GROUP_ROWS,
            zstd_level: DEFAULT_ZSTD_LEVEL,
        }
    }
}

fn properties(
    options: &FileOptions,
    sorted_by: Option<usize>,
) -> Result<WriterProperties, StoreError> {
    let level =
        ZstdLevel::try_new(options.zstd_level).map_err(|e| StoreError::Encode(e.to_string()))?;
    let sorting = sorted_by.map(|column| {
        vec![SortingColumn {
            column_idx: column as i32,
            descending: false,
            nulls_first: true,
        }]
    });
    Ok(WriterProperties::builder()
        .set_compression(Compression::ZSTD(level))
        .set_max_row_group_row_count(Some(options.row_group_rows.max(1)))
        .set_sorting_columns(sorting)
        .build())
}

/// The temporary name a file is written under before it is renamed into place. It does not end
/// in `.parquet`, so readers never see a half-written file.
pub fn temp_path(path: &Path) -> std::path::PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

fn write_batches(
    path: &Path,
    schema: datafusion::arrow::datatypes::SchemaRef,
    props: WriterProperties,
    mut next_batch: impl FnMut() -> Option<Result<RecordBatch, ArrowError>>,
) -> Result<u64, StoreError> {
    let temp = temp_path(path);
    let io = |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::create(&temp).map_err(io)?;
    let mut writer = ArrowWriter::try_new(file, schema, Some(props))
        .map_err(|e| StoreError::Encode(e.to_string()))?;
    while let Some(batch) = next_batch() {
        let batch = batch.map_err(|e| StoreError::Encode(e.to_string()))?;
        writer
            .write(&batch)
            .map_err(|e| StoreError::Encode(e.to_string()))?;
    }
    let file = writer
        .into_inner()
        .map_err(|e| StoreError::Encode(e.to_string()))?;
    file.sync_all().map_err(io)?;
    let bytes = file.metadata().map_err(io)?.len();
    fs::rename(&temp, path).map_err(io)?;
    Ok(bytes)
}

/// Writes `rows` (sorted here by `stage_at`, nulls first) as one `events` file; returns its size.
pub fn write_events(
    path: &Path,
    rows: &mut [RowRef],
    options: &FileOptions,
) -> Result<u64, StoreError> {
    rows.sort_by_key(|row| row.row().stage_at);
    let stage_at = events_schema().index_of("stage_at").ok();
    let props = properties(options, stage_at)?;
    let mut chunks = rows.chunks(options.row_group_rows.max(1));
    let mut builder = EventBatchBuilder::new();
    write_batches(path, events_schema(), props, || {
        let chunk = chunks.next()?;
        for row in chunk {
            if let Err(error) = builder.push(row.row()) {
                return Some(Err(error));
            }
        }
        Some(builder.finish())
    })
}

/// Writes `rows` as one `quarantine` file; returns its size.
pub fn write_quarantine(
    path: &Path,
    rows: &[QuarantineRow],
    options: &FileOptions,
) -> Result<u64, StoreError> {
    let props = properties(options, None)?;
    let mut chunks = rows.chunks(options.row_group_rows.max(1));
    let mut builder = QuarantineBatchBuilder::default();
    write_batches(path, schemas::quarantine_schema(), props, || {
        let chunk = chunks.next()?;
        for row in chunk {
            builder.push(row);
        }
        Some(builder.finish())
    })
}
