//! Requests from machines: kubelet heartbeats and reads, leader election, controllers, watches, lists.

use fastrand::Rng;

use super::actors::{Actor, Cluster, Collection, CONTROLLERS, PROMETHEUS};
use super::mix::{app_in, namespace, object_time, pick, pod_name, resource_version, template_hash};
use super::objects::{self, Workload};
use super::request::{suffix, Level, ObjectRef, Outcome, Request, Stage, Verb};

/// Resources that kube-controller-manager's controllers watch and list: (API group, resource).
const WATCHED: &[(&str, &str)] = &[
    ("", "pods"),
    ("", "configmaps"),
    ("", "secrets"),
    ("", "services"),
    ("", "serviceaccounts"),
    ("discovery.k8s.io", "endpointslices"),
    ("apps", "deployments"),
    ("apps", "replicasets"),
    ("networking.k8s.io", "ingresses"),
    ("cert-manager.io", "certificates"),
    ("coordination.k8s.io", "leases"),
];

/// Resources that exist only at cluster scope.
const CLUSTER_WATCHED: &[(&str, &str)] =
    &[("", "nodes"), ("", "namespaces"), ("", "persistentvolumes")];

/// Share of controller updates that lose an optimistic-concurrency race (409), per 1,000.
const CONFLICTS_PER_MILLE: u32 = 10;

fn node(rng: &mut Rng, cluster: &Cluster) -> usize {
    rng.usize(..cluster.nodes.len())
}

fn controller<'c>(cluster: &'c Cluster, name: &str) -> &'c Actor {
    let index = CONTROLLERS.iter().position(|candidate| *candidate == name);
    debug_assert!(index.is_some(), "unknown controller {name}");
    &cluster.controllers[index.unwrap_or(0)]
}

/// Kubelet lease renewal every 10 s per node: the most common event in most clusters.
pub(super) fn node_lease<'c>(rng: &mut Rng, cluster: &'c Cluster, _now_us: i64) -> Request<'c> {
    let index = node(rng, cluster);
    let object = ObjectRef::new("coordination.k8s.io", "leases")
        .namespaced("kube-node-lease")
        .named(&cluster.node_names[index]);
    Request::new(&cluster.nodes[index], Verb::Update, object, "timeout=10s")
        .latency(rng, 1_500, 6_000)
}

/// Kubelet node-status heartbeat, logged with its patch.
pub(super) fn node_status<'c>(rng: &mut Rng, cluster: &'c Cluster, now_us: i64) -> Request<'c> {
    let index = node(rng, cluster);
    let object = ObjectRef::new("", "nodes")
        .named(&cluster.node_names[index])
        .sub("status");
    let mut request = Request::new(&cluster.nodes[index], Verb::Patch, object, "timeout=10s")
        .latency(rng, 2_000, 9_000);
    request.level = Level::Request;
    let mut body = Vec::with_capacity(512);
    objects::node_status_patch(&mut body, &object_time(now_us));
    request.request_object = Some(body);
    request
}

