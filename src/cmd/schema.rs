//! `auditlens schema`: prints the table reference, or the alert JSON schema, generated from the
//! code.

use std::process::ExitCode;

pub fn run(alert: bool) -> anyhow::Result<ExitCode> {
    if alert {
        print!("{}", schemas::alert::alert_json_schema());
    } else {
        print!("{}", schemas::doc::schema_markdown());
    }
    Ok(ExitCode::SUCCESS)
}
