//! The CSV format: a header line, then one line per row, written batch by batch.

use std::io::Write;

use datafusion::arrow::csv::{Writer, WriterBuilder};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;

use super::nested::{nested_as_json_text, nested_as_json_text_schema};
use super::{output_error, WriteSummary};
use crate::error::QueryError;

/// Writes rows as CSV with a header, even for an empty result. Arrow's CSV writer rejects
/// lists, maps and structs: those cells hold the value as JSON text (`["a","b"]`,
/// `{"k":"v"}`). Nulls are empty cells; timestamps RFC 3339.
pub struct CsvWriter<W: Write> {
    writer: Writer<W>,
    schema: SchemaRef,
    rows: usize,
    wrote_header: bool,
}

impl<W: Write> CsvWriter<W> {
    /// A writer of batches of `schema`.
    pub fn new(schema: SchemaRef, out: W) -> Self {
        CsvWriter {
            writer: WriterBuilder::new().with_header(true).build(out),
            schema: nested_as_json_text_schema(&schema),
            rows: 0,
            wrote_header: false,
        }
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), QueryError> {
        let batch = nested_as_json_text(batch).map_err(output_error)?;
        self.writer.write(&batch).map_err(output_error)?;
        self.rows += batch.num_rows();
        self.wrote_header = true;
        Ok(())
    }

    pub fn finish(mut self) -> Result<(W, WriteSummary), QueryError> {
        if !self.wrote_header {
            // Arrow writes the header with the first batch: give it an empty one.
            let empty = RecordBatch::new_empty(self.schema.clone());
            self.writer.write(&empty).map_err(output_error)?;
        }
        let mut out = self.writer.into_inner();
        out.flush().map_err(QueryError::Output)?;
        let summary = WriteSummary {
            rows: self.rows,
            truncated: false,
        };
        Ok((out, summary))
    }
}
