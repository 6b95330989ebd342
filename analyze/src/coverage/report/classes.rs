//! The request classes the report evaluates: for each resource that matters, every verb it
//! takes, in and out of every namespace, name, user and group that a rule of the policy singles
//! out, plus a normal user, a service account and requests without a user.

use std::collections::{BTreeSet, HashSet};
use std::hash::Hash;

use super::super::eval::{Request, UserInfo};
use super::super::policy::Policy;

/// The verbs of kube-apiserver's request info for resource requests.
pub(super) const ALL_VERBS: &[&str] = &[
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
];
/// Writes to an object or a collection.
pub(super) const WRITE_VERBS: &[&str] =
    &["create", "update", "patch", "delete", "deletecollection"];
/// Writes to a subresource such as `status` or `scale`.
pub(super) const SUBRESOURCE_WRITE_VERBS: &[&str] = &["update", "patch"];
/// Streaming connections: POST over SPDY is `create`, GET over WebSocket is `get`.
pub(super) const CONNECT_VERBS: &[&str] = &["create", "get"];
/// A proxy subresource passes any HTTP method; the verb follows the method.
pub(super) const PROXY_VERBS: &[&str] = &["get", "create", "update", "patch", "delete"];
/// Reads only.
pub(super) const READ_VERBS: &[&str] = &["get", "list", "watch"];
/// Create only (reviews, token requests).
pub(super) const CREATE_VERB: &[&str] = &["create"];

/// A kind of request to enumerate: one resource or subresource and the verbs it takes.
#[derive(Debug, Clone, Copy)]
pub(super) struct TargetSpec {
    /// API group; `""` is core.
    pub group: &'static str,
    /// Plural resource.
    pub resource: &'static str,
    /// Subresource or `""`.
    pub subresource: &'static str,
    /// Whether objects live in namespaces.
    pub namespaced: bool,
    /// The verbs requests to it can have.
    pub verbs: &'static [&'static str],
    /// An object name that no policy is likely to single out.
    pub name: &'static str,
}

impl TargetSpec {
    /// `pods/exec`, `deployments.apps`: how the report names the target.
    pub fn label(&self) -> String {
        let mut label = self.resource.to_owned();
        if !self.group.is_empty() {
            label = format!("{label}.{}", self.group);
        }
        if !self.subresource.is_empty() {
            label = format!("{label}/{}", self.subresource);
        }
        label
    }
}

/// Shorthand for the target tables.
pub(super) const fn target(
    group: &'static str,
    resource: &'static str,
    subresource: &'static str,
    namespaced: bool,
    verbs: &'static [&'static str],
    name: &'static str,
) -> TargetSpec {
    TargetSpec {
        group,
        resource,
        subresource,
        namespaced,
        verbs,
        name,
    }
}

/// Namespaces every namespaced target is tried in, besides the policy's own.
const BASE_NAMESPACES: &[&str] = &["default", "kube-system"];
/// Groups of an authenticated normal user.
const AUTHENTICATED: &str = "system:authenticated";

/// The selectors the policy's rules single out, to try each one inside and outside.
pub(super) struct Enumerator {
    users: Vec<Option<UserInfo>>,
    extra_verbs: Vec<String>,
    namespaces: Vec<String>,
    /// `(group, name)` pairs from `resourceNames`.
    names: Vec<(String, String)>,
    paths: Vec<String>,
}

fn user(name: &str, groups: &[&str]) -> Option<UserInfo> {
    Some(UserInfo {
        name: name.to_owned(),
        groups: groups.iter().map(|group| (*group).to_owned()).collect(),
    })
}

/// Requests from these users exist in every cluster: a normal user first, then a request whose
/// authentication failed (no user), anonymous access and a service account.
pub(super) fn base_users() -> Vec<Option<UserInfo>> {
    vec![
        user("alice", &["dev", AUTHENTICATED]),
        None,
        user("system:anonymous", &["system:unauthenticated"]),
        user(
            "system:serviceaccount:default:app",
            &[
                "system:serviceaccounts",
                "system:serviceaccounts:default",
                AUTHENTICATED,
            ],
        ),
    ]
}

