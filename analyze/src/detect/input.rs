//! What rules see: the `events` columns plus `cluster`, one batch at a time, with each row's
//! event time.

use std::sync::{Arc, OnceLock};

use datafusion::arrow::array::{ArrayRef, StringArray};
use datafusion::arrow::compute::{concat_batches, interleave_record_batch};
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
/// is copied once: when the batches, each in order, follow one another in time (one API server's
/// requests, even out of order), they are joined whole; otherwise each row is gathered in order
/// from its batch.
pub fn in_time_order<'a>(
    parts: impl IntoIterator<Item = (&'a RecordBatch, &'a str)>,
) -> Result<RecordBatch, ArrowError> {
    let sources = parts
        .into_iter()
        .filter(|(events, _)| events.num_rows() > 0)
        .map(|(events, cluster)| with_cluster(events, cluster))
        .collect::<Result<Vec<_>, _>>()?;
    if sources.is_empty() {
        return Ok(RecordBatch::new_empty(detection_schema()));
    }
    let times: Vec<Vec<i64>> = sources.iter().map(event_times).collect();
    if let Some(order) = consecutive(&times) {
        let ordered: Vec<&RecordBatch> = order.iter().map(|&source| &sources[source]).collect();
        return concat_batches(&detection_schema(), ordered);
    }
    let mut order: Vec<(i64, usize, usize)> = times
        .iter()
        .enumerate()
        .flat_map(|(source, times)| {
            times
                .iter()
                .enumerate()
                .map(move |(row, &time)| (time, source, row))
        })
        .collect();
    order.sort_by_key(|(time, _, _)| *time);
    let indices: Vec<(usize, usize)> = order
        .iter()
        .map(|&(_, source, row)| (source, row))
        .collect();
    let sources: Vec<&RecordBatch> = sources.iter().collect();
    interleave_record_batch(&sources, &indices)
}

/// The order in which the sources, each in time order, follow one another without their times
/// overlapping (equal times only where the earlier source came first); `None` when they do not.
fn consecutive(times: &[Vec<i64>]) -> Option<Vec<usize>> {
    let mut spans = Vec::with_capacity(times.len());
    for (source, times) in times.iter().enumerate() {
        if !times.windows(2).all(|pair| pair[0] <= pair[1]) {
            return None;
        }
        spans.push((*times.first()?, *times.last()?, source));
    }
    spans.sort_unstable();
    let follows = spans.windows(2).all(|pair| {
        let ((_, last, earlier), (first, _, later)) = (pair[0], pair[1]);
        last < first || (last == first && earlier < later)
    });
    follows.then(|| spans.into_iter().map(|(_, _, source)| source).collect())
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
    fn batches_that_follow_one_another_are_joined_in_time_order() {
        let late = events(&[("c", Some(30), 0), ("d", Some(40), 0)]);
        let early = events(&[("a", Some(10), 0), ("b", Some(30), 0)]);
        let last = events(&[("e", Some(40), 0), ("f", None, 50)]);
        // `early` ends where `late` begins, but came after it: its row of time 30 goes second.
        let batch = in_time_order([(&late, "prod"), (&early, "dev"), (&last, "prod")]).unwrap();
        assert_eq!(column(&batch, "audit_id"), ["a", "c", "b", "d", "e", "f"]);
        // Without the tie, the batches are joined whole, earliest first.
        let early = events(&[("a", Some(10), 0), ("b", Some(20), 0)]);
        let batch = in_time_order([(&late, "prod"), (&early, "dev"), (&last, "prod")]).unwrap();
        assert_eq!(column(&batch, "audit_id"), ["a", "b", "c", "d", "e", "f"]);
        assert_eq!(
            column(&batch, CLUSTER_COLUMN),
            ["dev", "dev", "prod", "prod", "prod", "prod"]
        );
        assert_eq!(batch.schema(), detection_schema());
    }

    #[test]
    fn no_rows_make_an_empty_batch() {
        let batch = in_time_order([(&events(&[]), "prod")]).unwrap();
        assert_eq!(batch.num_rows(), 0);
        assert_eq!(batch.schema(), detection_schema());
    }
}
