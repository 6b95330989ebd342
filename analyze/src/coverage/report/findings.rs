//! What a reviewer wants to know beyond the verdicts: sensitive data copied into the log,
//! important requests nothing logs, `RequestReceived` events that double the volume, noisy
//! routine reads that are logged, and fields kube-apiserver ignores.

use super::super::eval::{Request, Target};
use super::super::level::{Level, Stage};
use super::super::policy::Policy;
use super::classes::{
    dedup_keep_order, system_users, target, Enumerator, TargetSpec, CONNECT_VERBS, CREATE_VERB,
    PROXY_VERBS, READ_VERBS, SUBRESOURCE_WRITE_VERBS, WRITE_VERBS,
};
use super::requirements::{requirement_targets, CONFIGMAPS, SECRETS, TOKENREVIEWS};
use super::{
    evaluate_all, evidence, examples, Evaluated, Finding, Grouping, Severity, MAX_EXAMPLES,
};

/// Security-relevant requests besides the CIS ones: interactive access, credentials, RBAC,
/// admission webhooks, certificates.
const MORE_IMPORTANT: &[TargetSpec] = &[
    target("", "pods", "attach", true, CONNECT_VERBS, "nginx"),
    target("", "nodes", "proxy", false, PROXY_VERBS, "node-1"),
    target("", "serviceaccounts", "token", true, CREATE_VERB, "app"),
    target(
        "rbac.authorization.k8s.io",
        "roles",
        "",
        true,
        WRITE_VERBS,
        "edit",
    ),
    target(
        "rbac.authorization.k8s.io",
        "rolebindings",
        "",
        true,
        WRITE_VERBS,
        "edit",
    ),
    target(
        "rbac.authorization.k8s.io",
        "clusterroles",
        "",
        false,
        WRITE_VERBS,
        "admin",
    ),
    target(
        "rbac.authorization.k8s.io",
        "clusterrolebindings",
        "",
        false,
        WRITE_VERBS,
        "admin",
    ),
    target(
        "admissionregistration.k8s.io",
        "validatingwebhookconfigurations",
        "",
        false,
        WRITE_VERBS,
        "policy",
    ),
    target(
        "admissionregistration.k8s.io",
        "mutatingwebhookconfigurations",
        "",
        false,
        WRITE_VERBS,
        "inject",
    ),
    target(
        "certificates.k8s.io",
        "certificatesigningrequests",
        "",
        false,
        CREATE_VERB,
        "",
    ),
    target(
        "certificates.k8s.io",
        "certificatesigningrequests",
        "approval",
        false,
        SUBRESOURCE_WRITE_VERBS,
        "csr-1",
    ),
];

/// The TokenRequest response carries the issued token.
const TOKEN_REQUESTS: &[TargetSpec] = &[target(
    "",
    "serviceaccounts",
    "token",
    true,
    CREATE_VERB,
    "app",
)];

/// Routine reads by anyone.
const NOISY_FOR_ALL: &[TargetSpec] = &[
    target("", "events", "", true, READ_VERBS, "nginx.1"),
    target("events.k8s.io", "events", "", true, READ_VERBS, "nginx.1"),
];
/// Routine reads by control-plane components and nodes.
const NOISY_FOR_SYSTEM: &[TargetSpec] = &[
    target("", "endpoints", "", true, READ_VERBS, "kubernetes"),
    target(
        "discovery.k8s.io",
        "endpointslices",
        "",
        true,
        READ_VERBS,
        "kubernetes",
    ),
    target(
        "coordination.k8s.io",
        "leases",
        "",
        true,
        READ_VERBS,
        "kube-scheduler",
    ),
];
/// Health, metrics and discovery endpoints that probes and scrapers hit all the time.
const NOISY_PATHS: &[&str] = &[
    "/healthz",
    "/healthz/etcd",
    "/livez",
    "/readyz",
    "/metrics",
    "/version",
    "/openapi/v2",
];

fn important_targets() -> Vec<TargetSpec> {
    let mut targets = requirement_targets();
    targets.extend_from_slice(MORE_IMPORTANT);
    targets
}

fn noisy_requests(enumerator: &Enumerator) -> Vec<Request> {
    let mut requests = enumerator.non_resource_classes(NOISY_PATHS);
    let mut everyone = enumerator.users().to_vec();
    everyone.extend(system_users());
    for spec in NOISY_FOR_ALL {
        requests.extend(enumerator.resource_classes_by(spec, &everyone));
    }
    for spec in NOISY_FOR_SYSTEM {
        requests.extend(enumerator.resource_classes_by(spec, &system_users()));
    }
    requests
}

/// Every request class the report evaluates, each once.
pub(super) fn universe(enumerator: &Enumerator) -> Vec<Request> {
    let mut requests = Vec::new();
    for spec in important_targets() {
        requests.extend(enumerator.resource_classes(&spec));
    }
    requests.extend(noisy_requests(enumerator));
    requests.extend(enumerator.non_resource_classes(&[]));
    dedup_keep_order(requests)
}

