//! Properties of evaluation, parsing and the report over generated policies and requests.

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use serde_json::json;

use super::eval::{rule_matches, Request, ResourceRef, Target, UserInfo};
use super::level::{Level, Stage};
use super::policy::{GroupResources, Policy, PolicyRule};
use super::render::{describe_rule, explain_json, explain_text};
use super::report::{build_report, Status};

fn one_of(values: &'static [&'static str]) -> impl Strategy<Value = String> {
    proptest::sample::select(values).prop_map(str::to_owned)
}

fn some_of(values: &'static [&'static str]) -> impl Strategy<Value = Vec<String>> {
    vec(one_of(values), 0..3)
}

const USERS: &[&str] = &["alice", "bob", "system:kube-proxy", ""];
const GROUPS: &[&str] = &["dev", "system:authenticated", "system:nodes"];
const VERBS: &[&str] = &["get", "list", "watch", "create", "patch", "delete", "proxy"];
const API_GROUPS: &[&str] = &["", "apps", "authentication.k8s.io"];
const RESOURCES: &[&str] = &["pods", "secrets", "deployments", "tokenreviews"];
const SUBRESOURCES: &[&str] = &["", "", "exec", "status", "scale"];
const PATTERNS: &[&str] = &[
    "pods",
    "pods/*",
    "*/status",
    "*",
    "secrets",
    "pods/exec",
    "deployments/scale",
];
const NAMES: &[&str] = &["", "nginx", "usersshkeys"];
const NAMESPACES: &[&str] = &["", "default", "kube-system"];
const PATHS: &[&str] = &["/healthz", "/healthz/etcd", "/metrics", "/api", "/"];
const URL_SPECS: &[&str] = &["*", "/healthz*", "/metrics", "/*", "/api"];

fn level() -> impl Strategy<Value = Level> {
    proptest::sample::select(Level::ALL.to_vec())
}

fn stages() -> impl Strategy<Value = Vec<Stage>> {
    vec(proptest::sample::select(Stage::ALL.to_vec()), 0..3)
}

fn group_resources() -> impl Strategy<Value = GroupResources> {
    (
        one_of(&["", "apps", "*"]),
        some_of(PATTERNS),
        some_of(&["nginx", "usersshkeys"]),
    )
        .prop_map(|(group, resources, names)| GroupResources {
            // Valid policies only: names need resources.
            resource_names: if resources.is_empty() {
                Vec::new()
            } else {
                names
            },
            group,
            resources,
        })
}

/// Valid rules: resource selectors and URLs are never mixed.
fn rule() -> impl Strategy<Value = PolicyRule> {
    let selectors = (
        some_of(USERS),
        some_of(GROUPS),
        some_of(VERBS),
        option::of(any::<bool>()),
    );
    let scope = prop_oneof![
        Just((Vec::new(), Vec::new(), Vec::new())),
        (vec(group_resources(), 0..3), some_of(NAMESPACES)).prop_map(|(r, n)| (r, n, Vec::new())),
        some_of(URL_SPECS).prop_map(|urls| (Vec::new(), Vec::new(), urls)),
    ];
    (level(), selectors, scope, stages()).prop_map(
        |(
            level,
            (users, user_groups, verbs, omit_managed_fields),
            (resources, namespaces, urls),
            omit_stages,
        )| {
            PolicyRule {
                level,
                users,
                user_groups,
                verbs,
                resources,
                namespaces,
                non_resource_urls: urls,
                omit_stages,
                omit_managed_fields,
            }
        },
    )
}

fn policy() -> impl Strategy<Value = Policy> {
    (vec(rule(), 1..5), stages(), any::<bool>()).prop_map(|(rules, omit_stages, omit)| Policy {
        rules,
        omit_stages,
        omit_managed_fields: omit,
        ..Policy::default()
    })
}

fn user() -> impl Strategy<Value = Option<UserInfo>> {
    option::of(
        (one_of(USERS), some_of(GROUPS)).prop_map(|(name, groups)| UserInfo { name, groups }),
    )
}

