//! `auditlens rules test`: every rule against the fixtures in `FIXTURES/<rule-id>/`:
//! `fire-*.jsonl` must raise an alert (exactly `alerts` of them, with the `output_fields` of
//! `<case>.expect.json` when it exists), `quiet-*.jsonl` must raise none.

use std::path::{Path, PathBuf};

use analyze::detect::{Engine, EngineOptions, Rule};
use anyhow::Context;
use schemas::Alert;

use super::pack::Pack;
use super::replay::replay;

/// The cluster fixture events are replayed as.
pub const FIXTURE_CLUSTER: &str = "fixtures";

/// What a case expects, from `<case>.expect.json`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Expectation {
    /// Exactly this many alerts.
    alerts: Option<usize>,
    /// Each entry appears in the `output_fields` of at least one alert.
    #[serde(default)]
    output_fields: serde_json::Map<String, serde_json::Value>,
}

/// The outcome of one case, or of a rule without cases.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CaseOutcome {
    pub rule: String,
    pub case: String,
    pub passed: bool,
    /// What went wrong, or how many alerts were raised.
    pub detail: String,
}

/// Runs the cases of `rules` (all of them when `only` is empty).
pub async fn test_rules(
    pack: &Pack,
    fixtures: &Path,
    only: &[String],
) -> anyhow::Result<Vec<CaseOutcome>> {
    let mut outcomes = Vec::new();
    for rule in &pack.rules {
        if !only.is_empty() && !only.contains(&rule.id) {
            continue;
        }
        let dir = fixtures.join(&rule.id);
        let outcome = |case: &str, passed: bool, detail: String| CaseOutcome {
            rule: rule.id.clone(),
            case: case.to_string(),
            passed,
            detail,
        };
        let cases = case_files(&dir)?;
        let fires = cases
            .iter()
            .filter(|(name, _)| name.starts_with("fire"))
            .count();
        let quiets = cases
            .iter()
            .filter(|(name, _)| name.starts_with("quiet"))
            .count();
        if fires == 0 || quiets == 0 {
            outcomes.push(outcome(
                "-",
                false,
                format!(
                    "needs at least one fire-*.jsonl and one quiet-*.jsonl case in {}",
                    dir.display()
                ),
            ));
        }
        let mut options = pack.engine_options();
        // Windows compact whenever they can: a rule whose `compact` keys lose what it reads
        // fails its cases.
        options.compaction_rows = 0;
        let lists_file = dir.join("lists.toml");
        if lists_file.exists() {
            options.lists.override_from_toml(&lists_file)?;
        }
        for (name, path) in cases {
            let (passed, detail) = run_case(rule, &options, &name, &path).await?;
            outcomes.push(outcome(&name, passed, detail));
        }
    }
    Ok(outcomes)
}

fn case_files(dir: &Path) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let mut cases = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(cases),
        Err(error) => return Err(error).with_context(|| format!("cannot read {}", dir.display())),
    };
    for entry in entries {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(stem) = name.strip_suffix(".jsonl") else {
            continue;
        };
        if stem.starts_with("fire") || stem.starts_with("quiet") {
            cases.push((stem.to_string(), path));
        }
    }
    cases.sort();
    Ok(cases)
}

/// Runs one rule over one case file and returns every alert, or the rule's error.
pub async fn alerts_of(
    rules: Vec<Rule>,
    options: &EngineOptions,
    paths: &[PathBuf],
) -> anyhow::Result<Result<Vec<Alert>, String>> {
    let mut engine = Engine::new(rules, options.clone()).await;
    let mut alerts = Vec::new();
    replay(&mut engine, paths, FIXTURE_CLUSTER, &mut |alert| {
        alerts.push(alert);
        Ok(())
    })
    .await?;
    for status in engine.statuses() {
        if let Some(error) = status.error {
            return Ok(Err(format!("rule `{}` failed: {error}", status.id)));
        }
    }
    Ok(Ok(alerts))
}

async fn run_case(
    rule: &Rule,
    options: &EngineOptions,
    name: &str,
    path: &Path,
) -> anyhow::Result<(bool, String)> {
    let mut rule = rule.clone();
    // A disabled rule is still tested: it must work when someone enables it.
    rule.disabled = false;
    let alerts = match alerts_of(vec![rule], options, &[path.to_path_buf()]).await? {
        Ok(alerts) => alerts,
        Err(error) => return Ok((false, error)),
    };
    let expect_path = path.with_file_name(format!("{name}.expect.json"));
    let expectation: Expectation = if expect_path.exists() {
        let text = std::fs::read_to_string(&expect_path)?;
        serde_json::from_str(&text).with_context(|| format!("invalid {}", expect_path.display()))?
    } else {
        Expectation::default()
    };
    let firing = name.starts_with("fire");
    let count = alerts.len();
    if !firing {
        if count == 0 {
            return Ok((true, "no alert".into()));
        }
        return Ok((
            false,
            format!("expected no alert, got {count}: {}", alerts[0].output),
        ));
    }
    match expectation.alerts {
        Some(expected) if expected != count => {
            let first = alerts
                .first()
                .map_or(String::new(), |a| format!(": {}", a.output));
            return Ok((
                false,
                format!("expected {expected} alert(s), got {count}{first}"),
            ));
        }
        None if count == 0 => return Ok((false, "expected an alert, got none".into())),
        _ => {}
    }
    for (key, wanted) in &expectation.output_fields {
        let found = alerts
            .iter()
            .any(|alert| alert.output_fields.get(key) == Some(wanted));
        if !found {
            let seen: Vec<String> = alerts
                .iter()
                .map(|a| {
                    a.output_fields
                        .get(key)
                        .map_or("(absent)".into(), |v| v.to_string())
                })
                .collect();
            return Ok((
                false,
                format!(
                    "no alert has output field `{key}` = {wanted}; seen: {}",
                    seen.join(", ")
                ),
            ));
        }
    }
    Ok((true, format!("{count} alert(s)")))
}
