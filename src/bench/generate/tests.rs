//! Tests of the event generator: field shapes, the mix, determinism, EventList bodies, JSON Lines.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDateTime, Utc};
use fastrand::Rng;
use serde_json::Value;

use super::*;

const SEED: u64 = 7;
const SAMPLE: usize = 10_000;

fn start() -> DateTime<Utc> {
    // unwrap: a valid literal.
    DateTime::parse_from_rfc3339("2025-06-01T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn sample(seed: u64, count: usize) -> Vec<Value> {
    let mut generator = EventGenerator::new(seed, start());
    (0..count).map(|_| generator.next_value()).collect()
}

/// Parses MicroTime, requiring exactly 6 fractional digits and a `Z`.
fn micro_time(value: &Value) -> NaiveDateTime {
    let text = value.as_str().expect("timestamp is a string");
    assert_eq!(
        text.len(),
        27,
        "MicroTime `{text}` must have 6 fractional digits"
    );
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.6fZ").expect("MicroTime parses")
}

fn str_at<'a>(event: &'a Value, pointer: &str) -> &'a str {
    event.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn code(event: &Value) -> u64 {
    event
        .pointer("/responseStatus/code")
        .and_then(Value::as_u64)
        .expect("responseStatus.code")
}

#[test]
fn every_event_has_the_required_fields() {
    for event in sample(SEED, SAMPLE) {
        assert_eq!(event["kind"], "Event");
        assert_eq!(event["apiVersion"], "audit.k8s.io/v1");
        uuid::Uuid::parse_str(str_at(&event, "/auditID")).expect("auditID is a UUID");
        assert!(["Metadata", "Request", "RequestResponse"].contains(&str_at(&event, "/level")));
        assert!(["ResponseStarted", "ResponseComplete"].contains(&str_at(&event, "/stage")));
        assert!(!str_at(&event, "/verb").is_empty());
        assert!(str_at(&event, "/requestURI").starts_with('/'));
        assert!(!str_at(&event, "/user/username").is_empty());
        assert!(event["sourceIPs"]
            .as_array()
            .is_some_and(|ips| !ips.is_empty()));
        assert!(!str_at(&event, "/userAgent").is_empty());
        assert!(event
            .pointer("/responseStatus/metadata")
            .is_some_and(Value::is_object));
        let received = micro_time(&event["requestReceivedTimestamp"]);
        let stage = micro_time(&event["stageTimestamp"]);
        assert!(
            stage >= received,
            "stageTimestamp before requestReceivedTimestamp in {event}"
        );
        let decision = str_at(&event, "/annotations/authorization.k8s.io~1decision");
        assert!(decision == "allow" || decision == "forbid");
        assert!(event
            .pointer("/annotations/authorization.k8s.io~1reason")
            .is_some());
        if event["requestObject"].is_object() {
            assert_ne!(
                event["level"], "Metadata",
                "bodies need level Request or above"
            );
        }
    }
}

#[test]
fn successful_answers_carry_only_metadata_and_code() {
    let success = sample(SEED, 200)
        .into_iter()
        .find(|event| code(event) == 200)
        .expect("some 200");
    assert_eq!(
        success["responseStatus"],
        serde_json::json!({"metadata": {}, "code": 200})
    );
}

#[test]
fn forbidden_requests_are_one_to_two_percent_and_well_formed() {
    let events = sample(SEED, SAMPLE);
    let forbidden: Vec<&Value> = events.iter().filter(|event| code(event) == 403).collect();
    let share = forbidden.len() as f64 / SAMPLE as f64;
    assert!((0.01..=0.02).contains(&share), "403 share {share}");
    for event in forbidden {
        assert_eq!(
            str_at(event, "/annotations/authorization.k8s.io~1decision"),
            "forbid"
        );
        assert_eq!(str_at(event, "/responseStatus/status"), "Failure");
        assert_eq!(str_at(event, "/responseStatus/reason"), "Forbidden");
        assert!(str_at(event, "/responseStatus/message").contains(" is forbidden: User \""));
    }
}

