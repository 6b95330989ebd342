//! `auditlens bench kafka-alerts`: alerts per second through the alert log to a Kafka topic, as
//! `serve` delivers them (append and fsync, read back by the sink, produce with `acks=all`,
//! cursor moved once the delivery reports came back).

use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use analyze::alerts::kafka::KafkaSink;
use analyze::alerts::sink::SinkRunner;
use analyze::alerts::Outbox;
use anyhow::{bail, Context};
use schemas::{Alert, Priority, ALERT_SOURCE};

use crate::kafka::KafkaArgs;

#[derive(Debug, clap::Args)]
pub struct KafkaAlertsArgs {
    #[command(flatten)]
    kafka: KafkaArgs,
    /// Topic to produce to (it must exist).
    #[arg(long)]
    topic: String,
    /// Alerts to deliver.
    #[arg(long, default_value_t = 100_000)]
    alerts: usize,
    /// Alerts appended to the log at once (as one batch of detection would).
    #[arg(long, default_value_t = 100)]
    batch: usize,
}

fn alert(index: usize) -> Alert {
    let cluster = format!("cluster-{}", index % 16);
    Alert {
        uuid: uuid::Uuid::now_v7().to_string(),
        time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        rule: "Exec into a kube-system pod".into(),
        priority: Priority::Warning,
        output: format!("mallory ran sh in kube-system pod coredns-{index} from 203.0.113.9"),
        output_fields: [
            ("ka.user.name", "mallory".to_string()),
            ("ka.target.namespace", "kube-system".to_string()),
            ("ka.target.name", format!("coredns-{index}")),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_string(), serde_json::Value::String(value)))
        .collect(),
        source: ALERT_SOURCE.into(),
        tags: vec!["T1609".into(), "execution".into()],
        hostname: "bench".into(),
        rule_id: format!("bench-rule-{}", index % 8),
        cluster,
        audit_ids: vec![uuid::Uuid::new_v4().to_string()],
        mitre: vec!["T1609".into()],
        severity: Priority::Warning.severity(),
    }
}

pub fn run(args: KafkaAlertsArgs) -> anyhow::Result<ExitCode> {
    if args.alerts == 0 || args.batch == 0 {
        bail!("--alerts and --batch must be positive");
    }
    let client = args.kafka.client_config()?;
    let runtime = tokio::runtime::Runtime::new()?;
    let dir = tempfile::tempdir()?;
    let sink = {
        let _entered = runtime.enter();
        KafkaSink::new(&client, &args.topic).map_err(anyhow::Error::msg)?
    };
    runtime
        .block_on(sink.check())
        .map_err(anyhow::Error::msg)
        .context("the topic is not reachable")?;
    let stats = Arc::default();
    let runner = SinkRunner {
        sink: Box::new(sink),
        min_priority: Priority::Debug,
        stats: Arc::clone(&stats),
    };
    let alerts: Vec<Alert> = (0..args.alerts).map(alert).collect();
    let bytes: usize = alerts
        .iter()
        .map(|a| serde_json::to_vec(a).map(|v| v.len()).unwrap_or(0))
        .sum();
    let started = Instant::now();
    let elapsed = runtime.block_on(async {
        let mut outbox = Outbox::start(dir.path(), vec![runner])?;
        for chunk in alerts.chunks(args.batch) {
            outbox.publish(chunk)?;
        }
        let appended = started.elapsed();
        let stats: &analyze::alerts::sink::SinkStats = &stats;
        while (stats.delivered.load(Ordering::Relaxed) as usize) < args.alerts {
            if stats.dead_lettered.load(Ordering::Relaxed) > 0 {
                bail!("alerts were dead-lettered; see the log");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let elapsed = started.elapsed();
        outbox.shutdown().await;
        println!(
            "alert log:   {} alerts appended in {:.2} s ({} per append)",
            args.alerts,
            appended.as_secs_f64(),
            args.batch
        );
        anyhow::Ok(elapsed)
    })?;
    let seconds = elapsed.as_secs_f64();
    println!(
        "kafka:       {} alerts delivered (acks=all, idempotent, {} compression) in {:.2} s",
        args.alerts,
        client.get("compression.type").unwrap_or("default"),
        seconds
    );
    println!(
        "throughput:  {:.0} alerts/s ({:.1} MiB/s of alert JSON, mean {} bytes)",
        args.alerts as f64 / seconds,
        bytes as f64 / seconds / (1024.0 * 1024.0),
        bytes / args.alerts
    );
    Ok(ExitCode::SUCCESS)
}
