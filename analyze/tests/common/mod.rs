//! A store on disk for tests: audit events written as the ingest writes them
//! (`events/cluster=…/date=…/hour=…/*.parquet`, zstd, sorted by `stage_at`), with small row
//! groups so that row-group pruning shows.

#![allow(dead_code)] // Each test binary uses a different part of this module.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;

use auditlens_analyze::{open_session, run_query, QueryError, QueryOptions};
use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::WriterProperties;
use datafusion::prelude::SessionContext;
use futures::TryStreamExt;
use schemas::{EventRow, ObjectRef, UserInfo};

/// Rows per row group in test files: several row groups per file.
pub const ROW_GROUP_ROWS: usize = 10;

/// Events per cluster and hour of [`hours`].
pub const EVENTS_PER_HOUR: usize = 40;

pub const CLUSTERS: [&str; 2] = ["prod", "staging"];

/// The hours the fixture covers, across a midnight.
pub fn hours() -> Vec<&'static str> {
    vec![
        "2026-11-30T09:00:00Z",
        "2026-11-30T10:00:00Z",
        "2026-11-30T11:00:00Z",
        "2026-11-30T23:00:00Z",
        "2026-12-01T00:00:00Z",
    ]
}

pub fn micros(text: &str) -> i64 {
    schemas::time::parse_micros(text).unwrap_or_else(|| panic!("bad time {text}"))
}

/// One event at `stage_at` (µs), varied by `n`.
pub fn event(cluster: &str, n: usize, stage_at: Option<i64>, request_received_at: i64) -> EventRow {
    let verbs = ["get", "list", "create", "delete"];
    let resources = ["pods", "secrets", "configmaps"];
    let decision = match n % 5 {
        0 => "forbid",
        _ => "allow",
    };
    let mut groups = vec!["system:authenticated".to_string()];
    if matches!(n % 7, 0) {
        groups.push("system:masters".to_string());
    }
    EventRow {
        source: "webhook".into(),
        received_at: request_received_at + 5_000_000,
        kind: Some("Event".into()),
        api_version: Some("audit.k8s.io/v1".into()),
        level: Some("Metadata".into()),
        audit_id: Some(format!("{cluster}-{n:06}").into()),
        stage: Some("ResponseComplete".into()),
        verb: Some(verbs[n % verbs.len()].into()),
        request_uri: Some(format!("/api/v1/namespaces/ns{}/pods", n % 3).into()),
        user_agent: Some("kubectl/v1.31.0".into()),
        source_ips: Some(vec![
            format!("10.0.0.{}", n % 250).into(),
            "192.168.1.1".into(),
        ]),
        user: Some(UserInfo {
            name: Some(format!("user{}", n % 4).into()),
            uid: None,
            groups: Some(groups.into_iter().map(Into::into).collect()),
            extra: None,
        }),
        impersonated_user: None,
        object: Some(ObjectRef {
            resource: Some(resources[n % resources.len()].into()),
            namespace: Some(format!("ns{}", n % 3).into()),
            name: Some(format!("obj{n}").into()),
            ..ObjectRef::default()
        }),
        response: None,
        request_object: None,
        response_object: None,
        annotations: Some(vec![
            ("authorization.k8s.io/decision".into(), decision.into()),
            ("authorization.k8s.io/reason".into(), "RBAC".into()),
        ]),
        request_received_at: Some(request_received_at),
        stage_at,
        extra: None,
    }
}

/// The fixture's events: for each cluster and hour, [`EVENTS_PER_HOUR`] events spread over the
/// hour, the first exactly on the hour and the last on its final microsecond; plus, per
/// cluster, one event without `stage_at` (partitioned by `request_received_at`).
pub fn fixture_events() -> Vec<(String, EventRow)> {
    let hour_micros: i64 = 3_600_000_000;
    let mut events = Vec::new();
    let mut n = 0;
    for cluster in CLUSTERS {
        for hour in hours() {
            let start = micros(hour);
            for i in 0..EVENTS_PER_HOUR {
                let offset = match i {
                    0 => 0,
                    i if i == EVENTS_PER_HOUR - 1 => hour_micros - 1,
                    i => i as i64 * (hour_micros / EVENTS_PER_HOUR as i64),
                };
                let at = start + offset;
                events.push((cluster.to_string(), event(cluster, n, Some(at), at - 1_000)));
                n += 1;
            }
        }
        let received = micros("2026-11-30T10:30:00Z");
        events.push((cluster.to_string(), event(cluster, n, None, received)));
        n += 1;
    }
    events
}

/// Writes `events` under `data_dir/events/` in the ingest layout, each partition split into
/// `files_per_partition` files, each sorted by `stage_at`.
pub fn write_events(data_dir: &Path, events: &[(String, EventRow)], files_per_partition: usize) {
    let mut partitions: BTreeMap<(String, String, String), Vec<EventRow>> = BTreeMap::new();
    for (cluster, row) in events {
        let (date, hour) = schemas::time::partition_of(row.partition_time());
        partitions
            .entry((cluster.clone(), date, hour))
            .or_default()
            .push(row.clone());
    }
    for ((cluster, date, hour), rows) in partitions {
        let dir = data_dir
            .join("events")
            .join(format!("cluster={cluster}"))
            .join(format!("date={date}"))
            .join(format!("hour={hour}"));
        std::fs::create_dir_all(&dir).unwrap();
        let chunk = rows.len().div_ceil(files_per_partition);
        for (i, part) in rows.chunks(chunk).enumerate() {
            let mut part = part.to_vec();
            part.sort_by_key(|row| row.stage_at);
            let batch = schemas::batch::events_batch(&part).unwrap();
            write_parquet(&dir.join(format!("part-{i}.parquet")), &batch);
        }
    }
}

pub fn write_parquet(path: &Path, batch: &RecordBatch) {
    let properties = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .build();
    let file = File::create(path).unwrap();
    let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(properties)).unwrap();
    writer.write(batch).unwrap();
    writer.close().unwrap();
}

/// A store with the fixture events, and a session over it.
pub async fn fixture_session() -> (tempfile::TempDir, SessionContext) {
    let dir = tempfile::tempdir().unwrap();
    write_events(dir.path(), &fixture_events(), 2);
    let ctx = open_session(dir.path(), &QueryOptions::default())
        .await
        .unwrap();
    (dir, ctx)
}

/// Runs `sql` and collects its batches.
pub async fn query(ctx: &SessionContext, sql: &str) -> Vec<RecordBatch> {
    let stream = run_query(ctx, sql)
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"));
    stream
        .try_collect()
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
}

/// Runs `sql` and prints its result as a table.
pub async fn query_text(ctx: &SessionContext, sql: &str) -> String {
    pretty_format_batches(&query(ctx, sql).await)
        .unwrap()
        .to_string()
}

/// Runs `sql`, which must return one row with one integer column.
pub async fn count(ctx: &SessionContext, sql: &str) -> i64 {
    let batches = query(ctx, sql).await;
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    assert_eq!(rows, 1, "{sql} returned {rows} rows");
    let batch = batches.iter().find(|batch| batch.num_rows() == 1).unwrap();
    let column = cast(batch.column(0), &DataType::Int64).unwrap();
    column.as_primitive::<Int64Type>().value(0)
}

/// Runs `sql`, which must fail before returning a stream.
pub async fn query_error(ctx: &SessionContext, sql: &str) -> QueryError {
    match run_query(ctx, sql).await {
        Ok(_) => panic!("`{sql}` did not fail"),
        Err(error) => error,
    }
}
