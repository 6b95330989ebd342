//! `serve --role writer`: a consumer group that turns an events topic into Parquet under the
//! store's `cluster=/date=/hour=` layout. Each Kafka partition is buffered on its own; a flush
//! writes one file per table partition named `<topic>-<partition>-<first>-<last>.parquet` (the
//! offsets it covers), so a flush retried after a crash replaces its files instead of adding
//! copies, and the partition's offset is committed only once the files are stored. The files go
//! to the local store or to S3-compatible object storage ([`Target`]).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::watch;

use super::KafkaSource;
use crate::batcher::{BatchLimits, Buffer};
use crate::pipeline::batch_or_quarantine;
use crate::stats::Stats;
use crate::store::object::ObjectTarget;
use crate::store::{Flush, FlushStats, Store, StoreError};

/// Where the writer stores its files.
#[derive(Debug, Clone)]
pub enum Target {
    /// The data directory's `events/` and `quarantine/`.
    Local(Arc<Store>),
    /// A bucket prefix on S3-compatible storage.
    Object(Arc<ObjectTarget>),
}

impl Target {
    /// Stores `flush` as files named `STEM.parquet`; gives the rows back with the outcome.
    async fn write(&self, flush: Flush, stem: &str) -> (Flush, Result<FlushStats, StoreError>) {
        match self {
            Target::Local(store) => {
                let store = store.clone();
                let stem = stem.to_string();
                let done = tokio::task::spawn_blocking(move || {
                    let result = store.write(&flush, &stem, None);
                    (flush, result)
                })
                .await;
                match done {
                    Ok(done) => done,
                    // Only a panic in the encoder gets here: the rows went with it, so the
                    // writer must not commit (it stops rather than lose them).
                    Err(error) => panic!("writer: storing a flush panicked: {error}"),
                }
            }
            Target::Object(target) => {
                let result = target.write(&flush, stem).await;
                (flush, result)
            }
        }
    }
}

/// The offsets of a flush being stored, written down before its files. A writer that stops
/// before committing (a crash, a lost partition) leaves it behind, and whichever writer reads
/// the partition next cuts its first flush at the same offset: the files get the same names and
/// replace the first ones instead of storing the events twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Planned {
    first: i64,
    last: i64,
}

/// How long a flush waits for the messages of a planned cut before it gives up on the same
/// names (the messages may have expired from the topic).
const PLANNED_WAIT: Duration = Duration::from_secs(60);

fn planned_name(topic: &str, partition: i32) -> String {
    format!("writer-{topic}-{partition}.json")
}

