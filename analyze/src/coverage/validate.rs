//! Validation of a decoded policy, with the rules kube-apiserver applies when it loads one.
//!
//! The checks (kube-apiserver `pkg/apis/audit/validation`): a rule's level is required and must be
//! one of the four levels; policy and rule `omitStages` must be stages; a non-resource URL is `*`
//! or starts with `/`, and a `*` may only be its last character; a rule cannot combine
//! `nonResourceURLs` with `resources` or `namespaces`; a group is `""`, `"*"` or a lowercase DNS
//! subdomain; `resourceNames` needs at least one resource. Every problem is reported, not just
//! the first.

use super::error::{FieldError, PolicyError};
use super::level::{Level, Stage};
use super::policy::{GroupResources, Policy, PolicyRule, RawGroupResources, RawPolicy, RawRule};

/// Longest DNS subdomain, in bytes.
const MAX_DNS_SUBDOMAIN_BYTES: usize = 253;

/// Turns a decoded document into a [`Policy`], or names every invalid field.
pub(super) fn validate(raw: RawPolicy, mut warnings: Vec<String>) -> Result<Policy, PolicyError> {
    let mut errors = Vec::new();
    let omit_stages = stages(raw.omit_stages, "omitStages", &mut errors);
    let mut rules = Vec::new();
    for (i, raw_rule) in raw.rules.unwrap_or_default().into_iter().enumerate() {
        let path = format!("rules[{i}]");
        if let Some(rule) = rule(raw_rule, &path, &mut errors, &mut warnings) {
            rules.push(rule);
        }
    }
    if !errors.is_empty() {
        return Err(PolicyError::Invalid { errors });
    }
    Ok(Policy {
        name: raw.metadata.and_then(|metadata| metadata.name),
        rules,
        omit_stages,
        omit_managed_fields: raw.omit_managed_fields.unwrap_or(false),
        warnings,
    })
}

fn rule(
    raw: RawRule,
    path: &str,
    errors: &mut Vec<FieldError>,
    warnings: &mut Vec<String>,
) -> Option<PolicyRule> {
    let level = level(raw.level.as_deref(), path, errors);
    let non_resource_urls = raw.non_resource_urls.unwrap_or_default();
    for (j, url) in non_resource_urls.iter().enumerate() {
        check_non_resource_url(url, &format!("{path}.nonResourceURLs[{j}]"), errors);
    }
    let mut resources = Vec::new();
    for (j, raw_group) in raw.resources.unwrap_or_default().into_iter().enumerate() {
        let group_path = format!("{path}.resources[{j}]");
        resources.push(group_resources(raw_group, &group_path, errors, warnings));
    }
    let omit_stages = stages(raw.omit_stages, &format!("{path}.omitStages"), errors);
    let namespaces = raw.namespaces.unwrap_or_default();
    if !non_resource_urls.is_empty() && (!resources.is_empty() || !namespaces.is_empty()) {
        errors.push(FieldError {
            field: format!("{path}.nonResourceURLs"),
            message: "rules cannot apply to both regular resources and non-resource URLs"
                .to_owned(),
        });
    }
    Some(PolicyRule {
        level: level?,
        users: raw.users.unwrap_or_default(),
        user_groups: raw.user_groups.unwrap_or_default(),
        verbs: raw.verbs.unwrap_or_default(),
        resources,
        namespaces,
        non_resource_urls,
        omit_stages,
        omit_managed_fields: raw.omit_managed_fields,
    })
}

fn level(raw: Option<&str>, path: &str, errors: &mut Vec<FieldError>) -> Option<Level> {
    let field = format!("{path}.level");
    let Some(text) = raw.filter(|text| !text.is_empty()) else {
        errors.push(FieldError {
            field,
            message: "required value: one of None, Metadata, Request, RequestResponse".to_owned(),
        });
        return None;
    };
    match text.parse::<Level>() {
        Ok(level) => Some(level),
        Err(()) => {
            errors.push(FieldError {
                field,
                message: format!(
                    "unsupported value `{text}`: expected one of None, Metadata, Request, RequestResponse"
                ),
            });
            None
        }
    }
}

fn stages(raw: Option<Vec<String>>, path: &str, errors: &mut Vec<FieldError>) -> Vec<Stage> {
    let mut stages = Vec::new();
    for (i, text) in raw.unwrap_or_default().iter().enumerate() {
        match text.parse::<Stage>() {
            Ok(stage) => stages.push(stage),
            Err(()) => errors.push(FieldError {
                field: format!("{path}[{i}]"),
                message: format!(
                    "invalid stage `{text}`: allowed stages are RequestReceived, ResponseStarted, ResponseComplete, Panic"
                ),
            }),
        }
    }
    stages
}

fn check_non_resource_url(url: &str, field: &str, errors: &mut Vec<FieldError>) {
    if url == "*" {
        return;
    }
    if !url.starts_with('/') {
        errors.push(FieldError {
            field: field.to_owned(),
            message: format!("invalid value `{url}`: non-resource URL rules must begin with `/`"),
        });
    }
    let before_last = url.char_indices().last().map_or("", |(at, _)| &url[..at]);
    if before_last.contains('*') {
        errors.push(FieldError {
            field: field.to_owned(),
            message: format!(
                "invalid value `{url}`: a non-resource URL wildcard `*` must be the final character"
            ),
        });
    }
}

