//! The Kafka source: audit events consumed from topics with a consumer group, one `Event` or
//! one `EventList` (JSON) per message, as Vector, Fluent Bit or another auditlens publish them.
//! A message's offset is stored for commit only once its events are in the WAL; a message that
//! is not audit events is quarantined with its topic, partition and offset, and consuming goes on.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Message};
use schemas::QuarantineRow;
use tokio::sync::{oneshot, watch};

use crate::decode::{decode_body, Decoded};
use crate::pipeline::{Append, AppendRefused, PipelineHandle, StorageFailed};
use crate::server::auth::validate_cluster;
use crate::stats::Stats;

/// `source` of the events and quarantined inputs read from Kafka.
pub const SOURCE_KAFKA: &str = "kafka";
/// Messages handed to the WAL and not yet durable, at most.
const IN_FLIGHT: usize = 256;
/// How long to wait before offering a message again to a full WAL queue.
const WAL_FULL_WAIT: Duration = Duration::from_millis(20);
/// Bytes of a message kept in the quarantine when the message is too large.
const QUARANTINE_RAW_BYTES: usize = 4096;

/// What to consume and where events without a cluster go.
#[derive(Clone)]
pub struct KafkaSource {
    /// Connection settings (brokers, TLS, SASL); the group and offset settings are added.
    pub client: ClientConfig,
    pub topics: Vec<String>,
    pub group: String,
    /// The cluster of messages whose key names none.
    pub default_cluster: String,
    /// Largest message accepted; larger ones are quarantined.
    pub max_message_bytes: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot create the Kafka consumer: {0}")]
    Create(rdkafka::error::KafkaError),
    #[error("cannot subscribe to {topics:?}: {error}")]
    Subscribe {
        topics: Vec<String>,
        error: rdkafka::error::KafkaError,
    },
}

/// A message handed to the WAL, waiting to become durable.
struct InFlight {
    topic: String,
    partition: i32,
    offset: i64,
    accepted: usize,
    quarantined: usize,
    reply: oneshot::Receiver<Result<(), StorageFailed>>,
}

impl KafkaSource {
    /// Creates the consumer and subscribes; consuming starts with [`KafkaSource::run`].
    pub fn consumer(&self) -> Result<StreamConsumer, SourceError> {
        let mut config = self.client.clone();
        config
            .set("group.id", &self.group)
            // Offsets are stored by hand once durable; the stored ones are committed.
            .set("enable.auto.offset.store", "false")
            .set("enable.auto.commit", "true");
        if config.get("auto.offset.reset").is_none() {
            config.set("auto.offset.reset", "earliest");
        }
        let consumer: StreamConsumer = config.create().map_err(SourceError::Create)?;
        let topics: Vec<&str> = self.topics.iter().map(String::as_str).collect();
        consumer
            .subscribe(&topics)
            .map_err(|error| SourceError::Subscribe {
                topics: self.topics.clone(),
                error,
            })?;
        Ok(consumer)
    }

