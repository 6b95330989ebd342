//! The table format: arrow's pretty-printed table, holding at most a fixed number of rows.

use std::io::Write;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches_with_schema;

use super::{output_error, Flow, WriteSummary};
use crate::error::QueryError;

/// Rows a table shows at most. Column widths depend on every row, so the table is built in
/// memory; past this many rows, use JSON Lines or CSV, which stream.
pub const DEFAULT_TABLE_MAX_ROWS: usize = 1_000;

/// Collects up to `max_rows` rows, then writes them as one table.
pub struct TableWriter<W: Write> {
    schema: SchemaRef,
    out: W,
    max_rows: usize,
    batches: Vec<RecordBatch>,
    rows: usize,
    truncated: bool,
}

impl<W: Write> TableWriter<W> {
    pub fn new(schema: SchemaRef, out: W, max_rows: usize) -> Self {
        TableWriter {
            schema,
            out,
            max_rows,
            batches: Vec::new(),
            rows: 0,
            truncated: false,
        }
    }

    /// Keeps the batch's rows up to the cap; [`Flow::Stop`] once rows had to be left out.
    pub fn write(&mut self, batch: &RecordBatch) -> Flow {
        let room = self.max_rows - self.rows;
        if batch.num_rows() > room {
            self.truncated = true;
            if room > 0 {
                self.batches.push(batch.slice(0, room));
                self.rows += room;
            }
            return Flow::Stop;
        }
        self.batches.push(batch.clone());
        self.rows += batch.num_rows();
        Flow::Continue
    }

    pub fn finish(mut self) -> Result<(W, WriteSummary), QueryError> {
        let table = pretty_format_batches_with_schema(self.schema.clone(), &self.batches)
            .map_err(output_error)?;
        writeln!(self.out, "{table}").map_err(QueryError::Output)?;
        if self.truncated {
            writeln!(
                self.out,
                "(only the first {} rows are shown: add a LIMIT, or use the jsonl or csv format for every row)",
                self.max_rows
            )
            .map_err(QueryError::Output)?;
        }
        self.out.flush().map_err(QueryError::Output)?;
        let summary = WriteSummary {
            rows: self.rows,
            truncated: self.truncated,
        };
        Ok((self.out, summary))
    }
}
