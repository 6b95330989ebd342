//! Result batches into the formats users read: an aligned table for people, JSON Lines and CSV
//! for scripts. One file per format; [`ResultWriter`] dispatches.
//!
//! - [`table`]: arrow's pretty table, capped at a number of rows;
//! - [`jsonl`]: one JSON object per row;
//! - [`csv`]: a header line, then one line per row;
//! - [`nested`]: list, map and struct values as JSON text, for CSV cells.
//!
//! JSON Lines and CSV are written batch by batch as the query produces them, so results of
//! any size stream through in bounded memory. The table needs every row to size its columns,
//! so it holds at most [`table::DEFAULT_TABLE_MAX_ROWS`] rows, stops the query there and says
//! so under the table.

pub mod csv;
pub mod jsonl;
pub mod nested;
pub mod table;

use std::fmt;
use std::io::Write;
use std::str::FromStr;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::DataFusionError;
use datafusion::execution::SendableRecordBatchStream;
use futures::StreamExt;

use crate::error::QueryError;

/// How query results are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// An aligned text table, for people; at most [`table::DEFAULT_TABLE_MAX_ROWS`] rows.
    #[default]
    Table,
    /// One JSON object per line, every column a key (nulls included); timestamps as RFC 3339
    /// strings, lists as arrays, maps as objects.
    Jsonl,
    /// A header line, then one line per row; lists, maps and structs as JSON text.
    Csv,
}

impl OutputFormat {
    /// Every format, in the order help texts list them.
    pub const ALL: [OutputFormat; 3] =
        [OutputFormat::Table, OutputFormat::Jsonl, OutputFormat::Csv];

    /// The name users give on the command line.
    pub fn name(self) -> &'static str {
        match self {
            OutputFormat::Table => "table",
            OutputFormat::Jsonl => "jsonl",
            OutputFormat::Csv => "csv",
        }
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An output format name that is not one of [`OutputFormat::ALL`].
#[derive(Debug, thiserror::Error)]
#[error("unknown output format `{0}` (expected `table`, `jsonl` or `csv`)")]
pub struct UnknownFormat(pub String);

impl FromStr for OutputFormat {
    type Err = UnknownFormat;

    /// `table`, `jsonl` (also `json`, `ndjson`) or `csv`, in any case.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name.to_ascii_lowercase().as_str() {
            "table" => Ok(OutputFormat::Table),
            "jsonl" | "json" | "ndjson" => Ok(OutputFormat::Jsonl),
            "csv" => Ok(OutputFormat::Csv),
            _ => Err(UnknownFormat(name.to_string())),
        }
    }
}

/// What was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriteSummary {
    /// Rows written.
    pub rows: usize,
    /// Whether rows were left out (only the table format caps its rows).
    pub truncated: bool,
}

/// Whether a writer wants more batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// Enough rows: stop reading (and so stop the query).
    Stop,
}

/// Writes result batches in one [`OutputFormat`] to any [`Write`]. For callers that produce
/// batches themselves (a query service writing each batch into its response body);
/// [`write_results`] drives one from a query stream.
#[allow(
    clippy::large_enum_variant,
    reason = "one writer per query, moved rarely: boxing would buy nothing"
)]
pub enum ResultWriter<W: Write> {
    Table(table::TableWriter<W>),
    Jsonl(jsonl::JsonlWriter<W>),
    Csv(csv::CsvWriter<W>),
}

impl<W: Write> ResultWriter<W> {
    /// A writer of batches of `schema` in `format` to `out`.
    pub fn new(format: OutputFormat, schema: SchemaRef, out: W) -> Self {
        match format {
            OutputFormat::Table => ResultWriter::Table(table::TableWriter::new(
                schema,
                out,
                table::DEFAULT_TABLE_MAX_ROWS,
            )),
            OutputFormat::Jsonl => ResultWriter::Jsonl(jsonl::JsonlWriter::new(out)),
            OutputFormat::Csv => ResultWriter::Csv(csv::CsvWriter::new(schema, out)),
        }
    }

    /// Writes (or, for the table, keeps) one batch.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<Flow, QueryError> {
        match self {
            ResultWriter::Table(writer) => Ok(writer.write(batch)),
            ResultWriter::Jsonl(writer) => writer.write(batch).map(|()| Flow::Continue),
            ResultWriter::Csv(writer) => writer.write(batch).map(|()| Flow::Continue),
        }
    }

    /// Writes what is left (the table; the CSV header of an empty result), flushes, and returns
    /// the output with what was written.
    pub fn finish(self) -> Result<(W, WriteSummary), QueryError> {
        match self {
            ResultWriter::Table(writer) => writer.finish(),
            ResultWriter::Jsonl(writer) => writer.finish(),
            ResultWriter::Csv(writer) => writer.finish(),
        }
    }
}

/// Reads a query's result stream to the end (or, for the table, to its row cap) and writes it
/// to `out` in `format`, batch by batch.
pub async fn write_results<W: Write>(
    mut results: SendableRecordBatchStream,
    format: OutputFormat,
    out: W,
) -> Result<WriteSummary, QueryError> {
    let mut writer = ResultWriter::new(format, results.schema(), out);
    while let Some(batch) = results.next().await {
        let batch = batch.map_err(QueryError::execution)?;
        if writer.write(&batch)? == Flow::Stop {
            break;
        }
    }
    let (_, summary) = writer.finish()?;
    Ok(summary)
}

/// An Arrow error while writing: the output's I/O error, or a value it cannot encode.
fn output_error(error: ArrowError) -> QueryError {
    match error {
        ArrowError::IoError(_, source) => QueryError::Output(source),
        other => QueryError::Execution(DataFusionError::ArrowError(Box::new(other), None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_round_trip() {
        for format in OutputFormat::ALL {
            assert_eq!(format.name().parse::<OutputFormat>().unwrap(), format);
        }
        assert_eq!("JSON".parse::<OutputFormat>().unwrap(), OutputFormat::Jsonl);
        let error = "xml".parse::<OutputFormat>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown output format `xml` (expected `table`, `jsonl` or `csv`)"
        );
    }
}
