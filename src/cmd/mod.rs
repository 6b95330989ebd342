//! The subcommands, one file each, and the dispatch between them.

mod certs;
pub mod config;
mod detect;
mod import;
mod maintain;
mod policy;
mod query;
mod rules;
mod schema;
mod serve;
mod webhook_config;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::logging::LogFormat;

/// Default directory for the WAL and the Parquet store.
pub const DEFAULT_DATA_DIR: &str = "./auditlens-data";

#[derive(Debug, Parser)]
#[command(
    name = "auditlens",
    version,
    about = "Kubernetes audit webhook sink: durable Parquet, SQL over it"
)]
pub struct Cli {
    /// Log line format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Json, env = "AUDITLENS_LOG_FORMAT")]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

/// `--data-dir`, shared by every command that touches the store.
#[derive(Debug, Clone, clap::Args)]
pub struct DataDirArg {
    /// Directory holding the write-ahead log and the Parquet store.
    #[arg(long, default_value = DEFAULT_DATA_DIR, env = "AUDITLENS_DATA_DIR")]
    pub data_dir: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct SchemaArgs {
    /// Print the JSON schema of alerts (schemas/alert.schema.json) instead.
    #[arg(long)]
    pub alert: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the audit webhook: kube-apiserver POSTs EventLists, auditlens stores them as Parquet.
    Serve(Box<serve::ServeArgs>),
    /// Import audit log files (one Event per line, `.gz` too) or EventList JSON files; `-` is stdin.
    Import(import::ImportArgs),
    /// Run read-only SQL over the stored `events` and `quarantine` tables.
    Query(query::QueryArgs),
    /// Run the detection rules over audit log files, offline, and print the alerts.
    Detect(detect::DetectArgs),
    /// List or test the detection rules.
    #[command(subcommand)]
    Rules(rules::RulesCommand),
    /// Audit policies: how one decides a request (`policy explain`).
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Does the audit policy cover CIS 3.2.1/3.2.2? From a policy file or preset, or from the
    /// stored events (`--observed`).
    Coverage(policy::CoverageArgs),
    /// Print the table reference (docs/schema.md) generated from the code.
    Schema(SchemaArgs),
    /// The configuration file of `serve`: `config check FILE`, `config example`.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Merge the small Parquet files of closed hours into few large ones (crash-safe).
    Compact(maintain::CompactArgs),
    /// Delete the days of events older than each cluster's retention.
    Retention(maintain::RetentionArgs),
    /// Print the kubeconfig for kube-apiserver's --audit-webhook-config-file.
    WebhookConfig(webhook_config::WebhookConfigArgs),
    /// Certificates for mutual TLS: `certs init DIR --hosts H1,H2 [--clusters C1,C2]`.
    #[command(subcommand)]
    Certs(certs::CertsCommand),
    /// Benchmarks and load generators.
    #[command(subcommand)]
    Bench(crate::bench::BenchCommand),
}

impl Command {
    /// Commands that print results for scripts log only warnings unless `RUST_LOG` says otherwise.
    pub fn default_log_level(&self) -> &'static str {
        match self {
            Command::Serve(_) => "info",
            // Rule errors are part of these commands' output.
            Command::Rules(_) => "off",
            _ => "warn",
        }
    }
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve(args) => serve::run(*args),
        Command::Import(args) => import::run(args),
        Command::Query(args) => query::run(args),
        Command::Detect(args) => detect::run(args),
        Command::Rules(command) => rules::run(command),
        Command::Policy(command) => policy::run(command),
        Command::Coverage(args) => policy::coverage(args),
        Command::Schema(args) => schema::run(args.alert),
        Command::Certs(command) => certs::run(command),
        Command::Compact(args) => maintain::compact(args),
        Command::Retention(args) => maintain::retention(args),
        Command::Config(command) => config::run(command, <Cli as clap::CommandFactory>::command()),
        Command::WebhookConfig(args) => webhook_config::run(args),
        Command::Bench(command) => crate::bench::run(command),
    }
}
