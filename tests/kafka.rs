//! The Kafka alert sink against a real Kafka-protocol broker (tansu): messages with key and
//! CloudEvents headers, per-sink priority, every alert delivered across a broker outage and a
//! restart of `serve`, and alerts the producer refuses for good in the dead letters. The Kafka
//! source: events consumed with a consumer group across a restart, none lost, none read twice.
//! The scale-out path: `--role ingest` webhook → topic → `--role writer` → Parquet, and
//! `--role detect` → alerts topic; the writer role on S3-compatible storage (moto).

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use common::kafka::{produce, Broker, Reader, Received};
use common::s3::{parquet_objects, S3Server};
use common::{event_list, exec_event, exec_event_by, http, query, rules_dir, wait_for, Server};

const TOPIC: &str = "auditlens-alerts";

/// The same execs, as an Informational alert: below the Kafka sink's minimum in one test.
const SEEN_RULE: &str = "-- id: exec-seen
-- title: Exec seen
-- severity: Informational
-- mitre: T1609
-- level: Metadata
-- mode: event
-- output: {user_name} exec'd into {object_name}
-- description: Any exec session.
SELECT cluster, audit_id, stage_at AS time, user_name, object_name
FROM events
WHERE object_subresource = 'exec'
";

async fn post(server: &Server, body: String) {
    let response = http()
        .post(server.url("/v1/audit"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", server.log_text());
}

fn audit_id(message: &Received) -> String {
    message.value["audit_ids"][0]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn serve(data: &Path, rules: &str, broker: &Broker, extra: &[&str]) -> Server {
    let bootstrap = broker.bootstrap();
    let mut args = vec![
        "--rules",
        rules,
        "--kafka-brokers",
        bootstrap.as_str(),
        "--alerts-topic",
        TOPIC,
    ];
    args.extend_from_slice(extra);
    Server::start(data, &args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_reach_kafka_with_key_and_cloudevents_headers() {
    let broker = Broker::start();
    broker.create_topic(TOPIC);
    let root = tempfile::tempdir().unwrap();
    let rules = rules_dir(root.path());
    std::fs::write(Path::new(&rules).join("exec-seen.sql"), SEEN_RULE).unwrap();
    let alerts_file = root.path().join("alerts.jsonl");
    let server = serve(
        &root.path().join("data"),
        &rules,
        &broker,
        &[
            "--alerts-kafka-min-priority",
            "Notice",
            "--alerts-file",
            alerts_file.to_str().unwrap(),
        ],
    );
    assert!(server.log_text().contains("Kafka alert sink ready"));
    post(&server, exec_event("kafka-1")).await;
    post(&server, exec_event("kafka-2")).await;

    let reader = Reader::new(&broker.bootstrap(), "test", TOPIC);
    let mut messages = reader.read(2, Duration::from_secs(60));
    // Nothing else: the Informational alerts are below the Kafka sink's minimum.
    messages.extend(reader.read(1, Duration::from_secs(3)));
    assert_eq!(messages.len(), 2, "{messages:?}\n{}", server.log_text());
    let mut ids: Vec<String> = messages.iter().map(audit_id).collect();
    ids.sort();
    assert_eq!(ids, ["kafka-1", "kafka-2"]);
    for message in &messages {
        let alert = &message.value;
        assert_eq!(alert["rule_id"], "exec-kube-system");
        assert_eq!(alert["priority"], "Warning");
        assert_eq!(message.key.as_deref(), Some("default/exec-kube-system"));
        assert_eq!(message.header("ce_specversion"), Some("1.0"));
        assert_eq!(message.header("ce_id"), alert["uuid"].as_str());
        assert_eq!(message.header("ce_source"), Some("/clusters/default"));
        assert_eq!(message.header("ce_type"), Some("io.auditlens.alert.v1"));
        assert_eq!(message.header("ce_time"), alert["time"].as_str());
        assert_eq!(message.header("ce_subject"), Some("exec-kube-system"));
        assert_eq!(message.header("content-type"), Some("application/json"));
    }
    // The file sink, at the default minimum, has the Informational ones too.
    let lines = wait_for("the file sink", || {
        let text = std::fs::read_to_string(&alerts_file).unwrap_or_default();
        (text.lines().count() >= 4).then_some(text)
    })
    .await;

    assert_eq!(lines.matches("\"exec-seen\"").count(), 2, "{lines}");
    server.terminate_cleanly();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_alert_is_delivered_across_a_broker_outage_and_a_restart() {
    let mut broker = Broker::start();
    broker.create_topic(TOPIC);
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let rules = rules_dir(root.path());
    // Deliveries to a stopped broker fail after 2 s instead of 30 s.
    let quick = ["--kafka-property", "message.timeout.ms=2000"];
    let server = serve(&data, &rules, &broker, &quick);
    post(&server, exec_event("before-outage")).await;
    let before = Reader::new(&broker.bootstrap(), "before", TOPIC).read(1, Duration::from_secs(60));
    assert_eq!(before.len(), 1, "{}", server.log_text());

    // Kafka goes away; alerts keep coming, and serve is restarted meanwhile.
    broker.stop();
    let during = ["during-outage-1", "during-outage-2", "during-outage-3"];
    for id in during {
        post(&server, exec_event(id)).await;
    }
    wait_for("a failed delivery", || {
        server
            .log_text()
            .contains("alert delivery failed; retrying")
            .then_some(())
    })
    .await;
    server.terminate_cleanly();
    let server = serve(&data, &rules, &broker, &quick);
    post(&server, exec_event("during-outage-4")).await;

    // Kafka is back (empty: the test broker keeps messages in memory only).
    broker.restart();
    broker.create_topic(TOPIC);
    let reader = Reader::new(&broker.bootstrap(), "after", TOPIC);
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let expected = [
        "during-outage-1",
        "during-outage-2",
        "during-outage-3",
        "during-outage-4",
    ];
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while expected.iter().any(|id| !seen.contains_key(*id)) {
        assert!(
            std::time::Instant::now() < deadline,
            "alerts missing after the outage: {seen:?}\n{}",
            server.log_text()
        );
        for message in reader.read(16, Duration::from_secs(2)) {
            *seen.entry(audit_id(&message)).or_default() += 1;
        }
    }
    // At least once: whatever reached Kafka twice is counted, nothing is missing.
    let duplicates: usize = seen.values().map(|n| n - 1).sum();
    eprintln!("after the outage: {seen:?}, {duplicates} duplicate(s)");
    assert!(
        seen.keys().all(|id| expected.contains(&id.as_str())),
        "{seen:?}"
    );
    server.terminate_cleanly();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_kafka_cannot_take_goes_to_the_dead_letters() {
    let broker = Broker::start();
    broker.create_topic(TOPIC);
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let rules = rules_dir(root.path());
    // Messages above 1,000 bytes are refused by the producer: retrying cannot help.
    let server = serve(
        &data,
        &rules,
        &broker,
        &["--kafka-property", "message.max.bytes=1000"],
    );
    let long_name = format!("user-{}", "x".repeat(1500));
    post(&server, exec_event_by("too-large", &long_name)).await;
    post(&server, exec_event("fits")).await;

    let messages = Reader::new(&broker.bootstrap(), "test", TOPIC).read(1, Duration::from_secs(60));
    assert_eq!(messages.len(), 1, "{}", server.log_text());
    assert_eq!(audit_id(&messages[0]), "fits");
    let dead_letters = data.join("alerts").join("dead-letter").join("kafka.jsonl");
    let text = wait_for("the dead-letter file", || {
        std::fs::read_to_string(&dead_letters).ok()
    })
    .await;
    let entry: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(entry["alert"]["audit_ids"][0], "too-large");
    let reason = entry["reason"].as_str().unwrap();
    assert!(
        reason.contains(TOPIC) && reason.contains("too large"),
        "{reason}"
    );
    assert!(server
        .log_text()
        .contains("the sink refused an alert; written to its dead-letter file"));
    // The refusal is counted where Prometheus scrapes it.
    let wanted = [
        r#"auditlens_alerts_dead_lettered_total{sink="kafka"} 1"#,
        r#"auditlens_alerts_delivered_total{sink="kafka"} 1"#,
    ];
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let metrics = http()
            .get(server.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if wanted.iter().all(|line| metrics.contains(line)) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{metrics}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    server.terminate_cleanly();
}

/// Stored events: (count, distinct audit ids) of `cluster`.
fn stored(data: &Path, cluster: &str) -> (i64, i64) {
    let rows = query(
        data,
        &format!(
            "SELECT count(*) AS n, count(DISTINCT audit_id) AS ids FROM events WHERE cluster = '{cluster}'"
        ),
    );
    (
        rows[0]["n"].as_i64().unwrap_or(0),
        rows[0]["ids"].as_i64().unwrap_or(0),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kafka_source_loses_nothing_and_rereads_nothing_across_a_restart() {
    const EVENTS: &str = "audit-events";
    let broker = Broker::start();
    broker.create_topic(EVENTS);
    let bootstrap = broker.bootstrap();
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let args = [
        "--kafka-brokers",
        bootstrap.as_str(),
        "--source-topics",
        EVENTS,
        "--source-group",
        "auditlens-test",
        "--flush-max-age-ms",
        "200",
    ];
    // An EventList of 3, a single Event, and a message that is not audit events.
    let single = exec_event("single-1");
    let single =
        serde_json::from_str::<serde_json::Value>(&single).unwrap()["items"][0].to_string();
    let first = event_list("first", 3);
    produce(
        &bootstrap,
        EVENTS,
        &[
            ("prod-eu", first.as_str()),
            ("prod-eu", single.as_str()),
            ("prod-eu", "this is not JSON"),
        ],
    );
    let server = Server::start(&data, &args);
    wait_for("the first events in Parquet", || {
        (stored(&data, "prod-eu") == (4, 4)).then_some(())
    })
    .await;
    let quarantined = query(&data, "SELECT source, location, reason FROM quarantine");
    assert_eq!(quarantined.len(), 1, "{quarantined:?}");
    let location = quarantined[0]["location"].as_str().unwrap();
    assert!(
        location.starts_with("audit-events/") && location.ends_with("@2"),
        "{location}"
    );
    assert_eq!(quarantined[0]["source"], "kafka");
    server.terminate_cleanly();

    // While auditlens is down, more events arrive; after the restart they are read, and the
    // committed ones are not read again.
    let second = event_list("second", 2);
    produce(&bootstrap, EVENTS, &[("prod-eu", second.as_str())]);
    let server = Server::start(&data, &args);
    wait_for("the second events in Parquet", || {
        (stored(&data, "prod-eu").0 >= 6).then_some(())
    })
    .await;
    // Give a re-read the time to show up.
    tokio::time::sleep(Duration::from_secs(3)).await;
    server.terminate_cleanly();
    assert_eq!(stored(&data, "prod-eu"), (6, 6));
    assert_eq!(query(&data, "SELECT 1 FROM quarantine").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_flow_from_the_ingest_role_through_kafka_to_the_writer_role() {
    const EVENTS: &str = "events";
    let mut broker = Broker::start();
    broker.create_topic(EVENTS);
    let bootstrap = broker.bootstrap();
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let ingest_args = [
        "--role",
        "ingest",
        "--kafka-brokers",
        bootstrap.as_str(),
        "--events-topic",
        EVENTS,
        "--kafka-property",
        "message.timeout.ms=2000",
    ];
    let ingest = Server::start(&root.path().join("unused"), &ingest_args);
    let body = event_list("scale", 50);
    let response = http()
        .post(ingest.url("/v1/audit?cluster=prod-us"))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", ingest.log_text());
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(answer["accepted"], 50);
    // Nothing on the ingest replica's disk.
    assert!(!root.path().join("unused").join("events").exists());

    let writer_args = [
        "--role",
        "writer",
        "--kafka-brokers",
        bootstrap.as_str(),
        "--source-topics",
        EVENTS,
        "--flush-max-age-ms",
        "300",
    ];
    let ready = "writing Kafka topics to Parquet";
    let writer = Server::start_until(&data, &writer_args, ready);
    wait_for("the events in Parquet", || {
        (stored(&data, "prod-us") == (50, 50)).then_some(())
    })
    .await;
    // Files are named after the offsets they hold.
    let mut names = Vec::new();
    for entry in walk(&data.join("events")) {
        names.push(entry.file_name().unwrap().to_string_lossy().into_owned());
    }
    assert!(!names.is_empty());
    for name in &names {
        let stem = name.strip_suffix(".parquet").expect(name);
        let parts: Vec<&str> = stem.rsplitn(4, '-').collect();
        assert_eq!(parts.len(), 4, "{name}");
        assert_eq!(parts[3], EVENTS, "{name}");
        let (first, last): (i64, i64) = (parts[1].parse().unwrap(), parts[0].parse().unwrap());
        assert!(first <= last, "{name}");
    }
    writer.terminate_cleanly();

    // A restarted writer reads nothing again: its offsets were committed with the files.
    let writer = Server::start_until(&data, &writer_args, ready);
    tokio::time::sleep(Duration::from_secs(3)).await;
    writer.terminate_cleanly();
    assert_eq!(stored(&data, "prod-us"), (50, 50));

    // Without Kafka, the ingest role does not answer 200.
    broker.stop();
    let response = http()
        .post(ingest.url("/v1/audit?cluster=prod-us"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503, "{}", ingest.log_text());
    ingest.terminate_cleanly();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flush_a_writer_left_unfinished_is_repeated_under_the_same_names() {
    const EVENTS: &str = "events";
    let broker = Broker::start();
    broker.create_topic(EVENTS);
    let bootstrap = broker.bootstrap();
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    // What a writer that stored offsets 0..=2 of a partition and died before committing leaves
    // behind (the test does not know which partition the key lands on: all of them).
    let state = data.join("wal");
    std::fs::create_dir_all(&state).unwrap();
    for partition in 0..3 {
        std::fs::write(
            state.join(format!("writer-{EVENTS}-{partition}.json")),
            r#"{"first":0,"last":2}"#,
        )
        .unwrap();
    }
    let lists: Vec<String> = (0..5)
        .map(|i| event_list(&format!("cut-{i}"), 10))
        .collect();
    let messages: Vec<(&str, &str)> = lists.iter().map(|l| ("prod-us", l.as_str())).collect();
    produce(&bootstrap, EVENTS, &messages);

    // Without the record, the age limit would put all five messages in one file.
    let args = [
        "--role",
        "writer",
        "--kafka-brokers",
        bootstrap.as_str(),
        "--source-topics",
        EVENTS,
        "--flush-max-age-ms",
        "2000",
    ];
    let writer = Server::start_until(&data, &args, "writing Kafka topics to Parquet");
    wait_for("the events in Parquet", || {
        (stored(&data, "prod-us") == (50, 50)).then_some(())
    })
    .await;
    writer.terminate_cleanly();
    let mut ranges: Vec<(String, i64, i64)> = walk(&data.join("events"))
        .iter()
        .map(|path| {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            let parts: Vec<&str> = name.rsplitn(4, '-').collect();
            (
                parts[2].to_string(),
                parts[1].parse().unwrap(),
                parts[0].parse().unwrap(),
            )
        })
        .collect();
    ranges.sort();
    assert_eq!(ranges.len(), 2, "{ranges:?}");
    let partition = ranges[0].0.clone();
    assert_eq!(
        ranges,
        [(partition.clone(), 0, 2), (partition.clone(), 3, 4)]
    );
    // The record of the partition read is gone once its flush was committed.
    assert!(!state
        .join(format!("writer-{EVENTS}-{partition}.json"))
        .exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_writer_role_stores_parquet_on_s3_compatible_storage() {
    const EVENTS: &str = "events";
    const BUCKET: &str = "audit-lake";
    let broker = Broker::start();
    broker.create_topic(EVENTS);
    let bootstrap = broker.bootstrap();
    let s3 = S3Server::start();
    s3.create_bucket(BUCKET).await;
    let first = event_list("s3-a", 30);
    let second = event_list("s3-b", 20);
    produce(
        &bootstrap,
        EVENTS,
        &[("prod-eu", &first), ("prod-eu", &second)],
    );

    let root = tempfile::tempdir().unwrap();
    let url = format!("s3://{BUCKET}/lake");
    let options = s3.store_options();
    let mut args = vec![
        "--role",
        "writer",
        "--kafka-brokers",
        bootstrap.as_str(),
        "--source-topics",
        EVENTS,
        "--flush-max-age-ms",
        "300",
        "--store-url",
        url.as_str(),
    ];
    args.extend(options.iter().map(String::as_str));
    let ready = "writing Kafka topics to Parquet";
    let writer = Server::start_until(root.path(), &args, ready);
    let client = s3.client(BUCKET);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let objects = loop {
        let objects = parquet_objects(&client, "lake/events").await;
        if objects.iter().map(|(_, ids)| ids.len()).sum::<usize>() >= 50 {
            break objects;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{}",
            writer.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut ids: Vec<&String> = objects.iter().flat_map(|(_, ids)| ids).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 50, "every event once: {objects:?}");
    for (location, _) in &objects {
        // lake/events/cluster=prod-eu/date=YYYY-MM-DD/hour=HH/events-P-FIRST-LAST.parquet
        let parts: Vec<&str> = location.split('/').collect();
        assert_eq!(parts.len(), 6, "{location}");
        assert_eq!(
            &parts[..3],
            ["lake", "events", "cluster=prod-eu"],
            "{location}"
        );
        assert!(
            parts[3].starts_with("date=") && parts[4].starts_with("hour="),
            "{location}"
        );
        let stem = parts[5].strip_suffix(".parquet").expect(location);
        let name: Vec<&str> = stem.rsplitn(4, '-').collect();
        assert_eq!(name.len(), 4, "{location}");
        assert_eq!(name[3], EVENTS, "{location}");
        let (first, last): (i64, i64) = (name[1].parse().unwrap(), name[0].parse().unwrap());
        assert!(first <= last, "{location}");
    }
    // Nothing went to the local data directory.
    assert!(walk(root.path()).is_empty());
    writer.terminate_cleanly();

    // A restarted writer stores nothing again: the offsets were committed after the upload.
    let writer = Server::start_until(root.path(), &args, ready);
    tokio::time::sleep(Duration::from_secs(3)).await;
    writer.terminate_cleanly();
    assert_eq!(parquet_objects(&client, "lake/events").await, objects);

    // A bucket that does not exist is named at start, before anything is consumed.
    let missing = "s3://no-such-bucket/lake".to_string();
    let mut bad = args.clone();
    let at = bad.iter().position(|a| *a == url.as_str()).unwrap();
    bad[at] = missing.as_str();
    let output = std::process::Command::new(common::BIN)
        .args(["serve", "--log-format", "json", "--no-rules", "--data-dir"])
        .arg(root.path())
        .args(&bad)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot list s3://no-such-bucket/lake"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_too_large_for_a_message_is_stored_without_its_bodies() {
    const EVENTS: &str = "events";
    let broker = Broker::start();
    broker.create_topic(EVENTS);
    let bootstrap = broker.bootstrap();
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let ingest = Server::start(
        &root.path().join("unused"),
        &[
            "--role",
            "ingest",
            "--kafka-brokers",
            bootstrap.as_str(),
            "--events-topic",
            EVENTS,
            "--events-message-max-bytes",
            "16000",
        ],
    );
    // A ConfigMap update logged at RequestResponse with a 40 KB body, and a small event.
    let mut big: serde_json::Value = serde_json::from_str(
        event_list("big", 1)
            .split_once(r#""items":["#)
            .unwrap()
            .1
            .trim_end_matches("]}"),
    )
    .unwrap();
    big["level"] = "RequestResponse".into();
    big["requestObject"] = serde_json::json!({"data": {"blob": "x".repeat(40_000)}});
    big["responseObject"] = serde_json::json!({"data": {"blob": "y".repeat(40_000)}});
    let small = event_list("small", 1);
    let small = small
        .split_once(r#""items":["#)
        .unwrap()
        .1
        .trim_end_matches("]}");
    let body =
        format!(r#"{{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{big},{small}]}}"#);
    let response = http()
        .post(ingest.url("/v1/audit?cluster=prod-us"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", ingest.log_text());
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(answer["accepted"], 2);

    let writer = Server::start_until(
        &data,
        &[
            "--role",
            "writer",
            "--kafka-brokers",
            bootstrap.as_str(),
            "--source-topics",
            EVENTS,
            "--flush-max-age-ms",
            "300",
        ],
        "writing Kafka topics to Parquet",
    );
    wait_for("the events in Parquet", || {
        (stored(&data, "prod-us") == (2, 2)).then_some(())
    })
    .await;
    writer.terminate_cleanly();
    let rows = query(
        &data,
        "SELECT audit_id, level, request_object IS NULL AS no_request, response_object IS NULL AS no_response, \
         annotations['audit.k8s.io/truncated'] AS truncated FROM events ORDER BY audit_id",
    );
    assert_eq!(rows[0]["audit_id"], "big-0");
    assert_eq!(rows[0]["level"], "RequestResponse");
    assert_eq!(rows[0]["no_request"], true);
    assert_eq!(rows[0]["no_response"], true);
    assert_eq!(rows[0]["truncated"], "true");
    assert_eq!(rows[1]["audit_id"], "small-0");
    assert_eq!(rows[1]["truncated"], serde_json::Value::Null);
    ingest.terminate_cleanly();
}

/// Every `.parquet` file under `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else if path.extension().is_some_and(|e| e == "parquet") {
            found.push(path);
        }
    }
    found
}

/// The `events` count of the `stopped` line a detect role logged.
fn events_consumed(log: &str) -> Option<u64> {
    log.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|line| line["message"] == "stopped")
        .and_then(|line| line["events"].as_u64())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_detect_role_raises_alerts_from_a_topic_and_commits_what_it_checked() {
    const EVENTS: &str = "audit-events";
    let broker = Broker::start();
    broker.create_topic(EVENTS);
    broker.create_topic(TOPIC);
    let bootstrap = broker.bootstrap();
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let rules = rules_dir(root.path());
    let first = exec_event("detect-1");
    let second = exec_event("detect-2");
    produce(
        &bootstrap,
        EVENTS,
        &[("prod-eu", first.as_str()), ("prod-eu", second.as_str())],
    );
    let args = [
        "--role",
        "detect",
        "--rules",
        rules.as_str(),
        "--kafka-brokers",
        bootstrap.as_str(),
        "--source-topics",
        EVENTS,
        "--alerts-topic",
        TOPIC,
    ];
    let ready = "running the rules on Kafka topics";
    let detect = Server::start_until(&data, &args, ready);
    let reader = Reader::new(&bootstrap, "siem", TOPIC);
    let alerts = reader.read(2, Duration::from_secs(60));
    assert_eq!(alerts.len(), 2, "{}", detect.log_text());
    for alert in &alerts {
        assert_eq!(alert.value["cluster"], "prod-eu");
        assert_eq!(alert.key.as_deref(), Some("prod-eu/exec-kube-system"));
    }
    let log = detect.log.clone();
    detect.terminate_cleanly();
    assert_eq!(events_consumed(&log.lock().unwrap().join("\n")), Some(2));

    // Restarted, it reads nothing again: the offsets were committed.
    let detect = Server::start_until(&data, &args, ready);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let log = detect.log.clone();
    detect.terminate_cleanly();
    assert_eq!(events_consumed(&log.lock().unwrap().join("\n")), Some(0));
    assert!(reader.read(1, Duration::from_secs(2)).is_empty());
}
