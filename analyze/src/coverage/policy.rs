//! The `audit.k8s.io/v1` `Policy` read from YAML the way kube-apiserver reads its `--audit-policy-file`.
//!
//! Loading follows kube-apiserver: the document must be `kind: Policy`, `apiVersion:
//! audit.k8s.io/v1`; unknown fields are ignored (kube-apiserver falls back to lenient decoding
//! and only logs a warning), and we keep them as [`Policy::warnings`]; then the policy is
//! validated (`validate.rs`) and must have at least one rule.

use serde::Deserialize;
use yaml_serde::Value;

use super::error::PolicyError;
use super::level::{Level, Stage};
use super::validate;

/// The only `apiVersion` kube-apiserver accepts for a policy file.
pub const API_VERSION: &str = "audit.k8s.io/v1";
/// The `kind` of a policy document.
pub const KIND: &str = "Policy";

/// A validated audit policy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Policy {
    /// `metadata.name`, if the document has one.
    pub name: Option<String>,
    /// Rules in order; the first one that matches a request decides.
    pub rules: Vec<PolicyRule>,
    /// Stages omitted for every request, matched or not.
    pub omit_stages: Vec<Stage>,
    /// Policy-wide default for stripping `metadata.managedFields` from logged bodies.
    pub omit_managed_fields: bool,
    /// Problems kube-apiserver tolerates when loading (unknown fields it ignores, fields that
    /// need a newer kube-apiserver); empty for a clean policy.
    pub warnings: Vec<String>,
}

/// One rule: a level for the requests that pass every non-empty selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRule {
    /// The level of the requests this rule matches.
    pub level: Level,
    /// Usernames, exact; empty = any (including no user).
    pub users: Vec<String>,
    /// Groups, any one of the request's; empty = any (including no user).
    pub user_groups: Vec<String>,
    /// Verbs, exact; empty = any.
    pub verbs: Vec<String>,
    /// Resource selectors; non-empty makes this a resource-only rule.
    pub resources: Vec<GroupResources>,
    /// Namespaces, exact (`""` = cluster-scoped); non-empty makes this a resource-only rule.
    pub namespaces: Vec<String>,
    /// Non-resource URL paths, with an optional trailing `*`.
    pub non_resource_urls: Vec<String>,
    /// Stages omitted for the requests this rule matches, on top of the policy-wide ones.
    pub omit_stages: Vec<Stage>,
    /// Overrides [`Policy::omit_managed_fields`] when set.
    pub omit_managed_fields: Option<bool>,
}

impl PolicyRule {
    /// A rule with the given level and no selectors: it matches every request.
    pub fn catch_all(level: Level) -> Self {
        PolicyRule {
            level,
            users: Vec::new(),
            user_groups: Vec::new(),
            verbs: Vec::new(),
            resources: Vec::new(),
            namespaces: Vec::new(),
            non_resource_urls: Vec::new(),
            omit_stages: Vec::new(),
            omit_managed_fields: None,
        }
    }
}

/// Resources of one API group, optionally narrowed to named objects.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupResources {
    /// API group; `""` is the core group, `"*"` every group (kube-apiserver 1.36 and later).
    pub group: String,
    /// `res`, `res/sub`, `*`, `res/*`, `*/sub`; empty = every resource of the group.
    pub resources: Vec<String>,
    /// Object names; empty = any name.
    pub resource_names: Vec<String>,
}

impl Policy {
    /// Parses and validates a policy document; see the module documentation.
    pub fn from_yaml(text: &str) -> Result<Policy, PolicyError> {
        let tree: Value = yaml_serde::from_str(text).map_err(|err| PolicyError::Yaml {
            message: err.to_string(),
        })?;
        check_type_meta(&tree)?;
        // Decoded from the text again, not from the tree: errors then carry the field's path,
        // line and column.
        let raw: RawPolicy = yaml_serde::from_str(text).map_err(|err| PolicyError::Yaml {
            message: err.to_string(),
        })?;
        let mut warnings = Vec::new();
        collect_unknown_fields(&tree, &mut warnings);
        let policy = validate::validate(raw, warnings)?;
        if policy.rules.is_empty() {
            return Err(PolicyError::NoRules);
        }
        Ok(policy)
    }
}

fn check_type_meta(tree: &Value) -> Result<(), PolicyError> {
    if !tree.is_mapping() {
        return Err(PolicyError::Yaml {
            message: "the document is not a mapping".to_owned(),
        });
    }
    let field = |name: &str| tree.get(name).and_then(Value::as_str).map(str::to_owned);
    let api_version = field("apiVersion");
    if api_version.as_deref() != Some(API_VERSION) {
        return Err(PolicyError::ApiVersion { found: api_version });
    }
    let kind = field("kind");
    if kind.as_deref() != Some(KIND) {
        return Err(PolicyError::Kind { found: kind });
    }
    Ok(())
}

const POLICY_FIELDS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "rules",
    "omitStages",
    "omitManagedFields",
];
const RULE_FIELDS: &[&str] = &[
    "level",
    "users",
    "userGroups",
    "verbs",
    "resources",
    "namespaces",
    "nonResourceURLs",
    "omitStages",
    "omitManagedFields",
];
const GROUP_RESOURCES_FIELDS: &[&str] = &["group", "resources", "resourceNames"];