/// Kubelet reads of its pods and their configuration, service-account token requests, and the
/// node's log agent (fluent-bit) reading the metadata of the pods whose logs it ships.
pub(super) fn kubelet_reads<'c>(rng: &mut Rng, cluster: &'c Cluster, _now_us: i64) -> Request<'c> {
    let index = node(rng, cluster);
    let actor = &cluster.nodes[index];
    let ns = namespace(rng);
    let app = app_in(rng, ns);
    match rng.u8(..12) {
        0..=3 => {
            let object = ObjectRef::new("", "pods")
                .namespaced(ns)
                .named(pod_name(rng, app));
            Request::new(actor, Verb::Get, object, "").latency(rng, 800, 4_000)
        }
        4..=5 => {
            let object = ObjectRef::new("", "configmaps")
                .namespaced(ns)
                .named(format!("{app}-config"));
            Request::new(actor, Verb::Get, object, "").latency(rng, 800, 4_000)
        }
        6..=7 => {
            let query = format!(
                "fieldSelector=spec.nodeName%3D{}&limit=500&resourceVersion=0",
                cluster.node_names[index]
            );
            Request::new(actor, Verb::List, ObjectRef::new("", "pods"), &query)
                .latency(rng, 3_000, 20_000)
        }
        8..=9 => {
            let object = ObjectRef::new("", "serviceaccounts")
                .namespaced(ns)
                .named(app)
                .sub("token");
            let mut request =
                Request::new(actor, Verb::Create, object, "").latency(rng, 2_000, 8_000);
            let credential = format!("JTI={}", super::actors::uuid(rng));
            request.annotations.push((
                "authentication.kubernetes.io/issued-credential-id",
                credential,
            ));
            request
        }
        _ => {
            let object = ObjectRef::new("", "pods")
                .namespaced(ns)
                .named(pod_name(rng, app));
            Request::new(&cluster.log_agents[index], Verb::Get, object, "").latency(rng, 800, 4_000)
        }
    }
}

/// kube-controller-manager and kube-scheduler renewing their leader-election leases.
pub(super) fn leader_election<'c>(
    rng: &mut Rng,
    cluster: &'c Cluster,
    _now_us: i64,
) -> Request<'c> {
    let (actor, lease) = if rng.bool() {
        (&cluster.controller_manager, "kube-controller-manager")
    } else {
        (&cluster.scheduler, "kube-scheduler")
    };
    let verb = if rng.u8(..5) == 0 {
        Verb::Get
    } else {
        Verb::Update
    };
    let object = ObjectRef::new("coordination.k8s.io", "leases")
        .namespaced("kube-system")
        .named(lease);
    Request::new(actor, verb, object, "timeout=5s").latency(rng, 1_000, 5_000)
}

/// The kube-controller-manager control loops updating status, endpoints, events and garbage.
pub(super) fn controllers<'c>(rng: &mut Rng, cluster: &'c Cluster, now_us: i64) -> Request<'c> {
    let ns = namespace(rng);
    let app = app_in(rng, ns);
    let (actor, verb, object) = match rng.u8(..8) {
        0 => {
            let name = format!("{app}-{}", template_hash(rng));
            let object = ObjectRef::new("apps", "replicasets")
                .namespaced(ns)
                .named(name)
                .sub("status");
            (
                controller(cluster, "replicaset-controller"),
                Verb::Update,
                object,
            )
        }
        1 => {
            let object = ObjectRef::new("apps", "deployments")
                .namespaced(ns)
                .named(app)
                .sub("status");
            (
                controller(cluster, "deployment-controller"),
                Verb::Update,
                object,
            )
        }
        2 => {
            let name = format!("{app}-{}", suffix(rng, 5));
            let object = ObjectRef::new("discovery.k8s.io", "endpointslices")
                .namespaced(ns)
                .named(name);
            (
                controller(cluster, "endpointslice-controller"),
                Verb::Update,
                object,
            )
        }
        3 => {
            let object = ObjectRef::new("events.k8s.io", "events").namespaced(ns);
            (pick(rng, &cluster.controllers), Verb::Create, object)
        }
        4 => {
            let object = ObjectRef::new("", "pods")
                .namespaced(ns)
                .named(pod_name(rng, app));
            (
                controller(cluster, "generic-garbage-collector"),
                Verb::Delete,
                object,
            )
        }
        5 => {
            let object = ObjectRef::new("", "namespaces").named(ns);
            (
                controller(cluster, "namespace-controller"),
                Verb::Get,
                object,
            )
        }
        6 => {
            let object = ObjectRef::new("autoscaling", "horizontalpodautoscalers")
                .namespaced(ns)
                .named(app)
                .sub("status");
            (
                controller(cluster, "horizontal-pod-autoscaler"),
                Verb::Update,
                object,
            )
        }
        _ => {
            let name = format!("{app}-migrate-{}", resource_version(rng, now_us) % 100_000);
            let object = ObjectRef::new("batch", "jobs")
                .namespaced(ns)
                .named(name)
                .sub("status");
            (controller(cluster, "job-controller"), Verb::Update, object)
        }
    };
    let mut request = Request::new(actor, verb, object, "").latency(rng, 1_500, 12_000);
    if verb == Verb::Update && rng.u32(..1_000) < CONFLICTS_PER_MILLE {
        let target = request
            .object
            .as_ref()
            .map(|o| (o.resource, o.api_group, o.name.clone().unwrap_or_default()));
        let (resource, group, name) = target.unwrap_or_default();
        let message = format!(
            "Operation cannot be fulfilled on {resource}.{group} \"{name}\": the object has been modified; \
             please apply your changes to the latest version and try again"
        );
        request.outcome = Outcome::Failure {
            code: 409,
            reason: "Conflict",
            message,
        };
    }
    request
}

