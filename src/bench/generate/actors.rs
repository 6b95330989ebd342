//! The simulated cluster's identities: nodes, control plane, controllers, operators, CI and humans.
//!
//! Each actor's `user`, `sourceIPs` and `userAgent` JSON is serialized once, when the cluster is built.

use fastrand::Rng;

use super::json::{self, Obj};

/// Worker nodes sending heartbeats.
pub(super) const NODE_COUNT: usize = 40;
const K8S_VERSION: &str = "v1.31.4 (linux/amd64) kubernetes/a78aa47";
const CONTROL_PLANE_IP: &str = "10.0.0.10";
/// Loopback-side address of the load balancer in front of the API server, last in `sourceIPs`.
const LOAD_BALANCER_IP: &str = "10.0.0.5";
const CREDENTIAL_ID: &str = "authentication.kubernetes.io/credential-id";

/// kube-system service accounts that kube-controller-manager uses (`--use-service-account-credentials`).
pub(super) const CONTROLLERS: &[&str] = &[
    "replicaset-controller",
    "deployment-controller",
    "endpointslice-controller",
    "endpointslicemirroring-controller",
    "generic-garbage-collector",
    "namespace-controller",
    "daemon-set-controller",
    "job-controller",
    "cronjob-controller",
    "horizontal-pod-autoscaler",
    "node-controller",
    "resourcequota-controller",
];

/// In-cluster operators with bound (pod) tokens: (namespace, service account, user agent).
const OPERATORS: &[(&str, &str, &str)] = &[
    (
        "cert-manager",
        "cert-manager",
        "cert-manager-controller/v1.15.1 (linux/amd64) cert-manager/3ad5a4f",
    ),
    ("monitoring", "prometheus-k8s", "Prometheus/2.53.1"),
    (
        "ingress-nginx",
        "ingress-nginx",
        "nginx-ingress-controller/v1.11.1 (linux/amd64) ingress-nginx/7c44f992",
    ),
    (
        "kube-system",
        "coredns",
        "coredns/v0.0.0 (linux/amd64) kubernetes/$Format",
    ),
    (
        "monitoring",
        "kube-state-metrics",
        "kube-state-metrics/v2.13.0 (linux/amd64) kubernetes/$Format",
    ),
    (
        "kube-system",
        "cluster-autoscaler",
        "cluster-autoscaler/v1.31.0 (linux/amd64) kubernetes/$Format",
    ),
];

/// Index of Prometheus (which scrapes `/metrics`) in `OPERATORS`.
pub(super) const PROMETHEUS: usize = 1;

/// People using kubectl and friends through OIDC: (user, team group, user agent).
const HUMANS: &[(&str, &str, &str)] = &[
    (
        "oidc:alice.martin@example.com",
        "oidc:platform-team",
        "kubectl/v1.31.2 (darwin/arm64) kubernetes/5864a46",
    ),
    (
        "oidc:bob.nguyen@example.com",
        "oidc:platform-team",
        "kubectl/v1.30.5 (linux/amd64) kubernetes/74e84a9",
    ),
    (
        "oidc:carol.schmidt@example.com",
        "oidc:payments-devs",
        "k9s/v0.32.5 (darwin/arm64) kubernetes/$Format",
    ),
    (
        "oidc:dmitri.ivanov@example.com",
        "oidc:search-devs",
        "kubectl/v1.31.2 (windows/amd64) kubernetes/5864a46",
    ),
    (
        "oidc:erin.obrien@example.com",
        "oidc:sre-oncall",
        "kubectl/v1.31.2 (darwin/arm64) kubernetes/5864a46",
    ),
    (
        "oidc:farid.haddad@example.com",
        "oidc:data-eng",
        "Lens/2024.6.261308",
    ),
];

/// Where the humans connect from (documentation ranges).
const HUMAN_IPS: &[&str] = &[
    "198.51.100.23",
    "198.51.100.87",
    "203.0.113.41",
    "203.0.113.140",
    "192.0.2.77",
];

/// Namespaces of the simulated workloads.
pub(super) const NAMESPACES: &[&str] = &[
    "default",
    "payments",
    "checkout",
    "search",
    "monitoring",
    "ingress-nginx",
    "data-pipeline",
    "ml-serving",
    "auth",
    "frontend",
];

/// One identity as it appears in audit events.
pub(super) struct Actor {
    pub username: String,
    /// Pre-serialized `user` object.
    pub user_json: Vec<u8>,
    /// Pre-serialized `sourceIPs` array.
    pub source_ips_json: Vec<u8>,
    /// Pre-serialized `userAgent` string.
    pub user_agent_json: Vec<u8>,
    /// Pre-serialized `authorization.k8s.io/reason` value for allowed requests.
    pub allow_reason_json: Vec<u8>,
}

