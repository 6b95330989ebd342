//! Which rule of a policy decides a request, and the [`Decision`] it gives, as kube-apiserver
//! computes it (`pkg/audit/policy/checker.go`).
//!
//! Rules are tried in order and the first that matches decides; no match means level `None`.
//! A rule matches when every non-empty selector matches: `users` (exact name), `userGroups` (any
//! group), `verbs` (exact); then, if `namespaces` or `resources` is set, only resource requests
//! whose namespace is listed and whose group/resource/name a `GroupResources` entry covers; else,
//! if `nonResourceURLs` is set, only non-resource requests whose path matches; else anything.
//! A request without a user (failed authentication) matches no `users`/`userGroups` rule.

use serde::Serialize;

use super::level::{Level, Stage};
use super::policy::{GroupResources, Policy, PolicyRule};

/// The authenticated user of a request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserInfo {
    /// Username, e.g. `alice` or `system:serviceaccount:default:app`.
    pub name: String,
    /// Groups, e.g. `system:authenticated`.
    pub groups: Vec<String>,
}

/// What a request is about: an API object or a plain URL path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// A resource request (`/api/...`, `/apis/...`).
    Resource(ResourceRef),
    /// A non-resource request such as `/healthz` or `/metrics`.
    NonResource {
        /// URL path without the query.
        path: String,
    },
}

/// The object of a resource request, as kube-apiserver's request info names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ResourceRef {
    /// API group; `""` is the core group.
    pub api_group: String,
    /// Plural resource, e.g. `pods`.
    pub resource: String,
    /// Subresource, e.g. `exec`; `""` for none.
    pub subresource: String,
    /// Namespace; `""` for cluster-scoped objects and all-namespace lists.
    pub namespace: String,
    /// Object name; `""` for create (without subresource), list and deletecollection.
    pub name: String,
}

/// The attributes of a request that a policy looks at.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Request {
    /// `None` when authentication failed: no `users`/`userGroups` rule can match.
    pub user: Option<UserInfo>,
    /// Lower-case verb: `get`, `list`, `watch`, `create`, … for resources; the lower-cased
    /// HTTP method for non-resource requests.
    pub verb: String,
    /// The object or path.
    pub target: Target,
}

impl Request {
    /// A resource request without user, namespace, name or subresource; refine it with the
    /// builder methods.
    pub fn resource(verb: &str, api_group: &str, resource: &str) -> Self {
        Request {
            user: None,
            verb: verb.to_owned(),
            target: Target::Resource(ResourceRef {
                api_group: api_group.to_owned(),
                resource: resource.to_owned(),
                ..ResourceRef::default()
            }),
        }
    }

    /// A non-resource request without user.
    pub fn non_resource(verb: &str, path: &str) -> Self {
        Request {
            user: None,
            verb: verb.to_owned(),
            target: Target::NonResource {
                path: path.to_owned(),
            },
        }
    }

    /// Sets the user and its groups.
    pub fn by(mut self, name: &str, groups: &[&str]) -> Self {
        self.user = Some(UserInfo {
            name: name.to_owned(),
            groups: groups.iter().map(|group| (*group).to_owned()).collect(),
        });
        self
    }

    /// Sets the subresource (resource requests only).
    pub fn subresource(mut self, subresource: &str) -> Self {
        if let Target::Resource(object) = &mut self.target {
            object.subresource = subresource.to_owned();
        }
        self
    }

    /// Sets the object name (resource requests only).
    pub fn named(mut self, name: &str) -> Self {
        if let Target::Resource(object) = &mut self.target {
            object.name = name.to_owned();
        }
        self
    }

    /// Sets the namespace (resource requests only).
    pub fn in_namespace(mut self, namespace: &str) -> Self {
        if let Target::Resource(object) = &mut self.target {
            object.namespace = namespace.to_owned();
        }
        self
    }
}

/// Verbs of requests that stay open (kube-apiserver's long-running check).
const LONG_RUNNING_VERBS: &[&str] = &["watch", "proxy"];
/// Subresources of requests that stay open.
const LONG_RUNNING_SUBRESOURCES: &[&str] = &["attach", "exec", "proxy", "log", "portforward"];

impl Request {
    /// Whether kube-apiserver treats the request as long-running (a watch or a streaming
    /// subresource), which adds a `ResponseStarted` event.
    pub fn is_long_running(&self) -> bool {
        if LONG_RUNNING_VERBS.contains(&self.verb.as_str()) {
            return true;
        }
        match &self.target {
            Target::Resource(object) => {
                LONG_RUNNING_SUBRESOURCES.contains(&object.subresource.as_str())
            }
            Target::NonResource { .. } => false,
        }
    }

    /// The stages kube-apiserver emits an event at for this request, before omissions and
    /// leaving `Panic` aside: only `ResponseStarted` when authentication failed (no user);
    /// `RequestReceived`, `ResponseStarted`, `ResponseComplete` for long-running requests;
    /// `RequestReceived`, `ResponseComplete` otherwise.
    pub fn stages(&self) -> &'static [Stage] {
        if self.user.is_none() {
            return &[Stage::ResponseStarted];
        }
        if self.is_long_running() {
            return &[
                Stage::RequestReceived,
                Stage::ResponseStarted,
                Stage::ResponseComplete,
            ];
        }
        &[Stage::RequestReceived, Stage::ResponseComplete]
    }
}

