//! Only read-only queries run: every other statement kind is refused, named, and has no effect.

mod common;

use auditlens_analyze::{open_session, run_query, QueryError, QueryOptions};
use common::{count, query_error};

async fn refusal(ctx: &datafusion::prelude::SessionContext, sql: &str) -> String {
    match run_query(ctx, sql).await {
        Ok(_) => panic!("`{sql}` was not refused"),
        Err(QueryError::Refused { statement }) => statement,
        Err(other) => panic!("`{sql}` failed otherwise: {other}"),
    }
}

#[tokio::test]
async fn every_statement_that_is_not_a_query_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = open_session(dir.path(), &QueryOptions::default())
        .await
        .unwrap();
    let target = dir.path().join("out");
    let target = target.display();
    let cases = [
        (
            format!("CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION '{target}/'"),
            "CREATE EXTERNAL TABLE",
        ),
        ("CREATE TABLE t (x INT)".into(), "CREATE TABLE"),
        (
            "CREATE TABLE t AS SELECT * FROM events".into(),
            "CREATE TABLE",
        ),
        (
            "CREATE VIEW v AS SELECT * FROM events".into(),
            "CREATE VIEW",
        ),
        ("CREATE SCHEMA s".into(), "CREATE SCHEMA"),
        (
            "CREATE FUNCTION f(x INT) RETURNS INT RETURN x".into(),
            "CREATE FUNCTION",
        ),
        ("DROP TABLE events".into(), "DROP TABLE"),
        ("DROP VIEW IF EXISTS v".into(), "DROP VIEW"),
        ("ALTER TABLE events RENAME TO e".into(), "ALTER TABLE"),
        ("INSERT INTO events SELECT * FROM events".into(), "INSERT"),
        (
            "INSERT INTO events (audit_id) VALUES ('x')".into(),
            "INSERT",
        ),
        ("UPDATE events SET verb = 'get'".into(), "UPDATE"),
        ("DELETE FROM events".into(), "DELETE"),
        ("TRUNCATE TABLE events".into(), "TRUNCATE"),
        (format!("COPY events TO '{target}/e.parquet'"), "COPY"),
        (format!("COPY (SELECT 1) TO '{target}/one.csv'"), "COPY"),
        (
            "SET datafusion.execution.target_partitions = 1".into(),
            "SET",
        ),
        ("SET TIME ZONE '+02:00'".into(), "SET"),
        (
            "RESET datafusion.execution.target_partitions".into(),
            "RESET",
        ),
        ("BEGIN".into(), "START TRANSACTION"),
        ("COMMIT".into(), "COMMIT"),
        ("PREPARE q AS SELECT 1".into(), "PREPARE"),
        ("EXECUTE q".into(), "EXECUTE"),
        ("SELECT * INTO t FROM events".into(), "SELECT INTO"),
        ("EXPLAIN CREATE TABLE t (x INT)".into(), "CREATE TABLE"),
        (
            format!("EXPLAIN COPY (SELECT 1) TO '{target}/one.csv'"),
            "COPY",
        ),
        ("SELECT 1; DROP TABLE events".into(), "DROP TABLE"),
    ];
    for (sql, name) in cases {
        assert_eq!(refusal(&ctx, &sql).await, name, "{sql}");
    }
    // Nothing happened: no table, no file, the store is untouched.
    assert!(!dir.path().join("out").exists());
    assert!(ctx.table("t").await.is_err());
    assert!(ctx.table("v").await.is_err());
    assert_eq!(count(&ctx, "SELECT count(*) FROM events").await, 0);
    let partitions = count(&ctx, "SELECT count(*) FROM information_schema.df_settings \
                                  WHERE name = 'datafusion.execution.target_partitions' AND value = '1'").await;
    assert_eq!(partitions, 0);
}

#[tokio::test]
async fn the_refusal_says_why_and_names_the_statement() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = open_session(dir.path(), &QueryOptions::default())
        .await
        .unwrap();
    let sql = "CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '/etc/passwd'";
    let error = query_error(&ctx, sql).await;
    assert_eq!(
        error.to_string(),
        "query refused: auditlens queries are read-only (`CREATE EXTERNAL TABLE` is not allowed)"
    );
}

#[tokio::test]
async fn files_cannot_be_read_as_tables() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = open_session(dir.path(), &QueryOptions::default())
        .await
        .unwrap();
    let error = query_error(&ctx, "SELECT * FROM '/etc/passwd'").await;
    assert!(matches!(error, QueryError::Invalid(_)), "{error}");
}

#[tokio::test]
async fn queries_explain_show_and_describe_run() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = open_session(dir.path(), &QueryOptions::default())
        .await
        .unwrap();
    for sql in [
        "SELECT 1",
        "WITH recent AS (SELECT * FROM events) SELECT count(*) FROM recent",
        "EXPLAIN SELECT * FROM events",
        "EXPLAIN ANALYZE SELECT count(*) FROM events",
        "SHOW TABLES",
        "SHOW COLUMNS FROM events",
        "DESCRIBE events",
        "SELECT * FROM information_schema.columns WHERE table_name = 'events'",
    ] {
        if let Err(error) = run_query(&ctx, sql).await {
            panic!("`{sql}`: {error}");
        }
    }
}