/// Every finding, most severe first.
pub(super) fn find_all(
    policy: &Policy,
    enumerator: &Enumerator,
    universe: &[Evaluated],
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let sensitive: [(&str, &[TargetSpec], Level); 4] = [
        ("secrets", SECRETS, Level::Request),
        ("configmaps", CONFIGMAPS, Level::Request),
        ("tokenreviews", TOKENREVIEWS, Level::Request),
        (
            "serviceaccounts-token",
            TOKEN_REQUESTS,
            Level::RequestResponse,
        ),
    ];
    for (subject, targets, lowest) in sensitive {
        findings.extend(sensitive_data(policy, enumerator, subject, targets, lowest));
    }
    findings.extend(not_logged(policy, enumerator));
    if !policy.warnings.is_empty() {
        findings.push(Finding {
            id: "policy-warnings".to_owned(),
            severity: Severity::Medium,
            title: "The policy has fields kube-apiserver ignores or may refuse".to_owned(),
            detail: policy.warnings.join("; "),
            examples: Vec::new(),
            example_count: policy.warnings.len(),
        });
    }
    findings.extend(request_received(policy, universe));
    findings.extend(noisy(policy, enumerator));
    findings.sort_by_key(|finding| finding.severity);
    findings
}

fn sensitive_data(
    policy: &Policy,
    enumerator: &Enumerator,
    subject: &str,
    targets: &[TargetSpec],
    lowest: Level,
) -> Option<Finding> {
    let mut requests = Vec::new();
    for spec in targets {
        requests.extend(enumerator.resource_classes(spec));
    }
    let evaluated = evaluate_all(policy, requests);
    let offending: Vec<&Evaluated> = evaluated
        .iter()
        .filter(|item| item.recorded() && item.decision.level >= lowest)
        .collect();
    if offending.is_empty() {
        return None;
    }
    let label = targets[0].label();
    Some(Finding {
        id: format!("sensitive-data-logged-{subject}"),
        severity: Severity::High,
        title: format!("{label} requests are logged with bodies"),
        detail: format!(
            "{} of {} {label} request classes are logged at {lowest} or above, so the audit log \
             receives the {}; log them at Metadata (put a Metadata rule for them before the rule \
             that decides them)",
            offending.len(),
            evaluated.len(),
            if lowest == Level::RequestResponse {
                "issued credentials"
            } else {
                "secret values or tokens"
            }
        ),
        examples: examples(policy, &offending, Grouping::OutcomeAndKind),
        example_count: offending.len(),
    })
}

fn not_logged(policy: &Policy, enumerator: &Enumerator) -> Option<Finding> {
    let mut labels = Vec::new();
    let mut chosen = Vec::new();
    let mut count = 0;
    let mut total = 0;
    for spec in important_targets() {
        let evaluated = evaluate_all(policy, enumerator.resource_classes(&spec));
        total += evaluated.len();
        let unlogged: Vec<&Evaluated> = evaluated.iter().filter(|item| !item.recorded()).collect();
        let Some(first) = unlogged.first() else {
            continue;
        };
        count += unlogged.len();
        let label = spec.label();
        if !labels.contains(&label) {
            labels.push(label);
            chosen.push(evidence(policy, first));
        }
    }
    if count == 0 {
        return None;
    }
    chosen.truncate(MAX_EXAMPLES);
    Some(Finding {
        id: "important-requests-not-logged".to_owned(),
        severity: Severity::Medium,
        title: "Security-relevant requests leave no audit event".to_owned(),
        detail: format!(
            "{count} of {total} security-relevant request classes are not recorded, for: {}; \
             a catch-all Metadata rule at the end of the policy covers them",
            labels.join(", ")
        ),
        examples: chosen,
        example_count: count,
    })
}

fn request_received(policy: &Policy, universe: &[Evaluated]) -> Option<Finding> {
    let logged: Vec<&Evaluated> = universe.iter().filter(|item| item.recorded()).collect();
    let doubled: Vec<&Evaluated> = logged
        .iter()
        .copied()
        .filter(|item| item.events.contains(&Stage::RequestReceived))
        .collect();
    if doubled.is_empty() {
        return None;
    }
    Some(Finding {
        id: "request-received-not-omitted".to_owned(),
        severity: Severity::Low,
        title: "RequestReceived events are not omitted".to_owned(),
        detail: format!(
            "{} of {} logged request classes also emit a RequestReceived event, which repeats \
             the metadata of the ResponseComplete event and about doubles the event volume; \
             add `omitStages: [RequestReceived]` at policy level",
            doubled.len(),
            logged.len()
        ),
        examples: examples(policy, &doubled, Grouping::Outcome),
        example_count: doubled.len(),
    })
}

fn noisy(policy: &Policy, enumerator: &Enumerator) -> Option<Finding> {
    let evaluated = evaluate_all(policy, noisy_requests(enumerator));
    let mut subjects: Vec<String> = Vec::new();
    let mut chosen = Vec::new();
    let mut count = 0;
    for item in &evaluated {
        if !item.recorded() {
            continue;
        }
        count += 1;
        let subject = match &item.request.target {
            Target::NonResource { path } => path.clone(),
            Target::Resource(object) if object.api_group.is_empty() => object.resource.clone(),
            Target::Resource(object) => format!("{}.{}", object.resource, object.api_group),
        };
        if !subjects.contains(&subject) {
            subjects.push(subject);
            chosen.push(evidence(policy, item));
        }
    }
    if count == 0 {
        return None;
    }
    chosen.truncate(MAX_EXAMPLES);
    Some(Finding {
        id: "noisy-requests-logged".to_owned(),
        severity: Severity::Low,
        title: "Routine reads by probes and control-plane components are logged".to_owned(),
        detail: format!(
            "{count} of {} high-volume, low-value request classes are logged, for: {}; a \
             `level: None` rule for them placed first cuts volume",
            evaluated.len(),
            subjects.join(", ")
        ),
        examples: chosen,
        example_count: count,
    })
}
