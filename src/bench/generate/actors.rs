//! The simulated cluster's identities: nodes, control plane, controllers, operators, CI and humans.
//!
//! Each actor's `user`, `sourceIPs` and `userAgent` JSON is serialized once, when the cluster is built.

use fastrand::Rng;

use super::json::{self, Obj};
use super::request::suffix;

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

/// A collection an identity lists and watches.
#[derive(Debug, Clone, Copy)]
pub(super) struct Collection {
    /// Empty for the core group.
    pub group: &'static str,
    pub resource: &'static str,
    /// `None`: across the cluster (`/api/v1/pods`); otherwise one of these namespaces.
    pub namespaces: Option<&'static [&'static str]>,
}

const fn cluster_wide(group: &'static str, resource: &'static str) -> Collection {
    Collection {
        group,
        resource,
        namespaces: None,
    }
}

const fn within(
    group: &'static str,
    resource: &'static str,
    namespaces: &'static [&'static str],
) -> Collection {
    Collection {
        group,
        resource,
        namespaces: Some(namespaces),
    }
}

/// An in-cluster operator with a bound (pod) token.
struct OperatorSpec {
    namespace: &'static str,
    service_account: &'static str,
    user_agent: &'static str,
    /// Secrets of its own namespace it reads by name: (namespace, name).
    secrets: &'static [(&'static str, &'static str)],
    /// What its informers list and watch, as its RBAC allows.
    watches: &'static [Collection],
}

/// Namespaces Prometheus scrapes and may read (its RBAC does not cover `data-pipeline`).
pub(super) const SCRAPED_NAMESPACES: &[&str] = &[
    "default",
    "payments",
    "checkout",
    "search",
    "monitoring",
    "ingress-nginx",
    "ml-serving",
    "auth",
    "frontend",
];

/// The namespace a ServiceMonitor points Prometheus at although its RBAC does not cover it.
pub(super) const UNSCRAPED_NAMESPACE: &str = "data-pipeline";

const OPERATORS: &[OperatorSpec] = &[
    OperatorSpec {
        namespace: "cert-manager",
        service_account: "cert-manager",
        user_agent: "cert-manager-controller/v1.15.1 (linux/amd64) cert-manager/3ad5a4f",
        secrets: &[
            ("cert-manager", "cert-manager-webhook-ca"),
            ("cert-manager", "letsencrypt-prod-account-key"),
        ],
        watches: &[
            cluster_wide("cert-manager.io", "certificates"),
            cluster_wide("cert-manager.io", "certificaterequests"),
            cluster_wide("cert-manager.io", "issuers"),
            cluster_wide("cert-manager.io", "clusterissuers"),
            cluster_wide("acme.cert-manager.io", "orders"),
            cluster_wide("acme.cert-manager.io", "challenges"),
            // cert-manager watches the secrets it writes certificates to, in every namespace
            cluster_wide("", "secrets"),
            cluster_wide("networking.k8s.io", "ingresses"),
        ],
    },
    OperatorSpec {
        namespace: "monitoring",
        service_account: "prometheus-k8s",
        user_agent: "Prometheus/2.53.1",
        secrets: &[],
        watches: &[
            within("", "pods", SCRAPED_NAMESPACES),
            within("", "services", SCRAPED_NAMESPACES),
            within("", "endpoints", SCRAPED_NAMESPACES),
            within("discovery.k8s.io", "endpointslices", SCRAPED_NAMESPACES),
            cluster_wide("", "nodes"),
        ],
    },
    OperatorSpec {
        namespace: "ingress-nginx",
        service_account: "ingress-nginx",
        user_agent: "nginx-ingress-controller/v1.11.1 (linux/amd64) ingress-nginx/7c44f992",
        secrets: &[
            ("ingress-nginx", "ingress-nginx-admission"),
            ("ingress-nginx", "default-ssl-certificate"),
        ],
        watches: &[
            cluster_wide("networking.k8s.io", "ingresses"),
            cluster_wide("networking.k8s.io", "ingressclasses"),
            cluster_wide("", "services"),
            cluster_wide("discovery.k8s.io", "endpointslices"),
            // the TLS certificates of every ingress
            cluster_wide("", "secrets"),
            within("", "configmaps", &["ingress-nginx"]),
        ],
    },
    OperatorSpec {
        namespace: "kube-system",
        service_account: "coredns",
        user_agent: "coredns/v0.0.0 (linux/amd64) kubernetes/$Format",
        secrets: &[],
        watches: &[
            cluster_wide("", "services"),
            cluster_wide("discovery.k8s.io", "endpointslices"),
            cluster_wide("", "namespaces"),
        ],
    },
    OperatorSpec {
        namespace: "monitoring",
        service_account: "kube-state-metrics",
        user_agent: "kube-state-metrics/v2.13.0 (linux/amd64) kubernetes/$Format",
        secrets: &[],
        watches: &[
            cluster_wide("", "pods"),
            cluster_wide("", "nodes"),
            cluster_wide("", "namespaces"),
            cluster_wide("", "services"),
            cluster_wide("", "configmaps"),
            // metadata of every secret (kube_secret_info)
            cluster_wide("", "secrets"),
            cluster_wide("", "persistentvolumes"),
            cluster_wide("apps", "deployments"),
            cluster_wide("apps", "replicasets"),
            cluster_wide("batch", "jobs"),
        ],
    },
    OperatorSpec {
        namespace: "kube-system",
        service_account: "cluster-autoscaler",
        user_agent: "cluster-autoscaler/v1.31.0 (linux/amd64) kubernetes/$Format",
        secrets: &[("kube-system", "cluster-autoscaler-cloud-config")],
        watches: &[
            cluster_wide("", "pods"),
            cluster_wide("", "nodes"),
            cluster_wide("", "persistentvolumeclaims"),
            cluster_wide("policy", "poddisruptionbudgets"),
            cluster_wide("apps", "replicasets"),
            cluster_wide("apps", "statefulsets"),
            cluster_wide("storage.k8s.io", "csinodes"),
        ],
    },
];