impl Target {
    /// The flush a writer was storing for this partition when it stopped, if any.
    async fn planned(&self, topic: &str, partition: i32) -> Result<Option<Planned>, StoreError> {
        let name = planned_name(topic, partition);
        let bytes = match self {
            Target::Local(store) => {
                return crate::store::read_state(&store.state_path(&name));
            }
            Target::Object(target) => target.read_state(&name).await?,
        };
        Ok(bytes.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
    }

    /// Writes down (or, with `None`, forgets) the flush being stored for this partition.
    async fn plan(
        &self,
        topic: &str,
        partition: i32,
        planned: Option<Planned>,
    ) -> Result<(), StoreError> {
        let name = planned_name(topic, partition);
        let bytes = planned
            .map(|planned| serde_json::to_vec(&planned))
            .transpose()
            .map_err(|e| StoreError::Encode(e.to_string()))?;
        match self {
            Target::Local(store) => {
                let path = store.state_path(&name);
                match bytes {
                    Some(bytes) => crate::store::write_state(&path, &bytes),
                    None => match std::fs::remove_file(&path) {
                        Ok(()) => Ok(()),
                        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
                        Err(source) => Err(StoreError::Io { path, source }),
                    },
                }
            }
            Target::Object(target) => target.write_state(&name, bytes).await,
        }
    }
}

/// Waits between attempts while storing fails: 1 s, doubling, at most a minute.
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(60);

/// One Kafka partition's rows waiting for a flush.
struct Pending {
    buffer: Buffer,
    first: i64,
    last: i64,
    messages: usize,
    /// Flush at this offset: a flush with these offsets was being stored when a writer stopped.
    cut_at: Option<i64>,
    started: Instant,
}

impl Pending {
    fn is_due(&self, limits: &BatchLimits, now: Instant) -> bool {
        match self.cut_at {
            Some(cut) if now.duration_since(self.started) < PLANNED_WAIT => self.last >= cut,
            _ => self.buffer.is_due(limits, now),
        }
    }
}

/// Consumes `source`'s topics into `store` until `stop` is set, then flushes and commits what
/// it holds.
pub async fn run(
    source: &KafkaSource,
    consumer: StreamConsumer,
    target: Target,
    limits: BatchLimits,
    stats: Arc<Stats>,
    mut stop: watch::Receiver<bool>,
) {
    let mut pending: BTreeMap<(String, i32), Pending> = BTreeMap::new();
    // Each partition's flush left planned by a writer that stopped, looked up the first time the
    // partition is read.
    let mut plans: BTreeMap<(String, i32), Option<Planned>> = BTreeMap::new();
    let tick = limits
        .max_age
        .min(Duration::from_secs(1))
        .max(Duration::from_millis(50));
    let mut ticker = tokio::time::interval(tick);
    // While a flush fails, nothing more is read: the buffers stay bounded and the broker keeps
    // the messages. Flushes are retried with a growing pause.
    let mut failing = false;
    let mut retry_delay = RETRY_FIRST;
    let mut retry_at = Instant::now();
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
                    let key = (topic, partition);
                    if !plans.contains_key(&key) {
                        let found = match target.planned(&key.0, partition).await {
                            Ok(found) => found,
                            Err(error) => {
                                tracing::warn!(%error, "writer: cannot read the planned flush; cutting anew");
                                None
                            }
                        };
                        plans.insert(key.clone(), found);
                    }
                    let entry = pending.entry(key.clone()).or_insert_with(|| {
                        // A plan this message is already past was committed.
                        let cut_at = plans
                            .get_mut(&key)
                            .and_then(Option::take)
                            .filter(|planned| offset <= planned.last)
                            .map(|planned| {
                                tracing::info!(first = planned.first, last = planned.last, topic = %key.0, partition, "writer: repeating a flush another writer left unfinished");
                                planned.last
                            });
                        Pending {
                            buffer: Buffer::default(),
                            first: offset,
                            last: offset,
                            messages: 0,
                            cut_at,
                            started: Instant::now(),
                        }
                    });
                    entry.last = offset;
                    entry.messages += 1;
                    let mut quarantined = decoded.quarantined;
                    let events = batch_or_quarantine(&decoded.events, &mut quarantined, |index| {
                        format!("{location} event {index}")
                    });
                    stats.events(&cluster, events.num_rows(), quarantined.len());
                    entry.buffer.add_events(&cluster, events);
                    entry.buffer.add_quarantined(&cluster, quarantined);
                }
                Err(error) => {
                    tracing::warn!(%error, "writer: consumer error");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            },
        }
        let now = Instant::now();
        if failing && now < retry_at {
            continue;
        }
        let due: Vec<(String, i32)> = pending
            .iter()
            .filter(|(_, p)| p.is_due(&limits, now))
            .map(|(key, _)| key.clone())
            .collect();
        let mut failed = false;
        for key in due {
            if let Some(done) = pending.remove(&key) {
                if let Err(done) = flush(&consumer, &target, &stats, &key, done).await {
                    // Kept: tried again later, under the same name.
                    pending.insert(key, done);
                    failed = true;
                }
            }
        }
        if failed {
            tracing::warn!(retry_in = ?retry_delay, "writer: storing failed; reading paused until it works");
            retry_at = Instant::now() + retry_delay;
            retry_delay = (retry_delay * 2).min(RETRY_MAX);
        } else {
            retry_delay = RETRY_FIRST;
        }
        failing = failed;
    }
    for (key, done) in std::mem::take(&mut pending) {
        let _ = flush(&consumer, &target, &stats, &key, done).await;
    }
}

/// Writes `done` and commits the offset after it; gives `done` back when either failed.
async fn flush(
    consumer: &StreamConsumer,
    target: &Target,
    stats: &Arc<Stats>,
    (topic, partition): &(String, i32),
    mut done: Pending,
) -> Result<(), Pending> {
    let stem = format!("{topic}-{partition}-{:020}-{:020}", done.first, done.last);
    let planned = Planned {
        first: done.first,
        last: done.last,
    };
    if let Err(error) = target.plan(topic, *partition, Some(planned)).await {
        tracing::error!(%error, file = %stem, "writer: cannot record the flush; retrying");
        return Err(done);
    }
    let (rows, written) = target
        .write(std::mem::take(done.buffer.pending()), &stem)
        .await;
    *done.buffer.pending() = rows;
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
                    if let Err(error) = target.plan(topic, *partition, None).await {
                        // Harmless: a plan the next reader is past is dropped.
                        tracing::warn!(%error, "writer: cannot remove the finished flush's record");
                    }
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