#[test]
fn the_mix_has_what_a_busy_cluster_logs() {
    let events = sample(SEED, SAMPLE);
    let count =
        |predicate: &dyn Fn(&Value) -> bool| events.iter().filter(|event| predicate(event)).count();
    let node_leases = count(&|e| {
        str_at(e, "/objectRef/resource") == "leases"
            && str_at(e, "/user/username").starts_with("system:node:")
    });
    assert!(node_leases > SAMPLE / 6, "node leases: {node_leases}");
    let watches =
        count(&|e| e["verb"] == "watch" && str_at(e, "/requestURI").contains("watch=true"));
    assert!(watches > SAMPLE / 20, "watches: {watches}");
    assert!(count(&|e| str_at(e, "/requestURI").contains("limit=500")) > SAMPLE / 50);
    assert!(
        count(&|e| str_at(e, "/user/username").starts_with("system:serviceaccount:kube-system:"))
            > SAMPLE / 10
    );
    assert!(
        count(&|e| e
            .pointer("/user/groups")
            .is_some_and(|g| g.to_string().contains("oidc:")))
            > 0
    );
    assert!(count(&|e| str_at(e, "/objectRef/resource") == "secrets" && e["verb"] == "get") > 0);
    let full = count(&|e| {
        e["level"] == "RequestResponse" && e["responseObject"].to_string().len() > 2_000
    });
    assert!(
        full > SAMPLE / 100,
        "RequestResponse with large bodies: {full}"
    );
    let credential = "/user/extra/authentication.kubernetes.io~1credential-id/0";
    assert!(count(&|e| str_at(e, credential).contains('=')) > SAMPLE / 2);
    assert!(
        count(&|e| e
            .pointer("/user/groups")
            .is_some_and(|g| g.to_string().contains("system:nodes")))
            > 0
    );
}

#[test]
fn mean_event_size_is_about_1_3_kb() {
    let mut generator = EventGenerator::new(SEED, start());
    let mut out = Vec::new();
    for _ in 0..SAMPLE {
        generator.write_event(&mut out);
    }
    let mean = out.len() / SAMPLE;
    assert!(
        (1_100..=1_500).contains(&mean),
        "mean event size {mean} bytes"
    );
}

#[test]
fn same_seed_gives_same_output() {
    let write = |seed| {
        let mut generator = EventGenerator::new(seed, start());
        let mut out = Vec::new();
        write_json_lines(&mut generator, 500, &mut out).expect("writing to a Vec");
        out
    };
    assert_eq!(write(SEED), write(SEED));
    assert_ne!(write(SEED), write(SEED + 1));
}

#[test]
fn event_list_body_parses_with_the_asked_count() {
    let mut rng = Rng::with_seed(SEED);
    let body = event_list_body(&mut rng, 400, start());
    let list: Value = serde_json::from_slice(&body).expect("EventList is JSON");
    assert_eq!(list["kind"], "EventList");
    assert_eq!(list["apiVersion"], "audit.k8s.io/v1");
    assert!(list["metadata"].is_object());
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 400);
    let ids: std::collections::HashSet<&str> =
        items.iter().map(|item| str_at(item, "/auditID")).collect();
    assert_eq!(ids.len(), 400, "auditIDs are unique");
    let empty: Value =
        serde_json::from_slice(&event_list_body(&mut rng, 0, start())).expect("empty list");
    assert_eq!(empty["items"], serde_json::json!([]));
}

#[test]
fn json_lines_are_one_event_per_line() {
    let mut generator = EventGenerator::new(SEED, start());
    let mut out = Vec::new();
    let written = write_json_lines(&mut generator, 100, &mut out).expect("writing to a Vec");
    assert_eq!(written, out.len() as u64);
    let lines: Vec<&[u8]> = out
        .split(|byte| *byte == b'\n')
        .filter(|line| !line.is_empty())
        .collect();
    assert_eq!(lines.len(), 100);
    for line in lines {
        let event: Value = serde_json::from_slice(line).expect("each line is JSON");
        assert_eq!(event["kind"], "Event");
    }
}

#[test]
fn micro_time_has_six_digits_in_utc() {
    let mut clock = MicroTimeCache::default();
    let mut out = Vec::new();
    clock.write(&mut out, 1_587_491_825_541_358);
    out.push(b' ');
    clock.write(&mut out, 1_587_491_825_000_007);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "\"2020-04-21T17:57:05.541358Z\" \"2020-04-21T17:57:05.000007Z\""
    );
}

/// The namespace of a service account (`system:serviceaccount:NS:NAME`), if `user` is one.
fn service_account_namespace(user: &str) -> Option<&str> {
    user.strip_prefix("system:serviceaccount:")
        .and_then(|rest| rest.split(':').next())
}

/// The generator's people: username -> (team namespaces, namespaces peeked into).
fn teams() -> HashMap<String, (&'static [&'static str], &'static [&'static str])> {
    let generator = EventGenerator::new(SEED, start());
    generator
        .cluster
        .humans
        .iter()
        .map(|human| (human.username.clone(), (human.namespaces, human.peeks)))
        .collect()
}