/// What a policy decides for one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// The level events are recorded at; `None` = no event.
    pub level: Level,
    /// Stages that produce no event: the policy-wide ones plus the deciding rule's, sorted.
    pub omit_stages: Vec<Stage>,
    /// Zero-based index of the deciding rule (`rules[i]`); `None` when no rule matched.
    pub rule_index: Option<usize>,
    /// Whether `metadata.managedFields` is stripped from logged bodies.
    #[serde(skip)]
    pub omit_managed_fields: bool,
}

impl Decision {
    /// The stages an event is recorded at for `request` under this decision: none at level
    /// `None`, else the request's [`Request::stages`] less the omitted ones.
    pub fn event_stages(&self, request: &Request) -> Vec<Stage> {
        if !self.level.is_logged() {
            return Vec::new();
        }
        request
            .stages()
            .iter()
            .copied()
            .filter(|stage| !self.omit_stages.contains(stage))
            .collect()
    }
}

impl Policy {
    /// The decision for `request`: the first matching rule's, or level `None`.
    pub fn evaluate(&self, request: &Request) -> Decision {
        for (index, rule) in self.rules.iter().enumerate() {
            if rule_matches(rule, request) {
                return Decision {
                    level: rule.level,
                    omit_stages: union(&self.omit_stages, &rule.omit_stages),
                    rule_index: Some(index),
                    omit_managed_fields: rule
                        .omit_managed_fields
                        .unwrap_or(self.omit_managed_fields),
                };
            }
        }
        Decision {
            level: Level::None,
            omit_stages: union(&self.omit_stages, &[]),
            rule_index: None,
            omit_managed_fields: self.omit_managed_fields,
        }
    }
}

fn union(policy_wide: &[Stage], rule: &[Stage]) -> Vec<Stage> {
    let mut stages: Vec<Stage> = policy_wide.iter().chain(rule).copied().collect();
    stages.sort();
    stages.dedup();
    stages
}

/// Whether `rule` selects `request`, ignoring the rules before it.
pub fn rule_matches(rule: &PolicyRule, request: &Request) -> bool {
    if !rule.users.is_empty() {
        let Some(user) = &request.user else {
            return false;
        };
        if !rule.users.contains(&user.name) {
            return false;
        }
    }
    if !rule.user_groups.is_empty() {
        let Some(user) = &request.user else {
            return false;
        };
        if !user
            .groups
            .iter()
            .any(|group| rule.user_groups.contains(group))
        {
            return false;
        }
    }
    if !rule.verbs.is_empty() && !rule.verbs.contains(&request.verb) {
        return false;
    }
    if !rule.namespaces.is_empty() || !rule.resources.is_empty() {
        return match &request.target {
            Target::Resource(object) => resource_matches(rule, object),
            Target::NonResource { .. } => false,
        };
    }
    if !rule.non_resource_urls.is_empty() {
        return match &request.target {
            Target::Resource(_) => false,
            Target::NonResource { path } => rule
                .non_resource_urls
                .iter()
                .any(|spec| path_matches(path, spec)),
        };
    }
    true
}

fn resource_matches(rule: &PolicyRule, object: &ResourceRef) -> bool {
    // Cluster-scoped objects and all-namespace lists have the namespace "".
    if !rule.namespaces.is_empty() && !rule.namespaces.contains(&object.namespace) {
        return false;
    }
    if rule.resources.is_empty() {
        return true;
    }
    rule.resources
        .iter()
        .any(|group_resources| group_resources_match(group_resources, object))
}

fn group_resources_match(selector: &GroupResources, object: &ResourceRef) -> bool {
    if selector.group != object.api_group && selector.group != "*" {
        return false;
    }
    if selector.resources.is_empty() {
        return true;
    }
    if !selector.resource_names.is_empty() && !selector.resource_names.contains(&object.name) {
        return false;
    }
    selector
        .resources
        .iter()
        .any(|pattern| resource_pattern_matches(pattern, object))
}

/// `*`, `res`, `res/sub`, `*/sub` (any resource's `sub`), `res/*` (`res` and all its subresources).
fn resource_pattern_matches(pattern: &str, object: &ResourceRef) -> bool {
    if pattern == "*" {
        return true;
    }
    // With a subresource, a pattern must name `resource/subresource`.
    let combined = if object.subresource.is_empty() {
        object.resource.clone()
    } else {
        format!("{}/{}", object.resource, object.subresource)
    };
    if pattern == combined {
        return true;
    }
    if !object.subresource.is_empty() && pattern.strip_prefix("*/") == Some(&object.subresource) {
        return true;
    }
    // kube-apiserver compares only the resource part here, so `pods/*` also matches plain `pods`.
    pattern.strip_suffix("/*") == Some(object.resource.as_str())
}

/// `*`, an exact path, or a prefix ending in `*` (a plain string prefix: `/healthz*` matches
/// `/healthzfoo`).
fn path_matches(path: &str, spec: &str) -> bool {
    if spec == "*" || spec == path {
        return true;
    }
    spec.ends_with('*') && path.starts_with(spec.trim_end_matches('*'))
}
