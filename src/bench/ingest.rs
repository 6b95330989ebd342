//! `auditlens bench ingest`: loads the audit webhook as kube-apiserver's batch mode does and reports
//! throughput, latency, 429s, and the server's peak memory and shutdown flush time.
//!
//! - `load`: the pre-generated bodies and the closed-loop connections
//! - `latency`: the latency histogram
//! - `server`: the `auditlens serve` child process started when no `--url` is given
//! - `report`: the text and JSON output

mod latency;
mod load;
mod probes;
pub(super) mod report;
mod server;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use chrono::Utc;
use clap::builder::RangedU64ValueParser;

use self::load::{LoadPlan, Pool};
use self::report::{Machine, Parameters, Report, ServerFigures};
use self::server::ServerProcess;

/// Concurrent POSTs in flight (kube-apiserver sends each batch in its own goroutine).
const DEFAULT_CONNECTIONS: usize = 8;
const DEFAULT_DURATION_SECS: u64 = 30;
/// kube-apiserver's `--audit-webhook-batch-max-size` default (SPEC §3.3).
const DEFAULT_BATCH_SIZE: usize = 400;
const DEFAULT_WARMUP_SECS: u64 = 3;
/// Distinct pre-generated bodies cycled through by the connections.
const DEFAULT_BODIES: usize = 64;
const DEFAULT_SEED: u64 = 1;
/// Upper bounds that keep the pool and the connection count sane.
const MAX_CONNECTIONS: usize = 255;
const MAX_BATCH_SIZE: usize = 100_000;
const MAX_BODIES: usize = 4_096;

/// Output format of the report.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct IngestArgs {
    /// Webhook URL of a running server, e.g. `http://127.0.0.1:8443/v1/audit`. Without it, the
    /// benchmark starts `auditlens serve` itself and stops it with SIGTERM at the end.
    #[arg(long)]
    url: Option<String>,
    /// Concurrent connections, each POSTing one batch at a time as fast as the server answers.
    #[arg(long, default_value_t = DEFAULT_CONNECTIONS, value_parser = RangedU64ValueParser::<usize>::new().range(1..=MAX_CONNECTIONS as u64))]
    connections: usize,
    /// Measured time, after the warm-up.
    #[arg(long, default_value_t = DEFAULT_DURATION_SECS, value_parser = clap::value_parser!(u64).range(1..))]
    duration_secs: u64,
    /// Events per POSTed EventList.
    #[arg(long, default_value_t = DEFAULT_BATCH_SIZE, value_parser = RangedU64ValueParser::<usize>::new().range(1..=MAX_BATCH_SIZE as u64))]
    batch_size: usize,
    /// Unmeasured load before the measured time.
    #[arg(long, default_value_t = DEFAULT_WARMUP_SECS)]
    warmup_secs: u64,
    /// Data directory for the started server (default: a fresh temp dir, removed at the end).
    #[arg(long, conflicts_with = "url")]
    data_dir: Option<PathBuf>,
    /// Distinct EventList bodies to pre-generate; every POST gets fresh auditIDs.
    #[arg(long, default_value_t = DEFAULT_BODIES, value_parser = RangedU64ValueParser::<usize>::new().range(1..=MAX_BODIES as u64))]
    bodies: usize,
    /// Seed of the event generator.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// Extra argument for the started `auditlens serve` (repeatable), e.g.
    /// `--serve-arg=--no-rules` to measure without detection.
    #[arg(long = "serve-arg", allow_hyphen_values = true, conflicts_with = "url")]
    serve_args: Vec<String>,
    /// Measure alert latency: probe requests that a rule alerts on, delivered to an HTTP receiver
    /// the benchmark runs as the server's alert webhook (Warning and above).
    #[arg(long, conflicts_with = "url")]
    alert_probes: bool,
    /// Offered load in events per second, spread over the connections (each POSTs on a fixed
    /// schedule and still waits for each answer). Without it, every connection sends as fast as
    /// the server answers: the server's maximum.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    rate: Option<u64>,
    /// `text` for people, `json` for one JSON object on stdout.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    format: ReportFormat,
}

/// Time between two POSTs of one connection for `--rate`.
fn pacing(args: &IngestArgs) -> Option<std::time::Duration> {
    let rate = args.rate?;
    let per_connection = rate as f64 / args.connections as f64;
    Some(std::time::Duration::from_secs_f64(
        args.batch_size as f64 / per_connection,
    ))
}

pub fn run(args: IngestArgs) -> anyhow::Result<ExitCode> {
    load::install_tls_provider();
    let machine = Machine::detect();
    let pool = Arc::new(Pool::generate(
        args.bodies,
        args.batch_size,
        args.seed,
        Utc::now(),
    ));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let warmup = Duration::from_secs(args.warmup_secs);
    let duration = Duration::from_secs(args.duration_secs);
    let (url, load, server, probes) = match &args.url {
        Some(url) => {
            let plan = LoadPlan {
                url: url.clone(),
                connections: args.connections,
                warmup,
                duration,
                interval: pacing(&args),
            };
            (
                url.clone(),
                runtime.block_on(load::run(&plan, pool.clone()))?,
                None,
                None,
            )
        }
        None => {
            let mut serve_args = args.serve_args.clone();
            let receiver = if args.alert_probes {
                let receiver = runtime.block_on(probes::Receiver::start())?;
                serve_args.extend([
                    "--alerts-webhook".to_string(),
                    receiver.url(),
                    "--alerts-min-priority".to_string(),
                    "Warning".to_string(),
                ]);
                Some(receiver)
            } else {
                None
            };
            let mut server = ServerProcess::start(args.data_dir.as_deref(), &serve_args)?;
            runtime.block_on(server.wait_ready())?;
            let plan = LoadPlan {
                url: server.webhook_url(),
                connections: args.connections,
                warmup,
                duration,
                interval: pacing(&args),
            };
            let (load, probes) = runtime.block_on(async {
                let load = load::run(&plan, pool.clone());
                match receiver {
                    Some(receiver) => {
                        let probing = probes::run(&plan.url, receiver, warmup + duration);
                        let (load, probes) = tokio::join!(load, probing);
                        anyhow::Ok((load?, Some(probes?)))
                    }
                    None => anyhow::Ok((load.await?, None)),
                }
            })?;
            let rules_running = runtime.block_on(server.rules_running());
            let peak_rss_bytes = server.peak_rss_bytes()?;
            let shutdown_flush = server.stop()?;
            let figures = ServerFigures {
                data_dir: server.data_dir().display().to_string(),
                temporary: server.is_temporary(),
                peak_rss_bytes,
                shutdown_flush,
                store_bytes: server::dir_bytes(server.data_dir()),
                detect_skipped: server.logged_count("detect_skipped"),
                rules_running,
            };
            (plan.url, load, Some(figures), probes)
        }
    };
    let parameters = Parameters {
        url,
        connections: args.connections,
        duration,
        warmup,
        batch_size: args.batch_size,
        bodies: args.bodies,
        mean_body_bytes: pool.mean_body_bytes(),
        seed: args.seed,
        rate: args.rate,
    };
    let report = Report {
        machine,
        parameters,
        load,
        server,
        probes,
    };
    match args.format {
        ReportFormat::Text => println!("{}", report.to_text()),
        ReportFormat::Json => println!("{}", report.to_json()),
    }
    if report.load.ok_requests == 0 {
        let cause = report
            .load
            .first_error
            .as_deref()
            .unwrap_or("no answer within the measured time");
        bail!("no request succeeded during the measured time: {cause}");
    }
    Ok(ExitCode::SUCCESS)
}
