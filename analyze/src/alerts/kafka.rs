//! The Kafka sink: one message per alert, produced idempotently with `acks=all`. The value is
//! the alert's JSON, the key `cluster/rule_id`, and CloudEvents binary-mode headers describe it.
//! An alert counts as delivered only once its delivery report succeeded; errors retrying cannot
//! fix (message too large, topic unknown or not authorized) send it to the dead letters.

use std::time::Duration;

use async_trait::async_trait;
use futures::future::join_all;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use schemas::Alert;

use super::sink::{Sink, SinkError};

/// `ce_type` of every alert message.
pub const CLOUDEVENTS_TYPE: &str = "io.auditlens.alert.v1";
/// How long one delivery may take before it is retried (librdkafka's `message.timeout.ms`).
pub const DEFAULT_DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);
/// Alerts produced at once; their delivery reports are awaited together.
const BATCH: usize = 1024;
/// How long to wait for room in the producer's queue before the batch is retried.
const QUEUE_WAIT: Duration = Duration::from_secs(5);

pub struct KafkaSink {
    config: ClientConfig,
    producer: FutureProducer,
    topic: String,
}

impl KafkaSink {
    /// A producer for `topic` on top of `client` (brokers, TLS, SASL, compression…), with the
    /// settings delivery at least once depends on forced: idempotence, `acks=all`.
    pub fn new(client: &ClientConfig, topic: &str) -> Result<KafkaSink, String> {
        if topic.is_empty() {
            return Err("the alerts topic is empty".into());
        }
        let mut config = client.clone();
        config.set("enable.idempotence", "true").set("acks", "all");
        let defaults = [
            // A producer whose brokers are all down still queues, and reports failure after
            // the delivery timeout: the outbox then retries.
            (
                "message.timeout.ms",
                DEFAULT_DELIVERY_TIMEOUT.as_millis().to_string(),
            ),
            ("linger.ms", "5".to_string()),
            // Bounded queue: a batch waits for room rather than growing memory.
            ("queue.buffering.max.messages", "100000".to_string()),
            ("queue.buffering.max.kbytes", "262144".to_string()),
        ];
        for (key, value) in defaults {
            if config.get(key).is_none() {
                config.set(key, value);
            }
        }
        let producer = create(&config)?;
        Ok(KafkaSink {
            config,
            producer,
            topic: topic.to_string(),
        })
    }

    /// Asks the brokers for the topic's metadata: `Err` says why alerts cannot be delivered
    /// now (brokers unreachable, topic missing or not authorized).
    pub async fn check(&self) -> Result<usize, String> {
        let producer = self.producer.clone();
        let topic = self.topic.clone();
        let timeout = Duration::from_secs(5);
        tokio::task::spawn_blocking(move || {
            let metadata = producer
                .client()
                .fetch_metadata(Some(&topic), timeout)
                .map_err(|e| format!("cannot reach the Kafka brokers: {e}"))?;
            let Some(found) = metadata.topics().iter().find(|t| t.name() == topic) else {
                return Err(format!("topic `{topic}` not found"));
            };
            if let Some(error) = found.error() {
                let code = RDKafkaErrorCode::from(error);
                return Err(format!("topic `{topic}`: {code}"));
            }
            Ok(found.partitions().len())
        })
        .await
        .map_err(|e| e.to_string())?
    }
}

fn create(config: &ClientConfig) -> Result<FutureProducer, String> {
    config
        .create()
        .map_err(|e| format!("cannot create the Kafka producer: {e}"))
}

/// What retrying cannot change: these alerts go to the dead letters.
fn is_permanent(error: &KafkaError) -> bool {
    use RDKafkaErrorCode::*;
    let code = match error {
        KafkaError::MessageProduction(code) => *code,
        _ => return false,
    };
    matches!(
        code,
        MessageSizeTooLarge
            | InvalidMessageSize
            | InvalidMessage
            | InvalidRecord
            | MessageBatchTooLarge
            | InvalidTopic
            | UnknownTopic
            | UnknownTopicOrPartition
            | TopicAuthorizationFailed
            | ClusterAuthorizationFailed
            | PolicyViolation
    )
}

