//! Requests from people and pipelines: kubectl, CI deploys, secret reads, exec, and forbidden attempts.

use fastrand::Rng;

use super::actors::{uuid, Actor, Cluster};
use super::mix::{app, namespace, object_time, pick, pod_name, resource_version};
use super::objects::{self, Workload};
use super::request::{Level, ObjectRef, Outcome, Request, Stage, Verb};

/// Share of secret reads that ask for a secret that does not exist (404), per 1,000.
const NOT_FOUND_PER_MILLE: u32 = 100;

/// Day-to-day kubectl use: get, list, logs, scale, delete.
pub(super) fn kubectl<'c>(rng: &mut Rng, cluster: &'c Cluster, _now_us: i64) -> Request<'c> {
    let actor = pick(rng, &cluster.humans);
    let ns = namespace(rng);
    let app = app(rng);
    match rng.u8(..8) {
        0 | 1 => {
            let object = ObjectRef::new("", "pods").namespaced(ns);
            Request::new(actor, Verb::List, object, "limit=500").latency(rng, 3_000, 25_000)
        }
        2 => {
            let object = ObjectRef::new("", "pods")
                .namespaced(ns)
                .named(pod_name(rng, app));
            Request::new(actor, Verb::Get, object, "").latency(rng, 1_000, 5_000)
        }
        3 => {
            let object = ObjectRef::new("", "pods")
                .namespaced(ns)
                .named(pod_name(rng, app))
                .sub("log");
            Request::new(
                actor,
                Verb::Get,
                object,
                &format!("container={app}&tailLines=100"),
            )
            .latency(rng, 5_000, 80_000)
        }
        4 => {
            let query = format!(
                "fieldSelector=involvedObject.name%3D{}&limit=500",
                pod_name(rng, app)
            );
            let object = ObjectRef::new("", "events").namespaced(ns);
            Request::new(actor, Verb::List, object, &query).latency(rng, 2_000, 10_000)
        }
        5 => {
            let object = ObjectRef::new("apps", "deployments")
                .namespaced(ns)
                .named(app);
            Request::new(actor, Verb::Get, object, "").latency(rng, 1_000, 5_000)
        }
        6 => {
            let object = ObjectRef::new("apps", "deployments")
                .namespaced(ns)
                .named(app)
                .sub("scale");
            let mut request =
                Request::new(actor, Verb::Patch, object, "").latency(rng, 4_000, 15_000);
            request.level = Level::Request;
            request.request_object =
                Some(format!("{{\"spec\":{{\"replicas\":{}}}}}", rng.u8(1..12)).into_bytes());
            request
        }
        _ => {
            let object = ObjectRef::new("", "pods")
                .namespaced(ns)
                .named(pod_name(rng, app));
            Request::new(actor, Verb::Delete, object, "").latency(rng, 4_000, 20_000)
        }
    }
}

/// Argo CD, a GitHub Actions job and Helm applying deployments and configmaps, logged with bodies.
pub(super) fn ci_deploys<'c>(rng: &mut Rng, cluster: &'c Cluster, now_us: i64) -> Request<'c> {
    let actor = pick(rng, &cluster.deployers);
    let ns = namespace(rng);
    let app = app(rng);
    let uid = uuid(rng);
    let image = format!(
        "registry.example.com/{ns}/{app}:v1.{}.{}",
        rng.u8(0..40),
        rng.u8(0..20)
    );
    let time = object_time(now_us);
    let config_name = format!("{app}-config");
    let kind = rng.u8(..10);
    let workload = Workload {
        namespace: ns,
        app,
        name: if kind < 5 { app } else { &config_name },
        image: &image,
        uid: &uid,
        resource_version: resource_version(rng, now_us),
        time: &time,
    };
    let mut request_body = Vec::with_capacity(4_096);
    let mut response_body = Vec::with_capacity(4_096);
    let mut request = match kind {
        0..=4 => {
            let object = ObjectRef::new("apps", "deployments")
                .namespaced(ns)
                .named(app);
            let query = "fieldManager=argocd-controller&force=true";
            let replicas = rng.u32(2..10);
            objects::deployment(&mut request_body, &workload, replicas, false);
            objects::deployment(&mut response_body, &workload, replicas, true);
            Request::new(actor, Verb::Patch, object, query).latency(rng, 8_000, 40_000)
        }
        5..=7 => {
            let object = ObjectRef::new("", "configmaps")
                .namespaced(ns)
                .named(&config_name);
            objects::config_map(&mut request_body, &workload);
            objects::config_map(&mut response_body, &workload);
            Request::new(actor, Verb::Update, object, "").latency(rng, 5_000, 20_000)
        }
        _ => {
            let object = ObjectRef::new("apps", "deployments")
                .namespaced(ns)
                .named(app);
            return Request::new(actor, Verb::Get, object, "").latency(rng, 1_000, 5_000);
        }
    };
    request.level = Level::RequestResponse;
    if let Some(object) = request.object.as_mut() {
        object.uid = Some(uid.clone());
        object.resource_version = Some(workload.resource_version.to_string());
    }
    request.request_object = Some(request_body);
    request.response_object = Some(response_body);
    request
}

