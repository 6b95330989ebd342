//! `auditlens bench …`: load generators and benchmarks.
//!
//! - `generate`: the realistic audit event generator (also used by import benchmarks)
//! - `generate_cmd`: `bench generate`, events as JSON Lines
//! - `ingest`: `bench ingest`, the webhook load generator and its report
//! - `kafka_alerts`: `bench kafka-alerts`, alerts/s through the alert log to a Kafka topic
//! - `queries`: `bench queries`, the forensics queries over a store, cold and warm

pub mod generate;
mod generate_cmd;
mod ingest;
mod kafka_alerts;
mod queries;

use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Write synthetic audit events as JSON Lines, as kube-apiserver's `--audit-log-path` would.
    Generate(generate_cmd::GenerateArgs),
    /// POST EventList batches to the audit webhook as kube-apiserver's batch mode does; report
    /// events/s, latency percentiles, 429s, the server's peak RSS and shutdown flush time.
    Ingest(ingest::IngestArgs),
    /// Deliver synthetic alerts through the alert log to a Kafka topic; report alerts/s.
    KafkaAlerts(kafka_alerts::KafkaAlertsArgs),
    /// Run the forensics queries of `bench/queries/` over a data directory, cold and warm;
    /// report medians with min–max and the Parquet bytes per event.
    Queries(queries::QueriesArgs),
}

pub fn run(command: BenchCommand) -> anyhow::Result<ExitCode> {
    match command {
        BenchCommand::Generate(args) => generate_cmd::run(args),
        BenchCommand::Ingest(args) => ingest::run(args),
        BenchCommand::KafkaAlerts(args) => kafka_alerts::run(args),
        BenchCommand::Queries(args) => queries::run(args),
    }
}
