//! Realistic, deterministic `audit.k8s.io/v1` events as a busy cluster's kube-apiserver logs them.
//!
//! The same seed and start time give byte-identical output. Events are written as JSON text straight
//! into a `Vec<u8>` (no `serde_json::Value` in between) so a million events take seconds.
//!
//! - `actors`: the identities (nodes, control plane, controllers, operators, CI, humans)
//! - `mix`: how often each kind of request happens; `machines` and `people` build them
//! - `request`: one request before serialization; `objects`: logged request/response bodies
//! - `json`: the small JSON writer

mod actors;
mod json;
mod machines;
mod mix;
mod objects;
mod people;
mod request;

use std::io::{self, Write};

use chrono::{DateTime, Utc};
use fastrand::Rng;

use self::actors::Cluster;
use self::json::Obj;
use self::request::{ObjectRef, Outcome, Request};

/// Mean time between two consecutive events: a busy cluster logs about 1,000 events per second.
pub const MEAN_EVENT_GAP_US: i64 = 1_000;

/// Produces one event after another, with advancing timestamps.
pub struct EventGenerator {
    rng: Rng,
    cluster: Cluster,
    /// requestReceivedTimestamp of the next event, µs since the epoch.
    now_us: i64,
    clock: MicroTimeCache,
}

impl EventGenerator {
    /// A generator whose first event is received at `start`.
    pub fn new(seed: u64, start: DateTime<Utc>) -> Self {
        Self::from_rng(Rng::with_seed(seed), start)
    }

    /// Like `new`, drawing everything (the cluster's identities too) from `rng`.
    pub fn from_rng(mut rng: Rng, start: DateTime<Utc>) -> Self {
        let cluster = Cluster::new(&mut rng);
        EventGenerator {
            rng,
            cluster,
            now_us: start.timestamp_micros(),
            clock: MicroTimeCache::default(),
        }
    }

    /// Appends the next event as one JSON object (no newline) to `out`.
    pub fn write_event(&mut self, out: &mut Vec<u8>) {
        let received_us = self.now_us;
        self.now_us += self.rng.i64(0..2 * MEAN_EVENT_GAP_US);
        let audit_id = actors::uuid(&mut self.rng);
        let request = mix::next_request(&mut self.rng, &self.cluster, received_us);
        write_request(out, &request, &audit_id, received_us, &mut self.clock);
    }

    /// The next event as a `serde_json::Value` (slower than `write_event`).
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "public API for import benchmarks; used by tests")
    )]
    pub fn next_value(&mut self) -> serde_json::Value {
        let mut text = Vec::with_capacity(2_048);
        self.write_event(&mut text);
        // unwrap: `write_event` writes one well-formed JSON object (checked by the tests).
        serde_json::from_slice(&text).unwrap()
    }

    /// Appends an `EventList` body of the next `count` events, as the audit webhook POSTs it.
    pub fn write_event_list(&mut self, count: usize, out: &mut Vec<u8>) {
        out.extend_from_slice(
            br#"{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":["#,
        );
        for index in 0..count {
            if index > 0 {
                out.push(b',');
            }
            self.write_event(out);
        }
        out.extend_from_slice(b"]}");
    }
}

/// An `EventList` body of `count` events starting at `start_time`, drawing from `rng`.
#[cfg_attr(
    not(test),
    expect(dead_code, reason = "public API for import benchmarks; used by tests")
)]
pub fn event_list_body(rng: &mut Rng, count: usize, start_time: DateTime<Utc>) -> Vec<u8> {
    let mut generator = EventGenerator::from_rng(rng.fork(), start_time);
    let mut body = Vec::with_capacity(count * 1_500 + 128);
    generator.write_event_list(count, &mut body);
    body
}

/// Writes the next `count` events as JSON Lines (as `--audit-log-path` does); returns bytes written.
pub fn write_json_lines(
    generator: &mut EventGenerator,
    count: u64,
    out: &mut impl Write,
) -> io::Result<u64> {
    let mut line = Vec::with_capacity(8_192);
    let mut written = 0u64;
    for _ in 0..count {
        line.clear();
        generator.write_event(&mut line);
        line.push(b'\n');
        out.write_all(&line)?;
        written += line.len() as u64;
    }
    Ok(written)
}

