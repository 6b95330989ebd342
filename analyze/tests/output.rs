//! Results written as a table, JSON Lines and CSV, from a real query over the store.

mod common;

use auditlens_analyze::output::table::TableWriter;
use auditlens_analyze::{run_query, write_results, OutputFormat, ResultWriter, WriteSummary};
use common::fixture_session;
use datafusion::prelude::SessionContext;
use futures::StreamExt;

const THREE_EVENTS: &str = "SELECT audit_id, cluster, verb, stage_at, response_code, \
    annotations, user_groups, user_extra FROM events \
    WHERE cluster = 'prod' AND stage_at IS NOT NULL ORDER BY audit_id LIMIT 3";

async fn written(ctx: &SessionContext, sql: &str, format: OutputFormat) -> (String, WriteSummary) {
    let stream = run_query(ctx, sql).await.unwrap();
    let mut out = Vec::new();
    let summary = write_results(stream, format, &mut out).await.unwrap();
    (String::from_utf8(out).unwrap(), summary)
}

#[tokio::test]
async fn jsonl_is_one_object_per_row_with_every_column() {
    let (_dir, ctx) = fixture_session().await;
    let (text, summary) = written(&ctx, THREE_EVENTS, OutputFormat::Jsonl).await;
    assert_eq!(
        summary,
        WriteSummary {
            rows: 3,
            truncated: false
        }
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    for line in &lines {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        let object = value.as_object().unwrap();
        let keys: Vec<&str> = object.keys().map(String::as_str).collect();
        for key in [
            "audit_id",
            "cluster",
            "verb",
            "stage_at",
            "response_code",
            "annotations",
            "user_groups",
            "user_extra",
        ] {
            assert!(keys.contains(&key), "{key} missing in {line}");
        }
    }
    let first: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(first["audit_id"], "prod-000000");
    assert_eq!(first["cluster"], "prod");
    // RFC 3339, UTC.
    assert_eq!(first["stage_at"], "2026-11-30T09:00:00Z");
    assert_eq!(first["response_code"], serde_json::Value::Null);
    assert_eq!(
        first["annotations"]["authorization.k8s.io/decision"],
        "forbid"
    );
    assert_eq!(
        first["user_groups"],
        serde_json::json!(["system:authenticated", "system:masters"])
    );
    let second: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(second["stage_at"], "2026-11-30T09:01:30Z");
}

#[tokio::test]
async fn csv_has_a_header_and_nested_values_as_json() {
    let (_dir, ctx) = fixture_session().await;
    let (text, summary) = written(&ctx, THREE_EVENTS, OutputFormat::Csv).await;
    assert_eq!(summary.rows, 3);
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("audit_id,cluster,verb,stage_at,response_code,annotations,user_groups,user_extra")
    );
    let first = lines.next().unwrap();
    assert!(
        first.starts_with("prod-000000,prod,get,2026-11-30T09:00:00Z,,"),
        "{first}"
    );
    assert!(
        first.contains(r#""[""system:authenticated"",""system:masters""]""#),
        "{first}"
    );
    assert!(
        first.contains(r#""{""authorization.k8s.io/decision"":""forbid"""#),
        "{first}"
    );
    assert_eq!(lines.count(), 2);
}

#[tokio::test]
async fn table_is_aligned_text() {
    let (_dir, ctx) = fixture_session().await;
    let (text, summary) = written(&ctx, THREE_EVENTS, OutputFormat::Table).await;
    assert_eq!(
        summary,
        WriteSummary {
            rows: 3,
            truncated: false
        }
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3 + 4, "{text}");
    assert!(
        lines[1].starts_with("| audit_id    | cluster | verb   |"),
        "{text}"
    );
    assert!(
        lines[3].starts_with("| prod-000000 | prod    | get    | 2026-11-30T09:00:00Z"),
        "{text}"
    );
}

#[tokio::test]
async fn table_stops_at_its_row_cap_and_says_so() {
    let (_dir, ctx) = fixture_session().await;
    let mut stream = run_query(&ctx, "SELECT audit_id FROM events ORDER BY audit_id")
        .await
        .unwrap();
    let mut writer = ResultWriter::Table(TableWriter::new(stream.schema(), Vec::new(), 5));
    while let Some(batch) = stream.next().await {
        if writer.write(&batch.unwrap()).unwrap() == auditlens_analyze::output::Flow::Stop {
            break;
        }
    }
    let (out, summary) = writer.finish().unwrap();
    assert_eq!(
        summary,
        WriteSummary {
            rows: 5,
            truncated: true
        }
    );
    let text = String::from_utf8(out).unwrap();
    assert_eq!(
        text.lines()
            .filter(|line| line.starts_with("| prod-"))
            .count(),
        5,
        "{text}"
    );
    assert!(text.ends_with(
        "(only the first 5 rows are shown: add a LIMIT, or use the jsonl or csv format for every row)\n"
    ), "{text}");
}

#[tokio::test]
async fn empty_results_in_every_format() {
    let (_dir, ctx) = fixture_session().await;
    let sql = "SELECT audit_id, user_groups FROM events WHERE verb = 'nothing'";
    let (csv, _) = written(&ctx, sql, OutputFormat::Csv).await;
    assert_eq!(csv, "audit_id,user_groups\n");
    let (jsonl, summary) = written(&ctx, sql, OutputFormat::Jsonl).await;
    assert_eq!((jsonl.as_str(), summary.rows), ("", 0));
    let (table, _) = written(&ctx, sql, OutputFormat::Table).await;
    assert!(table.contains("| audit_id | user_groups |"), "{table}");
}
