//! The alert: the one JSON shape every sink receives and the `alerts` table holds. Falco's
//! fields (so tools that read Falco alerts read these) plus auditlens's own. Its JSON schema,
//! `schemas/alert.schema.json`, is generated from this type.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The value of `source` in every alert, as in Falco's k8saudit alerts.
pub const ALERT_SOURCE: &str = "k8s_audit";

/// A detection rule's finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Alert {
    /// Unique id of this alert (UUID v7: sortable by creation time).
    pub uuid: String,
    /// Event time of the alert: RFC 3339, UTC, microseconds.
    pub time: String,
    /// The rule's title (Falco's rule name).
    pub rule: String,
    /// The rule's Falco priority.
    pub priority: Priority,
    /// One line for people, from the rule's output template.
    pub output: String,
    /// The values the rule selected, under Falco's `ka.*` names where one exists.
    pub output_fields: BTreeMap<String, serde_json::Value>,
    /// Always `k8s_audit`.
    pub source: String,
    /// The rule's tags.
    pub tags: Vec<String>,
    /// Host that produced the alert.
    pub hostname: String,
    /// Stable id of the rule (its file name without `.sql`).
    pub rule_id: String,
    /// Cluster the triggering events came from.
    pub cluster: String,
    /// `auditID`s of the events that triggered the alert.
    pub audit_ids: Vec<String>,
    /// MITRE ATT&CK technique ids.
    pub mitre: Vec<String>,
    /// The priority as a SIEM-style severity.
    pub severity: Severity,
}

/// Falco's priorities, most urgent first.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum Priority {
    Emergency,
    Alert,
    Critical,
    Error,
    Warning,
    Notice,
    Informational,
    Debug,
}

impl Priority {
    pub const ALL: [Priority; 8] = [
        Priority::Emergency,
        Priority::Alert,
        Priority::Critical,
        Priority::Error,
        Priority::Warning,
        Priority::Notice,
        Priority::Informational,
        Priority::Debug,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Emergency => "Emergency",
            Priority::Alert => "Alert",
            Priority::Critical => "Critical",
            Priority::Error => "Error",
            Priority::Warning => "Warning",
            Priority::Notice => "Notice",
            Priority::Informational => "Informational",
            Priority::Debug => "Debug",
        }
    }

    /// True when `self` is at least as urgent as `other`.
    pub fn at_least(self, other: Priority) -> bool {
        self <= other
    }

    pub fn severity(self) -> Severity {
        match self {
            Priority::Emergency | Priority::Alert | Priority::Critical => Severity::Critical,
            Priority::Error => Severity::High,
            Priority::Warning => Severity::Medium,
            Priority::Notice => Severity::Low,
            Priority::Informational | Priority::Debug => Severity::Info,
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Priority {
    type Err = String;

    /// Case-insensitive; also Falco's short forms `info` and `warn`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let lower = text.trim().to_ascii_lowercase();
        let alias = match lower.as_str() {
            "info" => "informational",
            "warn" => "warning",
            other => other,
        };
        Priority::ALL
            .into_iter()
            .find(|priority| priority.as_str().eq_ignore_ascii_case(alias))
            .ok_or_else(|| {
                format!("unknown priority `{text}`: expected one of Emergency, Alert, Critical, Error, Warning, Notice, Informational, Debug")
            })
    }
}

/// Severity as SIEMs file it, derived from the priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
    Info,
}

/// The JSON schema of [`Alert`], as written to `schemas/alert.schema.json`.
pub fn alert_json_schema() -> String {
    let schema = schemars::schema_for!(Alert);
    // A schema of plain structs and enums always serializes.
    let mut text = serde_json::to_string_pretty(&schema).expect("schema serializes");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_parse_and_order() {
        assert_eq!("warning".parse::<Priority>(), Ok(Priority::Warning));
        assert_eq!("INFO".parse::<Priority>(), Ok(Priority::Informational));
        assert!("loud".parse::<Priority>().unwrap_err().contains("`loud`"));
        assert!(Priority::Critical.at_least(Priority::Warning));
        assert!(!Priority::Notice.at_least(Priority::Warning));
        assert_eq!(Priority::Error.severity(), Severity::High);
    }
}
