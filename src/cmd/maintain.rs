//! `auditlens compact` and `auditlens retention`, and the same work in `serve`, periodically.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use ingest::store::maintain::{self, CompactOptions, Retention};

use super::DataDirArg;

#[derive(Debug, clap::Args)]
pub struct CompactArgs {
    #[command(flatten)]
    pub data: DataDirArg,
    /// Leave files younger than this alone (their hour may still be written to).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "2h")]
    pub min_age: Duration,
    /// Rows of one merged file at most.
    #[arg(long, default_value_t = 2_000_000)]
    pub max_rows: usize,
}

#[derive(Debug, clap::Args)]
pub struct RetentionArgs {
    #[command(flatten)]
    pub data: DataDirArg,
    #[command(flatten)]
    pub keep: KeepArgs,
}

/// How long data is kept; shared by `retention` and `serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct KeepArgs {
    /// Days of events kept per cluster (older `date=` partitions are deleted); 0 keeps
    /// everything.
    #[arg(long, default_value_t = 0, env = "AUDITLENS_RETENTION_DAYS")]
    pub retention_days: u32,
    /// Days kept for one cluster, CLUSTER=DAYS (repeatable; 0 keeps everything of it).
    #[arg(
        long = "retention",
        value_name = "CLUSTER=DAYS",
        env = "AUDITLENS_RETENTION"
    )]
    pub retention: Vec<String>,
}

impl KeepArgs {
    pub fn retention(&self) -> anyhow::Result<Retention> {
        let mut per_cluster = BTreeMap::new();
        let mut keep_all = Vec::new();
        for item in &self.retention {
            let Some((cluster, days)) = item.split_once('=') else {
                bail!("--retention {item}: expected CLUSTER=DAYS");
            };
            let days: u32 = days
                .trim()
                .parse()
                .with_context(|| format!("--retention {item}: DAYS is not a whole number"))?;
            if days == 0 {
                keep_all.push(cluster.trim().to_string());
            }
            per_cluster.insert(cluster.trim().to_string(), days);
        }
        // 0 keeps everything: a cluster named with 0 is left out of the deletion.
        per_cluster.retain(|_, days| *days > 0);
        let default_days = (self.retention_days > 0).then_some(self.retention_days);
        Ok(Retention {
            default_days,
            per_cluster,
            keep_all,
        })
    }
}

pub fn compact(args: CompactArgs) -> anyhow::Result<ExitCode> {
    let options = CompactOptions {
        min_age: args.min_age,
        max_rows: args.max_rows.max(1),
        ..CompactOptions::default()
    };
    let summary = maintain::compact(&args.data.data_dir, &options)
        .with_context(|| format!("compacting {}", args.data.data_dir.display()))?;
    println!("{}", serde_json::to_string(&summary)?);
    Ok(ExitCode::SUCCESS)
}

pub fn retention(args: RetentionArgs) -> anyhow::Result<ExitCode> {
    let retention = args.keep.retention()?;
    if retention.default_days.is_none() && retention.per_cluster.is_empty() {
        bail!("nothing to do: give --retention-days DAYS or --retention CLUSTER=DAYS");
    }
    let today = chrono::Utc::now().date_naive();
    let summary = maintain::expire(&args.data.data_dir, &retention, today)
        .with_context(|| format!("expiring {}", args.data.data_dir.display()))?;
    println!("{}", serde_json::to_string(&summary)?);
    Ok(ExitCode::SUCCESS)
}

/// Compaction and retention every `every` in a thread of their own, for `serve`.
pub fn spawn(data_dir: PathBuf, every: Duration, min_age: Duration, retention: Retention) {
    if every.is_zero() {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("auditlens-maintain".into())
        .spawn(move || loop {
            std::thread::sleep(every);
            run_once(&data_dir, min_age, &retention);
        });
    if let Err(error) = spawned {
        tracing::error!(%error, "cannot start compaction and retention");
    }
}

fn run_once(data_dir: &Path, min_age: Duration, retention: &Retention) {
    let options = CompactOptions {
        min_age,
        ..CompactOptions::default()
    };
    match maintain::compact(data_dir, &options) {
        Ok(summary) if summary.files_in > 0 => {
            tracing::info!(
                partitions = summary.partitions,
                files_in = summary.files_in,
                files_out = summary.files_out,
                rows = summary.rows,
                "compaction done"
            );
        }
        Ok(_) => {}
        Err(error) => tracing::error!(%error, "compaction failed; it is retried at the next run"),
    }
    if retention.default_days.is_some() || !retention.per_cluster.is_empty() {
        let today = chrono::Utc::now().date_naive();
        if let Err(error) = maintain::expire(data_dir, retention, today) {
            tracing::error!(%error, "retention failed; it is retried at the next run");
        }
    }
}