/// Occasional secret reads by operators, pipelines and people.
pub(super) fn secret_reads<'c>(rng: &mut Rng, cluster: &'c Cluster, _now_us: i64) -> Request<'c> {
    let actor: &Actor = match rng.u8(..4) {
        0 | 1 => pick(rng, &cluster.operators),
        2 => pick(rng, &cluster.deployers),
        _ => pick(rng, &cluster.humans),
    };
    let ns = namespace(rng);
    let app = app(rng);
    let name = if rng.bool() {
        format!("{app}-db")
    } else {
        format!("{app}-tls")
    };
    let object = ObjectRef::new("", "secrets").namespaced(ns).named(&name);
    let mut request = Request::new(actor, Verb::Get, object, "").latency(rng, 800, 4_000);
    if rng.u32(..1_000) < NOT_FOUND_PER_MILLE {
        let message = format!("secrets \"{name}\" not found");
        request.outcome = Outcome::Failure {
            code: 404,
            reason: "NotFound",
            message,
        };
    }
    request
}

/// `kubectl exec` into a pod: the connection upgrade is logged at ResponseStarted with code 101.
pub(super) fn execs<'c>(rng: &mut Rng, cluster: &'c Cluster, _now_us: i64) -> Request<'c> {
    let actor = pick(rng, &cluster.humans);
    let ns = namespace(rng);
    let app = app(rng);
    let object = ObjectRef::new("", "pods")
        .namespaced(ns)
        .named(pod_name(rng, app))
        .sub("exec");
    // kubectl before 1.30 POSTs (SPDY, verb create); newer kubectl uses a WebSocket GET.
    let verb = if rng.bool() { Verb::Create } else { Verb::Get };
    let query = format!("command=%2Fbin%2Fsh&container={app}&stdin=true&stdout=true&tty=true");
    let mut request = Request::new(actor, verb, object, &query).latency(rng, 5_000, 30_000);
    request.stage = Stage::ResponseStarted;
    request.outcome = Outcome::Success(101);
    request
}

/// Attempts the caller's RBAC does not allow: 403 with `authorization.k8s.io/decision: forbid`.
pub(super) fn forbidden<'c>(rng: &mut Rng, cluster: &'c Cluster, _now_us: i64) -> Request<'c> {
    let actor: &Actor = match rng.u8(..10) {
        0..=4 => pick(rng, &cluster.humans),
        5..=7 => pick(rng, &cluster.deployers),
        _ => pick(rng, &cluster.operators),
    };
    let ns = namespace(rng);
    let (verb, object) = match rng.u8(..6) {
        0 => (Verb::List, ObjectRef::new("", "secrets")),
        1 => (
            Verb::Get,
            ObjectRef::new("", "secrets")
                .namespaced("kube-system")
                .named("bootstrap-token-abcdef"),
        ),
        2 => (
            Verb::Create,
            ObjectRef::new("rbac.authorization.k8s.io", "clusterrolebindings"),
        ),
        3 => (Verb::Delete, ObjectRef::new("", "namespaces").named(ns)),
        4 => {
            let pod = pod_name(rng, "coredns");
            (
                Verb::Create,
                ObjectRef::new("", "pods")
                    .namespaced("kube-system")
                    .named(pod)
                    .sub("exec"),
            )
        }
        _ => (
            Verb::Patch,
            ObjectRef::new("apps", "deployments")
                .namespaced("kube-system")
                .named("coredns"),
        ),
    };
    let resource = match object.subresource {
        Some(sub) => format!("{}/{sub}", object.resource),
        None => object.resource.to_owned(),
    };
    let scope = match object.namespace {
        Some(namespace) => format!("in the namespace \"{namespace}\""),
        None => "at the cluster scope".to_owned(),
    };
    let qualified = match object.api_group {
        "" => object.resource.to_owned(),
        group => format!("{}.{group}", object.resource),
    };
    let target = match &object.name {
        Some(name) => format!("{qualified} \"{name}\""),
        None => qualified,
    };
    let message = format!(
        "{target} is forbidden: User \"{}\" cannot {} resource \"{resource}\" in API group \"{}\" {scope}",
        actor.username,
        verb.as_str(),
        object.api_group
    );
    let mut request = Request::new(actor, verb, object, "").latency(rng, 500, 2_000);
    request.outcome = Outcome::Failure {
        code: 403,
        reason: "Forbidden",
        message,
    };
    request
}
