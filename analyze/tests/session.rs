//! The session over a store on disk: tables, partition columns, map and list columns, an empty
//! store, files that appear while the session is open, the memory bound.

mod common;

use auditlens_analyze::{
    open_session, run_query, write_results, OutputFormat, QueryError, QueryOptions,
};
use common::{
    count, fixture_events, fixture_session, query_error, query_text, write_events, CLUSTERS,
};
use futures::TryStreamExt;

#[tokio::test]
async fn counts_every_event_of_every_cluster() {
    let (_dir, ctx) = fixture_session().await;
    let expected = fixture_events().len() as i64;
    assert_eq!(count(&ctx, "SELECT count(*) FROM events").await, expected);
    for cluster in CLUSTERS {
        let in_cluster = fixture_events()
            .iter()
            .filter(|(c, _)| c == cluster)
            .count() as i64;
        let sql = format!("SELECT count(*) FROM events WHERE cluster = '{cluster}'");
        assert_eq!(count(&ctx, &sql).await, in_cluster);
    }
}

#[tokio::test]
async fn partition_columns_come_from_the_directories() {
    let (_dir, ctx) = fixture_session().await;
    let text = query_text(
        &ctx,
        "SELECT cluster, date, hour, count(*) AS n FROM events \
         WHERE cluster = 'prod' GROUP BY cluster, date, hour ORDER BY date, hour",
    )
    .await;
    let expected = "\
+---------+------------+------+----+
| cluster | date       | hour | n  |
+---------+------------+------+----+
| prod    | 2026-11-30 | 09   | 40 |
| prod    | 2026-11-30 | 10   | 41 |
| prod    | 2026-11-30 | 11   | 40 |
| prod    | 2026-11-30 | 23   | 40 |
| prod    | 2026-12-01 | 00   | 40 |
+---------+------------+------+----+";
    // Hour 10 also holds the event without `stage_at`, received at 10:30.
    assert_eq!(text, expected);
}

#[tokio::test]
async fn annotations_are_a_map_and_groups_a_list() {
    let (_dir, ctx) = fixture_session().await;
    let events = fixture_events();
    let forbidden = events
        .iter()
        .filter(|(_, row)| {
            row.annotations
                .iter()
                .flatten()
                .any(|(key, value)| key == "authorization.k8s.io/decision" && value == "forbid")
        })
        .count() as i64;
    let by_map = "SELECT count(*) FROM events \
                  WHERE annotations['authorization.k8s.io/decision'] = 'forbid'";
    assert_eq!(count(&ctx, by_map).await, forbidden);
    let by_column = "SELECT count(*) FROM events WHERE authz_decision = 'forbid'";
    assert_eq!(count(&ctx, by_column).await, forbidden);

    let masters = events
        .iter()
        .filter(|(_, row)| {
            let groups = row.user.as_ref().and_then(|user| user.groups.as_ref());
            groups.is_some_and(|groups| groups.iter().any(|group| group == "system:masters"))
        })
        .count() as i64;
    let sql = "SELECT count(*) FROM events WHERE array_has(user_groups, 'system:masters')";
    assert_eq!(count(&ctx, sql).await, masters);

    let sql = "SELECT count(*) FROM events \
               WHERE cardinality(source_ips) = 2 AND source_ips[1] = source_ip \
               AND source_ips[2] = '192.168.1.1'";
    assert_eq!(count(&ctx, sql).await, events.len() as i64);

    let text = query_text(
        &ctx,
        "SELECT map_keys(annotations) AS keys, unnest(user_groups) AS grp FROM events \
         WHERE audit_id = 'prod-000000' ORDER BY grp",
    )
    .await;
    assert!(
        text.contains("[authorization.k8s.io/decision, authorization.k8s.io/reason]"),
        "{text}"
    );
    assert!(text.contains("system:masters"), "{text}");
}

#[tokio::test]
async fn an_empty_store_answers_with_no_rows() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = open_session(dir.path(), &QueryOptions::default())
        .await
        .unwrap();
    assert!(dir.path().join("events").is_dir());
    assert!(dir.path().join("quarantine").is_dir());
    assert_eq!(count(&ctx, "SELECT count(*) FROM events").await, 0);
    assert_eq!(count(&ctx, "SELECT count(*) FROM quarantine").await, 0);
    let sql = "SELECT * FROM events WHERE stage_at >= TIMESTAMP '2026-11-30T10:00:00Z'";
    let batches: Vec<_> = run_query(&ctx, sql)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 0);
}

