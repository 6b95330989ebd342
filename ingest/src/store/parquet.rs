//! One Parquet file of `events` or `quarantine` rows: zstd, events sorted by `stage_at`. On disk
//! it is written to a temporary name, fsynced, then renamed into place; for object storage it is
//! encoded in memory and uploaded in one request.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use datafusion::arrow::array::{Array, TimestampMicrosecondArray};
use datafusion::arrow::compute::interleave_record_batch;
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, Encoding, ZstdLevel};
use datafusion::parquet::file::metadata::SortingColumn;
use datafusion::parquet::file::properties::WriterProperties;
use datafusion::parquet::schema::types::ColumnPath;
use schemas::{events_schema, QuarantineBatchBuilder, QuarantineRow};

use super::StoreError;

/// Rows per row group: small enough that a time range skips most of a file, large enough to
/// compress well.
pub const DEFAULT_ROW_GROUP_ROWS: usize = 65_536;
/// zstd level of the column chunks.
pub const DEFAULT_ZSTD_LEVEL: i32 = 3;

/// The column with a bloom filter in every row group (`events` and `quarantine` both have it).
const AUDIT_ID_COLUMN: &str = "audit_id";
/// Timestamp columns stored as differences (`DELTA_BINARY_PACKED`).
const DELTA_COLUMNS: &[&str] = &["stage_at", "request_received_at", "received_at"];
/// False-positive rate of the audit ID bloom filters.
const BLOOM_FILTER_FPP: f64 = 0.05;

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

pub(crate) fn properties(
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
    let rows = options.row_group_rows.max(1);
    // Looking up one request by its audit ID reads only the row groups whose bloom filter may
    // hold it; sized for one row group's distinct IDs (about 50 KB each at 5% false positives).
    let audit_id = ColumnPath::from(AUDIT_ID_COLUMN);
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::ZSTD(level))
        .set_max_row_group_row_count(Some(rows))
        .set_sorting_columns(sorting)
        .set_column_bloom_filter_enabled(audit_id.clone(), true)
        .set_column_bloom_filter_max_ndv(audit_id.clone(), rows as u64)
        .set_column_bloom_filter_fpp(audit_id, BLOOM_FILTER_FPP);
    // Timestamps are nearly all distinct and, sorted, close to each other: their differences
    // encode in a few bits where a dictionary (which overflows) and plain values take eight
    // bytes each before compression.
    for column in DELTA_COLUMNS {
        let column = ColumnPath::from(*column);
        builder = builder
            .set_column_dictionary_enabled(column.clone(), false)
            .set_column_encoding(column, Encoding::DELTA_BINARY_PACKED);
    }
    Ok(builder.build())
}

/// The temporary name a file is written under before it is renamed into place. It does not end
/// in `.parquet`, so readers never see a half-written file.
pub fn temp_path(path: &Path) -> std::path::PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Encodes the batches `next_batch` gives into `out` as one Parquet file; gives `out` back.
pub(crate) fn encode<W: Write + Send>(
    out: W,
    schema: datafusion::arrow::datatypes::SchemaRef,
    props: WriterProperties,
    mut next_batch: impl FnMut() -> Option<Result<RecordBatch, ArrowError>>,
) -> Result<W, StoreError> {
    let encode_error = |e: &dyn std::fmt::Display| StoreError::Encode(e.to_string());
    let mut writer =
        ArrowWriter::try_new(out, schema, Some(props)).map_err(|e| encode_error(&e))?;
    while let Some(batch) = next_batch() {
        let batch = batch.map_err(|e| encode_error(&e))?;
        writer.write(&batch).map_err(|e| encode_error(&e))?;
    }
    writer.into_inner().map_err(|e| encode_error(&e))
}

/// Encodes `rows` as one `quarantine` file into `out`.
pub fn encode_quarantine<W: Write + Send>(
    out: W,
    rows: &[QuarantineRow],
    options: &FileOptions,
) -> Result<W, StoreError> {
    let props = properties(options, None)?;
    let mut chunks = rows.chunks(options.row_group_rows.max(1));
    let mut builder = QuarantineBatchBuilder::default();
    encode(out, schemas::quarantine_schema(), props, || {
        let chunk = chunks.next()?;
        for row in chunk {
            builder.push(row);
        }
        Some(builder.finish())
    })
}

/// Writes the file `encode_into` produces to a temporary name, fsyncs it and renames it to
/// `path`; returns its size.
pub(crate) fn write_file(
    path: &Path,
    encode_into: impl FnOnce(File) -> Result<File, StoreError>,
) -> Result<u64, StoreError> {
    let temp = temp_path(path);
    let io = |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = encode_into(File::create(&temp).map_err(io)?)?;
    file.sync_all().map_err(io)?;
    let bytes = file.metadata().map_err(io)?.len();
    fs::rename(&temp, path).map_err(io)?;
    Ok(bytes)
}

/// Writes `batches` of `events` rows as one file, sorted by `stage_at`; returns its size.
pub fn write_event_batches(
    path: &Path,
    batches: &[RecordBatch],
    options: &FileOptions,
) -> Result<u64, StoreError> {
    write_file(path, |file| encode_event_batches(file, batches, options))
}

/// Encodes `batches` of `events` rows as one file into `out`, sorted by `stage_at` (nulls
/// first; rows with equal times keep their order). Batches already in order are encoded as
/// they are; otherwise each row group is gathered from them in order, so the rows are copied
/// once.
pub fn encode_event_batches<W: Write + Send>(
    out: W,
    batches: &[RecordBatch],
    options: &FileOptions,
) -> Result<W, StoreError> {
    let encode_error = |e: ArrowError| StoreError::Encode(e.to_string());
    let stage_at = events_schema().index_of("stage_at").map_err(encode_error)?;
    let times = batches
        .iter()
        .map(|batch| {
            batch
                .column(stage_at)
                .as_any()
                .downcast_ref::<TimestampMicrosecondArray>()
                .ok_or_else(|| StoreError::Encode("stage_at is not a timestamp column".into()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let key = |(batch, row): (usize, usize)| {
        let times = times[batch];
        times.is_valid(row).then(|| times.value(row))
    };
    let mut order: Vec<(usize, usize)> = batches
        .iter()
        .enumerate()
        .flat_map(|(index, batch)| (0..batch.num_rows()).map(move |row| (index, row)))
        .collect();
    let sorted = order.windows(2).all(|pair| key(pair[0]) <= key(pair[1]));
    let props = properties(options, Some(stage_at))?;
    if sorted {
        let mut next = batches.iter();
        return encode(out, events_schema(), props, || next.next().cloned().map(Ok));
    }
    order.sort_by_key(|&at| key(at));
    let sources: Vec<&RecordBatch> = batches.iter().collect();
    let mut groups = order.chunks(options.row_group_rows.max(1));
    encode(out, events_schema(), props, || {
        groups
            .next()
            .map(|rows| interleave_record_batch(&sources, rows))
    })
}

/// Writes `rows` as one `quarantine` file; returns its size.
pub fn write_quarantine(
    path: &Path,
    rows: &[QuarantineRow],
    options: &FileOptions,
) -> Result<u64, StoreError> {
    write_file(path, |file| encode_quarantine(file, rows, options))
}
