//! `auditlens detect PATH…`: the rule pack over audit log files, offline, in event-time order
//! (windows included), printing the alerts.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use analyze::detect::Engine;
use anyhow::Context;

use crate::detect::pack::PackArgs;
use crate::detect::replay::replay;

#[derive(Debug, Clone, Copy, Default, clap::ValueEnum)]
pub enum Format {
    /// One line per alert, for people.
    #[default]
    Table,
    /// One alert JSON object per line.
    Jsonl,
}

#[derive(Debug, clap::Args)]
pub struct DetectArgs {
    #[command(flatten)]
    pub pack: PackArgs,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Cluster name the alerts carry.
    #[arg(long, default_value = "default")]
    pub cluster: String,
    /// Print each rule's run count and total run time to stderr at the end, slowest first.
    #[arg(long)]
    pub profile: bool,
    /// Audit log files (one Event per line, `.gz` too) or EventList JSON files, in time order.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

pub fn run(args: DetectArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let pack = args.pack.load()?;
        for error in &pack.errors {
            eprintln!("warning: rule not loaded: {error}");
        }
        let options = pack.engine_options();
        let mut engine = Engine::new(pack.rules, options).await;
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        let summary = replay(&mut engine, &args.paths, &args.cluster, &mut |alert| {
            match args.format {
                Format::Jsonl => serde_json::to_writer(&mut out, &alert)?,
                Format::Table => write!(
                    out,
                    "{}  {:<13} {:<40} {}",
                    alert.time, alert.priority, alert.rule_id, alert.output
                )?,
            }
            writeln!(out)?;
            Ok(())
        })
        .await?;
        out.flush()?;
        drop(out);
        if args.profile {
            let mut statuses = engine.statuses();
            statuses.sort_by_key(|s| std::cmp::Reverse(s.run_micros + s.filter_micros));
            let ms = |micros: u64| micros as f64 / 1000.0;
            eprintln!(
                "{:>10} {:>10} {:>7} {:>7} {:>8} {:>10}  rule",
                "run ms", "filter ms", "runs", "skipped", "window", "window KiB"
            );
            for status in &statuses {
                eprintln!(
                    "{:>10.1} {:>10.1} {:>7} {:>7} {:>8} {:>10}  {}",
                    ms(status.run_micros),
                    ms(status.filter_micros),
                    status.runs,
                    status.skipped,
                    status.window_rows,
                    status.window_bytes / 1024,
                    status.id
                );
            }
            let total: u64 = statuses
                .iter()
                .map(|s| s.run_micros + s.filter_micros)
                .sum();
            let mut views = engine.view_times();
            views.sort_by_key(|(_, micros)| std::cmp::Reverse(*micros));
            for (name, micros) in views {
                eprintln!("{:>10.1} ms  view {name}", ms(micros));
            }
            eprintln!(
                "{:>10.1} ms in rules and window filters, {:.1} ms in shared views",
                ms(total),
                ms(engine.views_micros())
            );
        }
        let mut failed = 0;
        for status in engine.statuses() {
            if let Some(error) = status.error {
                failed += 1;
                eprintln!("warning: rule `{}` failed: {error}", status.id);
            }
        }
        eprintln!(
            "{} events ({} not audit events), {} alerts{}",
            summary.events,
            summary.quarantined,
            summary.alerts,
            if failed > 0 {
                format!(", {failed} rules failed")
            } else {
                String::new()
            }
        );
        Ok(ExitCode::SUCCESS)
    })
}
