//! Time-range queries read only the files of the hours they cover and only the row groups whose
//! statistics can match, and return exactly what a scan of every file returns.

mod common;

use std::path::Path;
use std::sync::Arc;

use auditlens_analyze::{open_session, QueryOptions};
use common::{count, fixture_events, fixture_session, micros, query, write_parquet};
use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::prelude::SessionContext;
use schemas::QuarantineRow;

/// The text of the rows of an `EXPLAIN` whose `plan_type` is `plan_type`.
async fn explained(ctx: &SessionContext, sql: &str, plan_type: &str) -> String {
    let batches = query(ctx, sql).await;
    let mut text = String::new();
    for batch in &batches {
        let types = cast(batch.column(0), &DataType::Utf8).unwrap();
        let plans = cast(batch.column(1), &DataType::Utf8).unwrap();
        for row in 0..batch.num_rows() {
            if types.as_string::<i32>().value(row) == plan_type {
                text.push_str(plans.as_string::<i32>().value(row));
            }
        }
    }
    assert!(!text.is_empty(), "no {plan_type} in {batches:?}");
    text
}

async fn physical_plan(ctx: &SessionContext, sql: &str) -> String {
    explained(ctx, &format!("EXPLAIN {sql}"), "physical_plan").await
}

const HOUR_10: &str = "SELECT count(*) FROM events \
    WHERE stage_at >= TIMESTAMP '2026-11-30T10:00:00Z' AND stage_at < '2026-11-30T11:00:00Z'";

#[tokio::test]
async fn an_hour_range_lists_only_that_hours_files() {
    let (_dir, ctx) = fixture_session().await;
    let plan = physical_plan(&ctx, HOUR_10).await;
    // Two clusters, two files each, all under hour=10.
    assert_eq!(plan.matches(".parquet").count(), 4, "{plan}");
    assert_eq!(plan.matches("hour=10/").count(), 4, "{plan}");
    for other in ["hour=09/", "hour=11/", "hour=23/", "hour=00/"] {
        assert!(!plan.contains(other), "{other} listed:\n{plan}");
    }
    assert_eq!(
        count(&ctx, HOUR_10).await,
        2 * common::EVENTS_PER_HOUR as i64
    );

    // Without a time filter every hour is listed (the plan shows the first files of each group).
    let plan = physical_plan(&ctx, "SELECT count(*) FROM events WHERE verb = 'get'").await;
    assert!(
        plan.contains("hour=09/") && plan.contains("hour=11/"),
        "{plan}"
    );
}

#[tokio::test]
async fn a_range_across_midnight_lists_both_dates() {
    let (_dir, ctx) = fixture_session().await;
    let sql = "SELECT count(*) FROM events WHERE stage_at \
               BETWEEN TIMESTAMP '2026-11-30T23:30:00Z' AND TIMESTAMP '2026-12-01T00:10:00Z'";
    let plan = physical_plan(&ctx, sql).await;
    assert_eq!(plan.matches(".parquet").count(), 8, "{plan}");
    assert_eq!(
        plan.matches("date=2026-11-30/hour=23/").count(),
        4,
        "{plan}"
    );
    assert_eq!(
        plan.matches("date=2026-12-01/hour=00/").count(),
        4,
        "{plan}"
    );
}

#[tokio::test]
async fn a_range_with_no_files_reads_nothing() {
    let (_dir, ctx) = fixture_session().await;
    let sql = "SELECT count(*) FROM events WHERE stage_at >= TIMESTAMP '2027-01-01T00:00:00Z'";
    let plan = physical_plan(&ctx, sql).await;
    assert!(!plan.contains(".parquet"), "{plan}");
    assert_eq!(count(&ctx, sql).await, 0);
}

#[tokio::test]
async fn row_groups_outside_the_range_are_pruned_by_statistics() {
    let (_dir, ctx) = fixture_session().await;
    // Hour 10 of each cluster holds 41 rows (40, and one without `stage_at`, sorted first) in
    // two files: 10:00–10:30 in row groups of 10, 10, 1 rows, then [null, 10:31:30–10:43:30]
    // and [10:45–10:59:59]. Of these 5 row groups, only the last two of the first file and
    // the first of the second can hold 10:30–10:45.
    let sql = "EXPLAIN ANALYZE SELECT count(*) FROM events \
               WHERE stage_at >= TIMESTAMP '2026-11-30T10:30:00Z' \
               AND stage_at < TIMESTAMP '2026-11-30T10:45:00Z'";
    let plan = explained(&ctx, sql, "Plan with Metrics").await;
    let row_groups = metric(&plan, "row_groups_pruned_statistics");
    assert!(
        row_groups.starts_with("10 total → 4 matched"),
        "{row_groups}"
    );
    let rows = "SELECT count(*) FROM events \
                WHERE stage_at >= TIMESTAMP '2026-11-30T10:30:00Z' \
               AND stage_at < TIMESTAMP '2026-11-30T10:45:00Z'";
    assert_eq!(count(&ctx, rows).await, 2 * 10);
}