/// kube-scheduler binding a new pod to a node.
pub(super) fn scheduler_binding<'c>(
    rng: &mut Rng,
    cluster: &'c Cluster,
    _now_us: i64,
) -> Request<'c> {
    let ns = namespace(rng);
    let app = app_in(rng, ns);
    let pod = pod_name(rng, app);
    let uid = super::actors::uuid(rng);
    let object = ObjectRef::new("", "pods")
        .namespaced(ns)
        .named(&pod)
        .sub("binding");
    let mut request =
        Request::new(&cluster.scheduler, Verb::Create, object, "").latency(rng, 2_000, 10_000);
    request.level = Level::Request;
    let mut body = Vec::with_capacity(256);
    objects::binding(
        &mut body,
        ns,
        &pod,
        &uid,
        pick(rng, &cluster.node_names).as_str(),
    );
    request.request_object = Some(body);
    request
}

/// The ReplicaSet controller creating pods, logged with the pod (a few KB).
pub(super) fn pod_creates<'c>(rng: &mut Rng, cluster: &'c Cluster, now_us: i64) -> Request<'c> {
    let ns = namespace(rng);
    let app = app_in(rng, ns);
    let hash = template_hash(rng);
    let replica_set = format!("{app}-{hash}");
    let object = ObjectRef::new("", "pods").namespaced(ns);
    let actor = controller(cluster, "replicaset-controller");
    let mut request = Request::new(actor, Verb::Create, object, "").latency(rng, 8_000, 30_000);
    request.level = Level::Request;
    let uid = super::actors::uuid(rng);
    let image = format!(
        "registry.example.com/{ns}/{app}:v1.{}.{}",
        rng.u8(0..40),
        rng.u8(0..20)
    );
    let time = object_time(now_us);
    let workload = Workload {
        namespace: ns,
        app,
        name: &replica_set,
        image: &image,
        uid: &uid,
        resource_version: resource_version(rng, now_us),
        time: &time,
    };
    let mut body = Vec::with_capacity(2_048);
    objects::pod(&mut body, &workload, &hash);
    request.request_object = Some(body);
    request.annotations.push((
        "pod-security.kubernetes.io/enforce-policy",
        "restricted:latest".to_owned(),
    ));
    request
}

/// Who lists or watches next, and what: (identity, collection, extra query such as a field selector).
fn watched<'c>(rng: &mut Rng, cluster: &'c Cluster) -> (&'c Actor, ObjectRef, String) {
    match rng.u8(..10) {
        0..=3 => {
            let actor = pick(rng, &cluster.operators);
            let collection = *pick(rng, actor.watches);
            let object = collection_of(rng, &collection);
            (actor, object, String::new())
        }
        4..=6 => {
            let actor = pick(rng, &cluster.controllers);
            (actor, controller_collection(rng), String::new())
        }
        7..=8 => kubelet_watch(rng, cluster),
        _ => (
            &cluster.controller_manager,
            controller_collection(rng),
            String::new(),
        ),
    }
}

