//! `auditlens query "SQL"`: read-only SQL over the stored tables.

use std::process::ExitCode;

use super::DataDirArg;

#[derive(Debug, clap::Args)]
pub struct QueryArgs {
    #[command(flatten)]
    pub data: DataDirArg,
    /// The SQL statement (read-only: SELECT, EXPLAIN, WITH …).
    pub sql: String,
}

pub fn run(_args: QueryArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("query is being wired to the analyze crate")
}