/// The value of `name=…` in an `EXPLAIN ANALYZE` line, up to the next metric.
fn metric<'a>(plan: &'a str, name: &str) -> &'a str {
    let start = plan
        .find(&format!("{name}="))
        .unwrap_or_else(|| panic!("no {name} in\n{plan}"))
        + name.len()
        + 1;
    let rest = &plan[start..];
    let end = rest.find([',', ']']).unwrap_or(rest.len());
    &rest[..end]
}

/// `events` without the time-range rewrite: DataFusion's listing table alone.
fn register_unpruned(ctx: &SessionContext, data_dir: &Path) {
    let dir = data_dir.join("events").canonicalize().unwrap();
    let url = ListingTableUrl::parse(format!("{}/", dir.display())).unwrap();
    let partition_columns = ["cluster", "date", "hour"]
        .map(|name| (name.to_string(), DataType::Utf8))
        .to_vec();
    let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
        .with_file_extension(".parquet")
        .with_table_partition_cols(partition_columns);
    let config = ListingTableConfig::new(url)
        .with_listing_options(options)
        .with_schema(schemas::events_schema());
    let table = ListingTable::try_new(config).unwrap();
    ctx.register_table("events_unpruned", Arc::new(table))
        .unwrap();
}

fn audit_ids(batches: &[RecordBatch]) -> Vec<String> {
    let mut ids = Vec::new();
    for batch in batches {
        let column = cast(batch.column(0), &DataType::Utf8).unwrap();
        for id in column.as_string::<i32>().iter() {
            ids.push(id.unwrap().to_string());
        }
    }
    ids
}