/// Index of Prometheus (which scrapes `/metrics`) in `OPERATORS`.
pub(super) const PROMETHEUS: usize = 1;
/// Index of the cluster autoscaler in `OPERATORS`.
pub(super) const CLUSTER_AUTOSCALER: usize = 5;
/// Index of the GitHub Actions deployer in `Cluster::deployers`.
pub(super) const GITHUB_DEPLOYER: usize = 1;

/// A person using kubectl and friends through OIDC.
struct PersonSpec {
    username: &'static str,
    /// Team group; RoleBindings in the team's namespaces grant it `edit`.
    team: &'static str,
    user_agent: &'static str,
    /// The team's namespaces.
    namespaces: &'static [&'static str],
    /// Another team's namespace the person sometimes looks at without access (403).
    peeks: &'static [&'static str],
}

const HUMANS: &[PersonSpec] = &[
    PersonSpec {
        username: "oidc:alice.martin@example.com",
        team: "oidc:platform-team",
        user_agent: "kubectl/v1.31.2 (darwin/arm64) kubernetes/5864a46",
        namespaces: &["default", "monitoring", "ingress-nginx", "auth"],
        peeks: &["payments"],
    },
    PersonSpec {
        username: "oidc:bob.nguyen@example.com",
        team: "oidc:platform-team",
        user_agent: "kubectl/v1.30.5 (linux/amd64) kubernetes/74e84a9",
        namespaces: &["default", "monitoring", "ingress-nginx", "auth"],
        peeks: &["data-pipeline"],
    },
    PersonSpec {
        username: "oidc:carol.schmidt@example.com",
        team: "oidc:payments-devs",
        user_agent: "k9s/v0.32.5 (darwin/arm64) kubernetes/$Format",
        namespaces: &["payments", "checkout"],
        peeks: &["search"],
    },
    PersonSpec {
        username: "oidc:dmitri.ivanov@example.com",
        team: "oidc:search-devs",
        user_agent: "kubectl/v1.31.2 (windows/amd64) kubernetes/5864a46",
        namespaces: &["search", "frontend"],
        peeks: &["checkout"],
    },
    PersonSpec {
        username: "oidc:erin.obrien@example.com",
        team: "oidc:sre-oncall",
        user_agent: "kubectl/v1.31.2 (darwin/arm64) kubernetes/5864a46",
        namespaces: NAMESPACES,
        peeks: &[],
    },
    PersonSpec {
        username: "oidc:farid.haddad@example.com",
        team: "oidc:data-eng",
        user_agent: "Lens/2024.6.261308",
        namespaces: &["data-pipeline", "ml-serving"],
        peeks: &["payments"],
    },
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

/// The applications (Deployments) of each namespace of `NAMESPACES`, in the same order.
const NAMESPACE_APPS: &[&[&str]] = &[
    &["web", "api"],
    &["payments-gateway", "api", "worker"],
    &["checkout", "frontend", "redis"],
    &["search-indexer", "api", "kafka-consumer"],
    &["grafana", "alertmanager", "notifier"],
    &["ingress-nginx-controller", "default-backend"],
    &["kafka-consumer", "worker", "etl-runner"],
    &["recommendation", "model-server", "feature-store"],
    &["auth-proxy", "api", "redis"],
    &["frontend", "web"],
];

/// The applications running in `namespace` (one of `NAMESPACES`).
pub(super) fn apps_of(namespace: &str) -> &'static [&'static str] {
    let index = NAMESPACES
        .iter()
        .position(|candidate| *candidate == namespace);
    debug_assert!(index.is_some(), "unknown namespace {namespace}");
    NAMESPACE_APPS[index.unwrap_or(0)]
}

