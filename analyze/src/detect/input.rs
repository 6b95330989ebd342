//! What rules see: the `events` columns plus `cluster`, one batch at a time, with each row's
//! event time.

use std::sync::{Arc, OnceLock};

use datafusion::arrow::array::{ArrayRef, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;
use schemas::{EventBatchBuilder, EventRow};

/// The column naming the cluster of each event.
pub const CLUSTER_COLUMN: &str = "cluster";

/// The schema of `events` as rules see it: the stored columns, then `cluster`.
pub fn detection_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            let mut fields: Vec<Field> = schemas::events_schema()
                .fields()
                .iter()
                .map(|field| field.as_ref().clone())
                .collect();
            fields.push(Field::new(CLUSTER_COLUMN, DataType::Utf8, false));
            Arc::new(Schema::new(fields))
        })
        .clone()
}

/// Events of one or more clusters as one batch of [`detection_schema`].
pub fn input_batch<'a>(
    rows: impl IntoIterator<Item = (&'a str, &'a EventRow)>,
) -> Result<RecordBatch, ArrowError> {
    let mut builder = EventBatchBuilder::new();
    let mut clusters = Vec::new();
    for (cluster, row) in rows {
        builder.push(row)?;
        clusters.push(cluster);
    }
    let events = builder.finish()?;
    let mut columns: Vec<ArrayRef> = events.columns().to_vec();
    columns.push(Arc::new(StringArray::from(clusters)));
    RecordBatch::try_new(detection_schema(), columns)
}

/// Events of one cluster (a batch of the `events` schema) as a batch of [`detection_schema`].
pub fn with_cluster(events: &RecordBatch, cluster: &str) -> Result<RecordBatch, ArrowError> {
    let mut columns: Vec<ArrayRef> = events.columns().to_vec();
    columns.push(Arc::new(StringArray::from(vec![
        cluster;
        events.num_rows()
    ])));
    RecordBatch::try_new(detection_schema(), columns)
}

/// Each row's event time in µs: `stage_at`, else `request_received_at`, else `received_at`
/// (as the row's partition).
pub use schemas::batch::partition_times as event_times;
