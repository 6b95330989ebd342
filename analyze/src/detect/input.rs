//! What rules see: the `events` columns plus `cluster`, one batch at a time, with each row's
//! event time.

use std::sync::{Arc, OnceLock};

use datafusion::arrow::array::{ArrayRef, StringArray};
use datafusion::arrow::compute::interleave_record_batch;
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
fn with_cluster(events: &RecordBatch, cluster: &str) -> Result<RecordBatch, ArrowError> {
    let mut columns: Vec<ArrayRef> = events.columns().to_vec();
    columns.push(Arc::new(StringArray::from(vec![
        cluster;
        events.num_rows()
    ])));
    RecordBatch::try_new(detection_schema(), columns)
}

/// Batches of the `events` schema, each with its cluster, as one batch of [`detection_schema`]
/// in event-time order, as the engine wants it (rows of equal times keep their order). Each row
/// is copied once, gathered in order from its batch.
pub fn in_time_order<'a>(
    parts: impl IntoIterator<Item = (&'a RecordBatch, &'a str)>,
) -> Result<RecordBatch, ArrowError> {
    let sources = parts
        .into_iter()
        .filter(|(events, _)| events.num_rows() > 0)
        .map(|(events, cluster)| with_cluster(events, cluster))
        .collect::<Result<Vec<_>, _>>()?;
    let mut order: Vec<(i64, usize, usize)> = sources
        .iter()
        .enumerate()
        .flat_map(|(source, batch)| {
            event_times(batch)
                .into_iter()
                .enumerate()
                .map(move |(row, time)| (time, source, row))
        })
        .collect();
    if order.is_empty() {
        return Ok(RecordBatch::new_empty(detection_schema()));
    }
    order.sort_by_key(|(time, _, _)| *time);
    let indices: Vec<(usize, usize)> = order
        .iter()
        .map(|&(_, source, row)| (source, row))
        .collect();
    let sources: Vec<&RecordBatch> = sources.iter().collect();
    interleave_record_batch(&sources, &indices)
}

/// Each row's event time in µs: `stage_at`, else `request_received_at`, else `received_at`
/// (as the row's partition).
pub use schemas::batch::partition_times as event_times;

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::AsArray;
    use schemas::batch::events_batch;

    use super::*;

    fn events(rows: &[(&str, Option<i64>, i64)]) -> RecordBatch {
        let rows: Vec<EventRow> = rows
            .iter()
            .map(|&(id, stage_at, received_at)| EventRow {
                audit_id: Some(id.to_string().into()),
                stage_at,
                received_at,
                ..EventRow::default()
            })
            .collect();
        events_batch(&rows).unwrap()
    }

    fn column(batch: &RecordBatch, name: &str) -> Vec<String> {
        let values = batch.column_by_name(name).unwrap().as_string::<i32>();
        values.iter().map(|v| v.unwrap().to_string()).collect()
    }

    #[test]
    fn batches_of_several_clusters_come_out_in_event_time_order() {
        let first = events(&[("a", Some(30), 0), ("b", Some(10), 0), ("c", None, 20)]);
        let second = events(&[("d", Some(20), 0), ("e", Some(10), 0)]);
        let empty = events(&[]);
        let batch = in_time_order([(&first, "prod"), (&empty, "dev"), (&second, "dev")]).unwrap();
        assert_eq!(batch.schema(), detection_schema());
        // Equal times keep the order they came in: b before e, c before d.
        assert_eq!(column(&batch, "audit_id"), ["b", "e", "c", "d", "a"]);
        assert_eq!(
            column(&batch, CLUSTER_COLUMN),
            ["prod", "dev", "prod", "dev", "prod"]
        );
    }

    #[test]
    fn no_rows_make_an_empty_batch() {
        let batch = in_time_order([(&events(&[]), "prod")]).unwrap();
        assert_eq!(batch.num_rows(), 0);
        assert_eq!(batch.schema(), detection_schema());
    }
}