fn request() -> impl Strategy<Value = Request> {
    let resource = (
        one_of(API_GROUPS),
        one_of(RESOURCES),
        one_of(SUBRESOURCES),
        one_of(NAMESPACES),
        one_of(NAMES),
    )
        .prop_map(|(api_group, resource, subresource, namespace, name)| {
            Target::Resource(ResourceRef {
                api_group,
                resource,
                subresource,
                namespace,
                name,
            })
        });
    let path = one_of(PATHS).prop_map(|path| Target::NonResource { path });
    (user(), one_of(VERBS), prop_oneof![3 => resource, 1 => path])
        .prop_map(|(user, verb, target)| Request { user, verb, target })
}

/// Any text at all, for the no-panic property.
fn wild() -> impl Strategy<Value = String> {
    "\\PC{0,6}|[*/a]{0,4}"
}

fn wild_policy() -> impl Strategy<Value = Policy> {
    let rule = (
        level(),
        vec(wild(), 0..3),
        vec(wild(), 0..3),
        vec((wild(), vec(wild(), 0..3), vec(wild(), 0..2)), 0..3),
        vec(wild(), 0..3),
        vec(wild(), 0..3),
    )
        .prop_map(
            |(level, users, verbs, resources, namespaces, urls)| PolicyRule {
                users,
                verbs,
                resources: resources
                    .into_iter()
                    .map(|(group, resources, resource_names)| GroupResources {
                        group,
                        resources,
                        resource_names,
                    })
                    .collect(),
                namespaces,
                non_resource_urls: urls,
                ..PolicyRule::catch_all(level)
            },
        );
    vec(rule, 0..4).prop_map(|rules| Policy {
        rules,
        ..Policy::default()
    })
}

fn wild_request() -> impl Strategy<Value = Request> {
    (
        option::of(wild()),
        wild(),
        wild(),
        wild(),
        wild(),
        any::<bool>(),
    )
        .prop_map(|(user, verb, resource, sub, name, is_resource)| {
            let request = if is_resource {
                Request::resource(&verb, "", &resource)
                    .subresource(&sub)
                    .named(&name)
            } else {
                Request::non_resource(&verb, &resource)
            };
            match user {
                Some(user) => request.by(&user, &[]),
                None => request,
            }
        })
}

/// The policy as a JSON document, which is also YAML: what a user would write.
fn to_document(policy: &Policy) -> String {
    let stage_names =
        |stages: &[Stage]| -> Vec<&str> { stages.iter().map(|s| s.as_str()).collect() };
    let rules: Vec<serde_json::Value> = policy
        .rules
        .iter()
        .map(|rule| {
            let resources: Vec<serde_json::Value> = rule
                .resources
                .iter()
                .map(|r| json!({"group": r.group, "resources": r.resources, "resourceNames": r.resource_names}))
                .collect();
            let mut value = json!({
                "level": rule.level.as_str(),
                "users": rule.users,
                "userGroups": rule.user_groups,
                "verbs": rule.verbs,
                "resources": resources,
                "namespaces": rule.namespaces,
                "nonResourceURLs": rule.non_resource_urls,
                "omitStages": stage_names(&rule.omit_stages),
            });
            if let Some(omit) = rule.omit_managed_fields {
                value["omitManagedFields"] = json!(omit);
            }
            value
        })
        .collect();
    json!({
        "apiVersion": "audit.k8s.io/v1",
        "kind": "Policy",
        "omitStages": stage_names(&policy.omit_stages),
        "omitManagedFields": policy.omit_managed_fields,
        "rules": rules,
    })
    .to_string()
}

/// A rule that selects exactly `request`.
fn rule_for(request: &Request, level: Level) -> PolicyRule {
    let mut rule = PolicyRule::catch_all(level);
    if let Some(user) = &request.user {
        rule.users = vec![user.name.clone()];
        rule.user_groups = user.groups.iter().take(1).cloned().collect();
    }
    rule.verbs = vec![request.verb.clone()];
    match &request.target {
        Target::Resource(object) => {
            let mut combined = object.resource.clone();
            if !object.subresource.is_empty() {
                combined = format!("{combined}/{}", object.subresource);
            }
            rule.namespaces = vec![object.namespace.clone()];
            rule.resources = vec![GroupResources {
                group: object.api_group.clone(),
                resources: vec![combined],
                resource_names: vec![object.name.clone()],
            }];
        }
        Target::NonResource { path } => rule.non_resource_urls = vec![path.clone()],
    }
    rule
}

