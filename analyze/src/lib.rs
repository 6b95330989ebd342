//! SQL over the stored audit events: one DataFusion session over the Parquet store, read-only
//! query execution, and the output formats results are written in.
//!
//! Modules:
//! - [`options`]: [`QueryOptions`], the bounds of a query session (memory, parallelism, spill);
//! - [`session`]: [`open_session`], the session the CLI and the query services share, with the
//!   `events` and `quarantine` tables registered over the store;
//! - [`table`]: the table provider that turns time-range filters into `date=`/`hour=` partition
//!   filters, so a time-range query reads only the files of the hours it covers;
//! - [`readonly`]: which SQL statements may run (queries only) and how a refusal names them;
//! - [`saved`]: the saved investigations of `queries/forensics/`, with named parameters;
//! - [`query`]: [`run_query`], SQL text to a stream of result batches;
//! - [`output`]: [`OutputFormat`] and [`write_results`], result batches into a table, JSON
//!   Lines or CSV;
//! - [`functions`]: SQL functions for audit work (JSONPath, URI parameters, IP ranges);
//! - [`coverage`]: audit policies (parse, validate, evaluate a request, the built-in presets)
//!   and the CIS 3.2.1/3.2.2 coverage report;
//! - [`observed`]: observed coverage, what the stored events show about the audit policy in
//!   force (the SQL is in `queries/coverage/`);
//! - [`alerts`]: the alert log (outbox), its sinks and the `alerts` table;
//! - [`detect`]: the detection rules and the engine that runs them;
//! - [`error`]: [`QueryError`], every way a query can fail.

pub mod alerts;
pub mod coverage;
pub mod detect;
pub mod error;
pub mod functions;
mod json_get;
mod json_scan;
pub mod observed;
pub mod options;
pub mod output;
pub mod query;
pub mod readonly;
pub mod saved;
pub mod session;
pub mod table;

pub use error::QueryError;
pub use options::QueryOptions;
pub use output::{write_results, OutputFormat, ResultWriter, WriteSummary};
pub use query::{plan_query, run_query};
pub use session::{open_session, open_session_with_tail, EVENTS_TABLE, QUARANTINE_TABLE};
