//! The worked examples of the reference spec (§4.5), one test each, and the matching rules of
//! kube-apiserver's checker, one test each.

use super::eval::Request;
use super::level::{Level, Stage};
use super::policy::Policy;
use super::presets::Preset;

const ALICE_GROUPS: &[&str] = &["dev", "system:authenticated"];

fn alice(request: Request) -> Request {
    request.by("alice", ALICE_GROUPS)
}

fn check(preset: Preset, request: Request, level: Level, rule_index: Option<usize>) {
    let decision = preset.policy().evaluate(&request);
    assert_eq!(decision.level, level, "{preset}: {request}");
    assert_eq!(decision.rule_index, rule_index, "{preset}: {request}");
}

fn check_recommended(request: Request, level: Level, rule_index: usize) {
    check(Preset::Recommended, alice(request), level, Some(rule_index));
}

#[test]
fn example_01_recommended_create_pod() {
    let request = alice(Request::resource("create", "", "pods").in_namespace("default"));
    let decision = Preset::Recommended.policy().evaluate(&request);
    assert_eq!(decision.level, Level::RequestResponse);
    assert_eq!(decision.omit_stages, [Stage::RequestReceived]);
    assert_eq!(decision.rule_index, Some(0));
}

#[test]
fn example_02_recommended_get_pod_is_not_a_write() {
    let request = Request::resource("get", "", "pods")
        .named("nginx")
        .in_namespace("default");
    check_recommended(request, Level::Metadata, 2);
}

#[test]
fn example_03_recommended_list_pods() {
    check_recommended(Request::resource("list", "", "pods"), Level::Metadata, 2);
}

#[test]
fn example_04_recommended_exec_over_spdy() {
    let request = Request::resource("create", "", "pods")
        .subresource("exec")
        .named("nginx");
    check_recommended(request.in_namespace("default"), Level::RequestResponse, 1);
}

#[test]
fn example_05_recommended_exec_over_websocket() {
    let request = Request::resource("get", "", "pods")
        .subresource("exec")
        .named("nginx");
    check_recommended(request.in_namespace("default"), Level::RequestResponse, 1);
}

#[test]
fn example_06_recommended_portforward() {
    let request = Request::resource("create", "", "pods")
        .subresource("portforward")
        .named("nginx");
    check_recommended(request.in_namespace("default"), Level::RequestResponse, 1);
}

#[test]
fn example_07_recommended_service_proxy() {
    let request = Request::resource("get", "", "services")
        .subresource("proxy")
        .named("web");
    check_recommended(request.in_namespace("default"), Level::RequestResponse, 1);
}

#[test]
fn example_08_recommended_patch_deployment() {
    let request = Request::resource("patch", "apps", "deployments").named("web");
    check_recommended(request.in_namespace("default"), Level::RequestResponse, 0);
}

#[test]
fn example_09_recommended_deployment_scale_is_not_deployments() {
    let request = Request::resource("patch", "apps", "deployments")
        .subresource("scale")
        .named("web");
    check_recommended(request.in_namespace("default"), Level::Metadata, 2);
}

#[test]
fn example_10_recommended_pod_status_by_kubelet() {
    let request = Request::resource("update", "", "pods")
        .subresource("status")
        .named("nginx")
        .in_namespace("default")
        .by("system:node:n1", &["system:nodes", "system:authenticated"]);
    check(Preset::Recommended, request, Level::Metadata, Some(2));
}

#[test]
fn example_11_recommended_ephemeral_containers() {
    let request = Request::resource("patch", "", "pods").subresource("ephemeralcontainers");
    check_recommended(
        request.named("nginx").in_namespace("default"),
        Level::Metadata,
        2,
    );
}

#[test]
fn example_12_recommended_get_secret() {
    let request = Request::resource("get", "", "secrets").named("db-pass");
    check_recommended(request.in_namespace("default"), Level::Metadata, 2);
}

#[test]
fn example_13_recommended_update_usersshkeys() {
    let request = Request::resource("update", "", "secrets").named("usersshkeys");
    check_recommended(
        request.in_namespace("kube-system"),
        Level::RequestResponse,
        0,
    );
}

#[test]
fn example_14_recommended_resource_names_never_match_create() {
    let request = Request::resource("create", "", "secrets").in_namespace("kube-system");
    check_recommended(request, Level::Metadata, 2);
}