/// No regression files: this module is built from two crates and must not write beside either.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn evaluation_and_rendering_never_panic(policy in wild_policy(), request in wild_request()) {
        let decision = policy.evaluate(&request);
        let _ = explain_text(&policy, &request, &decision);
        let _ = explain_json(&decision);
        let _ = request.to_string();
        for rule in &policy.rules {
            let _ = describe_rule(rule);
        }
    }

    #[test]
    fn first_matching_rule_decides(policy in policy(), request in request()) {
        let decision = policy.evaluate(&request);
        let first = policy.rules.iter().position(|rule| rule_matches(rule, &request));
        prop_assert_eq!(decision.rule_index, first);
        match first {
            Some(index) => prop_assert_eq!(decision.level, policy.rules[index].level),
            None => prop_assert_eq!(decision.level, Level::None),
        }
    }

    #[test]
    fn omit_stages_include_the_policy_wide_ones(policy in policy(), request in request()) {
        let decision = policy.evaluate(&request);
        for stage in &policy.omit_stages {
            prop_assert!(decision.omit_stages.contains(stage));
        }
        prop_assert!(decision.omit_stages.windows(2).all(|pair| pair[0] < pair[1]));
        if let Some(index) = decision.rule_index {
            for stage in &policy.rules[index].omit_stages {
                prop_assert!(decision.omit_stages.contains(stage));
            }
        }
        let events = decision.event_stages(&request);
        prop_assert!(events.iter().all(|stage| request.stages().contains(stage)));
        prop_assert!(events.iter().all(|stage| !decision.omit_stages.contains(stage)));
        if decision.level == Level::None {
            prop_assert!(events.is_empty());
        }
    }

    #[test]
    fn a_final_catch_all_matches_every_request(mut policy in policy(), request in request(), level in level()) {
        policy.rules.push(PolicyRule::catch_all(level));
        let decision = policy.evaluate(&request);
        prop_assert!(decision.rule_index.is_some());
    }

    #[test]
    fn prepending_a_matching_rule_makes_it_decide(mut policy in policy(), request in request(), level in level()) {
        policy.rules.insert(0, rule_for(&request, level));
        let decision = policy.evaluate(&request);
        prop_assert_eq!(decision.rule_index, Some(0));
        prop_assert_eq!(decision.level, level);
    }

    #[test]
    fn written_policies_read_back_identically(policy in policy()) {
        let mut parsed = Policy::from_yaml(&to_document(&policy)).unwrap();
        // Group `*` warns that older kube-apiservers refuse it; nothing else may warn.
        prop_assert!(parsed.warnings.iter().all(|warning| warning.contains("1.36")));
        parsed.warnings.clear();
        prop_assert_eq!(parsed, policy);
    }

    #[test]
    fn explain_json_has_exactly_three_fields(policy in policy(), request in request()) {
        let decision = policy.evaluate(&request);
        let value: serde_json::Value = serde_json::from_str(&explain_json(&decision)).unwrap();
        let object = value.as_object().unwrap();
        prop_assert_eq!(object.len(), 3);
        prop_assert_eq!(object["level"].as_str(), Some(decision.level.as_str()));
        prop_assert_eq!(object["rule_index"].as_u64().map(|i| i as usize), decision.rule_index);
    }
}

proptest! {
    #![proptest_config(config(24))]

    #[test]
    fn reports_are_consistent(policy in policy()) {
        let report = build_report(&policy, "generated");
        prop_assert_eq!(report.passed + report.failed, report.requirements.len());
        for requirement in &report.requirements {
            prop_assert!(requirement.counter_example_count >= requirement.counter_examples.len());
            prop_assert_eq!(requirement.status == Status::Pass, requirement.counter_example_count == 0);
        }
        let _ = (report.to_text(), report.to_markdown(), report.to_json());
    }

    #[test]
    fn a_leading_metadata_catch_all_passes_every_requirement(mut policy in policy()) {
        policy.omit_stages.retain(|stage| *stage == Stage::RequestReceived);
        policy.rules.insert(0, PolicyRule::catch_all(Level::Metadata));
        let report = build_report(&policy, "generated");
        prop_assert_eq!(report.failed, 0);
    }
}
