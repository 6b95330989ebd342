//! The Kafka source: audit events consumed from topics with a consumer group, one `Event` or
//! one `EventList` (JSON) per message, as Vector, Fluent Bit or another auditlens publish them.
//! A message's offset is stored for commit only once its events are in the WAL; a message that
//! is not audit events is quarantined with its topic, partition and offset, and consuming goes on.
//! [`Forwarder`] is the other direction: the webhook's requests produced to a topic.

pub mod writer;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use schemas::QuarantineRow;
use tokio::sync::{oneshot, watch};

use crate::decode::{decode_body, Decoded};
use crate::pipeline::{
    batch_or_quarantine, Append, AppendRefused, PipelineHandle, StorageFailed, Tap, Tapped,
};
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

/// Where consumed events go.
#[derive(Clone)]
pub enum Destination {
    /// The write-ahead log, then Parquet (and detection, when it runs): `serve`.
    Wal(PipelineHandle),
    /// The detection engine only (`--role detect`): a message counts as done once the event
    /// rules ran on it and their alerts are in the outbox.
    Detect(Tap),
}

/// A message handed to the WAL, waiting to become durable.
struct InFlight {
    topic: String,
    partition: i32,
    offset: i64,
    cluster: String,
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
        destination: Destination,
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
                        Ok(message) => match self.hand_over(&message, &destination, &mut stop).await {
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
            if error.rdkafka_error_code() != Some(RDKafkaErrorCode::NoOffset) {
                tracing::warn!(%error, "Kafka source: final commit failed; some messages will be read again");
            }
        }
    }

    /// Decodes `message` and queues it for the WAL; `None` when the pipeline is closed or
    /// stopping.
    async fn hand_over(
        &self,
        message: &BorrowedMessage<'_>,
        destination: &Destination,
        stop: &mut watch::Receiver<bool>,
    ) -> Option<InFlight> {
        let (topic, partition, offset) = (
            message.topic().to_string(),
            message.partition(),
            message.offset(),
        );
        let location = format!("{topic}/{partition}@{offset}");
        let cluster = self.cluster_of(message);
        let metrics_cluster = cluster.to_string();
        let payload = message.payload().unwrap_or_default();
        let received_at = chrono::Utc::now().timestamp_micros();
        let decoded = self.decode(payload, &location, received_at);
        let (mut accepted, mut quarantined) = (decoded.events.len(), decoded.quarantined.len());
        let (reply_tx, reply) = oneshot::channel();
        match destination {
            Destination::Wal(pipeline) => {
                let append = Append::new(decoded, SOURCE_KAFKA, cluster, received_at, reply_tx);
                offer_until_taken(append, |append| pipeline.offer(append), stop).await?;
            }
            Destination::Detect(tap) => {
                if accepted == 0 {
                    // Nothing for the rules: done at once.
                    let _ = reply_tx.send(Ok(()));
                } else {
                    // Only the rules see these events; none is stored here.
                    let mut unbuilt = Vec::new();
                    let events = batch_or_quarantine(&decoded.events, &mut unbuilt, |index| {
                        format!("{location} event {index}")
                    });
                    accepted -= unbuilt.len();
                    quarantined += unbuilt.len();
                    let tapped = Tapped {
                        cluster,
                        events,
                        done: Some(reply_tx),
                    };
                    offer_until_taken(tapped, |tapped| tap.offer(tapped), stop).await?;
                }
            }
        }
        Some(InFlight {
            topic,
            partition,
            offset,
            cluster: metrics_cluster,
            accepted,
            quarantined,
            reply,
        })
    }

    /// The cluster a message's key names, else the default.
    pub fn cluster_of(&self, message: &BorrowedMessage<'_>) -> String {
        message
            .key()
            .and_then(|key| std::str::from_utf8(key).ok())
            .filter(|key| validate_cluster(key).is_ok())
            .unwrap_or(&self.default_cluster)
            .to_string()
    }

    /// The message's events; the whole message is quarantined when it is not audit events.
    pub fn decode<'a>(&self, payload: &'a [u8], location: &str, received_at: i64) -> Decoded<'a> {
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
        stats.events(&flight.cluster, flight.accepted, flight.quarantined);
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

