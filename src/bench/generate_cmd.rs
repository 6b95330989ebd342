//! `auditlens bench generate`: writes synthetic audit events as JSON Lines, as `--audit-log-path` does.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use chrono::{DateTime, Utc};

use super::generate::{write_json_lines, EventGenerator};

/// Seed used when `--seed` is not given.
const DEFAULT_SEED: u64 = 1;
/// Events written between two progress-bar updates.
const PROGRESS_CHUNK: u64 = 10_000;
const WRITE_BUFFER_BYTES: usize = 1 << 20;

#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// Number of events to write.
    #[arg(long)]
    events: u64,
    /// Seed of the generator: the same seed and `--start` give byte-identical output.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// `requestReceivedTimestamp` of the first event, RFC 3339 (default: now).
    #[arg(long, value_parser = parse_start)]
    start: Option<DateTime<Utc>>,
    /// Output file; `-` writes to stdout.
    #[arg(long)]
    out: PathBuf,
}

fn parse_start(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|error| format!("expected RFC 3339 such as `2025-06-01T12:00:00Z`: {error}"))
}

pub fn run(args: GenerateArgs) -> anyhow::Result<ExitCode> {
    let mut generator = EventGenerator::new(args.seed, args.start.unwrap_or_else(Utc::now));
    let to_stdout = args.out.as_os_str() == "-";
    let sink: Box<dyn Write> = if to_stdout {
        Box::new(io::stdout().lock())
    } else {
        let file = File::create(&args.out)
            .with_context(|| format!("creating `{}`", args.out.display()))?;
        Box::new(file)
    };
    let mut out = BufWriter::with_capacity(WRITE_BUFFER_BYTES, sink);
    let progress = indicatif::ProgressBar::new(args.events);
    let mut remaining = args.events;
    let mut bytes = 0;
    while remaining > 0 {
        let chunk = remaining.min(PROGRESS_CHUNK);
        bytes += write_json_lines(&mut generator, chunk, &mut out)
            .with_context(|| format!("writing events to `{}`", args.out.display()))?;
        remaining -= chunk;
        progress.inc(chunk);
    }
    out.flush()
        .with_context(|| format!("writing events to `{}`", args.out.display()))?;
    progress.finish_and_clear();
    if !to_stdout {
        eprintln!(
            "wrote {} events ({bytes} bytes) to {}",
            args.events,
            args.out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