#[test]
fn example_15_recommended_tokenreview() {
    let request = Request::resource("create", "authentication.k8s.io", "tokenreviews");
    check_recommended(request, Level::Metadata, 2);
}

#[test]
fn example_16_recommended_healthz() {
    check_recommended(Request::non_resource("get", "/healthz"), Level::Metadata, 2);
}

#[test]
fn example_17_recommended_whole_gatekeeper_group() {
    let request = Request::resource("create", "templates.gatekeeper.sh", "constrainttemplates");
    check_recommended(request, Level::RequestResponse, 0);
}

#[test]
fn example_18_minimal_get_secret() {
    let request = alice(Request::resource("get", "", "secrets").named("db-pass"));
    check(
        Preset::Minimal,
        request.in_namespace("default"),
        Level::Metadata,
        Some(2),
    );
}

#[test]
fn example_19_minimal_list_configmaps() {
    let request = alice(Request::resource("list", "", "configmaps").in_namespace("default"));
    check(Preset::Minimal, request, Level::Metadata, Some(2));
}

#[test]
fn example_20_minimal_pod_logs() {
    let request = alice(
        Request::resource("get", "", "pods")
            .subresource("log")
            .named("nginx"),
    );
    check(
        Preset::Minimal,
        request.in_namespace("default"),
        Level::Metadata,
        Some(2),
    );
}

#[test]
fn example_21_minimal_exec_at_request() {
    let request = alice(
        Request::resource("create", "", "pods")
            .subresource("exec")
            .named("nginx"),
    );
    check(
        Preset::Minimal,
        request.in_namespace("default"),
        Level::Request,
        Some(1),
    );
}

#[test]
fn example_22_minimal_has_no_catch_all() {
    let request = alice(Request::resource("get", "apps", "deployments").named("web"));
    check(
        Preset::Minimal,
        request.in_namespace("default"),
        Level::None,
        None,
    );
}

#[test]
fn example_23_minimal_rbac_not_logged() {
    let request = alice(Request::resource(
        "create",
        "rbac.authorization.k8s.io",
        "clusterrolebindings",
    ));
    check(Preset::Minimal, request, Level::None, None);
}

#[test]
fn example_24_minimal_tokenreviews_not_logged() {
    let request = alice(Request::resource(
        "create",
        "authentication.k8s.io",
        "tokenreviews",
    ));
    check(Preset::Minimal, request, Level::None, None);
}

#[test]
fn example_25_minimal_ephemeral_containers_not_logged() {
    let request = alice(Request::resource("patch", "", "pods").subresource("ephemeralcontainers"));
    check(
        Preset::Minimal,
        request.named("nginx").in_namespace("default"),
        Level::None,
        None,
    );
}

#[test]
fn example_26_metadata_delete_namespace() {
    let request = alice(Request::resource("delete", "", "namespaces").named("prod"));
    let decision = Preset::Metadata.policy().evaluate(&request);
    assert_eq!(decision.level, Level::Metadata);
    assert!(
        decision.omit_stages.is_empty(),
        "RequestReceived is emitted too"
    );
    assert_eq!(decision.rule_index, Some(0));
}

fn policy(rules: &str) -> Policy {
    Policy::from_yaml(&format!(
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n{rules}"
    ))
    .unwrap()
}

fn level_of(policy: &Policy, request: &Request) -> Level {
    policy.evaluate(request).level
}

#[test]
fn users_and_groups_never_match_without_a_user() {
    let by_user = policy("- level: Request\n  users: [alice]\n- level: Metadata\n");
    let by_group = policy("- level: Request\n  userGroups: [dev]\n- level: Metadata\n");
    let anonymous = Request::resource("get", "", "pods");
    for rules in [&by_user, &by_group] {
        assert_eq!(level_of(rules, &anonymous), Level::Metadata);
        assert_eq!(level_of(rules, &alice(anonymous.clone())), Level::Request);
    }
    let bob = anonymous.clone().by("bob", &["ops"]);
    assert_eq!(level_of(&by_user, &bob), Level::Metadata);
    assert_eq!(level_of(&by_group, &bob), Level::Metadata);
}