/// The message's headers: CloudEvents binary mode (`ce_*`) and the content type.
fn headers(alert: &Alert) -> OwnedHeaders {
    let source = format!("/clusters/{}", alert.cluster);
    [
        ("ce_specversion", "1.0"),
        ("ce_id", alert.uuid.as_str()),
        ("ce_source", source.as_str()),
        ("ce_type", CLOUDEVENTS_TYPE),
        ("ce_time", alert.time.as_str()),
        ("ce_subject", alert.rule_id.as_str()),
        ("content-type", "application/json"),
    ]
    .into_iter()
    .fold(
        OwnedHeaders::new_with_capacity(7),
        |headers, (key, value)| {
            headers.insert(Header {
                key,
                value: Some(value),
            })
        },
    )
}

/// The message key: alerts of one rule and cluster land in one partition, in order.
pub fn message_key(alert: &Alert) -> String {
    format!("{}/{}", alert.cluster, alert.rule_id)
}

#[async_trait]
impl Sink for KafkaSink {
    fn name(&self) -> &str {
        "kafka"
    }

    fn batch_size(&self) -> usize {
        BATCH
    }

    async fn deliver(&mut self, alerts: &[Alert]) -> Result<(), SinkError> {
        let mut messages = Vec::with_capacity(alerts.len());
        for alert in alerts {
            let value = serde_json::to_vec(alert)
                .map_err(|e| SinkError::Permanent(format!("alert not serializable: {e}")))?;
            let time = chrono::DateTime::parse_from_rfc3339(&alert.time)
                .map(|t| t.timestamp_millis())
                .ok();
            messages.push((message_key(alert), value, headers(alert), time));
        }
        let sends = messages.iter().map(|(key, value, headers, time)| {
            let mut record = FutureRecord::to(&self.topic)
                .key(key.as_str())
                .payload(value.as_slice())
                .headers(headers.clone());
            if let Some(time) = time {
                record = record.timestamp(*time);
            }
            self.producer.send(record, QUEUE_WAIT)
        });
        let reports = join_all(sends).await;
        let mut refused = Vec::new();
        let mut transient = None;
        let mut fatal = false;
        for (index, report) in reports.into_iter().enumerate() {
            let Err((error, _)) = report else {
                continue;
            };
            if is_permanent(&error) {
                refused.push((index, format!("topic `{}`: {error}", self.topic)));
            } else {
                fatal |= matches!(
                    error,
                    KafkaError::MessageProduction(RDKafkaErrorCode::Fatal)
                );
                transient.get_or_insert(error);
            }
        }
        if fatal {
            // An idempotent producer that hit a fatal error produces nothing more: start anew.
            tracing::warn!("the Kafka producer hit a fatal error; creating a new one");
            self.producer = create(&self.config).map_err(SinkError::Transient)?;
        }
        if let Some(error) = transient {
            // The whole batch again: the alerts already acknowledged arrive twice (at least
            // once), none is lost.
            return Err(SinkError::Transient(format!(
                "topic `{}`: {error}",
                self.topic
            )));
        }
        if refused.is_empty() {
            Ok(())
        } else {
            Err(SinkError::Refused(refused))
        }
    }

    async fn close(&mut self) {
        let producer = self.producer.clone();
        let flushed =
            tokio::task::spawn_blocking(move || producer.flush(Duration::from_secs(10))).await;
        if let Ok(Err(error)) = flushed {
            tracing::warn!(%error, "the Kafka producer did not flush at shutdown");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_retrying_cannot_fix_are_permanent() {
        let permanent = [
            RDKafkaErrorCode::MessageSizeTooLarge,
            RDKafkaErrorCode::TopicAuthorizationFailed,
            RDKafkaErrorCode::UnknownTopicOrPartition,
        ];
        for code in permanent {
            assert!(is_permanent(&KafkaError::MessageProduction(code)), "{code}");
        }
        let transient = [
            RDKafkaErrorCode::MessageTimedOut,
            RDKafkaErrorCode::QueueFull,
            RDKafkaErrorCode::AllBrokersDown,
            RDKafkaErrorCode::NotEnoughReplicas,
            RDKafkaErrorCode::Fatal,
        ];
        for code in transient {
            assert!(
                !is_permanent(&KafkaError::MessageProduction(code)),
                "{code}"
            );
        }
    }
}