/// Pods of the logging DaemonSet (one per node) whose ClusterRole lacks `get namespaces`.
pub(super) const LOG_AGENT_NAMESPACE: &str = "logging";
pub(super) const LOG_AGENT: &str = "fluent-bit";

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
    /// Where the identity works: a person's team namespaces, a pipeline's deploy targets, an
    /// operator's own namespace. Empty for nodes and the control plane.
    pub namespaces: &'static [&'static str],
    /// The secrets the identity reads by name, (namespace, name): an operator's or pipeline's
    /// own few, in its own namespace.
    pub secrets: &'static [(&'static str, &'static str)],
    /// What the identity's informers list and watch (operators).
    pub watches: &'static [Collection],
    /// Namespaces a person looks at without access.
    pub peeks: &'static [&'static str],
}

/// Everybody who talks to the API server.
pub(super) struct Cluster {
    pub node_names: Vec<String>,
    pub nodes: Vec<Actor>,
    pub controller_manager: Actor,
    pub scheduler: Actor,
    pub controllers: Vec<Actor>,
    pub operators: Vec<Actor>,
    /// The logging DaemonSet's pods, one per node (index as in `nodes`), each with its own token.
    pub log_agents: Vec<Actor>,
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
    namespaces: &'static [&'static str],
    secrets: &'static [(&'static str, &'static str)],
    watches: &'static [Collection],
    peeks: &'static [&'static str],
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
            namespaces: self.namespaces,
            secrets: self.secrets,
            watches: self.watches,
            peeks: self.peeks,
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