/// Control-plane identities that issue most of a cluster's routine reads.
pub(super) fn system_users() -> Vec<Option<UserInfo>> {
    vec![
        user("system:kube-controller-manager", &[AUTHENTICATED]),
        user("system:kube-scheduler", &[AUTHENTICATED]),
        user("system:kube-proxy", &[AUTHENTICATED]),
        user("system:node:node-1", &["system:nodes", AUTHENTICATED]),
        user("system:apiserver", &["system:masters", AUTHENTICATED]),
    ]
}

impl Enumerator {
    /// Collects the users, groups, verbs, namespaces, names and paths the policy mentions.
    pub fn new(policy: &Policy) -> Self {
        let mut users = base_users();
        let mut extra_verbs = BTreeSet::new();
        let mut namespaces: BTreeSet<String> = BTreeSet::new();
        let mut names = BTreeSet::new();
        let mut paths = BTreeSet::new();
        for rule in &policy.rules {
            for name in &rule.users {
                users.push(user(name, &[AUTHENTICATED]));
            }
            for group in &rule.user_groups {
                let member = format!("member-of:{group}");
                users.push(user(&member, &[group, AUTHENTICATED]));
            }
            for verb in &rule.verbs {
                if !ALL_VERBS.contains(&verb.as_str()) {
                    extra_verbs.insert(verb.clone());
                }
            }
            for namespace in &rule.namespaces {
                if !namespace.is_empty() {
                    namespaces.insert(namespace.clone());
                }
            }
            for selector in &rule.resources {
                for name in &selector.resource_names {
                    names.insert((selector.group.clone(), name.clone()));
                }
            }
            for spec in &rule.non_resource_urls {
                paths.extend(paths_for(spec));
            }
        }
        let users = dedup_keep_order(users);
        for namespace in BASE_NAMESPACES {
            namespaces.insert((*namespace).to_owned());
        }
        Enumerator {
            users,
            extra_verbs: extra_verbs.into_iter().collect(),
            namespaces: namespaces.into_iter().collect(),
            names: names.into_iter().collect(),
            paths: paths.into_iter().collect(),
        }
    }

    /// The users tried: the base users and those the policy's rules single out.
    pub fn users(&self) -> &[Option<UserInfo>] {
        &self.users
    }

    /// Every request class of `spec`, by every user.
    pub fn resource_classes(&self, spec: &TargetSpec) -> Vec<Request> {
        self.resource_classes_by(spec, &self.users)
    }

    /// Every request class of `spec`, by the given users.
    pub fn resource_classes_by(
        &self,
        spec: &TargetSpec,
        users: &[Option<UserInfo>],
    ) -> Vec<Request> {
        let mut verbs: Vec<&str> = spec.verbs.to_vec();
        verbs.extend(self.extra_verbs.iter().map(String::as_str));
        // User outermost: the first classes of each outcome then differ in verb and object.
        let mut classes = Vec::new();
        for user in users {
            for verb in &verbs {
                for (namespace, name) in self.locations(spec, verb) {
                    let mut request = Request::resource(verb, spec.group, spec.resource)
                        .subresource(spec.subresource)
                        .in_namespace(&namespace)
                        .named(&name);
                    request.user = user.clone();
                    classes.push(request);
                }
            }
        }
        classes
    }

    /// `(namespace, name)` pairs a request with this verb can have.
    fn locations(&self, spec: &TargetSpec, verb: &str) -> Vec<(String, String)> {
        let standard = ALL_VERBS.contains(&verb);
        let on_collection = spec.subresource.is_empty()
            && (!standard || matches!(verb, "create" | "list" | "watch" | "deletecollection"));
        let on_object = !spec.subresource.is_empty()
            || !standard
            || matches!(verb, "get" | "update" | "patch" | "delete" | "watch");
        let mut names = Vec::new();
        if on_collection {
            names.push(String::new());
        }
        if on_object {
            names.push(spec.name.to_owned());
            for (group, name) in &self.names {
                if group == spec.group || group == "*" {
                    names.push(name.clone());
                }
            }
        }
        let names = dedup_keep_order(names);
        let mut namespaces: Vec<String> = Vec::new();
        if spec.namespaced {
            namespaces.extend(self.namespaces.iter().cloned());
        } else {
            namespaces.push(String::new());
        }
        let mut locations = Vec::new();
        for namespace in &namespaces {
            for name in &names {
                locations.push((namespace.clone(), name.clone()));
            }
        }
        // A list or watch of a namespaced resource across all namespaces has namespace "".
        if spec.namespaced && spec.subresource.is_empty() && matches!(verb, "list" | "watch") {
            locations.push((String::new(), String::new()));
        }
        locations
    }