/// Offers `item` until it is taken, waiting while the destination is full; `None` when it is
/// closed or `stop` is set.
async fn offer_until_taken<T>(
    mut item: T,
    offer: impl Fn(T) -> Result<(), (AppendRefused, Box<T>)>,
    stop: &mut watch::Receiver<bool>,
) -> Option<()> {
    loop {
        match offer(item) {
            Ok(()) => return Some(()),
            Err((AppendRefused::Full, back)) => {
                item = *back;
                tokio::select! {
                    _ = tokio::time::sleep(WAL_FULL_WAIT) => {}
                    _ = stop.changed() => return None,
                }
            }
            Err((AppendRefused::Closed, _)) => return None,
        }
    }
}

/// The oldest message in flight once the WAL answered it (in order: offsets are stored in the
/// order messages were read). `None` when nothing is in flight.
async fn wait_first(in_flight: &mut VecDeque<InFlight>) -> Option<Done> {
    let first = in_flight.front_mut()?;
    let outcome = (&mut first.reply)
        .await
        .unwrap_or_else(|_| Err(StorageFailed("the pipeline stopped".into())));
    in_flight.pop_front().map(|flight| (flight, outcome))
}

/// `serve --role ingest`: accepted requests go to a Kafka topic instead of the local WAL. Each
/// request's events (and the inputs that failed to decode, for the writers to quarantine) are
/// produced as `EventList` messages keyed by cluster, with `acks=all` and idempotence; the
/// webhook answers 200 only once every message of the request was acknowledged.
#[derive(Clone)]
pub struct Forwarder {
    producer: FutureProducer,
    topic: Arc<str>,
    max_message_bytes: usize,
}

/// Why a request was not forwarded.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// The producer's queue is full: Kafka is behind (429).
    #[error("the Kafka producer's queue is full")]
    Full,
    /// Kafka did not acknowledge in time, or refused (503: the sender retries).
    #[error("Kafka did not take the events: {0}")]
    Failed(String),
}

/// What one request becomes on the events topic.
#[derive(Debug, Default)]
pub struct Messages {
    pub payloads: Vec<Vec<u8>>,
    /// Events that travel without their bodies.
    pub truncated: usize,
    /// Events too large even without their bodies, sent as quarantine records.
    pub unfit: usize,
}

const EVENT_LIST_HEAD: &[u8] = br#"{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":["#;

/// The annotation kube-apiserver's truncating backend sets on an event whose bodies it dropped.
pub const TRUNCATED_ANNOTATION: &str = "audit.k8s.io/truncated";

/// `raw` without `requestObject` and `responseObject`, annotated as truncated; `None` when it
/// is not a JSON object.
fn without_bodies(raw: &str) -> Option<String> {
    let mut event: serde_json::Map<String, serde_json::Value> = serde_json::from_str(raw).ok()?;
    event.remove("requestObject");
    event.remove("responseObject");
    let annotations = event
        .entry("annotations")
        .or_insert_with(|| serde_json::Value::Object(Default::default()));
    if !annotations.is_object() {
        *annotations = serde_json::Value::Object(Default::default());
    }
    if let serde_json::Value::Object(map) = annotations {
        map.insert(TRUNCATED_ANNOTATION.into(), "true".into());
    }
    serde_json::to_string(&event).ok()
}

/// A JSON string item (which no decoder takes for an event, so it is quarantined where it is
/// stored) naming the size of `raw` and holding its beginning.
fn unfit_record(raw: &str, room: usize) -> String {
    let mut cut = raw.len().min(4096).min(room / 2);
    while !raw.is_char_boundary(cut) {
        cut -= 1;
    }
    #[derive(serde::Deserialize)]
    struct Id {
        #[serde(rename = "auditID")]
        audit_id: Option<String>,
    }
    let audit_id = serde_json::from_str::<Id>(raw)
        .ok()
        .and_then(|id| id.audit_id)
        .map(|id| format!(" (auditID {id})"))
        .unwrap_or_default();
    let text = format!(
        "auditlens: an input of {} bytes{audit_id} did not fit in one Kafka message even without its bodies; it begins: {}",
        raw.len(),
        &raw[..cut]
    );
    serde_json::Value::String(text).to_string()
}

/// Default largest message produced; Kafka's default `message.max.bytes` is 1 MiB.
pub const DEFAULT_FORWARD_MESSAGE_BYTES: usize = 900 * 1024;

