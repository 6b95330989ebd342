//! One-line renderings of rules and requests, and the `explain` output of a decision.
//!
//! Resources are written the kubectl way: `pods`, `deployments.apps`, `pods/exec`,
//! `deployments.apps/scale` (core group without suffix); rule names narrow a resource in
//! parentheses: `secrets(usersshkeys)`.

use std::fmt::{self, Write as _};

use super::eval::{Decision, Request, Target};
use super::level::Stage;
use super::policy::{GroupResources, Policy, PolicyRule};

/// `RequestResponse verbs=create,delete resources=pods,deployments.apps`; only the selectors
/// the rule sets, `(every request)` when it sets none. Without the rule's index.
pub fn describe_rule(rule: &PolicyRule) -> String {
    let mut parts = vec![rule.level.as_str().to_owned()];
    let mut list = |name: &str, values: &[String]| {
        if !values.is_empty() {
            let shown: Vec<String> = values.iter().map(|value| quote_empty(value)).collect();
            parts.push(format!("{name}={}", shown.join(",")));
        }
    };
    list("users", &rule.users);
    list("userGroups", &rule.user_groups);
    list("verbs", &rule.verbs);
    list("namespaces", &rule.namespaces);
    let resources: Vec<String> = rule.resources.iter().flat_map(group_resources).collect();
    list("resources", &resources);
    list("nonResourceURLs", &rule.non_resource_urls);
    let has_selector = parts.len() > 1;
    if !has_selector {
        parts.push("(every request)".to_owned());
    }
    if !rule.omit_stages.is_empty() {
        parts.push(format!("omitStages={}", stage_list(&rule.omit_stages)));
    }
    if let Some(omit) = rule.omit_managed_fields {
        parts.push(format!("omitManagedFields={omit}"));
    }
    parts.join(" ")
}

/// `rules[2] Metadata (every request)`, or `no rule matched` for `None`.
pub fn describe_deciding_rule(policy: &Policy, rule_index: Option<usize>) -> String {
    match rule_index.and_then(|index| policy.rules.get(index).map(|rule| (index, rule))) {
        Some((index, rule)) => format!("rules[{index}] {}", describe_rule(rule)),
        None => "no rule matched".to_owned(),
    }
}

fn group_resources(selector: &GroupResources) -> Vec<String> {
    let names = if selector.resource_names.is_empty() {
        String::new()
    } else {
        format!("({})", selector.resource_names.join("|"))
    };
    if selector.resources.is_empty() {
        return vec![format!(
            "{}{names}",
            resource_with_group("*", &selector.group)
        )];
    }
    selector
        .resources
        .iter()
        .map(|pattern| format!("{}{names}", resource_with_group(pattern, &selector.group)))
        .collect()
}

/// `pods/exec` + `""` → `pods/exec`; `deployments/scale` + `apps` → `deployments.apps/scale`.
fn resource_with_group(resource_and_sub: &str, group: &str) -> String {
    if group.is_empty() {
        return resource_and_sub.to_owned();
    }
    match resource_and_sub.split_once('/') {
        Some((resource, sub)) => format!("{resource}.{group}/{sub}"),
        None => format!("{resource_and_sub}.{group}"),
    }
}

fn quote_empty(value: &str) -> String {
    if value.is_empty() {
        "\"\"".to_owned()
    } else {
        value.to_owned()
    }
}

fn stage_list(stages: &[Stage]) -> String {
    let names: Vec<&str> = stages.iter().map(|stage| stage.as_str()).collect();
    names.join(",")
}

impl fmt::Display for Request {
    /// `get secrets "db-pass" in default by alice [dev,system:authenticated]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ", self.verb)?;
        match &self.target {
            Target::NonResource { path } => f.write_str(path)?,
            Target::Resource(object) => {
                let mut resource = object.resource.clone();
                if !object.subresource.is_empty() {
                    // Cannot fail: writing to a String.
                    let _ = write!(resource, "/{}", object.subresource);
                }
                f.write_str(&resource_with_group(&resource, &object.api_group))?;
                if !object.name.is_empty() {
                    write!(f, " {:?}", object.name)?;
                }
                if !object.namespace.is_empty() {
                    write!(f, " in {}", object.namespace)?;
                }
            }
        }
        match &self.user {
            None => f.write_str(" by <unauthenticated>"),
            Some(user) => write!(f, " by {} [{}]", user.name, user.groups.join(",")),
        }
    }
}

