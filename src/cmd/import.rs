//! `auditlens import PATH…`: audit log files and EventList documents into the store, with a
//! progress bar on a terminal and a summary at the end.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ingest::batcher::BatchLimits;
use ingest::import::{Importer, InputSummary};
use ingest::server::auth::validate_cluster;
use ingest::stats::Stats;
use ingest::store::FileOptions;
use serde_json::json;

use super::DataDirArg;

/// An import writes a file once the Arrow data it holds comes to this many bytes. One buffer is
/// written (concatenated and sorted: up to three copies) while the next one fills.
const IMPORT_FLUSH_BYTES: usize = 256 * 1024 * 1024;

#[derive(Debug, Clone, Copy, Default, clap::ValueEnum)]
pub enum SummaryFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub data: DataDirArg,
    /// Cluster the imported events belong to.
    #[arg(long, default_value = ingest::server::DEFAULT_CLUSTER)]
    pub cluster: String,
    /// How to print the summary.
    #[arg(long, value_enum, default_value_t = SummaryFormat::Text)]
    pub format: SummaryFormat,
    /// Files to import: one Event (or EventList) per line, gzip or not, or one EventList JSON document; `-` reads stdin.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

fn progress_bar(paths: &[PathBuf]) -> ProgressBar {
    let total: u64 = paths
        .iter()
        .filter_map(|path| std::fs::metadata(path).ok())
        .map(|m| m.len())
        .sum();
    let target = if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(total), target);
    if let Ok(style) = ProgressStyle::with_template(
        "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {msg}",
    ) {
        bar.set_style(style);
    }
    bar
}

pub fn run(args: ImportArgs) -> anyhow::Result<ExitCode> {
    validate_cluster(&args.cluster)
        .map_err(anyhow::Error::msg)
        .context("--cluster")?;
    let stats = Arc::new(Stats::default());
    let limits = BatchLimits {
        max_age: Duration::MAX,
        max_bytes: IMPORT_FLUSH_BYTES,
        ..BatchLimits::default()
    };
    let mut importer = Importer::new(
        &args.data.data_dir,
        &args.cluster,
        limits,
        FileOptions::default(),
        stats.clone(),
    )?;
    let started = Instant::now();
    let bar = progress_bar(&args.paths);
    let read = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let ticker = {
        let (bar, read, done) = (bar.clone(), read.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                bar.set_position(read.load(Ordering::Relaxed));
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let mut inputs = Vec::new();
    let mut result = Ok(());
    for path in &args.paths {
        bar.set_message(path.display().to_string());
        let summary = if path.as_os_str() == "-" {
            importer.import_reader("stdin", std::io::stdin().lock())
        } else {
            importer.import_path(path, read.clone())
        };
        match summary {
            Ok(summary) => inputs.push((path.display().to_string(), summary)),
            Err(error) => {
                result = Err(error);
                break;
            }
        }
    }
    // Whatever was read before an error is kept.
    let finished = importer.finish();
    done.store(true, Ordering::Relaxed);
    let _ = ticker.join();
    bar.finish_and_clear();
    result?;
    finished?;
    print_summary(args.format, &inputs, &stats, started.elapsed());
    Ok(ExitCode::SUCCESS)
}

fn print_summary(
    format: SummaryFormat,
    inputs: &[(String, InputSummary)],
    stats: &Stats,
    elapsed: Duration,
) {
    let totals = stats.snapshot();
    match format {
        SummaryFormat::Json => {
            let files: Vec<_> = inputs
                .iter()
                .map(|(path, s)| json!({"path": path, "lines": s.lines, "events": s.events, "quarantined": s.quarantined}))
                .collect();
            let summary = json!({
                "inputs": files,
                "events": totals.events_accepted,
                "quarantined": totals.events_quarantined,
                "files_written": totals.files_written,
                "bytes_written": totals.bytes_written,
                "seconds": elapsed.as_secs_f64(),
            });
            println!("{summary}");
        }
        SummaryFormat::Text => {
            for (path, s) in inputs {
                println!(
                    "{path}: {} lines, {} events, {} quarantined",
                    s.lines, s.events, s.quarantined
                );
            }
            let rate = totals.events_accepted as f64 / elapsed.as_secs_f64().max(1e-9);
            println!(
                "imported {} events ({} quarantined) into {} Parquet files, {} bytes, in {:.1}s ({rate:.0} events/s)",
                totals.events_accepted,
                totals.events_quarantined,
                totals.files_written,
                totals.bytes_written,
                elapsed.as_secs_f64()
            );
            if totals.events_quarantined > 0 {
                println!(
                    "see them with: auditlens query \"SELECT location, reason FROM quarantine\""
                );
            }
        }
    }
}
