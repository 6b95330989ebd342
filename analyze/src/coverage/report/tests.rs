//! The report on the built-in presets (the results the reference spec predicts, found by
//! evaluation) and on hand-made policies that single out users, namespaces and stages.

use super::super::policy::Policy;
use super::super::presets::Preset;
use super::*;

fn report_of(preset: Preset) -> CoverageReport {
    build_report(&preset.policy(), &format!("preset `{preset}`"))
}

fn report_of_yaml(rules: &str) -> CoverageReport {
    let text = format!("apiVersion: audit.k8s.io/v1\nkind: Policy\n{rules}");
    build_report(&Policy::from_yaml(&text).unwrap(), "test")
}

fn requirement<'r>(report: &'r CoverageReport, id: &str) -> &'r Requirement {
    report
        .requirements
        .iter()
        .find(|requirement| requirement.id == id)
        .unwrap_or_else(|| panic!("no requirement {id}"))
}

fn finding<'r>(report: &'r CoverageReport, id: &str) -> Option<&'r Finding> {
    report.findings.iter().find(|finding| finding.id == id)
}

fn finding_ids(report: &CoverageReport) -> Vec<&str> {
    report
        .findings
        .iter()
        .map(|finding| finding.id.as_str())
        .collect()
}

#[test]
fn metadata_preset_passes_everything_but_doubles_events() {
    let report = report_of(Preset::Metadata);
    assert_eq!((report.passed, report.failed), (10, 0));
    let exec = requirement(&report, "3.2.2-pods-exec-logged");
    assert_eq!(exec.evidence[0].level, Level::Metadata);
    assert_eq!(
        finding_ids(&report),
        ["request-received-not-omitted", "noisy-requests-logged"]
    );
}

#[test]
fn recommended_preset_logs_usersshkeys_bodies() {
    let report = report_of(Preset::Recommended);
    let secrets = requirement(&report, "3.2.2-secrets-metadata-only");
    assert_eq!(secrets.status, Status::Fail);
    let first = &secrets.counter_examples[0];
    assert!(
        first.request.starts_with("update secrets \"usersshkeys\""),
        "{first:?}"
    );
    assert_eq!(first.level, Level::RequestResponse);
    assert_eq!(first.rule_index, Some(0));
    assert!(first
        .rule
        .starts_with("rules[0] RequestResponse verbs=create,delete,update,patch"));
    // Of create, update, patch and delete, only the three that carry a name match `usersshkeys`.
    let verbs: Vec<&str> = secrets
        .counter_examples
        .iter()
        .map(|example| example.request.split(' ').next().unwrap())
        .collect();
    assert_eq!(verbs, ["update", "patch", "delete"]);
    for id in [
        "3.2.1",
        "3.2.2-configmaps-metadata-only",
        "3.2.2-tokenreviews-metadata-only",
        "3.2.2-pod-changes-logged",
        "3.2.2-deployment-changes-logged",
        "3.2.2-pods-exec-logged",
        "3.2.2-pods-portforward-logged",
        "3.2.2-pods-proxy-logged",
        "3.2.2-services-proxy-logged",
    ] {
        assert_eq!(requirement(&report, id).status, Status::Pass, "{id}");
    }
    assert!(finding(&report, "sensitive-data-logged-secrets").is_some());
    assert!(finding(&report, "request-received-not-omitted").is_none());
    assert!(finding(&report, "important-requests-not-logged").is_none());
}

#[test]
fn minimal_preset_misses_tokenreviews_and_collections() {
    let report = report_of(Preset::Minimal);
    let tokenreviews = requirement(&report, "3.2.2-tokenreviews-metadata-only");
    assert_eq!(tokenreviews.status, Status::Fail);
    assert!(tokenreviews.evidence.is_empty());
    assert_eq!(tokenreviews.counter_examples[0].level, Level::None);
    assert_eq!(tokenreviews.counter_examples[0].rule, "no rule matched");
    assert_eq!(tokenreviews.counter_example_count, tokenreviews.classes);

    let secrets = requirement(&report, "3.2.2-secrets-metadata-only");
    assert_eq!(secrets.counter_examples[0].level, Level::RequestResponse);

    let pods = requirement(&report, "3.2.2-pod-changes-logged");
    assert_eq!(pods.status, Status::Fail);
    let requests: Vec<&str> = pods
        .counter_examples
        .iter()
        .map(|example| example.request.as_str())
        .collect();
    assert!(requests[0].starts_with("deletecollection pods in default"));
    assert!(requests
        .iter()
        .any(|r| r.starts_with("patch pods/ephemeralcontainers")));
    assert_eq!(
        requirement(&report, "3.2.2-pods-exec-logged").status,
        Status::Pass
    );

    let unlogged = finding(&report, "important-requests-not-logged").unwrap();
    assert!(unlogged
        .detail
        .contains("clusterrolebindings.rbac.authorization.k8s.io"));
    assert_eq!(unlogged.severity, Severity::Medium);
    assert_eq!(
        report.findings[0].severity,
        Severity::High,
        "most severe first"
    );
}