#[test]
fn resource_patterns() {
    let cases = [
        ("pods/*", "pods", "", true),
        ("pods/*", "pods", "log", true),
        ("pods/*", "services", "proxy", false),
        ("*/status", "deployments", "status", true),
        ("*/status", "deployments", "", false),
        ("*", "pods", "exec", true),
        ("pods", "pods", "exec", false),
        ("pods/exec", "pods", "exec", true),
        ("pods/exec", "pods", "", false),
    ];
    for (pattern, resource, sub, expected) in cases {
        let rules = policy(&format!(
            "- level: Request\n  resources:\n  - group: ''\n    resources: ['{pattern}']\n"
        ));
        let request = Request::resource("get", "", resource)
            .subresource(sub)
            .named("x");
        let matched = level_of(&rules, &request) == Level::Request;
        assert_eq!(matched, expected, "{pattern} vs {resource}/{sub}");
    }
}

#[test]
fn groups_must_match_exactly_or_be_a_wildcard() {
    let core_only = policy("- level: Request\n  resources:\n  - group: ''\n");
    let any_group = policy("- level: Request\n  resources:\n  - group: '*'\n");
    let deployment = Request::resource("get", "apps", "deployments").named("web");
    assert_eq!(level_of(&core_only, &deployment), Level::None);
    assert_eq!(level_of(&any_group, &deployment), Level::Request);
    let healthz = Request::non_resource("get", "/healthz");
    assert_eq!(
        level_of(&any_group, &healthz),
        Level::None,
        "resource rules skip URLs"
    );
}

#[test]
fn namespaces_empty_string_is_cluster_scope_and_all_namespace_lists() {
    let rules = policy("- level: Request\n  namespaces: ['']\n");
    let cluster = Request::resource("get", "", "nodes").named("n1");
    let all_namespaces = Request::resource("list", "", "pods");
    let namespaced = Request::resource("list", "", "pods").in_namespace("default");
    assert_eq!(level_of(&rules, &cluster), Level::Request);
    assert_eq!(level_of(&rules, &all_namespaces), Level::Request);
    assert_eq!(level_of(&rules, &namespaced), Level::None);
}

#[test]
fn non_resource_urls_are_prefixes() {
    let rules = policy("- level: Request\n  nonResourceURLs: ['/healthz*', /version]\n");
    for (path, expected) in [
        ("/healthz", true),
        ("/healthz/etcd", true),
        ("/healthzfoo", true),
        ("/version", true),
        ("/version/x", false),
        ("/readyz", false),
    ] {
        let matched = level_of(&rules, &Request::non_resource("get", path)) == Level::Request;
        assert_eq!(matched, expected, "{path}");
    }
    let pods = Request::resource("get", "", "pods");
    assert_eq!(
        level_of(&rules, &pods),
        Level::None,
        "URL rules skip resources"
    );
}

#[test]
fn rule_without_resource_selectors_matches_both_kinds() {
    let rules = policy("- level: Request\n  verbs: [get]\n");
    assert_eq!(
        level_of(&rules, &Request::non_resource("get", "/x")),
        Level::Request
    );
    assert_eq!(
        level_of(&rules, &Request::resource("get", "", "pods")),
        Level::Request
    );
    assert_eq!(
        level_of(&rules, &Request::resource("list", "", "pods")),
        Level::None
    );
}

#[test]
fn omit_stages_are_the_union_and_managed_fields_override() {
    let rules = Policy::from_yaml(
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nomitManagedFields: true\nrules:\n- level: Metadata\n  verbs: [get]\n  omitStages: [Panic, RequestReceived]\n  omitManagedFields: false\n- level: Request\n",
    )
    .unwrap();
    let get = rules.evaluate(&Request::resource("get", "", "pods"));
    assert_eq!(get.omit_stages, [Stage::RequestReceived, Stage::Panic]);
    assert!(!get.omit_managed_fields);
    let list = rules.evaluate(&Request::resource("list", "", "pods"));
    assert_eq!(list.omit_stages, [Stage::RequestReceived]);
    assert!(list.omit_managed_fields);
}

#[test]
fn no_match_keeps_policy_wide_stages() {
    let decision = Preset::Minimal
        .policy()
        .evaluate(&Request::non_resource("get", "/metrics"));
    assert_eq!(decision.level, Level::None);
    assert_eq!(decision.omit_stages, [Stage::RequestReceived]);
    assert_eq!(decision.rule_index, None);
}
