//! Which SQL statements may run: read-only queries (`SELECT`, `WITH`, `EXPLAIN` of a query,
//! `SHOW`, `DESCRIBE`). Everything else is refused, named by its SQL keywords.
//!
//! Two checks, so that a statement slipping past the first still cannot run: the parsed
//! statement is checked by kind ([`refused_statement`]), then the logical plan by DataFusion's
//! [`SQLOptions`] with DDL, DML and statements disallowed ([`refused_plan`]).

use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SQLOptions;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{Query, SetExpr, Statement};

/// DataFusion's guard against plans that change anything: no DDL (`CREATE`, `DROP`), no DML
/// (`INSERT`, `COPY`), no statements (`SET`, transactions, `PREPARE`).
pub fn read_only_options() -> SQLOptions {
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
}

/// The kind of `statement` (`CREATE EXTERNAL TABLE`, `INSERT`, `SET`) if it is not a read-only
/// query, `None` if it may run.
pub fn refused_statement(statement: &DfStatement) -> Option<String> {
    match statement {
        DfStatement::Statement(statement) => refused_sql_statement(statement),
        DfStatement::Explain(explain) => refused_statement(&explain.statement),
        DfStatement::CreateExternalTable(_) => Some("CREATE EXTERNAL TABLE".into()),
        DfStatement::CopyTo(_) => Some("COPY".into()),
        DfStatement::Reset(_) => Some("RESET".into()),
    }
}

/// [`refused_statement`] for a statement as sqlparser parsed it.
pub fn refused_sql_statement(statement: &Statement) -> Option<String> {
    let name = match statement {
        Statement::Query(query) => return refused_query(query),
        Statement::Explain { statement, .. } => return refused_sql_statement(statement),
        Statement::ShowTables { .. }
        | Statement::ShowColumns { .. }
        | Statement::ShowVariable { .. }
        | Statement::ShowFunctions { .. }
        | Statement::ShowCreate { .. }
        | Statement::ExplainTable { .. } => return None,
        // Kinds whose first keyword alone would not say what they do.
        Statement::CreateTable(_) => "CREATE TABLE".to_string(),
        Statement::CreateView(_) => "CREATE VIEW".to_string(),
        Statement::CreateIndex(_) => "CREATE INDEX".to_string(),
        Statement::CreateSchema { .. } => "CREATE SCHEMA".to_string(),
        Statement::CreateDatabase { .. } => "CREATE DATABASE".to_string(),
        Statement::CreateFunction(_) => "CREATE FUNCTION".to_string(),
        Statement::AlterTable(_) => "ALTER TABLE".to_string(),
        Statement::Drop { object_type, .. } => format!("DROP {object_type}"),
        Statement::DropFunction(_) => "DROP FUNCTION".to_string(),
        Statement::StartTransaction { .. } => "START TRANSACTION".to_string(),
        // `INSERT`, `UPDATE`, `DELETE`, `MERGE`, `TRUNCATE`, `SET`, `COPY`, `GRANT`, …
        other => first_keyword(&other.to_string()),
    };
    Some(name)
}

/// A query is read-only unless it writes its result somewhere (`SELECT … INTO`) or holds a
/// data-modifying part (`WITH t AS (INSERT …)`).
pub fn refused_query(query: &Query) -> Option<String> {
    if let Some(with) = &query.with {
        for cte in &with.cte_tables {
            if let Some(name) = refused_query(&cte.query) {
                return Some(name);
            }
        }
    }
    refused_set_expr(&query.body)
}

fn refused_set_expr(body: &SetExpr) -> Option<String> {
    match body {
        SetExpr::Select(select) if select.into.is_some() => Some("SELECT INTO".into()),
        SetExpr::Query(query) => refused_query(query),
        SetExpr::SetOperation { left, right, .. } => {
            refused_set_expr(left).or_else(|| refused_set_expr(right))
        }
        SetExpr::Insert(statement)
        | SetExpr::Update(statement)
        | SetExpr::Delete(statement)
        | SetExpr::Merge(statement) => refused_sql_statement(statement),
        SetExpr::Select(_) | SetExpr::Values(_) | SetExpr::Table(_) => None,
    }
}

/// The first word of a statement as sqlparser prints it, which is always its keyword.
fn first_keyword(sql: &str) -> String {
    sql.split_whitespace()
        .next()
        .unwrap_or("statement")
        .to_ascii_uppercase()
}

