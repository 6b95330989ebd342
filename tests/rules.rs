//! The shipped rule pack as a test: every rule loads, every rule's fixtures hold
//! (`auditlens rules test`), the public Falco and Panther verdicts hold, and `detect` finds the
//! attack in an audit log file.

mod common;

use common::run;

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn every_rule_loads() {
    let output = run(&["rules", "list", "--format", "jsonl"]);
    let text = stdout(&output);
    assert!(output.status.success(), "{text}");
    let rules: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert!(rules.len() >= 95, "{} rules", rules.len());
    for rule in &rules {
        assert_ne!(rule["state"], "failed", "{rule}");
    }
}

#[test]
fn every_rule_passes_its_fixtures() {
    let output = run(&["rules", "test"]);
    let text = stdout(&output);
    assert!(output.status.success(), "{text}");
    assert!(text.contains(" 0 failed"), "{text}");
}

#[test]
fn public_verdicts_hold() {
    let output = run(&["rules", "test", "--public", "fixtures/public/cases.jsonl"]);
    let text = stdout(&output);
    assert!(output.status.success(), "{text}");
}

#[test]
fn a_broken_rule_is_named_with_its_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("detections");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(
        rules.join("bad.sql"),
        "-- id: bad\n-- title: Bad\n-- severity: Loud\n-- mitre: T1\n-- level: Metadata\n-- mode: event\n-- output: x\n-- description: x\nSELECT cluster, audit_id FROM events\n",
    )
    .unwrap();
    let output = run(&["rules", "list", "--rules", rules.to_str().unwrap()]);
    let text = stdout(&output);
    assert!(!output.status.success());
    assert!(text.contains("bad.sql:3: `severity`"), "{text}");
}

#[test]
fn detect_finds_the_exec_in_an_audit_log() {
    let output = run(&[
        "detect",
        "--format",
        "jsonl",
        "--cluster",
        "lab",
        "fixtures/public/falco/exec_pod.jsonl",
        "fixtures/kube-apiserver-audit.log",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let alerts: Vec<serde_json::Value> = stdout(&output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let exec = alerts
        .iter()
        .find(|alert| alert["output_fields"]["ka.target.subresource"] == "exec")
        .unwrap_or_else(|| panic!("no exec alert in {alerts:?}"));
    assert_eq!(exec["cluster"], "lab");
    assert_eq!(exec["source"], "k8s_audit");
}

/// `docs/detections.md` is generated from the rule headers; this fails when they drift.
#[test]
fn detections_doc_matches_the_rules() {
    let output = run(&["rules", "doc"]);
    assert!(output.status.success());
    let on_disk = std::fs::read_to_string("docs/detections.md").unwrap_or_default();
    assert!(
        on_disk == stdout(&output),
        "docs/detections.md is out of date: run `cargo run -- rules doc > docs/detections.md`"
    );
}
