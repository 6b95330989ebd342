//! Requests from people and pipelines: kubectl, CI deploys, secret reads, exec, and the refusals
//! of a working cluster (a DaemonSet and operators missing one permission and retrying, people
//! peeking into another team's namespace, a pipeline lacking one permission).

use fastrand::Rng;

use super::actors::{
    uuid, Actor, Cluster, CLUSTER_AUTOSCALER, GITHUB_DEPLOYER, PROMETHEUS, UNSCRAPED_NAMESPACE,
};
use super::mix::{
    app_in, home_namespace, namespace, object_time, pick, pod_name, resource_version,
};
use super::objects::{self, Workload};
use super::request::{Level, ObjectRef, Outcome, Request, Stage, Verb};

/// Share of a person's secret reads that ask for a name that does not exist (404), per 1,000.
const NOT_FOUND_PER_MILLE: u32 = 50;

/// Day-to-day work of people in their team's namespaces, per 100,000 requests: mostly k9s, Lens
/// and `kubectl get` refreshing lists, `describe`, logs; now and then (a few times an hour each)
/// a rollout restart, a scale, a pod deleted, one of their applications' secrets read.
pub(super) fn kubectl<'c>(rng: &mut Rng, cluster: &'c Cluster, now_us: i64) -> Request<'c> {
    let actor = pick(rng, &cluster.humans);
    let ns = home_namespace(rng, actor);
    let app = app_in(rng, ns);
    match rng.u32(..100_000) {
        0..=47_599 => {
            let object = ObjectRef::new("", "pods").namespaced(ns);
            Request::new(actor, Verb::List, object, "limit=500").latency(rng, 3_000, 25_000)
        }
        47_600..=59_599 => {
            let object = ObjectRef::new("", "pods")
                .namespaced(ns)
                .named(pod_name(rng, app));
            Request::new(actor, Verb::Get, object, "").latency(rng, 1_000, 5_000)
        }
        59_600..=69_599 => {
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
        69_600..=79_599 => {
            let query = format!(
                "fieldSelector=involvedObject.name%3D{}&limit=500",
                pod_name(rng, app)
            );
            let object = ObjectRef::new("", "events").namespaced(ns);
            Request::new(actor, Verb::List, object, &query).latency(rng, 2_000, 10_000)
        }
        79_600..=89_599 => {
            let object = ObjectRef::new("apps", "deployments")
                .namespaced(ns)
                .named(app);
            Request::new(actor, Verb::Get, object, "").latency(rng, 1_000, 5_000)
        }
        89_600..=95_599 => {
            let object = ObjectRef::new("apps", "deployments").namespaced(ns);
            Request::new(actor, Verb::List, object, "limit=500").latency(rng, 2_000, 12_000)
        }
        95_600..=99_899 => {
            let object = ObjectRef::new("", "services").namespaced(ns);
            Request::new(actor, Verb::List, object, "limit=500").latency(rng, 2_000, 10_000)
        }
        99_900..=99_929 => {
            // kubectl rollout restart
            let object = ObjectRef::new("apps", "deployments")
                .namespaced(ns)
                .named(app);
            let mut request =
                Request::new(actor, Verb::Patch, object, "fieldManager=kubectl-rollout")
                    .latency(rng, 4_000, 15_000);
            request.level = Level::Request;
            request.request_object = Some(
                format!(
                    "{{\"spec\":{{\"template\":{{\"metadata\":{{\"annotations\":{{\"kubectl.kubernetes.io/restartedAt\":\"{}\"}}}}}}}}}}",
                    object_time(now_us)
                )
                .into_bytes(),
            );
            request
        }
        99_930..=99_959 => {
            let object = ObjectRef::new("apps", "deployments")
                .namespaced(ns)
                .named(app)
                .sub("scale");
            let mut request =
                Request::new(actor, Verb::Patch, object, "").latency(rng, 4_000, 15_000);
            request.level = Level::Request;
            request.request_object =
                Some(format!("{{\"spec\":{{\"replicas\":{}}}}}", rng.u8(2..12)).into_bytes());
            request
        }
        99_960..=99_989 => {
            let object = ObjectRef::new("", "pods")
                .namespaced(ns)
                .named(pod_name(rng, app));
            Request::new(actor, Verb::Delete, object, "").latency(rng, 4_000, 20_000)
        }
        _ => app_secret_read(rng, actor, ns, app),
    }
}

/// A person reading one of their application's secrets (`kubectl get secret api-db -o yaml`).
fn app_secret_read<'c>(
    rng: &mut Rng,
    actor: &'c Actor,
    ns: &'static str,
    app: &str,
) -> Request<'c> {
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

/// Argo CD, a GitHub Actions job and Helm applying deployments and configmaps, logged with bodies.
pub(super) fn ci_deploys<'c>(rng: &mut Rng, cluster: &'c Cluster, now_us: i64) -> Request<'c> {
    let actor = pick(rng, &cluster.deployers);
    let ns = home_namespace(rng, actor);
    let app = app_in(rng, ns);
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