#[tokio::test]
async fn pruned_results_equal_unpruned_results_at_the_edges() {
    let (dir, ctx) = fixture_session().await;
    register_unpruned(&ctx, dir.path());
    let t = micros;
    type Predicate = Box<dyn Fn(i64) -> bool>;
    let cases: Vec<(&str, Predicate)> = vec![
        (
            "stage_at >= TIMESTAMP '2026-11-30T10:00:00Z' AND stage_at < TIMESTAMP '2026-11-30T11:00:00Z'",
            Box::new(move |s| s >= t("2026-11-30T10:00:00Z") && s < t("2026-11-30T11:00:00Z")),
        ),
        (
            "stage_at > '2026-11-30T10:00:00Z' AND stage_at <= '2026-11-30T11:00:00Z'",
            Box::new(move |s| s > t("2026-11-30T10:00:00Z") && s <= t("2026-11-30T11:00:00Z")),
        ),
        (
            "stage_at > '2026-11-30T10:59:59.999999Z'",
            Box::new(move |s| s > t("2026-11-30T10:59:59.999999Z")),
        ),
        (
            "stage_at >= '2026-11-30T10:59:59.999999Z'",
            Box::new(move |s| s >= t("2026-11-30T10:59:59.999999Z")),
        ),
        (
            "stage_at < '2026-11-30T11:00:00Z'",
            Box::new(move |s| s < t("2026-11-30T11:00:00Z")),
        ),
        (
            "stage_at <= '2026-11-30T11:00:00Z'",
            Box::new(move |s| s <= t("2026-11-30T11:00:00Z")),
        ),
        (
            "stage_at = '2026-11-30T11:00:00Z'",
            Box::new(move |s| s == t("2026-11-30T11:00:00Z")),
        ),
        (
            "stage_at BETWEEN '2026-11-30T23:59:59.999999Z' AND '2026-12-01T00:00:00Z'",
            Box::new(move |s| {
                s >= t("2026-11-30T23:59:59.999999Z") && s <= t("2026-12-01T00:00:00Z")
            }),
        ),
        (
            "stage_at BETWEEN TIMESTAMP '2026-11-30T23:30:00Z' AND TIMESTAMP '2026-12-01T00:30:00Z'",
            Box::new(move |s| {
                s >= t("2026-11-30T23:30:00Z") && s <= t("2026-12-01T00:30:00Z")
            }),
        ),
        (
            "stage_at >= TIMESTAMP '2026-11-30T12:00:00+02:00' AND stage_at < TIMESTAMP '2026-11-30T13:00:00+02:00'",
            Box::new(move |s| s >= t("2026-11-30T10:00:00Z") && s < t("2026-11-30T11:00:00Z")),
        ),
        (
            "TIMESTAMP '2026-11-30T23:00:00Z' <= stage_at",
            Box::new(move |s| s >= t("2026-11-30T23:00:00Z")),
        ),
        (
            "stage_at IN (TIMESTAMP '2026-11-30T09:00:00Z', TIMESTAMP '2026-12-01T00:59:59.999999Z')",
            Box::new(move |s| s == t("2026-11-30T09:00:00Z") || s == t("2026-12-01T00:59:59.999999Z")),
        ),
        (
            "stage_at < '2026-11-30T09:30:00Z' OR stage_at >= '2026-12-01T00:30:00Z'",
            Box::new(move |s| s < t("2026-11-30T09:30:00Z") || s >= t("2026-12-01T00:30:00Z")),
        ),
        (
            "stage_at >= '2027-01-01T00:00:00Z'",
            Box::new(move |s| s >= t("2027-01-01T00:00:00Z")),
        ),
        (
            "stage_at < '2020-01-01T00:00:00Z'",
            Box::new(move |s| s < t("2020-01-01T00:00:00Z")),
        ),
        (
            "stage_at > '2026-11-30T11:00:00Z' AND stage_at < '2026-11-30T10:00:00Z'",
            Box::new(|_| false),
        ),
        (
            "CAST(stage_at AS DATE) = DATE '2026-12-01'",
            Box::new(move |s| s >= t("2026-12-01T00:00:00Z")),
        ),
    ];
    let events = fixture_events();
    for (predicate, matches) in cases {
        let pruned = audit_ids_where(&ctx, "events", predicate).await;
        let unpruned = audit_ids_where(&ctx, "events_unpruned", predicate).await;
        assert_eq!(pruned, unpruned, "{predicate}");
        let mut expected: Vec<String> = events
            .iter()
            .filter(|(_, row)| row.stage_at.is_some_and(&matches))
            .filter_map(|(_, row)| row.audit_id.as_deref().map(String::from))
            .collect();
        expected.sort();
        assert_eq!(pruned, expected, "{predicate}");
    }

    // DataFusion compares these in its own way (a nanosecond literal is cut to the column's
    // microseconds); pruning must not change the answer.
    for predicate in [
        "stage_at < TIMESTAMP '2026-11-30T11:00:00.000000001Z'",
        "stage_at > TIMESTAMP '2026-11-30T10:59:59.999999999Z'",
        "stage_at <= TIMESTAMP '2026-11-30T10:59:59.9999999Z'",
        "stage_at > now() - INTERVAL '1 hour'",
        "date_trunc('hour', stage_at) = TIMESTAMP '2026-11-30T10:00:00Z'",
        "stage_at IS NULL",
    ] {
        let pruned = audit_ids_where(&ctx, "events", predicate).await;
        let unpruned = audit_ids_where(&ctx, "events_unpruned", predicate).await;
        assert_eq!(pruned, unpruned, "{predicate}");
    }
}

async fn audit_ids_where(ctx: &SessionContext, table: &str, predicate: &str) -> Vec<String> {
    let sql = format!("SELECT audit_id FROM {table} WHERE {predicate} ORDER BY audit_id");
    audit_ids(&query(ctx, &sql).await)
}

#[tokio::test]
async fn quarantine_is_pruned_by_received_at() {
    let dir = tempfile::tempdir().unwrap();
    for (hour, at) in [
        ("09", "2026-11-30T09:15:00Z"),
        ("10", "2026-11-30T10:15:00Z"),
    ] {
        let partition = dir.path().join(format!(
            "quarantine/cluster=prod/date=2026-11-30/hour={hour}"
        ));
        std::fs::create_dir_all(&partition).unwrap();
        let mut builder = schemas::QuarantineBatchBuilder::default();
        builder.push(&QuarantineRow {
            source: "webhook".into(),
            received_at: micros(at),
            location: "item 0".into(),
            reason: "missing field `auditID`".into(),
            raw: "{}".into(),
        });
        write_parquet(&partition.join("q.parquet"), &builder.finish().unwrap());
    }
    let ctx = open_session(dir.path(), &QueryOptions::default())
        .await
        .unwrap();
    let sql =
        "SELECT count(*) FROM quarantine WHERE received_at >= TIMESTAMP '2026-11-30T10:00:00Z'";
    let plan = physical_plan(&ctx, sql).await;
    assert!(
        plan.contains("hour=10/") && !plan.contains("hour=09/"),
        "{plan}"
    );
    assert_eq!(count(&ctx, sql).await, 1);
    assert_eq!(count(&ctx, "SELECT count(*) FROM quarantine").await, 2);
}