/// The `explain` output as text: the level, the omitted stages and the deciding rule.
pub fn explain_text(policy: &Policy, request: &Request, decision: &Decision) -> String {
    let stages = if decision.omit_stages.is_empty() {
        "(none)".to_owned()
    } else {
        stage_list(&decision.omit_stages)
    };
    let mut text = String::new();
    // Cannot fail: writing to a String.
    let _ = writeln!(text, "request:     {request}");
    let _ = writeln!(text, "level:       {}", decision.level);
    let _ = writeln!(text, "omit stages: {stages}");
    let _ = writeln!(
        text,
        "rule:        {}",
        describe_deciding_rule(policy, decision.rule_index)
    );
    let events = decision.event_stages(request);
    if events.is_empty() {
        text.push_str("events:      none: nothing is recorded for this request\n");
    } else {
        let _ = writeln!(text, "events:      {}", stage_list(&events));
    }
    text
}

/// The `explain` output as JSON: `{"level":…,"omit_stages":[…],"rule_index":…}`.
pub fn explain_json(decision: &Decision) -> String {
    // Cannot fail: the decision holds only enums, strings and integers.
    serde_json::to_string(decision).expect("a decision serializes to JSON")
}

#[cfg(test)]
mod tests {
    use super::super::level::Level;
    use super::super::presets::Preset;
    use super::*;

    #[test]
    fn recommended_rules_render_on_one_line() {
        let policy = Preset::Recommended.policy();
        let lines: Vec<String> = policy.rules.iter().map(describe_rule).collect();
        assert_eq!(
            lines[0],
            "RequestResponse verbs=create,delete,update,patch resources=pods,deployments.apps,\
             statefulsets.apps,daemonsets.apps,replicasets.apps,machines.cluster.k8s.io,\
             machinesets.cluster.k8s.io,machinedeployments.cluster.k8s.io,\
             *.templates.gatekeeper.sh,secrets(usersshkeys)"
        );
        assert_eq!(
            lines[1],
            "RequestResponse resources=pods/exec,pods/portforward,pods/proxy,services/proxy"
        );
        assert_eq!(
            lines[2],
            "Metadata (every request) omitStages=RequestReceived"
        );
    }

    #[test]
    fn other_selectors_render() {
        let mut rule = PolicyRule::catch_all(Level::None);
        rule.users = vec!["system:kube-proxy".into()];
        rule.namespaces = vec!["".into(), "kube-system".into()];
        rule.omit_managed_fields = Some(true);
        assert_eq!(
            describe_rule(&rule),
            "None users=system:kube-proxy namespaces=\"\",kube-system omitManagedFields=true"
        );
    }

    #[test]
    fn requests_render() {
        let request = Request::resource("patch", "apps", "deployments")
            .subresource("scale")
            .named("web")
            .in_namespace("default")
            .by("alice", &["dev"]);
        assert_eq!(
            request.to_string(),
            "patch deployments.apps/scale \"web\" in default by alice [dev]"
        );
        let anonymous = Request::non_resource("get", "/healthz");
        assert_eq!(anonymous.to_string(), "get /healthz by <unauthenticated>");
    }

    #[test]
    fn explain_outputs() {
        let policy = Preset::Minimal.policy();
        let request = Request::resource("get", "apps", "deployments").named("web");
        let decision = policy.evaluate(&request);
        assert_eq!(
            explain_json(&decision),
            r#"{"level":"None","omit_stages":["RequestReceived"],"rule_index":null}"#
        );
        let text = explain_text(&policy, &request, &decision);
        assert!(text.contains("rule:        no rule matched"), "{text}");
        assert!(
            text.contains("events:      none: nothing is recorded"),
            "{text}"
        );

        let request = Request::resource("create", "", "pods")
            .subresource("exec")
            .named("nginx");
        let decision = policy.evaluate(&request);
        assert_eq!(
            explain_json(&decision),
            r#"{"level":"Request","omit_stages":["RequestReceived"],"rule_index":1}"#
        );
        let text = explain_text(&policy, &request.by("alice", &[]), &decision);
        assert!(text.contains("rule:        rules[1] Request resources=pods/exec,"));
        assert!(
            text.contains("events:      ResponseStarted,ResponseComplete"),
            "{text}"
        );
    }
}