#[tokio::test]
async fn the_tables_have_the_file_columns_then_the_partition_columns() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = open_session(dir.path(), &QueryOptions::default())
        .await
        .unwrap();
    let text = query_text(&ctx, "SHOW TABLES").await;
    assert!(
        text.contains("| events ") && text.contains("| quarantine "),
        "{text}"
    );

    let events = ctx.table("events").await.unwrap();
    let names: Vec<String> = events
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let mut expected: Vec<String> = schemas::events_schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    expected.extend(["cluster", "date", "hour"].map(String::from));
    assert_eq!(names, expected);
}

#[tokio::test]
async fn files_being_written_are_ignored() {
    let (dir, ctx) = fixture_session().await;
    let partition = dir
        .path()
        .join("events/cluster=prod/date=2026-11-30/hour=10");
    std::fs::write(partition.join("part-9.parquet.tmp"), b"half a file").unwrap();
    let expected = fixture_events().len() as i64;
    assert_eq!(count(&ctx, "SELECT count(*) FROM events").await, expected);
}

#[tokio::test]
async fn files_written_after_the_session_opened_are_seen() {
    // DataFusion caches directory listings forever by default: a long-lived session (the
    // query service) would never see new files.
    let dir = tempfile::tempdir().unwrap();
    let ctx = open_session(dir.path(), &QueryOptions::default())
        .await
        .unwrap();
    assert_eq!(count(&ctx, "SELECT count(*) FROM events").await, 0);
    write_events(dir.path(), &fixture_events(), 1);
    let expected = fixture_events().len() as i64;
    assert_eq!(count(&ctx, "SELECT count(*) FROM events").await, expected);
}

#[tokio::test]
async fn a_query_over_its_memory_limit_fails_as_resources_exhausted() {
    let dir = tempfile::tempdir().unwrap();
    write_events(dir.path(), &fixture_events(), 1);
    let options = QueryOptions {
        memory_limit_bytes: 4 * 1024,
        max_spill_bytes: 0,
        ..QueryOptions::default()
    };
    let ctx = open_session(dir.path(), &options).await.unwrap();
    let sql = "SELECT audit_id, request_uri, count(*) FROM events \
               GROUP BY audit_id, request_uri ORDER BY audit_id";
    let error = match run_query(&ctx, sql).await {
        Ok(stream) => write_results(stream, OutputFormat::Jsonl, std::io::sink())
            .await
            .unwrap_err(),
        Err(error) => error,
    };
    assert!(
        matches!(error, QueryError::ResourcesExhausted(_)),
        "{error}"
    );
}

#[tokio::test]
async fn parse_errors_keep_the_position() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = open_session(dir.path(), &QueryOptions::default())
        .await
        .unwrap();
    let error = query_error(&ctx, "SELECT count(*) FROM events WHERE AND verb = 'get'").await;
    assert!(matches!(error, QueryError::Invalid(_)), "{error}");
    assert!(error.to_string().contains("Line: 1, Column: "), "{error}");

    let error = query_error(&ctx, "SELECT nope FROM events").await;
    assert!(matches!(error, QueryError::Invalid(_)), "{error}");
    assert!(error.to_string().contains("nope"), "{error}");
}

#[tokio::test]
async fn every_column_can_be_selected_after_another() {
    // Regression: with DataFusion's generic SQL dialect, `SELECT verb, cluster` did not parse
    // (`CLUSTER` ends a projection list that may have a trailing comma).
    let dir = tempfile::tempdir().unwrap();
    let ctx = open_session(dir.path(), &QueryOptions::default())
        .await
        .unwrap();
    let events = ctx.table("events").await.unwrap();
    let mut failures = Vec::new();
    for field in events.schema().fields() {
        let sql = format!("SELECT 1 AS one, {} FROM events", field.name());
        if let Err(error) = run_query(&ctx, &sql).await {
            failures.push(format!("{sql}: {error}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