fn group_resources(
    raw: RawGroupResources,
    path: &str,
    errors: &mut Vec<FieldError>,
    warnings: &mut Vec<String>,
) -> GroupResources {
    let group = raw.group.unwrap_or_default();
    if group == "*" {
        warnings.push(format!(
            "`{path}.group` is `*`: kube-apiserver before 1.36 refuses the policy (invalid group)"
        ));
    } else if !group.is_empty() && !is_dns_subdomain(&group) {
        errors.push(FieldError {
            field: format!("{path}.group"),
            message: format!(
                "invalid value `{group}`: an API group is a lowercase DNS subdomain, `\"\"` (core) or `*`"
            ),
        });
    }
    let resources = raw.resources.unwrap_or_default();
    let resource_names = raw.resource_names.unwrap_or_default();
    if !resource_names.is_empty() && resources.is_empty() {
        errors.push(FieldError {
            field: format!("{path}.resourceNames"),
            message: "using resourceNames requires at least one resource".to_owned(),
        });
    }
    GroupResources {
        group,
        resources,
        resource_names,
    }
}

/// RFC 1123 subdomain: dot-separated labels of lowercase alphanumerics and inner `-`.
fn is_dns_subdomain(text: &str) -> bool {
    if text.len() > MAX_DNS_SUBDOMAIN_BYTES {
        return false;
    }
    text.split('.').all(|label| {
        let bytes = label.as_bytes();
        let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        match (bytes.first(), bytes.last()) {
            (Some(first), Some(last)) => {
                alnum(first) && alnum(last) && bytes.iter().all(|b| alnum(b) || *b == b'-')
            }
            _ => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors_of(yaml: &str) -> Vec<String> {
        match Policy::from_yaml(yaml) {
            Err(PolicyError::Invalid { errors }) => errors.iter().map(|e| e.to_string()).collect(),
            other => panic!("expected validation errors, got {other:?}"),
        }
    }

    const HEAD: &str = "apiVersion: audit.k8s.io/v1\nkind: Policy\n";

    #[test]
    fn bad_level_names_rule_and_field() {
        let errors = errors_of(&format!(
            "{HEAD}rules:\n- level: Metadata\n- level: Everything\n"
        ));
        assert_eq!(errors.len(), 1);
        assert!(errors[0].starts_with("rules[1].level: unsupported value `Everything`"));
    }

    #[test]
    fn missing_level_is_required() {
        let errors = errors_of(&format!("{HEAD}rules:\n- verbs: [get]\n"));
        assert!(errors[0].starts_with("rules[0].level: required value"));
    }

    #[test]
    fn bad_stages_at_both_levels() {
        let errors = errors_of(&format!(
            "{HEAD}omitStages: [Received]\nrules:\n- level: None\n  omitStages: [RequestReceived, Done]\n"
        ));
        assert_eq!(errors.len(), 2);
        assert!(errors[0].starts_with("omitStages[0]: invalid stage `Received`"));
        assert!(errors[1].starts_with("rules[0].omitStages[1]: invalid stage `Done`"));
    }

    #[test]
    fn non_resource_urls_must_be_rooted_with_a_final_wildcard() {
        let errors = errors_of(&format!(
            "{HEAD}rules:\n- level: None\n  nonResourceURLs: ['*', '/healthz*', 'healthz', '/a*/b', '']\n"
        ));
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].starts_with("rules[0].nonResourceURLs[2]: invalid value `healthz`"));
        assert!(errors[1].contains("nonResourceURLs[3]") && errors[1].contains("final character"));
        assert!(errors[2].starts_with("rules[0].nonResourceURLs[4]: invalid value ``"));
    }

    #[test]
    fn resources_and_non_resource_urls_cannot_mix() {
        let errors = errors_of(&format!(
            "{HEAD}rules:\n- level: None\n  namespaces: [default]\n  nonResourceURLs: [/x]\n"
        ));
        assert_eq!(
            errors,
            ["rules[0].nonResourceURLs: rules cannot apply to both regular resources and non-resource URLs"]
        );
    }

    #[test]
    fn groups_and_resource_names() {
        let errors = errors_of(&format!(
            "{HEAD}rules:\n- level: None\n  resources:\n  - group: rbac.authorization.k8s.io/v1\n  - group: Apps\n  - group: apps\n    resourceNames: [x]\n"
        ));
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].starts_with("rules[0].resources[0].group: invalid value"));
        assert!(errors[1].starts_with("rules[0].resources[1].group"));
        assert!(errors[2].starts_with("rules[0].resources[2].resourceNames: using resourceNames"));
    }

    #[test]
    fn wildcard_group_is_accepted_with_a_warning() {
        let policy = Policy::from_yaml(&format!(
            "{HEAD}rules:\n- level: None\n  resources:\n  - group: '*'\n"
        ))
        .unwrap();
        assert_eq!(policy.warnings.len(), 1);
        assert!(policy.warnings[0].contains("1.36"));
    }

    #[test]
    fn dns_subdomains() {
        for good in ["apps", "rbac.authorization.k8s.io", "a-b.c1", "0"] {
            assert!(is_dns_subdomain(good), "{good}");
        }
        for bad in [
            "Apps",
            "-a",
            "a-",
            "a..b",
            ".a",
            "a/b",
            "a_b",
            &"a".repeat(254),
        ] {
            assert!(!is_dns_subdomain(bad), "{bad}");
        }
    }
}
