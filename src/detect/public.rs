//! `auditlens rules test --public CASES`: the verdicts of public rule tests (Falco's k8saudit
//! traces, Panther's unit-test events; `fixtures/public/`) checked against the rules that name
//! those tools' rules in their `equivalents` header.
//!
//! - A positive Falco case: for each Falco rule it fires, a rule of ours with that equivalent
//!   raises an alert.
//! - A negative Falco case (Falco raises nothing at Warning or above): none of our rules with a
//!   Falco equivalent raises an alert at Warning or above.
//! - A Panther case: the rules with that Panther rule as equivalent raise an alert exactly when
//!   Panther's `rule()` returns true. An equivalent written `NAME xN` needs N matching events
//!   (Panther's threshold): the case's event is replayed N times, each copy with its own audit
//!   ID and object name.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use analyze::detect::{EngineOptions, Rule};
use anyhow::Context;
use schemas::Priority;

use super::fixtures::alerts_of;
use super::pack::Pack;

/// The Falco extra-rule-file to lists mapping, next to the cases file.
pub const FALCO_LISTS_FILE: &str = "falco-lists.toml";
/// Lists standing in for Panther's enrichment, next to the cases file.
pub const PANTHER_LISTS_FILE: &str = "panther-lists.toml";

#[derive(Debug, serde::Deserialize)]
struct Case {
    source: String,
    file: String,
    case: String,
    expected: bool,
    #[serde(default)]
    rules: Vec<String>,
    #[serde(default)]
    extra_rule_files: Vec<String>,
    line: Option<usize>,
    rule: Option<String>,
}

/// The outcome of one public case.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PublicOutcome {
    pub case: String,
    /// `pass`, `fail` or `skip`.
    pub verdict: &'static str,
    pub detail: String,
}

/// The name in an equivalent and its threshold (`NAME xN`).
fn equivalent(entry: &str) -> (&str, usize) {
    if let Some((name, count)) = entry.rsplit_once(" x") {
        if let Ok(count) = count.parse::<usize>() {
            return (name.trim(), count.max(1));
        }
    }
    (entry.trim(), 1)
}

fn rules_equivalent_to<'r>(rules: &'r [Rule], name: &str) -> Vec<(&'r Rule, usize)> {
    rules
        .iter()
        .filter_map(|rule| {
            rule.equivalents
                .iter()
                .map(|entry| equivalent(entry))
                .find(|(candidate, _)| *candidate == name)
                .map(|(_, count)| (rule, count))
        })
        .collect()
}

