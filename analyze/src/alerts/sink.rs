//! Delivery from the alert log to one sink: read after the sink's cursor, deliver, move the
//! cursor only after the sink acknowledged. Transient failures retry with backoff while the log
//! holds the alerts; permanent ones go to the sink's dead-letter file, counted and logged.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use schemas::{Alert, Priority};
use tokio::sync::watch;

use super::log::{Cursor, LogReader, Position};

/// Alerts read from the log per delivery.
pub const DELIVERY_BATCH: usize = 256;
const FIRST_RETRY: Duration = Duration::from_millis(500);
const MAX_RETRY: Duration = Duration::from_secs(60);

/// Why a delivery failed, and so what to do.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// Try again later (receiver down, timeout, 5xx, 429).
    #[error("{0}")]
    Transient(String),
    /// Retrying cannot help (the receiver refuses these alerts).
    #[error("{0}")]
    Permanent(String),
    /// Some alerts were refused for good (index into the alerts handed over, and why); all the
    /// others were delivered.
    #[error("{} alert(s) refused", .0.len())]
    Refused(Vec<(usize, String)>),
}

/// Where alerts go.
#[async_trait]
pub trait Sink: Send {
    /// Unique among the sinks; names its cursor and dead-letter file.
    fn name(&self) -> &str;
    /// Most alerts handed to one [`Sink::deliver`] call.
    fn batch_size(&self) -> usize {
        DELIVERY_BATCH
    }
    /// Delivers all of `alerts`, or fails for all of them, or ([`SinkError::Refused`]) delivers
    /// all but those it refuses for good.
    async fn deliver(&mut self, alerts: &[Alert]) -> Result<(), SinkError>;
    /// Called once when delivery stops (shutdown): hand over anything still buffered.
    async fn close(&mut self) {}
}

/// Counters of one sink.
#[derive(Debug, Default)]
pub struct SinkStats {
    pub delivered: AtomicU64,
    pub failures: AtomicU64,
    pub dead_lettered: AtomicU64,
    /// Alerts in the log after the sink's cursor, as last seen.
    pub pending: AtomicU64,
}

/// A sink with the settings of its delivery loop.
pub struct SinkRunner {
    pub sink: Box<dyn Sink>,
    /// Alerts below this priority are skipped by this sink.
    pub min_priority: Priority,
    pub stats: Arc<SinkStats>,
}

