//! `auditlens query "SQL"`: read-only SQL over the stored `events` and `quarantine` tables.

use std::io::Write;
use std::process::ExitCode;

use analyze::{open_session, run_query, write_results, OutputFormat, QueryOptions};
use anyhow::Context;

use super::DataDirArg;

/// How results are printed.
#[derive(Debug, Clone, Copy, Default, clap::ValueEnum)]
pub enum Format {
    /// An aligned table, for people.
    #[default]
    Table,
    /// One JSON object per row.
    Jsonl,
    /// CSV with a header line.
    Csv,
}

impl From<Format> for OutputFormat {
    fn from(format: Format) -> Self {
        match format {
            Format::Table => OutputFormat::Table,
            Format::Jsonl => OutputFormat::Jsonl,
            Format::Csv => OutputFormat::Csv,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct QueryArgs {
    #[command(flatten)]
    pub data: DataDirArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// The SQL statement. Only queries run (SELECT, WITH, EXPLAIN, SHOW); DDL, DML, COPY and SET are refused.
    pub sql: String,
}

pub fn run(args: QueryArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let session = open_session(&args.data.data_dir, &QueryOptions::default()).await?;
        let results = run_query(&session, &args.sql).await?;
        let stdout = std::io::stdout().lock();
        // The table format notes itself when it leaves rows out.
        write_results(results, args.format.into(), std::io::BufWriter::new(stdout)).await?;
        std::io::stdout().flush().ok();
        Ok(ExitCode::SUCCESS)
    })
}
