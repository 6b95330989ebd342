//! Audit log files through the engine in event-time order: files in the order given, each read
//! in chunks sorted by event time (kube-apiserver writes its log in time order; the chunks mend
//! small disorder), fed in batches. The file's decoding workers build the Arrow batches.

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use analyze::detect::{in_time_order, Engine};
use anyhow::Context;
use datafusion::arrow::record_batch::RecordBatch;
use ingest::import::ImportError;
use ingest::store::StoreError;
use schemas::batch::events_batch;
use schemas::Alert;

/// Events the engine sees at once: as many as `serve` gives it at most.
const BATCH_EVENTS: usize = super::live::MAX_BATCH_EVENTS;
/// Events sorted together.
const CHUNK_EVENTS: usize = BATCH_EVENTS;

/// Counts of one replay.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct ReplaySummary {
    pub events: u64,
    pub quarantined: u64,
    pub alerts: u64,
}

/// Runs `engine` over `paths` as events of `cluster`, handing every alert to `on_alert`.
pub async fn replay(
    engine: &mut Engine,
    paths: &[PathBuf],
    cluster: &str,
    on_alert: &mut dyn FnMut(Alert) -> anyhow::Result<()>,
) -> anyhow::Result<ReplaySummary> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<RecordBatch>>(2);
    let reader_paths = paths.to_vec();
    let reader = tokio::task::spawn_blocking(move || -> anyhow::Result<(u64, u64)> {
        let (mut events, mut quarantined) = (0u64, 0u64);
        let (mut chunk, mut rows) = (Vec::new(), 0);
        for path in &reader_paths {
            let progress = Arc::new(AtomicU64::new(0));
            let summary = ingest::import::read_path_prepared(
                path,
                progress,
                &|piece| events_batch(&piece.events),
                &mut |batch| {
                    let batch =
                        batch.map_err(|e| ImportError::Store(StoreError::Encode(e.to_string())))?;
                    rows += batch.num_rows();
                    chunk.push(batch);
                    if rows >= CHUNK_EVENTS {
                        rows = 0;
                        // The receiver stops only on an error, which the caller reports.
                        let _ = tx.blocking_send(std::mem::take(&mut chunk));
                    }
                    Ok(())
                },
            )
            .with_context(|| format!("cannot read {}", path.display()))?;
            events += summary.events;
            quarantined += summary.quarantined;
            for _ in 0..summary.quarantined.min(1) {
                tracing::warn!(file = %path.display(), quarantined = summary.quarantined, "some inputs are not audit events and were skipped");
            }
        }
        if !chunk.is_empty() {
            let _ = tx.blocking_send(chunk);
        }
        Ok((events, quarantined))
    });
    let mut summary = ReplaySummary::default();
    while let Some(chunk) = rx.recv().await {
        let sorted = in_time_order(chunk.iter().map(|batch| (batch, cluster)))?;
        drop(chunk);
        for offset in (0..sorted.num_rows()).step_by(BATCH_EVENTS) {
            let batch = sorted.slice(offset, BATCH_EVENTS.min(sorted.num_rows() - offset));
            for alert in engine.process(&batch).await {
                summary.alerts += 1;
                on_alert(alert)?;
            }
        }
    }
    let (events, quarantined) = reader.await.context("the file reader stopped")??;
    for alert in engine.finish().await {
        summary.alerts += 1;
        on_alert(alert)?;
    }
    summary.events = events;
    summary.quarantined = quarantined;
    Ok(summary)
}