    /// Consumes until `stop` is set or the pipeline closes, then waits for what is in flight,
    /// stores and commits its offsets.
    pub async fn run(
        &self,
        consumer: StreamConsumer,
        pipeline: PipelineHandle,
        stats: Arc<Stats>,
        mut stop: watch::Receiver<bool>,
    ) {
        let mut in_flight: VecDeque<InFlight> = VecDeque::new();
        let mut closed = false;
        while !closed && !*stop.borrow() {
            tokio::select! {
                _ = stop.changed() => {}
                durable = wait_first(&mut in_flight), if !in_flight.is_empty() => {
                    if let Some(done) = durable {
                        closed |= !self.finish(&consumer, done, &stats);
                    }
                }
                message = consumer.recv(), if in_flight.len() < IN_FLIGHT => {
                    match message {
                        Ok(message) => match self.hand_over(&message, &pipeline, &mut stop).await {
                            Some(flight) => in_flight.push_back(flight),
                            None => closed = true,
                        },
                        Err(error) => {
                            tracing::warn!(%error, "Kafka source: consumer error");
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                    }
                }
            }
        }
        while let Some(done) = wait_first(&mut in_flight).await {
            if !self.finish(&consumer, done, &stats) {
                break;
            }
        }
        if let Err(error) = consumer.commit_consumer_state(CommitMode::Sync) {
            // Nothing stored since the last commit is fine; other errors mean a re-read.
            if error.rdkafka_error_code() != Some(rdkafka::types::RDKafkaErrorCode::NoOffset) {
                tracing::warn!(%error, "Kafka source: final commit failed; some messages will be read again");
            }
        }
    }

    /// Decodes `message` and queues it for the WAL; `None` when the pipeline is closed or
    /// stopping.
    async fn hand_over(
        &self,
        message: &BorrowedMessage<'_>,
        pipeline: &PipelineHandle,
        stop: &mut watch::Receiver<bool>,
    ) -> Option<InFlight> {
        let (topic, partition, offset) = (
            message.topic().to_string(),
            message.partition(),
            message.offset(),
        );
        let location = format!("{topic}/{partition}@{offset}");
        let cluster = message
            .key()
            .and_then(|key| std::str::from_utf8(key).ok())
            .filter(|key| validate_cluster(key).is_ok())
            .unwrap_or(&self.default_cluster)
            .to_string();
        let payload = message.payload().unwrap_or_default();
        let received_at = chrono::Utc::now().timestamp_micros();
        let decoded = self.decode(payload, &location, received_at);
        let (accepted, quarantined) = (decoded.events.len(), decoded.quarantined.len());
        let (reply_tx, reply) = oneshot::channel();
        let mut append = Append::new(decoded, SOURCE_KAFKA, cluster, received_at, reply_tx);
        loop {
            match pipeline.offer(append) {
                Ok(()) => break,
                Err((AppendRefused::Full, refused)) => {
                    append = *refused;
                    tokio::select! {
                        _ = tokio::time::sleep(WAL_FULL_WAIT) => {}
                        _ = stop.changed() => return None,
                    }
                }
                Err((AppendRefused::Closed, _)) => return None,
            }
        }
        Some(InFlight {
            topic,
            partition,
            offset,
            accepted,
            quarantined,
            reply,
        })
    }

    /// The message's events; the whole message is quarantined when it is not audit events.
    fn decode<'a>(&self, payload: &'a [u8], location: &str, received_at: i64) -> Decoded<'a> {
        let quarantine = |reason: String, raw: &[u8]| {
            let mut decoded = Decoded::default();
            decoded.quarantined.push(QuarantineRow {
                source: SOURCE_KAFKA.to_string(),
                received_at,
                location: location.to_string(),
                reason,
                raw: String::from_utf8_lossy(raw).into_owned(),
            });
            decoded
        };
        if payload.len() > self.max_message_bytes {
            let kept = &payload[..QUARANTINE_RAW_BYTES.min(payload.len())];
            return quarantine(
                format!(
                    "message of {} bytes is larger than the limit of {} bytes (first {} bytes kept)",
                    payload.len(),
                    self.max_message_bytes,
                    kept.len()
                ),
                kept,
            );
        }
        match decode_body(payload, SOURCE_KAFKA, received_at) {
            Ok(mut decoded) => {
                for row in &mut decoded.quarantined {
                    // `item 3` of the message at topic/partition@offset
                    row.location = format!("{location} {}", row.location);
                }
                decoded
            }
            Err(error) => quarantine(error.to_string(), payload),
        }
    }

    /// Stores the offset of a durable message for the next commit; `false` when the WAL
    /// failed (the offset is not stored: the message is read again after a restart).
    fn finish(&self, consumer: &StreamConsumer, done: Done, stats: &Stats) -> bool {
        let (flight, outcome) = done;
        if let Err(error) = outcome {
            tracing::error!(%error, topic = %flight.topic, partition = flight.partition, offset = flight.offset, "Kafka source: events not stored; consuming stops");
            return false;
        }
        Stats::add(&stats.events_accepted, flight.accepted as u64);
        Stats::add(&stats.events_quarantined, flight.quarantined as u64);
        if flight.quarantined > 0 {
            tracing::warn!(topic = %flight.topic, partition = flight.partition, offset = flight.offset, quarantined = flight.quarantined, "Kafka source: input quarantined");
        }
        if let Err(error) = consumer.store_offset(&flight.topic, flight.partition, flight.offset) {
            // The partition moved to another consumer: it reads the message again.
            tracing::debug!(%error, topic = %flight.topic, partition = flight.partition, "Kafka source: offset not stored");
        }
        true
    }
}

type Done = (InFlight, Result<(), StorageFailed>);

/// The oldest message in flight once the WAL answered it (in order: offsets are stored in the
/// order messages were read). `None` when nothing is in flight.
async fn wait_first(in_flight: &mut VecDeque<InFlight>) -> Option<Done> {
    let first = in_flight.front_mut()?;
    let outcome = (&mut first.reply)
        .await
        .unwrap_or_else(|_| Err(StorageFailed("the pipeline stopped".into())));
    in_flight.pop_front().map(|flight| (flight, outcome))
}