/// Names every key that kube-apiserver's strict decoding would reject and its lenient decoding
/// then ignores. A misspelt selector (`verb:` for `verbs:`) silently widens a rule, so these matter.
fn collect_unknown_fields(tree: &Value, warnings: &mut Vec<String>) {
    unknown_keys(tree, POLICY_FIELDS, "", warnings);
    let Some(rules) = tree.get("rules").and_then(Value::as_sequence) else {
        return;
    };
    for (i, rule) in rules.iter().enumerate() {
        let rule_path = format!("rules[{i}].");
        unknown_keys(rule, RULE_FIELDS, &rule_path, warnings);
        let Some(resources) = rule.get("resources").and_then(Value::as_sequence) else {
            continue;
        };
        for (j, group_resources) in resources.iter().enumerate() {
            let path = format!("{rule_path}resources[{j}].");
            unknown_keys(group_resources, GROUP_RESOURCES_FIELDS, &path, warnings);
        }
    }
}

fn unknown_keys(node: &Value, known: &[&str], prefix: &str, warnings: &mut Vec<String>) {
    let Some(mapping) = node.as_mapping() else {
        return;
    };
    for key in mapping.keys() {
        let name = match key.as_str() {
            Some(name) => name.to_owned(),
            None => format!("{key:?}"),
        };
        if !known.contains(&name.as_str()) {
            warnings.push(format!(
                "unknown field `{prefix}{name}`: kube-apiserver ignores it (lenient decoding)"
            ));
        }
    }
}

/// The document as decoded, before validation: levels and stages are still strings so that
/// validation can name the rule and field of a bad value.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RawPolicy {
    #[serde(default)]
    pub metadata: Option<RawMetadata>,
    #[serde(default)]
    pub rules: Option<Vec<RawRule>>,
    #[serde(default)]
    pub omit_stages: Option<Vec<String>>,
    #[serde(default)]
    pub omit_managed_fields: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawMetadata {
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RawRule {
    #[serde(default)]
    pub level: Option<String>,
    #[serde(default)]
    pub users: Option<Vec<String>>,
    #[serde(default)]
    pub user_groups: Option<Vec<String>>,
    #[serde(default)]
    pub verbs: Option<Vec<String>>,
    #[serde(default)]
    pub resources: Option<Vec<RawGroupResources>>,
    #[serde(default)]
    pub namespaces: Option<Vec<String>>,
    #[serde(default, rename = "nonResourceURLs")]
    pub non_resource_urls: Option<Vec<String>>,
    #[serde(default)]
    pub omit_stages: Option<Vec<String>>,
    #[serde(default)]
    pub omit_managed_fields: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RawGroupResources {
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub resources: Option<Vec<String>>,
    #[serde(default)]
    pub resource_names: Option<Vec<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_api_version_or_kind_is_named() {
        let err = Policy::from_yaml("apiVersion: audit.k8s.io/v1beta1\nkind: Policy\nrules: []\n")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "unsupported audit policy apiVersion `audit.k8s.io/v1beta1`: expected `audit.k8s.io/v1`"
        );
        let err = Policy::from_yaml("kind: Policy\n").unwrap_err();
        assert_eq!(err, PolicyError::ApiVersion { found: None });
        let err = Policy::from_yaml("apiVersion: audit.k8s.io/v1\nkind: Event\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unsupported audit policy kind `Event`: expected `Policy`"
        );
    }

    #[test]
    fn not_yaml_or_wrong_types() {
        assert!(matches!(
            Policy::from_yaml("rules: [").unwrap_err(),
            PolicyError::Yaml { .. }
        ));
        assert!(matches!(
            Policy::from_yaml("- a\n- b\n").unwrap_err(),
            PolicyError::Yaml { .. }
        ));
        let err = Policy::from_yaml(
            "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n  verbs: get\n",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid audit policy YAML: rules[0].verbs: invalid type: string \"get\", expected a sequence at line 5 column 10"
        );
    }

    #[test]
    fn zero_rules_are_refused() {
        for rules in ["rules: []\n", "rules:\n", ""] {
            let text = format!("apiVersion: audit.k8s.io/v1\nkind: Policy\n{rules}");
            assert_eq!(Policy::from_yaml(&text).unwrap_err(), PolicyError::NoRules);
        }
    }

    #[test]
    fn unknown_fields_are_warnings() {
        let policy = Policy::from_yaml(
            "apiVersion: audit.k8s.io/v1\nkind: Policy\nmetadata:\n  name: p\nextra: 1\nrules:\n- level: Metadata\n  verb: [get]\n  resources:\n  - group: ''\n    resource: [pods]\n",
        )
        .unwrap();
        assert_eq!(policy.name.as_deref(), Some("p"));
        assert_eq!(
            policy.warnings,
            [
                "unknown field `extra`: kube-apiserver ignores it (lenient decoding)",
                "unknown field `rules[0].verb`: kube-apiserver ignores it (lenient decoding)",
                "unknown field `rules[0].resources[0].resource`: kube-apiserver ignores it (lenient decoding)",
            ]
        );
        // The misspelt selectors are ignored, so the rule matches everything in the core group.
        assert!(policy.rules[0].verbs.is_empty());
        assert!(policy.rules[0].resources[0].resources.is_empty());
    }

    #[test]
    fn null_lists_are_empty() {
        let policy = Policy::from_yaml(
            "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages:\nrules:\n- level: None\n  users:\n  resources:\n  - group:\n",
        )
        .unwrap();
        assert!(policy.omit_stages.is_empty());
        assert!(policy.rules[0].users.is_empty());
        assert_eq!(policy.rules[0].resources[0].group, "");
    }
}
