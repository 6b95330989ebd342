//! The CIS checks: 3.2.1 (the policy logs something) and the three areas of 3.2.2, each as a set
//! of request classes and the level every one of them must get.

use super::super::level::Level;
use super::super::policy::Policy;
use super::classes::{
    target, Enumerator, TargetSpec, ALL_VERBS, CONNECT_VERBS, CREATE_VERB, PROXY_VERBS,
    SUBRESOURCE_WRITE_VERBS, WRITE_VERBS,
};
use super::{evaluate_all, examples, Evaluated, Grouping, Requirement, Status};

/// What a requirement wants of each of its request classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wanted {
    /// Logged, and at `Metadata` exactly: no bodies, which would copy secrets into the log.
    MetadataOnly,
    /// Logged at any level.
    Logged,
}

impl Wanted {
    fn accepts(self, item: &Evaluated) -> bool {
        match self {
            Wanted::MetadataOnly => item.recorded() && item.decision.level == Level::Metadata,
            Wanted::Logged => item.recorded(),
        }
    }
}

/// One 3.2.2 requirement.
struct Spec {
    id: &'static str,
    title: &'static str,
    targets: &'static [TargetSpec],
    wanted: Wanted,
}

pub(super) const SECRETS: &[TargetSpec] = &[target("", "secrets", "", true, ALL_VERBS, "db-pass")];
pub(super) const CONFIGMAPS: &[TargetSpec] =
    &[target("", "configmaps", "", true, ALL_VERBS, "app-config")];
pub(super) const TOKENREVIEWS: &[TargetSpec] = &[target(
    "authentication.k8s.io",
    "tokenreviews",
    "",
    false,
    CREATE_VERB,
    "",
)];
/// Writes to pods, including adding an ephemeral (debug) container to a running pod.
pub(super) const POD_CHANGES: &[TargetSpec] = &[
    target("", "pods", "", true, WRITE_VERBS, "nginx"),
    target(
        "",
        "pods",
        "ephemeralcontainers",
        true,
        SUBRESOURCE_WRITE_VERBS,
        "nginx",
    ),
];
/// Writes to deployments, including scaling them.
pub(super) const DEPLOYMENT_CHANGES: &[TargetSpec] = &[
    target("apps", "deployments", "", true, WRITE_VERBS, "web"),
    target(
        "apps",
        "deployments",
        "scale",
        true,
        SUBRESOURCE_WRITE_VERBS,
        "web",
    ),
];
pub(super) const PODS_EXEC: &[TargetSpec] =
    &[target("", "pods", "exec", true, CONNECT_VERBS, "nginx")];
pub(super) const PODS_PORTFORWARD: &[TargetSpec] = &[target(
    "",
    "pods",
    "portforward",
    true,
    CONNECT_VERBS,
    "nginx",
)];
pub(super) const PODS_PROXY: &[TargetSpec] =
    &[target("", "pods", "proxy", true, PROXY_VERBS, "nginx")];
pub(super) const SERVICES_PROXY: &[TargetSpec] =
    &[target("", "services", "proxy", true, PROXY_VERBS, "web")];

const SPECS: &[Spec] = &[
    Spec {
        id: "3.2.2-secrets-metadata-only",
        title: "Access to Secrets is logged at Metadata only",
        targets: SECRETS,
        wanted: Wanted::MetadataOnly,
    },
    Spec {
        id: "3.2.2-configmaps-metadata-only",
        title: "Access to ConfigMaps is logged at Metadata only",
        targets: CONFIGMAPS,
        wanted: Wanted::MetadataOnly,
    },
    Spec {
        id: "3.2.2-tokenreviews-metadata-only",
        title: "TokenReviews are logged at Metadata only",
        targets: TOKENREVIEWS,
        wanted: Wanted::MetadataOnly,
    },
    Spec {
        id: "3.2.2-pod-changes-logged",
        title: "Modification of Pods is logged",
        targets: POD_CHANGES,
        wanted: Wanted::Logged,
    },
    Spec {
        id: "3.2.2-deployment-changes-logged",
        title: "Modification of Deployments is logged",
        targets: DEPLOYMENT_CHANGES,
        wanted: Wanted::Logged,
    },
    Spec {
        id: "3.2.2-pods-exec-logged",
        title: "Use of pods/exec is logged",
        targets: PODS_EXEC,
        wanted: Wanted::Logged,
    },
    Spec {
        id: "3.2.2-pods-portforward-logged",
        title: "Use of pods/portforward is logged",
        targets: PODS_PORTFORWARD,
        wanted: Wanted::Logged,
    },
    Spec {
        id: "3.2.2-pods-proxy-logged",
        title: "Use of pods/proxy is logged",
        targets: PODS_PROXY,
        wanted: Wanted::Logged,
    },
    Spec {
        id: "3.2.2-services-proxy-logged",
        title: "Use of services/proxy is logged",
        targets: SERVICES_PROXY,
        wanted: Wanted::Logged,
    },
];

