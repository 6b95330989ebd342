//! [`QueryError`]: every way opening the store or running a query can fail, one variant per
//! thing the caller does about it.

use std::io;
use std::path::PathBuf;

use datafusion::error::DataFusionError;

/// Why a query did not run or did not finish. Each message includes its cause, so the
/// variants expose no `source()`: an error chain prints it once.
///
/// For a query service: `Refused` and `Invalid` are the client's fault (HTTP 400),
/// `ResourcesExhausted` means "narrow the query or retry later" (HTTP 503), the others are
/// server-side failures (HTTP 500).
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The statement is not a read-only query (DDL, DML, `COPY`, `SET`, …).
    #[error("query refused: auditlens queries are read-only (`{statement}` is not allowed)")]
    Refused {
        /// The statement kind, as SQL keywords: `CREATE EXTERNAL TABLE`, `INSERT`, `SET`.
        statement: String,
    },
    /// The SQL does not parse or does not plan (unknown column, type mismatch, …). DataFusion's
    /// message is kept: it names the position or the offending name.
    #[error("invalid query: {0}")]
    Invalid(DataFusionError),
    /// The query needed more memory (or spill space) than the session allows.
    #[error("query exceeded its resource limits (narrow the time range or add filters): {0}")]
    ResourcesExhausted(DataFusionError),
    /// Reading the store or computing the result failed.
    #[error("query failed: {0}")]
    Execution(DataFusionError),
    /// The store directory could not be created or opened.
    #[error("cannot open the store at `{path}`: {error}")]
    Store { path: PathBuf, error: io::Error },
    /// Writing the results failed (e.g. the output pipe was closed).
    #[error("cannot write the query results: {0}")]
    Output(io::Error),
}

impl QueryError {
    /// Classifies an error DataFusion raised while planning a query.
    pub(crate) fn planning(error: DataFusionError) -> Self {
        match error.find_root() {
            DataFusionError::ResourcesExhausted(_) => QueryError::ResourcesExhausted(error),
            DataFusionError::IoError(_)
            | DataFusionError::ObjectStore(_)
            | DataFusionError::ParquetError(_)
            | DataFusionError::ArrowError(..)
            | DataFusionError::Internal(_)
            | DataFusionError::ExecutionJoin(_)
            | DataFusionError::External(_) => QueryError::Execution(error),
            _ => QueryError::Invalid(error),
        }
    }

    /// Classifies an error DataFusion raised while running a query.
    pub(crate) fn execution(error: DataFusionError) -> Self {
        match error.find_root() {
            DataFusionError::ResourcesExhausted(_) => QueryError::ResourcesExhausted(error),
            _ => QueryError::Execution(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_names_the_statement() {
        let error = QueryError::Refused {
            statement: "CREATE EXTERNAL TABLE".into(),
        };
        assert_eq!(
            error.to_string(),
            "query refused: auditlens queries are read-only (`CREATE EXTERNAL TABLE` is not allowed)"
        );
    }

    #[test]
    fn memory_errors_are_resources_exhausted_even_when_wrapped() {
        let root = DataFusionError::ResourcesExhausted("pool is full".into());
        let wrapped = root.context("while sorting");
        assert!(matches!(
            QueryError::execution(wrapped),
            QueryError::ResourcesExhausted(_)
        ));
    }

    #[test]
    fn plan_errors_are_invalid() {
        let error = DataFusionError::Plan("no column `nope`".into());
        assert!(matches!(
            QueryError::planning(error),
            QueryError::Invalid(_)
        ));
    }
}
