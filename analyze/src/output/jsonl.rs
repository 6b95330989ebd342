//! The JSON Lines format: one JSON object per row, written batch by batch.

use std::io::Write;

use datafusion::arrow::json::writer::LineDelimited;
use datafusion::arrow::json::{Writer, WriterBuilder};
use datafusion::arrow::record_batch::RecordBatch;

use super::{output_error, WriteSummary};
use crate::error::QueryError;

/// Writes each row as a JSON object with every column as a key (`null` included), so that
/// every line has the same keys. Timestamps are RFC 3339 strings, lists arrays, maps objects.
pub struct JsonlWriter<W: Write> {
    writer: Writer<W, LineDelimited>,
    rows: usize,
}

impl<W: Write> JsonlWriter<W> {
    pub fn new(out: W) -> Self {
        let writer = WriterBuilder::new()
            .with_explicit_nulls(true)
            .build::<W, LineDelimited>(out);
        JsonlWriter { writer, rows: 0 }
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), QueryError> {
        self.writer.write(batch).map_err(output_error)?;
        self.rows += batch.num_rows();
        Ok(())
    }

    pub fn finish(mut self) -> Result<(W, WriteSummary), QueryError> {
        self.writer.finish().map_err(output_error)?;
        let mut out = self.writer.into_inner();
        out.flush().map_err(QueryError::Output)?;
        let summary = WriteSummary {
            rows: self.rows,
            truncated: false,
        };
        Ok((out, summary))
    }
}