    /// `get` of each path (plus the policy's own paths), by every user and the system users.
    pub fn non_resource_classes(&self, base_paths: &[&str]) -> Vec<Request> {
        let mut paths: Vec<String> = base_paths.iter().map(|path| (*path).to_owned()).collect();
        paths.extend(self.paths.iter().cloned());
        let paths = dedup_keep_order(paths);
        let mut users = self.users.clone();
        users.extend(system_users());
        let users = dedup_keep_order(users);
        let mut classes = Vec::new();
        for user in &users {
            for path in &paths {
                let mut request = Request::non_resource("get", path);
                request.user = user.clone();
                classes.push(request);
            }
        }
        classes
    }
}

/// Removes repeated items, keeping the first of each.
pub(super) fn dedup_keep_order<T: Eq + Hash + Clone>(items: Vec<T>) -> Vec<T> {
    let mut seen = HashSet::new();
    items
        .into_iter()
        .filter(|item| seen.insert(item.clone()))
        .collect()
}

/// Paths inside and just outside a `nonResourceURLs` entry.
fn paths_for(spec: &str) -> Vec<String> {
    if spec == "*" {
        return Vec::new();
    }
    match spec.strip_suffix('*') {
        Some(prefix) => {
            let prefix = prefix.trim_end_matches('*');
            vec![prefix.to_owned(), format!("{prefix}x")]
        }
        None => vec![spec.to_owned(), format!("{spec}/x")],
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::presets::Preset;
    use super::*;

    const SECRETS: TargetSpec = target("", "secrets", "", true, ALL_VERBS, "db-pass");

    #[test]
    fn names_singled_out_by_a_rule_are_tried() {
        let enumerator = Enumerator::new(&Preset::Recommended.policy());
        let classes = enumerator.resource_classes(&SECRETS);
        let rendered: Vec<String> = classes.iter().map(ToString::to_string).collect();
        let wanted =
            "update secrets \"usersshkeys\" in kube-system by alice [dev,system:authenticated]";
        assert!(rendered.iter().any(|line| line == wanted));
        assert!(rendered
            .iter()
            .any(|line| line == "create secrets in default by <unauthenticated>"));
        assert!(rendered
            .iter()
            .any(|line| line.starts_with("list secrets by ")));
        assert!(!rendered
            .iter()
            .any(|line| line.starts_with("create secrets \"")));
    }

    #[test]
    fn users_groups_namespaces_and_paths_of_rules_are_tried() {
        let policy = Policy::from_yaml(
            "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n  users: [system:kube-proxy]\n  verbs: [watch, proxy]\n- level: None\n  userGroups: [system:nodes]\n  namespaces: [monitoring]\n- level: None\n  nonResourceURLs: ['/healthz*']\n",
        )
        .unwrap();
        let enumerator = Enumerator::new(&policy);
        let classes = enumerator.resource_classes(&SECRETS);
        let has = |wanted: &str| classes.iter().any(|request| request.to_string() == wanted);
        assert!(has(
            "watch secrets in monitoring by system:kube-proxy [system:authenticated]"
        ));
        assert!(has("proxy secrets \"db-pass\" in default by member-of:system:nodes [system:nodes,system:authenticated]"));
        let paths = enumerator.non_resource_classes(&["/metrics"]);
        assert!(paths
            .iter()
            .any(|request| request.to_string() == "get /healthzx by <unauthenticated>"));
    }
}
