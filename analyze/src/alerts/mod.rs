//! Alerts after the engine: the durable alert log every alert is written to before any sink
//! sees it, the sinks that read it (stdout, rotating file, HTTP webhook, Kafka), and the
//! `alerts` table over the log.
//!
//! - [`log`]: the append-only, fsynced alert log and the per-sink cursors into it;
//! - [`sink`]: the delivery loop (cursor, retries, dead letters) and the [`sink::Sink`] trait;
//! - [`stdout`], [`file`], [`webhook`], [`kafka`]: the sinks;
//! - [`table`]: the `alerts` table.

pub mod file;
pub mod kafka;
pub mod log;
pub mod sink;
pub mod stdout;
pub mod table;
pub mod webhook;

use std::path::Path;
use std::sync::Arc;

use schemas::Alert;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use log::{AlertLog, LogError, Position};
use sink::{run_sink, SinkRunner, SinkStats};

/// The alert log with its sinks running.
pub struct Outbox {
    log: AlertLog,
    appended: watch::Sender<Position>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    stats: Vec<(String, Arc<SinkStats>)>,
}

impl Outbox {
    /// Opens the log and starts one delivery task per sink. Each sink starts at its cursor, so
    /// alerts a sink missed while auditlens or the sink was down are delivered now.
    pub fn start(data_dir: &Path, sinks: Vec<SinkRunner>) -> Result<Outbox, LogError> {
        let log = AlertLog::open(data_dir, log::DEFAULT_SEGMENT_BYTES)?;
        let (appended, _) = watch::channel(log.end());
        let (stop, _) = watch::channel(false);
        let mut tasks = Vec::new();
        let mut stats = Vec::new();
        for runner in sinks {
            stats.push((runner.sink.name().to_string(), runner.stats.clone()));
            tasks.push(tokio::spawn(run_sink(
                data_dir.to_path_buf(),
                runner,
                appended.subscribe(),
                stop.subscribe(),
            )));
        }
        Ok(Outbox {
            log,
            appended,
            stop,
            tasks,
            stats,
        })
    }

    /// Makes `alerts` durable, then wakes the sinks.
    pub fn publish(&mut self, alerts: &[Alert]) -> Result<(), LogError> {
        if alerts.is_empty() {
            return Ok(());
        }
        let end = self.log.append(alerts)?;
        self.appended.send_replace(end);
        Ok(())
    }

    pub fn sink_stats(&self) -> &[(String, Arc<SinkStats>)] {
        &self.stats
    }

    /// Lets each sink deliver what the log holds (one attempt for an unreachable sink), then
    /// stops them.
    pub async fn shutdown(self) {
        self.stop.send_replace(true);
        for task in self.tasks {
            if let Err(error) = task.await {
                tracing::error!(%error, "an alert sink task failed");
            }
        }
    }
}
