//! [`PolicyError`], every reason a policy document is refused.

use std::fmt;

/// Why a policy document cannot be used. kube-apiserver refuses to start on the same documents.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// Not YAML, or a field of the wrong type; fix the document.
    #[error("invalid audit policy YAML: {message}")]
    Yaml {
        /// The parser's message, with line and column where it has them.
        message: String,
    },
    /// `apiVersion` is missing or not `audit.k8s.io/v1`.
    #[error("unsupported audit policy apiVersion {}: expected `audit.k8s.io/v1`", found_or_missing(.found))]
    ApiVersion {
        /// The value found, if any.
        found: Option<String>,
    },
    /// `kind` is missing or not `Policy`.
    #[error("unsupported audit policy kind {}: expected `Policy`", found_or_missing(.found))]
    Kind {
        /// The value found, if any.
        found: Option<String>,
    },
    /// One or more fields break kube-apiserver's validation rules.
    #[error("invalid audit policy: {}", join(.errors))]
    Invalid {
        /// Every problem found, in document order.
        errors: Vec<FieldError>,
    },
    /// The policy has no rules; kube-apiserver refuses such a policy.
    #[error("invalid audit policy: no rules (kube-apiserver refuses a policy with 0 rules)")]
    NoRules,
    /// The name is not one of the built-in presets.
    #[error(
        "unknown audit policy preset `{name}`: expected one of metadata, minimal, recommended"
    )]
    UnknownPreset {
        /// The name asked for.
        name: String,
    },
}

/// One validation problem: the field's path in the document and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Path such as `rules[2].nonResourceURLs[0]`.
    pub field: String,
    /// What is wrong, naming the offending value in backticks.
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

fn found_or_missing(found: &Option<String>) -> String {
    match found {
        Some(value) => format!("`{value}`"),
        None => "(missing)".to_owned(),
    }
}

fn join(errors: &[FieldError]) -> String {
    let parts: Vec<String> = errors.iter().map(FieldError::to_string).collect();
    parts.join("; ")
}
