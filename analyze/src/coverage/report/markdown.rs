//! The report as Markdown (GitHub flavour), headings from level 3 down so that it nests in a
//! document.

use std::fmt::Write as _;

use super::{CoverageReport, Evidence, Severity, Status};

/// Renders `report`.
pub(super) fn render(report: &CoverageReport) -> String {
    let mut out = String::new();
    // Cannot fail: writing to a String (here and below).
    let _ = writeln!(out, "### Audit coverage: {}\n", report.source);
    let _ = writeln!(out, "{}.", policy_line(report));
    let _ = writeln!(
        out,
        "Requirements: **{} passed, {} failed**.\n",
        report.passed, report.failed
    );
    let _ = writeln!(out, "| Requirement | Status | Result |");
    let _ = writeln!(out, "|---|---|---|");
    for requirement in &report.requirements {
        let _ = writeln!(
            out,
            "| `{}` {} | {} | {} |",
            requirement.id,
            cell(&requirement.title),
            status_name(requirement.status),
            cell(&requirement.summary)
        );
    }
    let _ = writeln!(out);
    for requirement in &report.requirements {
        let _ = writeln!(
            out,
            "#### `{}`: {}\n",
            requirement.id,
            status_name(requirement.status)
        );
        let _ = writeln!(out, "{}: {}.\n", requirement.title, requirement.summary);
        if !requirement.counter_examples.is_empty() {
            let _ = writeln!(
                out,
                "Counter-examples ({} of {}):\n",
                requirement.counter_examples.len(),
                requirement.counter_example_count
            );
            table(&mut out, &requirement.counter_examples);
        }
        if !requirement.evidence.is_empty() {
            let _ = writeln!(out, "Evidence (one request per deciding rule and level):\n");
            table(&mut out, &requirement.evidence);
        }
    }
    let _ = writeln!(out, "#### Findings\n");
    if report.findings.is_empty() {
        let _ = writeln!(out, "None.");
    }
    for finding in &report.findings {
        let _ = writeln!(
            out,
            "- **{}** `{}`: {}. {}.",
            severity_name(finding.severity),
            finding.id,
            finding.title,
            finding.detail
        );
    }
    let _ = writeln!(out);
    for finding in report.findings.iter().filter(|f| !f.examples.is_empty()) {
        let _ = writeln!(
            out,
            "Examples for `{}` ({} of {}):\n",
            finding.id,
            finding.examples.len(),
            finding.example_count
        );
        table(&mut out, &finding.examples);
    }
    // Every block ends with a blank line; the document ends with one newline.
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// `3 rules; policy-wide omitStages: RequestReceived; 1234 request classes evaluated`.
pub(super) fn policy_line(report: &CoverageReport) -> String {
    let stages: Vec<&str> = report
        .policy
        .omit_stages
        .iter()
        .map(|stage| stage.as_str())
        .collect();
    let stages = if stages.is_empty() {
        "none".to_owned()
    } else {
        stages.join(", ")
    };
    let rules = match report.policy.rules {
        1 => "1 rule".to_owned(),
        count => format!("{count} rules"),
    };
    format!(
        "{rules}; policy-wide omitStages: {stages}; {} request classes evaluated",
        report.request_classes
    )
}

pub(super) fn severity_name(severity: Severity) -> &'static str {
    match severity {
        Severity::High => "high",
        Severity::Medium => "medium",
        Severity::Low => "low",
    }
}

fn status_name(status: Status) -> &'static str {
    match status {
        Status::Pass => "pass",
        Status::Fail => "**FAIL**",
    }
}

fn table(out: &mut String, items: &[Evidence]) {
    let _ = writeln!(out, "| Request | Level | Deciding rule |");
    let _ = writeln!(out, "|---|---|---|");
    for item in items {
        let _ = writeln!(
            out,
            "| `{}` | {} | `{}` |",
            cell(&item.request),
            item.level,
            cell(&item.rule)
        );
    }
    let _ = writeln!(out);
}

/// Escapes the pipe, which would end a table cell even inside a code span.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}
