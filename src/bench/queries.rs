//! `auditlens bench queries`: the forensics queries of `bench/queries/*.sql` over a stored
//! data directory, cold (a new session per run: no cached file metadata) and warm (one session,
//! after a first run), with medians and min–max of several runs, and the Parquet bytes per
//! event of the store.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use analyze::{open_session, run_query, QueryOptions};
use anyhow::{bail, Context};
use futures::StreamExt;

use super::ingest::report::Machine;

#[derive(Debug, clap::Args)]
pub struct QueriesArgs {
    /// The data directory holding the events (`auditlens import` or `serve` wrote it).
    #[arg(long)]
    data_dir: PathBuf,
    /// Directory of the queries, one `NAME.sql` each.
    #[arg(long, default_value = "bench/queries")]
    queries: PathBuf,
    /// Runs of each query, cold and warm each.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// A value for a `$name` placeholder, NAME=VALUE (repeatable); `$audit_id` defaults to an
    /// audit ID of the store.
    #[arg(long = "param", value_name = "NAME=VALUE")]
    params: Vec<String>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Durations of one query's runs.
struct Timings {
    name: String,
    rows: usize,
    cold: Vec<Duration>,
    warm: Vec<Duration>,
}

fn median_min_max(samples: &[Duration]) -> (f64, f64, f64) {
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    let median = if ms.is_empty() {
        0.0
    } else if ms.len() % 2 == 1 {
        ms[ms.len() / 2]
    } else {
        (ms[ms.len() / 2 - 1] + ms[ms.len() / 2]) / 2.0
    };
    (
        median,
        ms.first().copied().unwrap_or(0.0),
        ms.last().copied().unwrap_or(0.0),
    )
}

/// Runs `sql` to the end; returns the rows and the time taken.
async fn time_query(
    session: &datafusion::prelude::SessionContext,
    sql: &str,
) -> anyhow::Result<(usize, Duration)> {
    let started = Instant::now();
    let mut stream = run_query(session, sql).await?;
    let mut rows = 0;
    while let Some(batch) = stream.next().await {
        rows += batch?.num_rows();
    }
    Ok((rows, started.elapsed()))
}

fn load_queries(dir: &Path, params: &[(String, String)]) -> anyhow::Result<Vec<(String, String)>> {
    let mut queries = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "sql") {
            let mut sql = std::fs::read_to_string(&path)?;
            for (name, value) in params {
                sql = sql.replace(&format!("${name}"), &value.replace('\'', "''"));
            }
            let name = path
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            queries.push((name, sql));
        }
    }
    queries.sort();
    if queries.is_empty() {
        bail!("no .sql files in {}", dir.display());
    }
    Ok(queries)
}

/// Bytes of the `.parquet` files under `dir`.
fn parquet_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| {
            let path = entry.path();
            if path.is_dir() {
                parquet_bytes(&path)
            } else if path.extension().is_some_and(|e| e == "parquet") {
                entry.metadata().map(|m| m.len()).unwrap_or(0)
            } else {
                0
            }
        })
        .sum()
}

