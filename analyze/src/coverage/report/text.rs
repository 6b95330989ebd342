//! The report as plain text for a terminal.

use std::fmt::Write as _;

use super::{CoverageReport, Evidence, Status};

/// Renders `report`; every line is self-contained so it greps well.
pub(super) fn render(report: &CoverageReport) -> String {
    let mut out = String::new();
    // Cannot fail: writing to a String (here and below).
    let _ = writeln!(out, "audit coverage: {}", report.source);
    let _ = writeln!(out, "{}", super::markdown::policy_line(report));
    let _ = writeln!(
        out,
        "requirements: {} passed, {} failed",
        report.passed, report.failed
    );
    for requirement in &report.requirements {
        let status = match requirement.status {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
        };
        let _ = writeln!(out);
        let _ = writeln!(out, "{status} {}  {}", requirement.id, requirement.title);
        let _ = writeln!(out, "     {}", requirement.summary);
        for item in &requirement.evidence {
            let _ = writeln!(out, "     evidence:        {}", evidence_line(item));
        }
        for item in &requirement.counter_examples {
            let _ = writeln!(out, "     counter-example: {}", evidence_line(item));
        }
        let hidden = requirement.counter_example_count - requirement.counter_examples.len();
        if hidden > 0 {
            let _ = writeln!(out, "     ... and {hidden} more counter-examples");
        }
    }
    let _ = writeln!(out);
    if report.findings.is_empty() {
        let _ = writeln!(out, "findings: none");
    } else {
        let _ = writeln!(out, "findings: {}", report.findings.len());
    }
    for finding in &report.findings {
        let severity = super::markdown::severity_name(finding.severity);
        let _ = writeln!(out);
        let _ = writeln!(out, "[{severity}] {}  {}", finding.id, finding.title);
        let _ = writeln!(out, "     {}", finding.detail);
        for item in &finding.examples {
            let _ = writeln!(out, "     example: {}", evidence_line(item));
        }
    }
    out
}

/// `get secrets "x" in default by alice [...] -> Metadata by rules[2] Metadata (every request)`.
fn evidence_line(item: &Evidence) -> String {
    format!("{} -> {} by {}", item.request, item.level, item.rule)
}