/// The id and title of every 3.2.2 requirement, in benchmark order.
pub fn requirement_titles() -> impl Iterator<Item = (&'static str, &'static str)> {
    SPECS.iter().map(|spec| (spec.id, spec.title))
}

/// Every requirement, 3.2.1 first; `universe` is every class the report evaluates.
pub(super) fn check_all(
    policy: &Policy,
    enumerator: &Enumerator,
    universe: &[Evaluated],
) -> Vec<Requirement> {
    let mut requirements = vec![policy_logs_something(policy, universe)];
    for spec in SPECS {
        requirements.push(check(policy, enumerator, spec));
    }
    requirements
}

fn policy_logs_something(policy: &Policy, universe: &[Evaluated]) -> Requirement {
    let logged: Vec<&Evaluated> = universe.iter().filter(|item| item.recorded()).collect();
    let unlogged: Vec<&Evaluated> = universe.iter().filter(|item| !item.recorded()).collect();
    let (status, summary) = if logged.is_empty() {
        (
            Status::Fail,
            format!(
                "the policy logs none of the {} request classes evaluated",
                universe.len()
            ),
        )
    } else {
        (
            Status::Pass,
            format!(
                "the policy logs {} of the {} request classes evaluated",
                logged.len(),
                universe.len()
            ),
        )
    };
    Requirement {
        id: "3.2.1".to_owned(),
        title: "A minimal audit policy is created (and logs something)".to_owned(),
        status,
        summary,
        classes: universe.len(),
        evidence: examples(policy, &logged, Grouping::Outcome),
        // When nothing is logged, every class is a counter-example; otherwise none is.
        counter_examples: if status == Status::Fail {
            examples(policy, &unlogged, Grouping::OutcomeAndKind)
        } else {
            Vec::new()
        },
        counter_example_count: if status == Status::Fail {
            unlogged.len()
        } else {
            0
        },
    }
}

fn check(policy: &Policy, enumerator: &Enumerator, spec: &Spec) -> Requirement {
    let mut requests = Vec::new();
    for target in spec.targets {
        requests.extend(enumerator.resource_classes(target));
    }
    let evaluated = evaluate_all(policy, requests);
    let (good, bad): (Vec<&Evaluated>, Vec<&Evaluated>) =
        evaluated.iter().partition(|item| spec.wanted.accepts(item));
    let status = if bad.is_empty() {
        Status::Pass
    } else {
        Status::Fail
    };
    Requirement {
        id: spec.id.to_owned(),
        title: spec.title.to_owned(),
        status,
        summary: summary(spec.wanted, &evaluated, &bad),
        classes: evaluated.len(),
        evidence: examples(policy, &good, Grouping::Outcome),
        counter_examples: examples(policy, &bad, Grouping::OutcomeAndKind),
        counter_example_count: bad.len(),
    }
}

fn summary(wanted: Wanted, evaluated: &[Evaluated], bad: &[&Evaluated]) -> String {
    let total = evaluated.len();
    if bad.is_empty() {
        return match wanted {
            Wanted::MetadataOnly => format!("all {total} request classes are logged at Metadata"),
            Wanted::Logged => {
                let levels = level_range(evaluated);
                format!("all {total} request classes are logged, at {levels}")
            }
        };
    }
    let unlogged = bad.iter().filter(|item| !item.recorded()).count();
    let with_bodies = bad.len() - unlogged;
    match wanted {
        Wanted::MetadataOnly => {
            let mut problems = Vec::new();
            if with_bodies > 0 {
                problems.push(format!(
                    "{with_bodies} logged with bodies (Request or RequestResponse: sensitive data in the log)"
                ));
            }
            if unlogged > 0 {
                problems.push(format!("{unlogged} not logged"));
            }
            format!(
                "{} of {total} request classes are not at Metadata: {}",
                bad.len(),
                problems.join(", ")
            )
        }
        Wanted::Logged => format!("{} of {total} request classes are not logged", bad.len()),
    }
}

/// `Metadata` or `Metadata to RequestResponse`.
fn level_range(evaluated: &[Evaluated]) -> String {
    let levels = evaluated.iter().map(|item| item.decision.level);
    let (Some(low), Some(high)) = (levels.clone().min(), levels.max()) else {
        return "no level".to_owned();
    };
    if low == high {
        low.to_string()
    } else {
        format!("{low} to {high}")
    }
}

/// Every target a requirement covers, for the findings' list of important requests.
pub(super) fn requirement_targets() -> Vec<TargetSpec> {
    SPECS
        .iter()
        .flat_map(|spec| spec.targets.iter().copied())
        .collect()
}