/// Delivers until `stop` is set and everything in the log reached the sink (or, after `stop`,
/// one more attempt failed). `appended` ticks whenever the log grows.
pub async fn run_sink(
    data_dir: PathBuf,
    mut runner: SinkRunner,
    mut appended: watch::Receiver<Position>,
    mut stop: watch::Receiver<bool>,
) {
    let name = runner.sink.name().to_string();
    let cursor = Cursor::new(&data_dir, &name);
    let reader = LogReader::new(&data_dir);
    let mut position = match cursor.load() {
        Ok(Some(position)) => position,
        Ok(None) => Position::default(),
        Err(error) => {
            tracing::error!(sink = %name, %error, "cannot read the sink's cursor; starting from the beginning of the log");
            Position::default()
        }
    };
    let mut retry = FIRST_RETRY;
    loop {
        let batch = match reader.read(position, runner.sink.batch_size().max(1)) {
            Ok(batch) => batch,
            Err(error) => {
                tracing::error!(sink = %name, %error, "cannot read the alert log");
                Vec::new()
            }
        };
        let stopping = *stop.borrow();
        if batch.is_empty() {
            runner.stats.pending.store(0, Ordering::Relaxed);
            if stopping {
                runner.sink.close().await;
                return;
            }
            tokio::select! {
                _ = appended.changed() => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        runner
            .stats
            .pending
            .store(batch.len() as u64, Ordering::Relaxed);
        let end = batch.last().map(|(_, p)| *p).unwrap_or(position);
        let alerts: Vec<Alert> = batch
            .into_iter()
            .map(|(alert, _)| alert)
            .filter(|alert| alert.priority.at_least(runner.min_priority))
            .collect();
        let outcome = if alerts.is_empty() {
            Ok(())
        } else {
            runner.sink.deliver(&alerts).await
        };
        match outcome {
            Ok(()) => {
                runner
                    .stats
                    .delivered
                    .fetch_add(alerts.len() as u64, Ordering::Relaxed);
                retry = FIRST_RETRY;
            }
            Err(SinkError::Permanent(reason)) => {
                let refused: Vec<(&Alert, &str)> = alerts
                    .iter()
                    .map(|alert| (alert, reason.as_str()))
                    .collect();
                if !dead_letter_counted(&data_dir, &runner, &refused) {
                    wait(&mut stop, retry).await;
                    continue;
                }
            }
            Err(SinkError::Refused(which)) => {
                let refused: Vec<(&Alert, &str)> = which
                    .iter()
                    .filter_map(|(index, reason)| Some((alerts.get(*index)?, reason.as_str())))
                    .collect();
                if !dead_letter_counted(&data_dir, &runner, &refused) {
                    wait(&mut stop, retry).await;
                    continue;
                }
                runner.stats.delivered.fetch_add(
                    alerts.len().saturating_sub(refused.len()) as u64,
                    Ordering::Relaxed,
                );
                retry = FIRST_RETRY;
            }
            Err(SinkError::Transient(reason)) => {
                runner.stats.failures.fetch_add(1, Ordering::Relaxed);
                if stopping {
                    tracing::warn!(sink = %name, %reason, "the sink is unreachable at shutdown; its alerts stay in the log for the next start");
                    runner.sink.close().await;
                    return;
                }
                tracing::warn!(sink = %name, %reason, retry_in_ms = retry.as_millis() as u64, "alert delivery failed; retrying");
                wait(&mut stop, retry).await;
                retry = (retry * 2).min(MAX_RETRY);
                continue;
            }
        }
        position = end;
        if let Err(error) = cursor.save(position) {
            tracing::error!(sink = %name, %error, "cannot save the sink's cursor; alerts may be delivered again after a restart");
        }
    }
}

/// Writes `refused` (alert, reason) to the sink's dead-letter file, counts and logs them;
/// `false` when the file cannot be written (the alerts stay in the log and are tried again).
fn dead_letter_counted(data_dir: &Path, runner: &SinkRunner, refused: &[(&Alert, &str)]) -> bool {
    let name = runner.sink.name();
    if refused.is_empty() {
        return true;
    }
    if let Err(error) = dead_letter(data_dir, name, refused) {
        tracing::error!(sink = %name, %error, "cannot write the dead-letter file; will retry");
        return false;
    }
    runner.stats.failures.fetch_add(1, Ordering::Relaxed);
    runner
        .stats
        .dead_lettered
        .fetch_add(refused.len() as u64, Ordering::Relaxed);
    for (alert, reason) in refused {
        tracing::error!(sink = %name, rule = %alert.rule_id, uuid = %alert.uuid, %reason, "the sink refused an alert; written to its dead-letter file");
    }
    true
}

async fn wait(stop: &mut watch::Receiver<bool>, delay: Duration) {
    tokio::select! {
        _ = tokio::time::sleep(delay) => {}
        _ = stop.changed() => {}
    }
}

/// `DATA_DIR/alerts/dead-letter/<sink>.jsonl`: `{"reason":…, "alert":…}` per line.
pub fn dead_letter_path(data_dir: &Path, sink: &str) -> PathBuf {
    data_dir
        .join("alerts")
        .join("dead-letter")
        .join(format!("{sink}.jsonl"))
}

fn dead_letter(data_dir: &Path, sink: &str, refused: &[(&Alert, &str)]) -> std::io::Result<()> {
    use std::io::Write;
    let path = dead_letter_path(data_dir, sink);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)?;
    let mut text = Vec::new();
    for (alert, reason) in refused {
        serde_json::to_writer(
            &mut text,
            &serde_json::json!({"reason": reason, "alert": alert}),
        )?;
        text.push(b'\n');
    }
    file.write_all(&text)?;
    file.sync_data()
}
