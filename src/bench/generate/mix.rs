//! The request mix of a busy cluster: which kind of request comes next, and shared naming helpers.

use fastrand::Rng;

use super::actors::{apps_of, Actor, Cluster, NAMESPACES};
use super::request::{suffix, Request};
use super::{machines, people};

/// Builds one request of a kind; the last argument is the current time in µs since the epoch.
type Scenario = for<'c> fn(&mut Rng, &'c Cluster, i64) -> Request<'c>;

/// Weights per 100,000 requests. Forbidden requests are 1.5% (see the tests): benign ones, a
/// DaemonSet and two operators missing one permission each and retrying, people peeking into
/// another team's namespace, a pipeline lacking one permission.
const MIX: &[(u32, Scenario)] = &[
    (24_000, machines::node_lease),
    (5_000, machines::node_status),
    (9_000, machines::kubelet_reads),
    (6_000, machines::leader_election),
    (19_500, machines::controllers),
    (2_000, machines::scheduler_binding),
    (3_000, machines::pod_creates),
    (11_000, machines::watches),
    (6_000, machines::lists),
    (2_000, machines::non_resource),
    (6_498, people::kubectl),
    (4_000, people::ci_deploys),
    (500, people::secret_reads),
    // about 70 exec sessions an hour
    (2, people::execs),
    (1_500, people::forbidden),
];

/// Picks the next request from the mix.
pub(super) fn next_request<'c>(rng: &mut Rng, cluster: &'c Cluster, now_us: i64) -> Request<'c> {
    let total: u32 = MIX.iter().map(|(weight, _)| weight).sum();
    let mut ticket = rng.u32(..total);
    for (weight, scenario) in MIX {
        if ticket < *weight {
            return scenario(rng, cluster, now_us);
        }
        ticket -= weight;
    }
    unreachable!("the ticket is below the sum of the weights")
}

/// A uniformly chosen element of a non-empty slice.
pub(super) fn pick<'a, T>(rng: &mut Rng, items: &'a [T]) -> &'a T {
    &items[rng.usize(..items.len())]
}

pub(super) fn namespace(rng: &mut Rng) -> &'static str {
    NAMESPACES[rng.usize(..NAMESPACES.len())]
}

/// An application of `namespace` (one of `NAMESPACES`).
pub(super) fn app_in(rng: &mut Rng, namespace: &str) -> &'static str {
    pick::<&str>(rng, apps_of(namespace))
}

/// One of the namespaces `actor` works in.
pub(super) fn home_namespace(rng: &mut Rng, actor: &Actor) -> &'static str {
    pick::<&str>(rng, actor.namespaces)
}

/// A ReplicaSet's pod-template hash, e.g. `7d9f8c6b5d`.
pub(super) fn template_hash(rng: &mut Rng) -> String {
    suffix(rng, 10)
}

/// A pod name as a Deployment creates it, e.g. `web-7d9f8c6b5d-x2kqz`.
pub(super) fn pod_name(rng: &mut Rng, app: &str) -> String {
    format!("{app}-{}-{}", template_hash(rng), suffix(rng, 5))
}

/// A plausible etcd resourceVersion at `now_us`.
pub(super) fn resource_version(rng: &mut Rng, now_us: i64) -> u64 {
    // Grows with time like a real cluster's revision counter.
    let base = u64::try_from(now_us / 10_000).unwrap_or(0) % 900_000_000;
    100_000_000 + base + rng.u64(..1_000)
}

/// `now_us` as RFC 3339 with second precision, as object timestamps use.
pub(super) fn object_time(now_us: i64) -> String {
    match chrono::DateTime::from_timestamp_micros(now_us) {
        Some(time) => time.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        None => "1970-01-01T00:00:00Z".to_owned(),
    }
}
