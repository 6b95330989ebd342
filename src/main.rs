//! `auditlens`: the command line. Parses flags, sets up logging, runs one command and turns its
//! error into an exit code. The work happens in the `ingest` and `analyze` crates.

mod bench;
mod cmd;
mod coverage;
mod detect;
mod kafka;
mod logging;
mod pg;
mod query_api;

use std::process::ExitCode;

use clap::CommandFactory;

/// mimalloc: decoding allocates and frees many short strings per event, which glibc's allocator
/// does at about twice the cost, and returns memory to the system more readily.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    let cli: cmd::Cli = match cmd::config::parse(cmd::Cli::command(), argv) {
        Ok(cli) => cli,
        Err(error) => {
            eprintln!("error: {error:#}");
            return ExitCode::from(2);
        }
    };
    // One TLS crypto provider for every client and server in the process (alert webhooks).
    let _ = rustls::crypto::ring::default_provider().install_default();
    logging::init(cli.log_format, cli.command.default_log_level());
    match cmd::run(cli.command) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(1)
        }
    }
}
