//! The static coverage report: CIS 3.2.1/3.2.2 verdicts and reviewer findings for a policy.
//!
//! Every verdict comes from evaluating the policy on request classes (`classes`), never from
//! recognising the policy. Modules:
//! - `classes`: which requests are tried;
//! - `requirements`: the CIS checks, each a set of classes and a level it wants;
//! - `findings`: sensitive bodies, unlogged important requests, doubled volume, noise;
//! - `text`, `markdown`: renderings; JSON is the serde form of [`CoverageReport`].

mod classes;
mod findings;
mod markdown;
mod requirements;
mod text;

pub use requirements::requirement_titles;

use serde::Serialize;

use super::eval::{Decision, Request, Target};
use super::level::{Level, Stage};
use super::policy::Policy;
use super::render::describe_deciding_rule;

/// Version of the JSON shape; bumped when a field changes meaning or disappears.
pub const REPORT_SCHEMA_VERSION: u32 = 1;
/// Most counter-examples or examples listed per requirement or finding.
const MAX_EXAMPLES: usize = 12;

/// The report for one policy.
#[derive(Debug, Clone, Serialize)]
pub struct CoverageReport {
    /// [`REPORT_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Where the policy came from, as the caller names it (`preset recommended`, a path).
    pub source: String,
    /// The policy's shape.
    pub policy: PolicySummary,
    /// Distinct requests evaluated.
    pub request_classes: usize,
    /// Requirements that pass.
    pub passed: usize,
    /// Requirements that fail.
    pub failed: usize,
    /// One per CIS requirement, in benchmark order.
    pub requirements: Vec<Requirement>,
    /// What else a reviewer should know, most severe first.
    pub findings: Vec<Finding>,
}

/// The policy's shape, as far as the report needs it.
#[derive(Debug, Clone, Serialize)]
pub struct PolicySummary {
    /// Number of rules.
    pub rules: usize,
    /// Policy-wide omitted stages.
    pub omit_stages: Vec<Stage>,
    /// Loading warnings ([`Policy::warnings`]).
    pub warnings: Vec<String>,
}

/// Whether a requirement is met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Every request class it covers gets the level it wants.
    Pass,
    /// At least one class does not; see the counter-examples.
    Fail,
}

/// One CIS requirement and its verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Requirement {
    /// Stable id: `3.2.1`, `3.2.2-secrets-metadata-only`, …
    pub id: String,
    /// What the requirement asks.
    pub title: String,
    /// Pass or fail.
    pub status: Status,
    /// One sentence on the outcome.
    pub summary: String,
    /// Request classes evaluated for it.
    pub classes: usize,
    /// Classes that meet it, one per distinct outcome.
    pub evidence: Vec<Evidence>,
    /// Classes that do not, a few per distinct outcome.
    pub counter_examples: Vec<Evidence>,
    /// All classes that do not, of which `counter_examples` shows some.
    pub counter_example_count: usize,
}

/// One evaluated request and what decided it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// The request, rendered on one line.
    pub request: String,
    /// The level the policy gives it.
    pub level: Level,
    /// The stages an event is recorded at (empty: nothing is recorded, whatever the level).
    pub events: Vec<Stage>,
    /// Zero-based index of the deciding rule; `null` when none matched.
    pub rule_index: Option<usize>,
    /// The deciding rule, rendered on one line, or `no rule matched`.
    pub rule: String,
}

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Secrets end up in the audit log, or similar.
    High,
    /// Security-relevant requests leave no trace, or the policy is not what it says.
    Medium,
    /// Cost: volume that buys nothing.
    Low,
}

/// Something a reviewer should know beyond the pass/fail verdicts.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// Stable id, e.g. `sensitive-data-logged-secrets`.
    pub id: String,
    /// How much it matters.
    pub severity: Severity,
    /// One line.
    pub title: String,
    /// What was found and what to do about it.
    pub detail: String,
    /// Requests that show it, a few per distinct outcome.
    pub examples: Vec<Evidence>,
    /// All requests that show it.
    pub example_count: usize,
}