/// The kind of the first node of `plan` that [`read_only_options`] refuses, if any.
pub fn refused_plan(plan: &LogicalPlan) -> Option<String> {
    if read_only_options().verify_plan(plan).is_ok() {
        return None;
    }
    let mut refused = None;
    // The closure never fails; a failed walk still leaves `refused` as found so far.
    let _ = plan.apply_with_subqueries(|node| {
        let name = match node {
            LogicalPlan::Ddl(ddl) => words_of(ddl.name()),
            LogicalPlan::Dml(dml) => dml.op.to_string().to_ascii_uppercase(),
            LogicalPlan::Copy(_) => "COPY".to_string(),
            LogicalPlan::Statement(statement) => words_of(statement.name()),
            _ => return Ok(TreeNodeRecursion::Continue),
        };
        refused = Some(name);
        Ok(TreeNodeRecursion::Stop)
    });
    // `verify_plan` refused something, so a name is reported even if the walk found none.
    Some(refused.unwrap_or_else(|| "statement".to_string()))
}

/// `CreateMemoryTable` → `CREATE MEMORY TABLE`.
fn words_of(camel_case: &str) -> String {
    let mut words = String::new();
    for (i, c) in camel_case.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            words.push(' ');
        }
        words.push(c.to_ascii_uppercase());
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    use datafusion::sql::parser::DFParser;

    fn refused(sql: &str) -> Option<String> {
        let mut statements = DFParser::parse_sql(sql).unwrap();
        assert_eq!(statements.len(), 1, "{sql}");
        refused_statement(&statements.pop_front().unwrap())
    }

    #[test]
    fn queries_are_allowed() {
        for sql in [
            "SELECT 1",
            "WITH t AS (SELECT 1 AS x) SELECT x FROM t UNION ALL SELECT 2",
            "EXPLAIN SELECT * FROM events",
            "EXPLAIN ANALYZE SELECT count(*) FROM events",
            "SHOW TABLES",
            "SHOW COLUMNS FROM events",
            "DESCRIBE events",
            "VALUES (1), (2)",
        ] {
            assert_eq!(refused(sql), None, "{sql}");
        }
    }

    #[test]
    fn everything_else_is_named() {
        for (sql, name) in [
            (
                "CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION '/etc/'",
                "CREATE EXTERNAL TABLE",
            ),
            ("CREATE TABLE t AS SELECT 1", "CREATE TABLE"),
            ("CREATE VIEW v AS SELECT 1", "CREATE VIEW"),
            ("CREATE SCHEMA s", "CREATE SCHEMA"),
            ("DROP TABLE events", "DROP TABLE"),
            ("DROP VIEW v", "DROP VIEW"),
            ("INSERT INTO events SELECT * FROM events", "INSERT"),
            ("UPDATE events SET verb = 'x'", "UPDATE"),
            ("DELETE FROM events", "DELETE"),
            ("TRUNCATE TABLE events", "TRUNCATE"),
            ("COPY events TO '/tmp/x.parquet'", "COPY"),
            ("COPY (SELECT 1) TO '/tmp/x.csv'", "COPY"),
            ("SET datafusion.execution.target_partitions = 1", "SET"),
            ("RESET datafusion.execution.target_partitions", "RESET"),
            ("BEGIN", "START TRANSACTION"),
            ("PREPARE q AS SELECT 1", "PREPARE"),
            ("SELECT 1 INTO t", "SELECT INTO"),
            ("EXPLAIN CREATE TABLE t (x INT)", "CREATE TABLE"),
            ("EXPLAIN COPY (SELECT 1) TO '/tmp/x.csv'", "COPY"),
        ] {
            assert_eq!(refused(sql).as_deref(), Some(name), "{sql}");
        }
    }

    #[tokio::test]
    async fn plans_that_change_anything_are_named() {
        let ctx = datafusion::prelude::SessionContext::new();
        for (sql, name) in [
            ("CREATE TABLE t AS SELECT 1", "CREATE MEMORY TABLE"),
            ("SELECT 1 INTO t", "CREATE MEMORY TABLE"),
            ("COPY (SELECT 1) TO '/tmp/x.csv'", "COPY"),
            (
                "SET datafusion.execution.target_partitions = 1",
                "SET VARIABLE",
            ),
        ] {
            let plan = ctx.state().create_logical_plan(sql).await.unwrap();
            assert_eq!(refused_plan(&plan).as_deref(), Some(name), "{sql}");
        }
        let plan = ctx.state().create_logical_plan("SELECT 1").await.unwrap();
        assert_eq!(refused_plan(&plan), None);
    }

    #[test]
    fn camel_case_becomes_keywords() {
        assert_eq!(words_of("CreateMemoryTable"), "CREATE MEMORY TABLE");
        assert_eq!(words_of("SetVariable"), "SET VARIABLE");
    }
}