/// Operators and pipelines reading their own few secrets, in their own namespace.
pub(super) fn secret_reads<'c>(rng: &mut Rng, cluster: &'c Cluster, _now_us: i64) -> Request<'c> {
    let actor: &Actor = loop {
        let candidate = if rng.bool() {
            pick(rng, &cluster.operators)
        } else {
            pick(rng, &cluster.deployers)
        };
        if !candidate.secrets.is_empty() {
            break candidate;
        }
    };
    let (ns, name) = *pick(rng, actor.secrets);
    let object = ObjectRef::new("", "secrets").namespaced(ns).named(name);
    Request::new(actor, Verb::Get, object, "").latency(rng, 800, 4_000)
}

/// `kubectl exec` into a pod of the person's team: the connection upgrade is logged at
/// ResponseStarted with code 101.
pub(super) fn execs<'c>(rng: &mut Rng, cluster: &'c Cluster, _now_us: i64) -> Request<'c> {
    let actor = pick(rng, &cluster.humans);
    let ns = home_namespace(rng, actor);
    let app = app_in(rng, ns);
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

/// Refusals of a working cluster (403, `authorization.k8s.io/decision: forbid`), per 1,000:
/// - 550: the logging DaemonSet (fluent-bit, one pod per node) asking for the namespace of the
///   pods whose logs it enriches; its ClusterRole lacks `get namespaces`.
/// - 150: Prometheus listing endpoints, pods and services in a namespace a ServiceMonitor points
///   at but its Role bindings do not cover; its informers retry every few seconds.
/// - 50: the cluster autoscaler listing CSIStorageCapacities, which its older ClusterRole lacks.
/// - 220: a person's k9s, Lens or kubectl listing pods or getting a deployment in another
///   team's namespace.
/// - 30: the GitHub Actions deployer reading a RoleBinding of the manifests it applies
///   (its `edit` role cannot read RBAC).
pub(super) fn forbidden<'c>(rng: &mut Rng, cluster: &'c Cluster, _now_us: i64) -> Request<'c> {
    let draw = rng.u32(..1_000);
    let (actor, verb, object, query): (&Actor, Verb, ObjectRef, &str) = match draw {
        0..=549 => {
            let agent = pick(rng, &cluster.log_agents);
            let object = ObjectRef::new("", "namespaces").named(namespace(rng));
            (agent, Verb::Get, object, "")
        }
        550..=699 => {
            let resource = *pick(rng, &["endpoints", "pods", "services"]);
            let object = ObjectRef::new("", resource).namespaced(UNSCRAPED_NAMESPACE);
            let actor = &cluster.operators[PROMETHEUS];
            (actor, Verb::List, object, "limit=500&resourceVersion=0")
        }
        700..=749 => {
            let object = ObjectRef::new("storage.k8s.io", "csistoragecapacities");
            let actor = &cluster.operators[CLUSTER_AUTOSCALER];
            (actor, Verb::List, object, "limit=500&resourceVersion=0")
        }
        750..=969 => {
            let actor = loop {
                let person = pick(rng, &cluster.humans);
                if !person.peeks.is_empty() {
                    break person;
                }
            };
            let ns = *pick(rng, actor.peeks);
            if rng.u8(..10) < 7 {
                let object = ObjectRef::new("", "pods").namespaced(ns);
                (actor, Verb::List, object, "limit=500")
            } else {
                let app = app_in(rng, ns);
                let object = ObjectRef::new("apps", "deployments")
                    .namespaced(ns)
                    .named(app);
                (actor, Verb::Get, object, "")
            }
        }
        _ => {
            let actor = &cluster.deployers[GITHUB_DEPLOYER];
            let ns = home_namespace(rng, actor);
            let app = app_in(rng, ns);
            let object = ObjectRef::new("rbac.authorization.k8s.io", "rolebindings")
                .namespaced(ns)
                .named(format!("{app}-reader"));
            (actor, Verb::Get, object, "")
        }
    };
    refused(rng, actor, verb, object, query)
}

/// `verb` on `object` answered 403 with kube-apiserver's message.
fn refused<'c>(
    rng: &mut Rng,
    actor: &'c Actor,
    verb: Verb,
    object: ObjectRef,
    query: &str,
) -> Request<'c> {
    let resource = match object.subresource {
        Some(sub) => format!("{}/{sub}", object.resource),
        None => object.resource.to_owned(),
    };
    // A namespace object is authorized in its own namespace.
    let namespace = match (object.namespace, object.resource, &object.name) {
        (Some(namespace), _, _) => Some(namespace.to_owned()),
        (None, "namespaces", Some(name)) => Some(name.clone()),
        _ => None,
    };
    let scope = match namespace {
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
    let mut request = Request::new(actor, verb, object, query).latency(rng, 500, 2_000);
    request.outcome = Outcome::Failure {
        code: 403,
        reason: "Forbidden",
        message,
    };
    request
}
