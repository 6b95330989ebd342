//! [`run_query`]: one read-only SQL statement into a stream of result batches.

use datafusion::dataframe::DataFrame;
use datafusion::error::DataFusionError;
use datafusion::execution::session_state::SessionState;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::{DFParserBuilder, Statement};
use datafusion::sql::sqlparser::dialect::dialect_from_str;

use crate::error::QueryError;
use crate::readonly::{refused_plan, refused_statement};

/// Runs one read-only SQL statement and returns its results as a stream, computed as it is
/// read (dropping the stream cancels the query).
///
/// Refuses anything but queries ([`QueryError::Refused`]); parse and planning errors are
/// [`QueryError::Invalid`] with DataFusion's message, which names the position or the name.
/// Errors while the stream is read come as DataFusion errors; [`crate::write_results`] turns
/// them into [`QueryError::ResourcesExhausted`] or [`QueryError::Execution`].
pub async fn run_query(
    ctx: &SessionContext,
    sql: &str,
) -> Result<SendableRecordBatchStream, QueryError> {
    let frame = plan_query(ctx, sql).await?;
    frame.execute_stream().await.map_err(QueryError::planning)
}

/// Parses, checks and plans one read-only SQL statement, without running it: for callers that
/// need the `DataFrame` (its schema, or a physical plan to explain). Do not `collect()` it:
/// results can be larger than memory; use [`run_query`] to stream them.
pub async fn plan_query(ctx: &SessionContext, sql: &str) -> Result<DataFrame, QueryError> {
    let state = ctx.state();
    let statement = parse_one(&state, sql)?;
    let plan = state
        .statement_to_plan(statement)
        .await
        .map_err(QueryError::planning)?;
    if let Some(statement) = refused_plan(&plan) {
        return Err(QueryError::Refused { statement });
    }
    ctx.execute_logical_plan(plan)
        .await
        .map_err(QueryError::planning)
}

/// Parses `sql`, which must hold exactly one read-only statement. Every statement is checked
/// before the count, so `SELECT 1; DROP TABLE events` is refused rather than called invalid.
fn parse_one(state: &SessionState, sql: &str) -> Result<Statement, QueryError> {
    let parser_options = &state.config().options().sql_parser;
    let Some(dialect) = dialect_from_str(parser_options.dialect) else {
        return Err(QueryError::Invalid(DataFusionError::Configuration(
            format!("unsupported SQL dialect `{}`", parser_options.dialect),
        )));
    };
    let mut statements = DFParserBuilder::new(sql)
        .with_dialect(dialect.as_ref())
        .with_recursion_limit(parser_options.recursion_limit.get())
        .build()
        .and_then(|mut parser| parser.parse_statements())
        .map_err(QueryError::Invalid)?;
    for statement in &statements {
        if let Some(statement) = refused_statement(statement) {
            return Err(QueryError::Refused { statement });
        }
    }
    if statements.len() > 1 {
        return Err(QueryError::Invalid(DataFusionError::Plan(format!(
            "expected one statement, found {}",
            statements.len()
        ))));
    }
    statements
        .pop_front()
        .ok_or_else(|| QueryError::Invalid(DataFusionError::Plan("no SQL statement given".into())))
}
