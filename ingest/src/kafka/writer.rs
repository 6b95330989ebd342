//! `serve --role writer`: a consumer group that turns an events topic into Parquet under the
//! store's `cluster=/date=/hour=` layout. Each Kafka partition is buffered on its own; a flush
//! writes one file per table partition named `<topic>-<partition>-<first>-<last>.parquet` (the
//! offsets it covers), so a flush retried after a crash replaces its files instead of adding
//! copies, and the partition's offset is committed only once the files are stored.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::watch;

use super::KafkaSource;
use crate::batcher::{BatchLimits, Buffer};
use crate::stats::Stats;
use crate::store::{Store, StoreError};

/// One Kafka partition's rows waiting for a flush.
struct Pending {
    buffer: Buffer,
    first: i64,
    last: i64,
    messages: usize,
}

/// Consumes `source`'s topics into `store` until `stop` is set, then flushes and commits what
/// it holds.
pub async fn run(
    source: &KafkaSource,
    consumer: StreamConsumer,
    store: Arc<Store>,
    limits: BatchLimits,
    stats: Arc<Stats>,
    mut stop: watch::Receiver<bool>,
) {
    let mut pending: BTreeMap<(String, i32), Pending> = BTreeMap::new();
    let tick = limits
        .max_age
        .min(Duration::from_secs(1))
        .max(Duration::from_millis(50));
    let mut ticker = tokio::time::interval(tick);
    // While a flush fails, nothing more is read: the buffers stay bounded and the broker keeps
    // the messages.
    let mut failing = false;
    while !*stop.borrow() {
        tokio::select! {
            _ = stop.changed() => {}
            _ = ticker.tick() => {}
            message = consumer.recv(), if !failing => match message {
                Ok(message) => {
                    let received_at = chrono::Utc::now().timestamp_micros();
                    let (topic, partition, offset) =
                        (message.topic().to_string(), message.partition(), message.offset());
                    let location = format!("{topic}/{partition}@{offset}");
                    let cluster = source.cluster_of(&message);
                    let decoded =
                        source.decode(message.payload().unwrap_or_default(), &location, received_at);
                    let entry = pending.entry((topic, partition)).or_insert_with(|| Pending {
                        buffer: Buffer::default(),
                        first: offset,
                        last: offset,
                        messages: 0,
                    });
                    entry.last = offset;
                    entry.messages += 1;
                    Stats::add(&stats.events_accepted, decoded.events.len() as u64);
                    Stats::add(&stats.events_quarantined, decoded.quarantined.len() as u64);
                    let rows: Vec<_> = decoded.events.into_iter().map(|(row, _)| row).collect();
                    entry.buffer.add_events(&cluster, rows);
                    entry.buffer.add_quarantined(&cluster, decoded.quarantined);
                }
                Err(error) => {
                    tracing::warn!(%error, "writer: consumer error");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            },
        }
        let now = Instant::now();
        let due: Vec<(String, i32)> = pending
            .iter()
            .filter(|(_, p)| p.buffer.is_due(&limits, now))
            .map(|(key, _)| key.clone())
            .collect();
        failing = false;
        for key in due {
            if let Some(done) = pending.remove(&key) {
                if let Err(done) = flush(&consumer, &store, &stats, &key, done).await {
                    // Kept: tried again at the next tick, under the same name.
                    pending.insert(key, done);
                    failing = true;
                }
            }
        }
    }
    for (key, done) in std::mem::take(&mut pending) {
        let _ = flush(&consumer, &store, &stats, &key, done).await;
    }
}

/// Writes `done` and commits the offset after it; gives `done` back when either failed.
async fn flush(
    consumer: &StreamConsumer,
    store: &Arc<Store>,
    stats: &Arc<Stats>,
    (topic, partition): &(String, i32),
    mut done: Pending,
) -> Result<(), Pending> {
    let stem = format!("{topic}-{partition}-{:020}-{:020}", done.first, done.last);
    let written = {
        let store = store.clone();
        let stem = stem.clone();
        let mut flush = std::mem::take(done.buffer.pending());
        let result = tokio::task::spawn_blocking(move || {
            let result = store.write(&mut flush, &stem, None);
            (flush, result)
        })
        .await;
        match result {
            Ok((flush, result)) => {
                *done.buffer.pending() = flush;
                result
            }
            Err(error) => Err(StoreError::Encode(error.to_string())),
        }
    };
    match written {
        Ok(written) => {
            Stats::add(&stats.events_written, written.events);
            Stats::add(&stats.files_written, written.files);
            let mut offsets = TopicPartitionList::new();
            let committed = offsets
                .add_partition_offset(topic, *partition, Offset::Offset(done.last + 1))
                .and_then(|()| consumer.commit(&offsets, CommitMode::Sync));
            match committed {
                Ok(()) => {
                    tracing::debug!(file = %stem, messages = done.messages, events = written.events, "writer: stored and committed");
                    Ok(())
                }
                Err(error) => {
                    // The files are stored; another writer may store these offsets again.
                    tracing::warn!(%error, %topic, partition, "writer: files stored but the offset was not committed");
                    Ok(())
                }
            }
        }
        Err(error) => {
            tracing::error!(%error, file = %stem, "writer: cannot store the files; retrying");
            Err(done)
        }
    }
}