#[test]
fn refusals_are_the_same_few_requests_retried() {
    let events = sample(SEED, 2 * SAMPLE);
    let mut actions: HashMap<&str, HashSet<String>> = HashMap::new();
    for event in events.iter().filter(|event| code(event) == 403) {
        let resource = str_at(event, "/objectRef/resource");
        let namespace = str_at(event, "/objectRef/namespace");
        assert_ne!(resource, "secrets", "a refused secret read: {event}");
        assert_ne!(
            namespace, "kube-system",
            "a refusal in kube-system: {event}"
        );
        let action = format!("{} {resource} {namespace}", str_at(event, "/verb"));
        actions
            .entry(str_at(event, "/user/username"))
            .or_default()
            .insert(action);
    }
    // the DaemonSet, Prometheus, the autoscaler, people and the pipeline
    assert!(actions.len() >= 6, "refused identities: {actions:?}");
    for (user, refused) in &actions {
        assert!(
            refused.len() <= 3,
            "{user} was refused {} different actions: {refused:?}",
            refused.len()
        );
    }
    let people = teams();
    for event in events.iter().filter(|event| code(event) == 403) {
        if let Some((team, peeks)) = people.get(str_at(event, "/user/username")) {
            let namespace = str_at(event, "/objectRef/namespace");
            assert!(
                peeks.contains(&namespace) && !team.contains(&namespace),
                "{event}"
            );
        }
    }
}

#[test]
fn people_work_in_their_team_namespaces() {
    let people = teams();
    let mut seen = 0;
    for event in sample(SEED, SAMPLE) {
        let Some((team, _)) = people.get(str_at(&event, "/user/username")) else {
            continue;
        };
        let namespace = str_at(&event, "/objectRef/namespace");
        if code(&event) != 403 && !namespace.is_empty() {
            assert!(team.contains(&namespace), "outside the team: {event}");
            seen += 1;
        }
    }
    assert!(seen > SAMPLE / 50, "requests of people: {seen}");
}

#[test]
fn secret_reads_are_a_few_own_secrets() {
    let events = sample(SEED, 3 * SAMPLE);
    let people = teams();
    let mut read: HashMap<&str, HashSet<(&str, &str)>> = HashMap::new();
    let mut people_reads = 0;
    let mut secret_gets = 0;
    for event in &events {
        if str_at(event, "/objectRef/resource") != "secrets" {
            continue;
        }
        let user = str_at(event, "/user/username");
        let namespace = str_at(event, "/objectRef/namespace");
        let verb = str_at(event, "/verb");
        if verb == "get" {
            secret_gets += 1;
            if let Some((team, _)) = people.get(user) {
                people_reads += 1;
                assert!(team.contains(&namespace), "{event}");
                continue;
            }
            assert_eq!(Some(namespace), service_account_namespace(user), "{event}");
            read.entry(user)
                .or_default()
                .insert((namespace, str_at(event, "/objectRef/name")));
        } else if namespace.is_empty() {
            // secrets of every namespace: only controllers that manage or index them
            let allowed = user.starts_with("system:serviceaccount:kube-system:")
                || user == "system:kube-controller-manager"
                || [
                    "system:serviceaccount:cert-manager:cert-manager",
                    "system:serviceaccount:ingress-nginx:ingress-nginx",
                    "system:serviceaccount:monitoring:kube-state-metrics",
                ]
                .contains(&user);
            assert!(allowed, "{verb} of secrets in every namespace: {event}");
        }
    }
    assert!(read.len() >= 4, "secret readers: {read:?}");
    for (user, secrets) in &read {
        assert!(secrets.len() <= 3, "{user} read {secrets:?}");
    }
    assert!(
        people_reads * 50 < secret_gets,
        "people read {people_reads} of {secret_gets} secrets"
    );
}

#[test]
fn people_exec_into_pods_of_their_team() {
    let generator = EventGenerator::new(SEED, start());
    let mut rng = Rng::with_seed(SEED);
    for _ in 0..200 {
        let request = people::execs(&mut rng, &generator.cluster, 0);
        let object = request.object.as_ref().expect("objectRef");
        assert_eq!(object.subresource, Some("exec"));
        assert_eq!(request.outcome.code(), 101);
        let namespace = object.namespace.expect("namespaced");
        assert!(request.actor.namespaces.contains(&namespace));
    }
}