fn collection_of(rng: &mut Rng, collection: &Collection) -> ObjectRef {
    let object = ObjectRef::new(collection.group, collection.resource);
    match collection.namespaces {
        Some(namespaces) => object.namespaced(pick::<&str>(rng, namespaces)),
        None => object,
    }
}

/// A collection of kube-controller-manager's controllers, namespaced or cluster-wide.
fn controller_collection(rng: &mut Rng) -> ObjectRef {
    if rng.u8(..8) == 0 {
        let (group, resource) = *pick(rng, CLUSTER_WATCHED);
        return ObjectRef::new(group, resource);
    }
    let (group, resource) = *pick(rng, WATCHED);
    let object = ObjectRef::new(group, resource);
    if rng.bool() {
        object.namespaced(namespace(rng))
    } else {
        object
    }
}

/// What a kubelet watches: its own pods and node object, services, and the configmaps its pods
/// mount (one by name).
fn kubelet_watch<'c>(rng: &mut Rng, cluster: &'c Cluster) -> (&'c Actor, ObjectRef, String) {
    let index = node(rng, cluster);
    let node_name = &cluster.node_names[index];
    let (object, selector) = match rng.u8(..5) {
        0 | 1 => (
            ObjectRef::new("", "pods"),
            format!("fieldSelector=spec.nodeName%3D{node_name}&"),
        ),
        2 => (
            ObjectRef::new("", "nodes"),
            format!("fieldSelector=metadata.name%3D{node_name}&"),
        ),
        3 => (ObjectRef::new("", "services"), String::new()),
        _ => {
            let ns = namespace(rng);
            let app = app_in(rng, ns);
            (
                ObjectRef::new("", "configmaps").namespaced(ns),
                format!("fieldSelector=metadata.name%3D{app}-config&"),
            )
        }
    };
    (&cluster.nodes[index], object, selector)
}

/// Informer watches: ResponseStarted when they open, ResponseComplete minutes later when they time out.
pub(super) fn watches<'c>(rng: &mut Rng, cluster: &'c Cluster, now_us: i64) -> Request<'c> {
    let (actor, object, selector) = watched(rng, cluster);
    let timeout_s = rng.i64(300..600);
    let query = format!(
        "allowWatchBookmarks=true&{selector}resourceVersion={}&timeout={}m{}s&timeoutSeconds={timeout_s}&watch=true",
        resource_version(rng, now_us),
        timeout_s / 60,
        timeout_s % 60
    );
    let request = Request::new(actor, Verb::Watch, object, &query);
    if rng.bool() {
        let mut started = request.latency(rng, 500, 3_000);
        started.stage = Stage::ResponseStarted;
        return started;
    }
    request.latency(rng, timeout_s * 1_000_000, timeout_s * 1_000_000 + 5_000)
}

/// Paginated informer relists (`?limit=500`).
pub(super) fn lists<'c>(rng: &mut Rng, cluster: &'c Cluster, _now_us: i64) -> Request<'c> {
    let (actor, object, selector) = watched(rng, cluster);
    let query = if rng.bool() {
        format!("{selector}limit=500&resourceVersion=0")
    } else {
        format!("{selector}limit=500")
    };
    Request::new(actor, Verb::List, object, &query).latency(rng, 4_000, 60_000)
}

/// Discovery and health endpoints (no objectRef).
pub(super) fn non_resource<'c>(rng: &mut Rng, cluster: &'c Cluster, _now_us: i64) -> Request<'c> {
    if rng.u8(..5) < 2 {
        let prometheus = &cluster.operators[PROMETHEUS];
        return Request::non_resource(prometheus, "/metrics").latency(rng, 5_000, 40_000);
    }
    let path = *pick(
        rng,
        &["/api", "/apis", "/version", "/openapi/v3", "/readyz"],
    );
    Request::non_resource(pick(rng, &cluster.humans), path).latency(rng, 500, 4_000)
}