/// Serializes one request in kube-apiserver's field order.
fn write_request(
    out: &mut Vec<u8>,
    request: &Request<'_>,
    audit_id: &str,
    received_us: i64,
    clock: &mut MicroTimeCache,
) {
    let actor = request.actor;
    let mut event = Obj::open(out);
    event.str("kind", "Event");
    event.str("apiVersion", "audit.k8s.io/v1");
    event.str("level", request.level.as_str());
    event.str("auditID", audit_id);
    event.str("stage", request.stage.as_str());
    event.str("requestURI", &request.request_uri);
    event.str("verb", request.verb.as_str());
    event.raw("user", &actor.user_json);
    event.raw("sourceIPs", &actor.source_ips_json);
    event.raw("userAgent", &actor.user_agent_json);
    if let Some(object) = &request.object {
        event.object("objectRef", |fields| write_object_ref(fields, object));
    }
    event.object("responseStatus", |status| {
        status.object("metadata", |_| {});
        if let Outcome::Failure {
            reason, message, ..
        } = &request.outcome
        {
            status.str("status", "Failure");
            status.str("message", message);
            status.str("reason", reason);
            if let Some(object) = &request.object {
                status.object("details", |details| {
                    if let Some(name) = &object.name {
                        details.str("name", name);
                    }
                    if !object.api_group.is_empty() {
                        details.str("group", object.api_group);
                    }
                    details.str("kind", object.resource);
                });
            }
        }
        status.uint("code", u64::from(request.outcome.code()));
    });
    if let Some(body) = &request.request_object {
        event.raw("requestObject", body);
    }
    if let Some(body) = &request.response_object {
        event.raw("responseObject", body);
    }
    event.with("requestReceivedTimestamp", |out| {
        clock.write(out, received_us)
    });
    event.with("stageTimestamp", |out| {
        clock.write(out, received_us + request.latency_us)
    });
    let forbidden = request.outcome.code() == 403;
    event.object("annotations", |annotations| {
        annotations.str(
            "authorization.k8s.io/decision",
            if forbidden { "forbid" } else { "allow" },
        );
        if forbidden {
            annotations.str("authorization.k8s.io/reason", "");
        } else {
            annotations.raw("authorization.k8s.io/reason", &actor.allow_reason_json);
        }
        for (key, value) in &request.annotations {
            annotations.str(key, value);
        }
    });
    event.finish();
}

fn write_object_ref(fields: &mut Obj<'_>, object: &ObjectRef) {
    fields.str("resource", object.resource);
    if let Some(namespace) = object.namespace {
        fields.str("namespace", namespace);
    }
    if let Some(name) = &object.name {
        fields.str("name", name);
    }
    if let Some(uid) = &object.uid {
        fields.str("uid", uid);
    }
    if !object.api_group.is_empty() {
        fields.str("apiGroup", object.api_group);
    }
    fields.str("apiVersion", object.api_version);
    if let Some(resource_version) = &object.resource_version {
        fields.str("resourceVersion", resource_version);
    }
    if let Some(subresource) = object.subresource {
        fields.str("subresource", subresource);
    }
}

/// Formats MicroTime (`"2020-04-21T17:57:05.541358Z"`), reusing the date part within one second.
#[derive(Default)]
struct MicroTimeCache {
    second: Option<i64>,
    /// `"2020-04-21T17:57:05` (with the opening quote).
    prefix: String,
}

impl MicroTimeCache {
    /// Appends the quoted MicroTime of `micros` (µs since the epoch).
    fn write(&mut self, out: &mut Vec<u8>, micros: i64) {
        let second = micros.div_euclid(1_000_000);
        if self.second != Some(second) {
            let time = DateTime::from_timestamp(second, 0).unwrap_or(DateTime::UNIX_EPOCH);
            self.prefix = format!("\"{}", time.format("%Y-%m-%dT%H:%M:%S"));
            self.second = Some(second);
        }
        out.extend_from_slice(self.prefix.as_bytes());
        let mut fraction = *b".000000Z\"";
        let mut rest = micros.rem_euclid(1_000_000);
        for digit in fraction[1..7].iter_mut().rev() {
            // rest % 10 is 0..=9, so the cast cannot truncate.
            *digit = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        out.extend_from_slice(&fraction);
    }
}

#[cfg(test)]
mod tests;