#[test]
fn a_user_singled_out_is_tried_inside_and_outside() {
    let report =
        report_of_yaml("rules:\n- level: None\n  users: [system:kube-proxy]\n- level: Metadata\n");
    let secrets = requirement(&report, "3.2.2-secrets-metadata-only");
    assert_eq!(secrets.status, Status::Fail);
    assert!(secrets
        .counter_examples
        .iter()
        .all(|example| example.request.contains("by system:kube-proxy [")));
    assert_eq!(secrets.evidence[0].rule_index, Some(1));
}

#[test]
fn a_namespace_or_name_singled_out_is_tried_inside_and_outside() {
    let report = report_of_yaml(
        "rules:\n- level: RequestResponse\n  namespaces: [vault]\n  resources:\n  - group: ''\n    resources: [configmaps]\n    resourceNames: [unseal]\n- level: Metadata\n",
    );
    let configmaps = requirement(&report, "3.2.2-configmaps-metadata-only");
    assert_eq!(configmaps.status, Status::Fail);
    for example in &configmaps.counter_examples {
        assert!(
            example.request.contains("\"unseal\" in vault by"),
            "{example:?}"
        );
    }
    assert!(finding(&report, "sensitive-data-logged-configmaps").is_some());
}

#[test]
fn omitting_response_started_loses_failed_authentication() {
    let report = report_of_yaml(
        "omitStages: [RequestReceived, ResponseStarted]\nrules:\n- level: Metadata\n",
    );
    let secrets = requirement(&report, "3.2.2-secrets-metadata-only");
    assert_eq!(secrets.status, Status::Fail);
    let example = &secrets.counter_examples[0];
    assert!(
        example.request.ends_with("by <unauthenticated>"),
        "{example:?}"
    );
    assert_eq!(example.level, Level::Metadata);
    assert!(example.events.is_empty());
}

#[test]
fn a_policy_that_logs_nothing_fails_3_2_1() {
    let report = report_of_yaml("rules:\n- level: None\n");
    assert_eq!(requirement(&report, "3.2.1").status, Status::Fail);
    assert_eq!(report.passed, 0);
}

#[test]
fn warnings_become_a_finding() {
    let report = report_of_yaml("rules:\n- level: Metadata\n  verb: [get]\n");
    let warnings = finding(&report, "policy-warnings").unwrap();
    assert!(warnings.detail.contains("rules[0].verb"));
}

#[test]
fn json_shape_is_stable() {
    let report = report_of(Preset::Minimal);
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    // Sorted: serde_json keeps insertion order only with its `preserve_order` feature.
    let mut keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "failed",
            "findings",
            "passed",
            "policy",
            "request_classes",
            "requirements",
            "schema_version",
            "source"
        ]
    );
    let tokenreviews = &json["requirements"][3];
    assert_eq!(tokenreviews["id"], "3.2.2-tokenreviews-metadata-only");
    assert_eq!(tokenreviews["status"], "fail");
    let example = &tokenreviews["counter_examples"][0];
    let mut example_keys: Vec<&str> = example
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    example_keys.sort_unstable();
    assert_eq!(
        example_keys,
        ["events", "level", "request", "rule", "rule_index"]
    );
    assert_eq!(example["level"], "None");
    assert!(example["rule_index"].is_null());
    assert_eq!(json["findings"][0]["severity"], "high");
}

#[test]
fn renderings_mention_every_requirement() {
    let report = report_of(Preset::Recommended);
    let text = report.to_text();
    let markdown = report.to_markdown();
    for requirement in &report.requirements {
        assert!(text.contains(&requirement.id));
        assert!(markdown.contains(&format!("`{}`", requirement.id)));
    }
    assert!(markdown.contains("secrets(usersshkeys)"));
    assert!(text.contains("FAIL 3.2.2-secrets-metadata-only"));
}
