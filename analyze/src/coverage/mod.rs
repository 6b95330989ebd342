//! Audit coverage verification: does an audit policy log what CIS 3.2.1/3.2.2 ask for?
//!
//! This module stands alone (serde, serde_json, yaml_serde, thiserror only), so it also builds
//! as its own crate. Modules:
//! - [`level`]: [`Level`] and [`Stage`], the enums a policy is made of;
//! - [`policy`]: [`Policy`] read from `audit.k8s.io/v1` YAML, as kube-apiserver reads it;
//! - `validate`: kube-apiserver's validation rules, naming the rule and field at fault;
//! - [`eval`]: [`Request`] → [`Decision`], kube-apiserver's first-match evaluation;
//! - [`render`]: one-line renderings of rules and requests, and the `explain` output;
//! - [`presets`]: Kubermatic's `metadata`, `minimal` and `recommended` presets, built in;
//! - [`report`]: the static coverage report: CIS 3.2.1/3.2.2 verdicts and findings, found by
//!   evaluating the policy on every request class that matters;
//! - [`error`]: [`PolicyError`], why a policy document is refused.

pub mod error;
pub mod eval;
pub mod level;
pub mod policy;
pub mod presets;
pub mod render;
pub mod report;
mod validate;

#[cfg(test)]
mod docs_tests;
#[cfg(test)]
mod eval_tests;
#[cfg(test)]
mod proptests;

pub use error::{FieldError, PolicyError};
pub use eval::{rule_matches, Decision, Request, ResourceRef, Target, UserInfo};
pub use level::{Level, Stage};
pub use policy::{GroupResources, Policy, PolicyRule};
pub use presets::{load_preset, preset_names, Preset};
pub use render::{describe_deciding_rule, describe_rule, explain_json, explain_text};
pub use report::{
    build_report, requirement_titles, CoverageReport, Evidence, Finding, Requirement, Severity,
    Status,
};