/// An address from the pod CIDR of node `node` (each node has a /24 of 10.244.0.0/16).
fn pod_ip(rng: &mut Rng, node: usize) -> String {
    format!("10.244.{node}.{}", rng.u8(2..250))
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
        namespaces: &[],
        secrets: &[],
        watches: &[],
        peeks: &[],
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
        namespaces: &[],
        secrets: &[],
        watches: &[],
        peeks: &[],
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
        for spec in OPERATORS {
            let (namespace, name) = (spec.namespace, spec.service_account);
            let mut identity = service_account(rng, namespace, name);
            let pod_name = format!("{name}-{}-{}", hex(rng, 5), hex(rng, 3));
            let node = rng.usize(..NODE_COUNT);
            bind_to_pod(&mut identity, rng, pod_name, &node_names[node]);
            identity.source_ips = vec![pod_ip(rng, node)];
            identity.user_agent = spec.user_agent.to_owned();
            identity.allow_reason = rbac_reason(
                name,
                name,
                &format!("ServiceAccount \"{name}/{namespace}\""),
            );
            identity.namespaces = std::slice::from_ref(&spec.namespace);
            identity.secrets = spec.secrets;
            identity.watches = spec.watches;
            operators.push(identity.build());
        }
        let mut log_agents = Vec::with_capacity(NODE_COUNT);
        for (node, node_name) in node_names.iter().enumerate() {
            let mut identity = service_account(rng, LOG_AGENT_NAMESPACE, LOG_AGENT);
            let pod_name = format!("{LOG_AGENT}-{}", suffix(rng, 5));
            bind_to_pod(&mut identity, rng, pod_name, node_name);
            identity.source_ips = vec![pod_ip(rng, node)];
            identity.user_agent = "fluent-bit/3.1.9".to_owned();
            identity.allow_reason = rbac_reason(
                LOG_AGENT,
                LOG_AGENT,
                &format!("ServiceAccount \"{LOG_AGENT}/{LOG_AGENT_NAMESPACE}\""),
            );
            identity.namespaces = &[LOG_AGENT_NAMESPACE];
            log_agents.push(identity.build());
        }
        let mut argocd = service_account(rng, "argocd", "argocd-application-controller");
        let node = rng.usize(..NODE_COUNT);
        bind_to_pod(
            &mut argocd,
            rng,
            "argocd-application-controller-0".to_owned(),
            &node_names[node],
        );
        argocd.source_ips = vec![pod_ip(rng, node)];
        argocd.user_agent =
            "argocd-application-controller/v2.11.7 (linux/amd64) kubernetes/$Format".to_owned();
        argocd.allow_reason = rbac_reason(
            "argocd-application-controller",
            "argocd-application-controller",
            "ServiceAccount \"argocd-application-controller/argocd\"",
        );
        // Argo CD syncs every application namespace; its own secrets live in `argocd`.
        argocd.namespaces = &[
            "default",
            "payments",
            "checkout",
            "search",
            "data-pipeline",
            "ml-serving",
            "auth",
            "frontend",
        ];
        argocd.secrets = &[
            ("argocd", "argocd-secret"),
            ("argocd", "argocd-redis"),
            ("argocd", "cluster-prod-eu-west-1"),
        ];
        let mut github = service_account(rng, "ci", "github-actions-deployer");
        github.source_ips = vec!["140.82.112.4".to_owned(), LOAD_BALANCER_IP.to_owned()];
        github.user_agent = "kubectl/v1.30.2 (linux/amd64) kubernetes/3968350".to_owned();
        github.allow_reason = "RBAC: allowed by RoleBinding \"deployer/payments\" of ClusterRole \"edit\" to ServiceAccount \"github-actions-deployer/ci\"".to_owned();
        github.namespaces = &["payments", "checkout"];
        github.secrets = &[("ci", "registry-credentials"), ("ci", "deploy-signing-key")];
        let mut helm = service_account(rng, "ci", "helm-release-bot");
        helm.source_ips = vec!["140.82.112.9".to_owned(), LOAD_BALANCER_IP.to_owned()];
        helm.user_agent = "Helm/3.15.2".to_owned();
        helm.allow_reason = rbac_reason(
            "helm-release-bot",
            "cluster-admin",
            "ServiceAccount \"helm-release-bot/ci\"",
        );
        helm.namespaces = &["monitoring", "ingress-nginx"];
        helm.secrets = &[("ci", "helm-repo-credentials")];
        let deployers = vec![argocd.build(), github.build(), helm.build()];
        let mut humans = Vec::with_capacity(HUMANS.len());
        for (index, person) in HUMANS.iter().enumerate() {
            let identity = Identity {
                username: person.username.to_owned(),
                uid: None,
                groups: vec![person.team.to_owned(), "system:authenticated".to_owned()],
                extra: vec![(CREDENTIAL_ID, format!("JTI={}", uuid(rng)))],
                source_ips: vec![
                    HUMAN_IPS[index % HUMAN_IPS.len()].to_owned(),
                    LOAD_BALANCER_IP.to_owned(),
                ],
                user_agent: person.user_agent.to_owned(),
                allow_reason: rbac_reason(
                    &person.team.replace("oidc:", ""),
                    "edit",
                    &format!("Group \"{}\"", person.team),
                ),
                namespaces: person.namespaces,
                secrets: &[],
                watches: &[],
                peeks: person.peeks,
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
            log_agents,
            deployers,
            humans,
        }
    }
}
