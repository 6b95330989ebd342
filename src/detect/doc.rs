//! `docs/detections.md`, generated from the rule headers: every rule with the catalog behaviours
//! it covers, its priority, MITRE techniques, mode and the audit policy level it needs.

use std::collections::BTreeSet;
use std::fmt::Write;

use analyze::detect::{Mode, Rule};

/// Behaviours of the detection catalog the audit log can show: sections A–G and I.
const CATALOG: [std::ops::RangeInclusive<u32>; 2] = [1..=91, 94..=104];

fn escape(text: &str) -> String {
    text.replace('|', "\\|")
}

pub fn detections_markdown(rules: &[Rule]) -> String {
    let mut out = String::new();
    let covered: BTreeSet<u32> = rules
        .iter()
        .filter(|rule| !rule.disabled)
        .flat_map(|rule| rule.behaviours.iter().copied())
        .collect();
    let catalog: Vec<u32> = CATALOG.iter().flat_map(|range| range.clone()).collect();
    let missing: Vec<String> = catalog
        .iter()
        .filter(|n| !covered.contains(n))
        .map(u32::to_string)
        .collect();
    let _ = writeln!(out, "# Detections\n");
    let _ = writeln!(
        out,
        "<!-- Generated from the headers in `queries/detections/` by `auditlens rules doc`; a test fails when this file and the rules differ. -->\n"
    );
    let _ = writeln!(
        out,
        "{} rules cover {} of the {} audit-log behaviours of the detection catalog (sections A–G and I).{}",
        rules.len(),
        catalog.iter().filter(|n| covered.contains(n)).count(),
        catalog.len(),
        if missing.is_empty() {
            String::new()
        } else {
            format!(" Not covered: {}.", missing.join(", "))
        }
    );
    let _ = writeln!(
        out,
        "\"Level\" is the lowest audit policy level the rule needs: a rule reading `requestObject` needs `Request`, one comparing with `responseObject` needs `RequestResponse`. \"Equivalents\" name the same detection in Falco, Panther and GuardDuty; the public Falco and Panther test events of `fixtures/public/` check them (`auditlens rules test --public fixtures/public/cases.jsonl`). How to write a rule: [rules.md](rules.md).\n"
    );
    let _ = writeln!(
        out,
        "| rule | title | behaviours | priority | MITRE ATT&CK | mode | level | equivalents |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
    for rule in rules {
        let mode = match (&rule.window, rule.mode) {
            (Some(window), Mode::Window) => format!(
                "window {}, every {}",
                humantime::format_duration(window.length),
                humantime::format_duration(window.every)
            ),
            (Some(window), _) => format!("sequence {}", humantime::format_duration(window.length)),
            (None, _) => "event".to_string(),
        };
        let behaviours: Vec<String> = rule.behaviours.iter().map(u32::to_string).collect();
        let title = if rule.disabled {
            format!("{} (disabled)", rule.title)
        } else {
            rule.title.clone()
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} | {} | {} |",
            rule.id,
            escape(&title),
            behaviours.join(", "),
            rule.priority,
            rule.mitre.join(", "),
            mode,
            rule.level.as_str(),
            escape(&rule.equivalents.join("; ")),
        );
    }
    out
}