/// Everybody who talks to the API server.
pub(super) struct Cluster {
    pub node_names: Vec<String>,
    pub nodes: Vec<Actor>,
    pub controller_manager: Actor,
    pub scheduler: Actor,
    pub controllers: Vec<Actor>,
    pub operators: Vec<Actor>,
    pub deployers: Vec<Actor>,
    pub humans: Vec<Actor>,
}

/// The parts of an identity before serialization.
struct Identity {
    username: String,
    uid: Option<String>,
    groups: Vec<String>,
    extra: Vec<(&'static str, String)>,
    source_ips: Vec<String>,
    user_agent: String,
    allow_reason: String,
}

impl Identity {
    fn build(self) -> Actor {
        let mut user_json = Vec::with_capacity(256);
        let mut user = Obj::open(&mut user_json);
        user.str("username", &self.username);
        if let Some(uid) = &self.uid {
            user.str("uid", uid);
        }
        user.str_array("groups", &self.groups);
        if !self.extra.is_empty() {
            user.object("extra", |extra| {
                for (key, value) in &self.extra {
                    extra.str_array(key, &[value]);
                }
            });
        }
        user.finish();
        let mut source_ips_json = Vec::new();
        json::string_array(&mut source_ips_json, &self.source_ips);
        let mut user_agent_json = Vec::new();
        json::string(&mut user_agent_json, &self.user_agent);
        let mut allow_reason_json = Vec::new();
        json::string(&mut allow_reason_json, &self.allow_reason);
        Actor {
            username: self.username,
            user_json,
            source_ips_json,
            user_agent_json,
            allow_reason_json,
        }
    }
}

pub(super) fn uuid(rng: &mut Rng) -> String {
    let mut bytes = [0u8; 16];
    rng.fill(&mut bytes);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

fn hex(rng: &mut Rng, bytes: usize) -> String {
    let mut text = String::with_capacity(bytes * 2);
    for _ in 0..bytes {
        text.push_str(&format!("{:02x}", rng.u8(..)));
    }
    text
}

fn pod_ip(rng: &mut Rng) -> String {
    format!("10.244.{}.{}", rng.u8(0..64), rng.u8(2..250))
}

fn rbac_reason(binding: &str, role: &str, subject: &str) -> String {
    format!(
        "RBAC: allowed by ClusterRoleBinding \"{binding}\" of ClusterRole \"{role}\" to {subject}"
    )
}

fn service_account(rng: &mut Rng, namespace: &str, name: &str) -> Identity {
    Identity {
        username: format!("system:serviceaccount:{namespace}:{name}"),
        uid: Some(uuid(rng)),
        groups: vec![
            "system:serviceaccounts".to_owned(),
            format!("system:serviceaccounts:{namespace}"),
            "system:authenticated".to_owned(),
        ],
        extra: vec![(CREDENTIAL_ID, format!("JTI={}", uuid(rng)))],
        source_ips: vec![CONTROL_PLANE_IP.to_owned()],
        user_agent: String::new(),
        allow_reason: String::new(),
    }
}

/// Adds the bound-token claims a service-account token mounted in a pod carries.
fn bind_to_pod(identity: &mut Identity, rng: &mut Rng, pod_name: String, node_name: &str) {
    identity.extra.push((
        "authentication.kubernetes.io/node-name",
        node_name.to_owned(),
    ));
    identity
        .extra
        .push(("authentication.kubernetes.io/node-uid", uuid(rng)));
    identity
        .extra
        .push(("authentication.kubernetes.io/pod-name", pod_name));
    identity
        .extra
        .push(("authentication.kubernetes.io/pod-uid", uuid(rng)));
}

fn x509_user(rng: &mut Rng, username: String, groups: Vec<String>, user_agent: String) -> Identity {
    Identity {
        extra: vec![(CREDENTIAL_ID, format!("X509SHA256={}", hex(rng, 32)))],
        allow_reason: rbac_reason(&username, &username, &format!("User \"{username}\"")),
        username,
        uid: None,
        groups,
        source_ips: vec![CONTROL_PLANE_IP.to_owned()],
        user_agent,
    }
}

impl Cluster {
    /// Builds the identities; every random choice comes from `rng`.
    pub fn new(rng: &mut Rng) -> Self {
        let node_names: Vec<String> = (0..NODE_COUNT)
            .map(|index| {
                format!(
                    "ip-10-0-{}-{}.ec2.internal",
                    16 + index / 200,
                    10 + index % 200
                )
            })
            .collect();
        let mut nodes = Vec::with_capacity(NODE_COUNT);
        for (index, name) in node_names.iter().enumerate() {
            let username = format!("system:node:{name}");
            let groups = vec!["system:nodes".to_owned(), "system:authenticated".to_owned()];
            let mut identity = x509_user(rng, username, groups, format!("kubelet/{K8S_VERSION}"));
            identity.source_ips = vec![format!("10.0.{}.{}", 16 + index / 200, 10 + index % 200)];
            identity.allow_reason = String::new(); // The Node authorizer gives no reason.
            nodes.push(identity.build());
        }
        let authenticated = || vec!["system:authenticated".to_owned()];
        let controller_manager = x509_user(
            rng,
            "system:kube-controller-manager".to_owned(),
            authenticated(),
            format!("kube-controller-manager/{K8S_VERSION}/leader-election"),
        )
        .build();
        let scheduler = x509_user(
            rng,
            "system:kube-scheduler".to_owned(),
            authenticated(),
            format!("kube-scheduler/{K8S_VERSION}/scheduler"),
        )
        .build();
        let mut controllers = Vec::with_capacity(CONTROLLERS.len());
        for name in CONTROLLERS {
            let mut identity = service_account(rng, "kube-system", name);
            identity.user_agent = format!(
                "kube-controller-manager/{K8S_VERSION}/system:serviceaccount:kube-system:{name}"
            );
            identity.allow_reason = rbac_reason(
                &format!("system:controller:{name}"),
                &format!("system:controller:{name}"),
                &format!("ServiceAccount \"{name}/kube-system\""),
            );
            controllers.push(identity.build());
        }
        let mut operators = Vec::with_capacity(OPERATORS.len());
        for (namespace, name, user_agent) in OPERATORS {
            let mut identity = service_account(rng, namespace, name);
            let pod_name = format!("{name}-{}-{}", hex(rng, 5), hex(rng, 3));
            let node = &node_names[rng.usize(..NODE_COUNT)];
            bind_to_pod(&mut identity, rng, pod_name, node);
            identity.source_ips = vec![pod_ip(rng)];
            identity.user_agent = (*user_agent).to_owned();
            identity.allow_reason = rbac_reason(
                name,
                name,
                &format!("ServiceAccount \"{name}/{namespace}\""),
            );
            operators.push(identity.build());
        }
        let mut argocd = service_account(rng, "argocd", "argocd-application-controller");
        let node = &node_names[rng.usize(..NODE_COUNT)];
        bind_to_pod(
            &mut argocd,
            rng,
            "argocd-application-controller-0".to_owned(),
            node,
        );
        argocd.user_agent =
            "argocd-application-controller/v2.11.7 (linux/amd64) kubernetes/$Format".to_owned();
        argocd.allow_reason = rbac_reason(
            "argocd-application-controller",
            "argocd-application-controller",
            "ServiceAccount \"argocd-application-controller/argocd\"",
        );
        let mut github = service_account(rng, "ci", "github-actions-deployer");
        github.source_ips = vec!["140.82.112.4".to_owned(), LOAD_BALANCER_IP.to_owned()];
        github.user_agent = "kubectl/v1.30.2 (linux/amd64) kubernetes/3968350".to_owned();
        github.allow_reason = "RBAC: allowed by RoleBinding \"deployer/payments\" of ClusterRole \"edit\" to ServiceAccount \"github-actions-deployer/ci\"".to_owned();
        let mut helm = service_account(rng, "ci", "helm-release-bot");
        helm.source_ips = vec!["140.82.112.9".to_owned(), LOAD_BALANCER_IP.to_owned()];
        helm.user_agent = "Helm/3.15.2".to_owned();
        helm.allow_reason = rbac_reason(
            "helm-release-bot",
            "cluster-admin",
            "ServiceAccount \"helm-release-bot/ci\"",
        );
        let deployers = vec![argocd.build(), github.build(), helm.build()];
        let mut humans = Vec::with_capacity(HUMANS.len());
        for (index, (username, team, user_agent)) in HUMANS.iter().enumerate() {
            let identity = Identity {
                username: (*username).to_owned(),
                uid: None,
                groups: vec![(*team).to_owned(), "system:authenticated".to_owned()],
                extra: vec![(CREDENTIAL_ID, format!("JTI={}", uuid(rng)))],
                source_ips: vec![
                    HUMAN_IPS[index % HUMAN_IPS.len()].to_owned(),
                    LOAD_BALANCER_IP.to_owned(),
                ],
                user_agent: (*user_agent).to_owned(),
                allow_reason: rbac_reason(
                    &team.replace("oidc:", ""),
                    "edit",
                    &format!("Group \"{team}\""),
                ),
            };
            humans.push(identity.build());
        }
        Cluster {
            node_names,
            nodes,
            controller_manager,
            scheduler,
            controllers,
            operators,
            deployers,
            humans,
        }
    }
}