/// Runs every Falco and Panther case of `cases_file`.
pub async fn test_public(pack: &Pack, cases_file: &Path) -> anyhow::Result<Vec<PublicOutcome>> {
    let (rules, options) = (&pack.rules, pack.engine_options());
    let base = cases_file.parent().unwrap_or(Path::new("."));
    let text = std::fs::read_to_string(cases_file)
        .with_context(|| format!("cannot read {}", cases_file.display()))?;
    let mut cases = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let case: Case = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: invalid case", cases_file.display(), index + 1))?;
        cases.push(case);
    }
    let falco_names: BTreeSet<&str> = cases
        .iter()
        .filter(|case| case.source == "falco")
        .flat_map(|case| case.rules.iter().map(String::as_str))
        .collect();
    let falco_lists: toml::Table = std::fs::read_to_string(base.join(FALCO_LISTS_FILE))
        .ok()
        .map(|text| text.parse())
        .transpose()
        .context("invalid falco-lists.toml")?
        .unwrap_or_default();
    let scratch = tempfile::tempdir()?;
    let mut panther_options = options.clone();
    let panther_file = base.join(PANTHER_LISTS_FILE);
    if panther_file.exists() {
        panther_options.lists.override_from_toml(&panther_file)?;
    }
    let mut outcomes = Vec::new();
    for case in &cases {
        let outcome = match case.source.as_str() {
            "falco" => {
                falco_case(
                    rules,
                    &options,
                    &falco_names,
                    &falco_lists,
                    base,
                    case,
                    scratch.path(),
                )
                .await?
            }
            "panther" => panther_case(rules, &panther_options, base, case, scratch.path()).await?,
            _ => continue,
        };
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

fn outcome(case: &Case, verdict: &'static str, detail: String) -> PublicOutcome {
    let name = match &case.rule {
        Some(rule) => format!("{} {} ({})", case.file, case.case, rule),
        None => format!("{} {}", case.file, case.case),
    };
    PublicOutcome {
        case: name,
        verdict,
        detail,
    }
}

fn options_for_falco(
    options: &EngineOptions,
    mapping: &toml::Table,
    case: &Case,
    scratch: &Path,
) -> anyhow::Result<Result<EngineOptions, String>> {
    let mut options = options.clone();
    let mut tables = vec!["defaults".to_string()];
    tables.extend(case.extra_rule_files.iter().cloned());
    for name in tables {
        let Some(table) = mapping.get(&name).and_then(|t| t.as_table()) else {
            if name == "defaults" {
                continue;
            }
            return Ok(Err(format!(
                "needs Falco rule file `{name}`, which has no lists equivalent"
            )));
        };
        let path = scratch.join("lists.toml");
        std::fs::write(&path, toml::to_string(table)?)?;
        options.lists.override_from_toml(&path)?;
    }
    Ok(Ok(options))
}

async fn falco_case(
    rules: &[Rule],
    options: &EngineOptions,
    falco_names: &BTreeSet<&str>,
    mapping: &toml::Table,
    base: &Path,
    case: &Case,
    scratch: &Path,
) -> anyhow::Result<PublicOutcome> {
    let options = match options_for_falco(options, mapping, case, scratch)? {
        Ok(options) => options,
        Err(reason) => return Ok(outcome(case, "skip", reason)),
    };
    let path = base.join(&case.file);
    if case.expected {
        for name in &case.rules {
            let candidates: Vec<Rule> = rules_equivalent_to(rules, name)
                .into_iter()
                .map(|(rule, _)| rule.clone())
                .collect();
            if candidates.is_empty() {
                return Ok(outcome(
                    case,
                    "fail",
                    format!("no rule has `{name}` in equivalents"),
                ));
            }
            let alerts = match alerts_of(candidates, &options, std::slice::from_ref(&path)).await? {
                Ok(alerts) => alerts,
                Err(error) => return Ok(outcome(case, "fail", error)),
            };
            if alerts.is_empty() {
                return Ok(outcome(
                    case,
                    "fail",
                    format!("no alert from the rules equivalent to `{name}`"),
                ));
            }
        }
        return Ok(outcome(
            case,
            "pass",
            format!("fired {}", case.rules.join(", ")),
        ));
    }
    let watched: Vec<Rule> = rules
        .iter()
        .filter(|rule| rule.priority.at_least(Priority::Warning))
        .filter(|rule| {
            rule.equivalents
                .iter()
                .any(|entry| falco_names.contains(equivalent(entry).0))
        })
        .cloned()
        .collect();
    let alerts = match alerts_of(watched, &options, &[path]).await? {
        Ok(alerts) => alerts,
        Err(error) => return Ok(outcome(case, "fail", error)),
    };
    match alerts.first() {
        None => Ok(outcome(case, "pass", "no alert at Warning or above".into())),
        Some(alert) => Ok(outcome(
            case,
            "fail",
            format!(
                "expected no alert, `{}` raised: {}",
                alert.rule_id, alert.output
            ),
        )),
    }
}

async fn panther_case(
    rules: &[Rule],
    options: &EngineOptions,
    base: &Path,
    case: &Case,
    scratch: &Path,
) -> anyhow::Result<PublicOutcome> {
    let Some(name) = case.rule.as_deref() else {
        return Ok(outcome(case, "skip", "no rule named".into()));
    };
    let candidates = rules_equivalent_to(rules, name);
    if candidates.is_empty() {
        return Ok(outcome(
            case,
            "fail",
            format!("no rule has `{name}` in equivalents"),
        ));
    }
    let text = std::fs::read_to_string(base.join(&case.file))?;
    let Some(event) = text.lines().nth(case.line.unwrap_or(1).saturating_sub(1)) else {
        return Ok(outcome(
            case,
            "fail",
            "the case's line is not in the file".into(),
        ));
    };
    let mut fired = Vec::new();
    for (rule, count) in candidates {
        let path = scratch.join(format!("{}.jsonl", rule.id));
        std::fs::write(&path, repeated(event, count)?)?;
        match alerts_of(vec![rule.clone()], options, &[PathBuf::from(&path)]).await? {
            Ok(alerts) if !alerts.is_empty() => fired.push(rule.id.clone()),
            Ok(_) => {}
            Err(error) => return Ok(outcome(case, "fail", error)),
        }
    }
    let verdict = if fired.is_empty() != case.expected {
        "pass"
    } else {
        "fail"
    };
    let detail = match (case.expected, fired.is_empty()) {
        (true, false) => format!("fired {}", fired.join(", ")),
        (true, true) => "expected an alert, got none".into(),
        (false, true) => "no alert".into(),
        (false, false) => format!("expected no alert, {} raised one", fired.join(", ")),
    };
    Ok(outcome(case, verdict, detail))
}

/// `count` copies of one event, each with its own audit ID and object name (a threshold counts
/// distinct requests, some of them distinct objects), as JSON Lines.
fn repeated(event: &str, count: usize) -> anyhow::Result<String> {
    if count <= 1 {
        return Ok(format!("{event}\n"));
    }
    let value: serde_json::Value = serde_json::from_str(event)?;
    let mut out = String::new();
    for copy in 0..count {
        let mut value = value.clone();
        if let Some(object) = value.as_object_mut() {
            let id = object
                .get("auditID")
                .and_then(|id| id.as_str())
                .unwrap_or("public-case");
            let id = format!("{id}-{copy}");
            object.insert("auditID".into(), serde_json::Value::from(id));
            let name = object
                .get_mut("objectRef")
                .and_then(|r| r.as_object_mut())
                .and_then(|r| r.get_mut("name"));
            if let Some(name) = name.filter(|n| n.is_string()) {
                *name = serde_json::Value::from(format!(
                    "{}-{copy}",
                    name.as_str().unwrap_or_default()
                ));
            }
        }
        out.push_str(&value.to_string());
        out.push('\n');
    }
    Ok(out)
}