impl Forwarder {
    /// A producer on top of `client` for `topic`; `max_message_bytes` bounds each message (a
    /// request's events are split over several messages when needed).
    pub fn new(
        client: &ClientConfig,
        topic: &str,
        max_message_bytes: usize,
    ) -> Result<Forwarder, rdkafka::error::KafkaError> {
        let mut config = client.clone();
        config.set("enable.idempotence", "true").set("acks", "all");
        for (key, value) in [
            // Within kube-apiserver's patience: a slow Kafka is a 503 it retries, not a hang.
            ("message.timeout.ms", "10000"),
            ("linger.ms", "2"),
            ("queue.buffering.max.kbytes", "262144"),
        ] {
            if config.get(key).is_none() {
                config.set(key, value);
            }
        }
        if config.get("message.max.bytes").is_none() {
            // Room for the largest message plus the record batch's overhead.
            config.set(
                "message.max.bytes",
                (max_message_bytes + 65_536).to_string(),
            );
        }
        Ok(Forwarder {
            producer: config.create()?,
            topic: topic.into(),
            max_message_bytes,
        })
    }

    /// Produces `messages` keyed by `cluster` and waits for every delivery report.
    pub async fn send(&self, cluster: &str, messages: Vec<Vec<u8>>) -> Result<(), ForwardError> {
        let mut reports = Vec::with_capacity(messages.len());
        for message in &messages {
            let record = FutureRecord::to(&self.topic)
                .key(cluster)
                .payload(message.as_slice());
            match self.producer.send_result(record) {
                Ok(report) => reports.push(report),
                Err((error, _)) => {
                    return Err(
                        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::QueueFull) {
                            ForwardError::Full
                        } else {
                            ForwardError::Failed(error.to_string())
                        },
                    )
                }
            }
        }
        for report in reports {
            match report.await {
                Ok(Ok(_)) => {}
                Ok(Err((error, _))) => return Err(ForwardError::Failed(error.to_string())),
                Err(_) => return Err(ForwardError::Failed("the producer stopped".into())),
            }
        }
        Ok(())
    }

    /// The `EventList` messages carrying `decoded`'s events and quarantined inputs, each at
    /// most `max_message_bytes`. An event larger than that travels without its request and
    /// response bodies, annotated `audit.k8s.io/truncated: "true"` (what kube-apiserver's
    /// truncating backend does); one still too large is sent as a quarantine record holding its
    /// first 4 KiB, which the writers store in the quarantine table.
    pub fn messages(&self, decoded: &Decoded<'_>) -> Messages {
        let mut out = Messages::default();
        let room = self
            .max_message_bytes
            .saturating_sub(EVENT_LIST_HEAD.len() + 3);
        let mut items: Vec<std::borrow::Cow<'_, str>> = Vec::new();
        for (_, raw) in &decoded.events {
            if raw.len() <= room {
                items.push((*raw).into());
            } else if let Some(smaller) = without_bodies(raw).filter(|s| s.len() <= room) {
                out.truncated += 1;
                items.push(smaller.into());
            } else {
                out.unfit += 1;
                items.push(unfit_record(raw, room).into());
            }
        }
        for row in &decoded.quarantined {
            if row.raw.len() <= room {
                items.push(row.raw.as_str().into());
            } else {
                items.push(unfit_record(&row.raw, room).into());
            }
        }
        let mut current: Vec<u8> = EVENT_LIST_HEAD.to_vec();
        for item in &items {
            let fits = current.len() + item.len() + 3 <= self.max_message_bytes;
            if current.len() > EVENT_LIST_HEAD.len() && !fits {
                current.extend_from_slice(b"]}");
                out.payloads
                    .push(std::mem::replace(&mut current, EVENT_LIST_HEAD.to_vec()));
            }
            if current.len() > EVENT_LIST_HEAD.len() {
                current.push(b',');
            }
            current.extend_from_slice(item.as_bytes());
        }
        if current.len() > EVENT_LIST_HEAD.len() {
            current.extend_from_slice(b"]}");
            out.payloads.push(current);
        }
        out
    }

    /// Waits up to `timeout` for messages still queued (shutdown).
    pub fn flush(&self, timeout: Duration) {
        if let Err(error) = self.producer.flush(timeout) {
            tracing::warn!(%error, "the Kafka producer did not flush");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, body_bytes: usize) -> String {
        serde_json::json!({
            "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "RequestResponse",
            "auditID": id, "stage": "ResponseComplete", "requestURI": "/api/v1/namespaces/a/configmaps/big",
            "verb": "update", "user": {"username": "alice"},
            "objectRef": {"resource": "configmaps", "namespace": "a", "name": "big", "apiVersion": "v1"},
            "responseStatus": {"code": 200},
            "requestObject": {"data": {"blob": "x".repeat(body_bytes)}},
            "requestReceivedTimestamp": "2026-11-30T10:00:00.000000Z",
            "stageTimestamp": "2026-11-30T10:00:00.100000Z",
            "annotations": {"authorization.k8s.io/decision": "allow"}
        })
        .to_string()
    }

    fn forwarder(max: usize) -> Forwarder {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", "127.0.0.1:1");
        Forwarder::new(&config, "events", max).expect("a producer")
    }

    /// Decodes every message the way a writer does; gives the accepted events and the
    /// quarantined inputs.
    fn read_back(messages: &Messages) -> (Vec<serde_json::Value>, Vec<String>) {
        let (mut events, mut quarantined) = (Vec::new(), Vec::new());
        for payload in &messages.payloads {
            let decoded = decode_body(payload, "kafka", 0).expect("a valid EventList");
            for (_, raw) in decoded.events {
                events.push(serde_json::from_str(raw).unwrap());
            }
            quarantined.extend(decoded.quarantined.into_iter().map(|row| row.raw));
        }
        (events, quarantined)
    }

    #[test]
    fn requests_are_split_into_messages_under_the_limit() {
        let body = format!(
            r#"{{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{},{},{}]}}"#,
            event("a", 3000),
            event("b", 3000),
            event("c", 10)
        );
        let decoded = decode_body(body.as_bytes(), "webhook", 0).unwrap();
        let messages = forwarder(5000).messages(&decoded);
        assert!(
            messages.payloads.len() >= 2,
            "{} messages",
            messages.payloads.len()
        );
        assert!(messages.payloads.iter().all(|m| m.len() <= 5000));
        let (events, quarantined) = read_back(&messages);
        let ids: Vec<_> = events
            .iter()
            .map(|e| e["auditID"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["a", "b", "c"]);
        assert!(quarantined.is_empty());
        assert_eq!((messages.truncated, messages.unfit), (0, 0));
    }

    #[test]
    fn an_event_too_large_for_a_message_travels_without_its_bodies() {
        let body = format!(
            r#"{{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{},{}]}}"#,
            event("big", 50_000),
            event("small", 10)
        );
        let decoded = decode_body(body.as_bytes(), "webhook", 0).unwrap();
        let messages = forwarder(20_000).messages(&decoded);
        assert_eq!((messages.truncated, messages.unfit), (1, 0));
        assert!(messages.payloads.iter().all(|m| m.len() <= 20_000));
        let (events, quarantined) = read_back(&messages);
        assert!(quarantined.is_empty());
        let big = events
            .iter()
            .find(|e| e["auditID"] == "big")
            .expect("the big event");
        assert!(big.get("requestObject").is_none());
        assert_eq!(big["annotations"][TRUNCATED_ANNOTATION], "true");
        assert_eq!(big["annotations"]["authorization.k8s.io/decision"], "allow");
        assert_eq!(big["user"]["username"], "alice");
        let small = events.iter().find(|e| e["auditID"] == "small").unwrap();
        assert!(small.get("requestObject").is_some());
    }

    #[test]
    fn an_event_too_large_even_without_bodies_is_quarantined_with_its_beginning() {
        let mut huge: serde_json::Value = serde_json::from_str(&event("huge", 10)).unwrap();
        huge["annotations"]["note"] = "y".repeat(30_000).into();
        let body = format!(
            r#"{{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{huge},{}]}}"#,
            event("ok", 10)
        );
        let decoded = decode_body(body.as_bytes(), "webhook", 0).unwrap();
        let messages = forwarder(20_000).messages(&decoded);
        assert_eq!((messages.truncated, messages.unfit), (0, 1));
        let (events, quarantined) = read_back(&messages);
        assert_eq!(events.len(), 1);
        assert_eq!(quarantined.len(), 1);
        assert!(quarantined[0].contains("did not fit in one Kafka message"));
        assert!(
            quarantined[0].contains("(auditID huge)"),
            "{}",
            &quarantined[0][..200]
        );
        assert!(
            quarantined[0].contains(r#"{\"annotations\""#),
            "{}",
            &quarantined[0][..200]
        );
    }
}
