//! `auditlens schema`: prints the table reference generated from the code.

use std::process::ExitCode;

pub fn run() -> anyhow::Result<ExitCode> {
    print!("{}", schemas::doc::schema_markdown());
    Ok(ExitCode::SUCCESS)
}