pub fn run(args: QueriesArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let options = QueryOptions::default();
        let probe = open_session(&args.data_dir, &options).await?;
        let (events, _) = {
            let batches = probe
                .sql("SELECT count(*) AS n, min(audit_id) AS id FROM events")
                .await?
                .collect()
                .await?;
            let batch = &batches[0];
            let n = batch
                .column(0)
                .as_any()
                .downcast_ref::<datafusion::arrow::array::Int64Array>()
                .map(|a| a.value(0))
                .unwrap_or(0);
            let id = datafusion::arrow::util::display::array_value_to_string(batch.column(1), 0)?;
            (n, id)
        };
        let mut params: Vec<(String, String)> = Vec::new();
        for param in &args.params {
            let Some((name, value)) = param.split_once('=') else {
                bail!("--param {param}: expected NAME=VALUE");
            };
            params.push((name.to_string(), value.to_string()));
        }
        if !params.iter().any(|(name, _)| name == "audit_id") {
            let id = probe
                .sql("SELECT audit_id FROM events ORDER BY audit_id LIMIT 1 OFFSET 1000")
                .await?
                .collect()
                .await?;
            let id = id
                .first()
                .filter(|b| b.num_rows() > 0)
                .map(|b| datafusion::arrow::util::display::array_value_to_string(b.column(0), 0))
                .transpose()?
                .unwrap_or_default();
            params.push(("audit_id".into(), id));
        }
        let queries = load_queries(&args.queries, &params)?;
        let mut timings = Vec::new();
        let warm_session = open_session(&args.data_dir, &options).await?;
        for (name, sql) in &queries {
            let mut result = Timings {
                name: name.clone(),
                rows: 0,
                cold: Vec::new(),
                warm: Vec::new(),
            };
            for _ in 0..args.runs.max(1) {
                let session = open_session(&args.data_dir, &options).await?;
                let (rows, took) = time_query(&session, sql)
                    .await
                    .with_context(|| name.clone())?;
                result.rows = rows;
                result.cold.push(took);
            }
            time_query(&warm_session, sql).await?;
            for _ in 0..args.runs.max(1) {
                let (_, took) = time_query(&warm_session, sql).await?;
                result.warm.push(took);
            }
            timings.push(result);
        }
        let bytes = parquet_bytes(&args.data_dir.join("events"));
        report(&args, events, bytes, &timings, &params);
        Ok(ExitCode::SUCCESS)
    })
}

fn report(
    args: &QueriesArgs,
    events: i64,
    bytes: u64,
    timings: &[Timings],
    params: &[(String, String)],
) {
    let machine = Machine::detect();
    let per_event = bytes as f64 / events.max(1) as f64;
    if args.json {
        let queries: Vec<serde_json::Value> = timings
            .iter()
            .map(|t| {
                let (cold, cold_min, cold_max) = median_min_max(&t.cold);
                let (warm, warm_min, warm_max) = median_min_max(&t.warm);
                serde_json::json!({
                    "name": t.name, "rows": t.rows,
                    "cold_ms": {"median": cold, "min": cold_min, "max": cold_max},
                    "warm_ms": {"median": warm, "min": warm_min, "max": warm_max},
                })
            })
            .collect();
        let out = serde_json::json!({
            "machine": {"cpu_model": machine.cpu_model, "cores": machine.cores, "memory_bytes": machine.memory_bytes},
            "events": events, "parquet_bytes": bytes, "parquet_bytes_per_event": per_event,
            "runs": args.runs, "params": params.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
            "queries": queries,
        });
        println!("{out}");
        return;
    }
    println!(
        "machine:  {}, {} cores, {:.1} GiB",
        machine.cpu_model,
        machine.cores,
        machine.memory_bytes.unwrap_or(0) as f64 / f64::from(1u32 << 30)
    );
    println!(
        "data:     {events} events, {bytes} bytes of Parquet ({per_event:.1} bytes/event), {} runs each",
        args.runs
    );
    println!(
        "{:<24} {:>8} {:>22} {:>22}",
        "query", "rows", "cold ms (min–max)", "warm ms (min–max)"
    );
    for t in timings {
        let (cold, cold_min, cold_max) = median_min_max(&t.cold);
        let (warm, warm_min, warm_max) = median_min_max(&t.warm);
        println!(
            "{:<24} {:>8} {:>9.1} ({:.1}–{:.1}) {:>9.1} ({:.1}–{:.1})",
            t.name, t.rows, cold, cold_min, cold_max, warm, warm_min, warm_max
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_and_even_counts() {
        let ms = |v: &[u64]| {
            v.iter()
                .map(|&m| Duration::from_millis(m))
                .collect::<Vec<_>>()
        };
        assert_eq!(median_min_max(&ms(&[5, 1, 3])), (3.0, 1.0, 5.0));
        assert_eq!(median_min_max(&ms(&[4, 1, 3, 2])), (2.5, 1.0, 4.0));
    }
}