/// A request with the policy's decision for it.
pub(super) struct Evaluated {
    request: Request,
    decision: Decision,
    /// [`Decision::event_stages`].
    events: Vec<Stage>,
}

impl Evaluated {
    /// Whether at least one event is recorded: a level above `None` is not enough when the
    /// omitted stages cover every stage the request produces.
    fn recorded(&self) -> bool {
        !self.events.is_empty()
    }
}

/// Evaluates every request.
fn evaluate_all(policy: &Policy, requests: Vec<Request>) -> Vec<Evaluated> {
    requests
        .into_iter()
        .map(|request| {
            let decision = policy.evaluate(&request);
            let events = decision.event_stages(&request);
            Evaluated {
                request,
                decision,
                events,
            }
        })
        .collect()
}

fn evidence(policy: &Policy, evaluated: &Evaluated) -> Evidence {
    Evidence {
        request: evaluated.request.to_string(),
        level: evaluated.decision.level,
        events: evaluated.events.clone(),
        rule_index: evaluated.decision.rule_index,
        rule: describe_deciding_rule(policy, evaluated.decision.rule_index),
    }
}

/// How examples are told apart: one example is listed per group.
#[derive(Debug, Clone, Copy)]
enum Grouping {
    /// By level and deciding rule: one request per way the policy decides.
    Outcome,
    /// By level, deciding rule, verb and resource (or path): what differs among failures.
    OutcomeAndKind,
}

/// The first request of each group, in input order, [`MAX_EXAMPLES`] at most.
fn examples(policy: &Policy, items: &[&Evaluated], grouping: Grouping) -> Vec<Evidence> {
    let mut seen: Vec<(Level, Option<usize>, bool, String)> = Vec::new();
    let mut chosen = Vec::new();
    for item in items {
        let kind = match grouping {
            Grouping::Outcome => String::new(),
            Grouping::OutcomeAndKind => request_kind(&item.request),
        };
        let key = (
            item.decision.level,
            item.decision.rule_index,
            item.recorded(),
            kind,
        );
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        chosen.push(evidence(policy, item));
        if chosen.len() == MAX_EXAMPLES {
            break;
        }
    }
    chosen
}

/// `deletecollection pods`, `patch deployments.apps/scale`, `get /healthz`: the request
/// without user, namespace or name.
fn request_kind(request: &Request) -> String {
    let mut bare = request.clone();
    bare.user = None;
    if let Target::Resource(object) = &mut bare.target {
        object.namespace.clear();
        object.name.clear();
    }
    bare.to_string()
}

/// Builds the report for `policy`; `source` names the policy in the output.
pub fn build_report(policy: &Policy, source: &str) -> CoverageReport {
    let enumerator = classes::Enumerator::new(policy);
    let universe = evaluate_all(policy, findings::universe(&enumerator));
    let requirements = requirements::check_all(policy, &enumerator, &universe);
    let findings = findings::find_all(policy, &enumerator, &universe);
    let passed = requirements
        .iter()
        .filter(|requirement| requirement.status == Status::Pass)
        .count();
    CoverageReport {
        schema_version: REPORT_SCHEMA_VERSION,
        source: source.to_owned(),
        policy: PolicySummary {
            rules: policy.rules.len(),
            omit_stages: policy.omit_stages.clone(),
            warnings: policy.warnings.clone(),
        },
        request_classes: universe.len(),
        passed,
        failed: requirements.len() - passed,
        requirements,
        findings,
    }
}

impl CoverageReport {
    /// The report as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        // Cannot fail: the report holds only strings, numbers, enums and lists.
        serde_json::to_string_pretty(self).expect("a report serializes to JSON")
    }

    /// The report as plain text for a terminal.
    pub fn to_text(&self) -> String {
        text::render(self)
    }

    /// The report as Markdown, headings from level 3 (`###`) down.
    pub fn to_markdown(&self) -> String {
        markdown::render(self)
    }
}

#[cfg(test)]
mod tests;
