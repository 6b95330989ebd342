//! Audit coverage from the command line: `policy explain`, the static report on the built-in
//! presets and on a policy file, and the observed report on fixtures with and without
//! violations (`fixtures/coverage/`), checked against what the fixture files hold.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{http, repo, run, Server};
use serde_json::Value;

/// Runs `auditlens ARGS`, asserts the exit status, parses stdout as JSON.
fn json_of(args: &[&str]) -> Value {
    let output = run(args);
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?}: not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

fn requirement<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no requirement {id} in {report:#}"))
}

/// The fixture's events, parsed.
fn fixture(name: &str) -> Vec<Value> {
    std::fs::read_to_string(repo(&format!("fixtures/coverage/{name}")))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn import(data: &Path, cluster: &str, file: &str) {
    let output = run(&[
        "import",
        "--data-dir",
        &data.display().to_string(),
        "--cluster",
        cluster,
        &repo(&format!("fixtures/coverage/{file}")),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn policy_explain_names_the_level_the_stages_and_the_deciding_rule() {
    let decision = json_of(&[
        "policy",
        "explain",
        "--preset",
        "recommended",
        "--verb",
        "get",
        "--resource",
        "secrets",
        "--namespace",
        "shop",
        "--name",
        "db-pass",
        "--user",
        "alice",
        "--format",
        "json",
    ]);
    assert_eq!(
        decision,
        serde_json::json!({"level": "Metadata", "omit_stages": ["RequestReceived"], "rule_index": 2})
    );
    let decision = json_of(&[
        "policy",
        "explain",
        "--preset",
        "recommended",
        "--verb",
        "create",
        "--resource",
        "pods/exec",
        "--namespace",
        "shop",
        "--name",
        "web",
        "--user",
        "alice",
        "--format",
        "json",
    ]);
    assert_eq!(decision["level"], "RequestResponse");
    assert_eq!(decision["rule_index"], 1);
    // The minimal preset has no catch-all: a lease update is logged by no rule.
    let decision = json_of(&[
        "policy",
        "explain",
        "--preset",
        "minimal",
        "--verb",
        "update",
        "--resource",
        "leases",
        "--api-group",
        "coordination.k8s.io",
        "--format",
        "json",
    ]);
    assert_eq!(decision["level"], "None");
    assert_eq!(decision["rule_index"], Value::Null);

    let text = run(&[
        "policy",
        "explain",
        "--preset",
        "minimal",
        "--verb",
        "get",
        "--resource",
        "pods/log",
        "--user",
        "bob",
    ]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("Metadata"), "{text}");
    assert!(text.contains("rules[2]"), "{text}");
}

#[test]
fn the_static_report_judges_the_presets_by_evaluating_them() {
    let metadata = json_of(&["coverage", "--preset", "metadata", "--format", "json"]);
    assert_eq!(metadata["failed"], 0, "{metadata:#}");
    assert!(metadata["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["id"] == "request-received-not-omitted"));

    let recommended = json_of(&["coverage", "--preset", "recommended", "--format", "json"]);
    let secrets = requirement(&recommended, "3.2.2-secrets-metadata-only");
    assert_eq!(secrets["status"], "fail");
    let counter = secrets["counter_examples"].as_array().unwrap();
    assert!(counter
        .iter()
        .all(|c| c["level"] == "RequestResponse" && c["rule_index"] == 0));
    assert!(counter
        .iter()
        .any(|c| c["request"].as_str().unwrap().contains("usersshkeys")));
    assert_eq!(
        requirement(&recommended, "3.2.2-pods-exec-logged")["status"],
        "pass"
    );

    let minimal = json_of(&["coverage", "--preset", "minimal", "--format", "json"]);
    let tokenreviews = requirement(&minimal, "3.2.2-tokenreviews-metadata-only");
    assert_eq!(tokenreviews["status"], "fail");
    assert!(tokenreviews["counter_examples"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["level"] == "None"));

    // The same verdicts for the same policy read from a file: nothing keys on the name.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.yaml");
    let yaml = std::fs::read_to_string(repo("analyze/src/coverage/presets/minimal.yaml")).unwrap();
    std::fs::write(&file, yaml).unwrap();
    let from_file = json_of(&[
        "coverage",
        "--policy",
        &file.display().to_string(),
        "--format",
        "json",
    ]);
    assert_eq!(from_file["requirements"], minimal["requirements"]);

    // --fail-on-failure makes a failing policy fail the command.
    let output = run(&["coverage", "--preset", "minimal", "--fail-on-failure"]);
    assert_eq!(output.status.code(), Some(1));
    let markdown = run(&["coverage", "--preset", "minimal", "--format", "markdown"]);
    assert!(String::from_utf8_lossy(&markdown.stdout).contains("| "));
}

#[test]
fn an_invalid_policy_is_refused_naming_the_rule_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(
        &file,
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n  - level: Metadata\n  - level: Everything\n",
    )
    .unwrap();
    let output = run(&["coverage", "--policy", &file.display().to_string()]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("rules[1].level"), "{stderr}");
    assert!(stderr.contains("Everything"), "{stderr}");
    assert!(stderr.contains("bad.yaml"), "{stderr}");
}

#[test]
fn the_observed_report_on_a_clean_stream_finds_nothing_wrong_and_names_its_preset() {
    let dir = tempfile::tempdir().unwrap();
    import(dir.path(), "shop-prod", "recommended-clean.jsonl");
    let events = fixture("recommended-clean.jsonl");
    let data = dir.path().display().to_string();
    let report = json_of(&[
        "coverage",
        "--observed",
        "--data-dir",
        &data,
        "--cluster",
        "shop-prod",
        "--format",
        "json",
    ]);
    assert_eq!(report["activity"]["events"], events.len());
    assert_eq!(report["active"], true);
    assert_eq!(report["failed"], 0, "{report:#}");
    let secrets = requirement(&report, "3.2.2-secrets-metadata-only");
    assert_eq!(secrets["status"], "pass");
    let secret_events = events
        .iter()
        .filter(|e| e["objectRef"]["resource"] == "secrets")
        .count();
    assert_eq!(secrets["events"], secret_events);
    assert_eq!(secrets["levels"]["Metadata"], secret_events);
    assert_eq!(
        requirement(&report, "3.2.2-pod-changes-logged")["status"],
        "pass"
    );
    assert_eq!(
        requirement(&report, "3.2.2-pods-exec-logged")["status"],
        "pass"
    );
    assert_eq!(
        requirement(&report, "3.2.2-services-proxy-logged")["status"],
        "not_observed"
    );
    assert_eq!(
        report["consistent_with"],
        serde_json::json!(["preset recommended"])
    );
    let minimal = report["policies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["policy"] == "preset minimal")
        .unwrap();
    assert_eq!(minimal["consistent"], false);
    // minimal logs no leases and no tokenreviews (no catch-all), and exec at Request only.
    let unlike_minimal = events
        .iter()
        .filter(|e| {
            let object = &e["objectRef"];
            object["resource"] == "leases"
                || object["resource"] == "tokenreviews"
                || object["subresource"] == "exec"
        })
        .count();
    assert_eq!(
        minimal["events_contradicting"], unlike_minimal,
        "{minimal:#}"
    );
    for evidence in report["evidence"].as_array().unwrap() {
        assert_eq!(evidence["found"], false, "{evidence:#}");
    }
    // Another cluster's scope is empty.
    let other = json_of(&[
        "coverage",
        "--observed",
        "--data-dir",
        &data,
        "--cluster",
        "elsewhere",
        "--format",
        "json",
    ]);
    assert_eq!(other["activity"]["events"], 0);
    assert_eq!(other["not_observed"], 10);
}

#[test]
fn the_observed_report_lists_every_event_that_breaks_the_guidance() {
    let dir = tempfile::tempdir().unwrap();
    import(dir.path(), "lab", "violations.jsonl");
    let events = fixture("violations.jsonl");
    let data = dir.path().display().to_string();
    let report = json_of(&[
        "coverage",
        "--observed",
        "--data-dir",
        &data,
        "--preset",
        "recommended",
        "--format",
        "json",
    ]);
    let ids_where = |pred: &dyn Fn(&Value) -> bool| -> BTreeSet<String> {
        events
            .iter()
            .filter(|e| pred(e))
            .map(|e| e["auditID"].as_str().unwrap().to_string())
            .collect()
    };
    let listed = |id: &str| -> BTreeSet<String> {
        requirement(&report, id)["violations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["audit_id"].as_str().unwrap().to_string())
            .collect()
    };
    let secret_bodies = ids_where(&|e| {
        e["objectRef"]["resource"] == "secrets" && e.get("responseObject").is_some()
    });
    assert_eq!(secret_bodies.len(), 3);
    let secrets = requirement(&report, "3.2.2-secrets-metadata-only");
    assert_eq!(secrets["status"], "fail");
    assert_eq!(secrets["violation_count"], 3);
    assert_eq!(listed("3.2.2-secrets-metadata-only"), secret_bodies);
    let configmap_bodies = ids_where(&|e| {
        e["objectRef"]["resource"] == "configmaps" && e.get("requestObject").is_some()
    });
    assert_eq!(listed("3.2.2-configmaps-metadata-only"), configmap_bodies);

    // The stream is not what the declared preset would log.
    let declared = report["policies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["declared"] == true)
        .unwrap();
    assert_eq!(declared["policy"], "preset recommended");
    assert_eq!(declared["consistent"], false);
    let reasons: Vec<&str> = declared["contradictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["reason"].as_str().unwrap())
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains("RequestReceived")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("logged at RequestResponse where the policy gives Metadata")),
        "{reasons:?}"
    );

    // Evidence for other CIS items, each with the audit IDs of the events that show it.
    let evidence = |id: &str| -> &Value {
        report["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == id)
            .unwrap()
    };
    let examples = |id: &str| -> BTreeSet<String> {
        evidence(id)["examples"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|x| x["audit_id"].as_str().map(str::to_string))
            .collect()
    };
    assert_eq!(
        examples("anonymous-requests-allowed"),
        ids_where(&|e| e["user"]["username"] == "system:anonymous")
    );
    assert_eq!(
        examples("profiling-enabled"),
        ids_where(&|e| e["requestURI"]
            .as_str()
            .unwrap()
            .starts_with("/debug/pprof"))
    );
    assert_eq!(
        examples("node-restriction-missing"),
        ids_where(&|e| e["objectRef"]["resource"] == "nodes")
    );
    assert_eq!(
        examples("privileged-containers-admitted"),
        ids_where(&|e| e["requestObject"]
            .to_string()
            .contains("\"privileged\":true"))
    );
    assert_eq!(evidence("event-rate-not-limited")["found"], true);
    assert_eq!(evidence("event-rate-not-limited")["total"], 1);

    // The text report says the same for people, and --fail-on-failure gates on it.
    let output = run(&[
        "coverage",
        "--observed",
        "--data-dir",
        &data,
        "--preset",
        "recommended",
        "--fail-on-failure",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("FAIL 3.2.2-secrets-metadata-only"), "{text}");
    assert!(text.contains("not the declared one"), "{text}");
    for id in &secret_bodies {
        assert!(text.contains(id.as_str()), "{id} in {text}");
    }
}

#[test]
fn an_active_stream_without_pod_changes_fails_the_requirement() {
    // 700 Event creations and nothing else: active, but no Secret, ConfigMap or Pod change.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events-only.jsonl");
    let lines: Vec<String> = fixture("violations.jsonl")
        .into_iter()
        .filter(|e| e["objectRef"]["resource"] == "events")
        .map(|e| e.to_string())
        .collect();
    let mut more = lines.clone();
    // Twice over, with new audit IDs, to pass the activity threshold.
    for (i, line) in lines.iter().enumerate() {
        let mut event: Value = serde_json::from_str(line).unwrap();
        event["auditID"] = format!("copy-{i}").into();
        more.push(event.to_string());
    }
    std::fs::write(&file, more.join("\n")).unwrap();
    let data = dir.path().join("data");
    let output = run(&[
        "import",
        "--data-dir",
        &data.display().to_string(),
        &file.display().to_string(),
    ]);
    assert!(output.status.success());
    let report = json_of(&[
        "coverage",
        "--observed",
        "--data-dir",
        &data.display().to_string(),
        "--format",
        "json",
    ]);
    assert_eq!(report["active"], true);
    let pods = requirement(&report, "3.2.2-pod-changes-logged");
    assert_eq!(pods["status"], "fail", "{pods:#}");
    assert_eq!(pods["events"], 0);
    assert_eq!(
        requirement(&report, "3.2.2-pods-exec-logged")["status"],
        "not_observed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_the_observed_report_and_exports_gauges_behind_its_tokens() {
    let dir = tempfile::tempdir().unwrap();
    import(dir.path(), "lab", "violations.jsonl");
    let tokens = dir.path().join("tokens.csv");
    std::fs::write(&tokens, "s3cr3t-token,lab\n").unwrap();
    // The gauges look at the last `--coverage-window` of events: wide enough to take in the
    // fixture's (2026-11-30), whatever the date the test runs.
    let fixture_day = chrono::DateTime::parse_from_rfc3339("2026-11-30T00:00:00Z").unwrap();
    let window = format!(
        "{}h",
        (chrono::Utc::now() - fixture_day.to_utc()).num_hours() + 48
    );
    let server = Server::start(
        dir.path(),
        &[
            "--tokens-file",
            &tokens.display().to_string(),
            "--coverage-every",
            "1s",
            "--coverage-window",
            &window,
        ],
    );
    let client = http();
    let denied = client.get(server.url("/v1/coverage")).send().await.unwrap();
    assert_eq!(denied.status(), 401);

    let response = client
        .get(server.url("/v1/coverage?cluster=lab&preset=recommended"))
        .bearer_auth("s3cr3t-token")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", server.log_text());
    let over_http: Value = response.json().await.unwrap();
    let data = dir.path().display().to_string();
    let from_cli = json_of(&[
        "coverage",
        "--observed",
        "--data-dir",
        &data,
        "--cluster",
        "lab",
        "--preset",
        "recommended",
        "--format",
        "json",
    ]);
    assert_eq!(over_http["requirements"], from_cli["requirements"]);
    assert_eq!(over_http["evidence"], from_cli["evidence"]);
    assert_eq!(over_http["policies"], from_cli["policies"]);

    let bad = client
        .get(server.url("/v1/coverage?since=yesterday"))
        .bearer_auth("s3cr3t-token")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("since"));

    let wanted = r#"auditlens_coverage_requirement{cluster="lab",requirement="3.2.2-secrets-metadata-only",status="fail"} 1"#;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let metrics = client
            .get(server.url("/metrics"))
            .bearer_auth("s3cr3t-token")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metrics.contains(wanted) {
            assert!(metrics.contains(
                r#"auditlens_coverage_violations{cluster="lab",requirement="3.2.2-secrets-metadata-only"} 3"#
            ));
            assert!(metrics.contains("auditlens_flushes_total 0"));
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{metrics}");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    server.terminate_cleanly();
}
