//! Compaction and retention of the store: small files of an hour merged into one without
//! losing or duplicating a row, a crash at either step of a compaction (the process aborted)
//! recovered the same way, and old days deleted per cluster.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{event_list, query, run, text, BIN};

/// Imports `n` events with audit IDs `PREFIX-…` (the same hour of `date`) into `cluster`.
fn import(data: &Path, cluster: &str, prefix: &str, n: usize, date: &str) {
    let file = data.with_extension(format!("{prefix}.json"));
    let body = event_list(prefix, n).replace("2026-11-30T", &format!("{date}T"));
    std::fs::write(&file, body).unwrap();
    let output = run(&[
        "import",
        "--data-dir",
        &data.display().to_string(),
        "--cluster",
        cluster,
        &file.display().to_string(),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
}

fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "parquet"))
        .collect();
    files.sort();
    files
}

fn audit_ids(data: &Path) -> Vec<String> {
    query(data, "SELECT audit_id FROM events ORDER BY audit_id")
        .iter()
        .map(|row| row["audit_id"].as_str().unwrap().to_string())
        .collect()
}

/// A store with four files of 30 events in `events/cluster=prod/date=2026-11-30/hour=10`.
fn four_small_files() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for prefix in ["a", "b", "c", "d"] {
        import(&data, "prod", prefix, 30, "2026-11-30");
    }
    let hour = data.join("events/cluster=prod/date=2026-11-30/hour=10");
    assert_eq!(parquet_files(&hour).len(), 4);
    (dir, data, hour)
}

fn compact(data: &Path, crash_at: Option<&str>) -> std::process::Output {
    let mut command = Command::new(BIN);
    command
        .args(["compact", "--min-age", "0s", "--data-dir"])
        .arg(data);
    if let Some(step) = crash_at {
        command.env("AUDITLENS_COMPACTION_CRASH", step);
    }
    command.output().unwrap()
}

#[test]
fn the_small_files_of_an_hour_become_one_with_every_row_once() {
    let (_dir, data, hour) = four_small_files();
    let before = audit_ids(&data);
    assert_eq!(before.len(), 120);
    let output = compact(&data, None);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["files_in"], 4);
    assert_eq!(summary["files_out"], 1);
    assert_eq!(summary["rows"], 120);
    let files = parquet_files(&hour);
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(audit_ids(&data), before);
    // Sorted by stage_at, as every file of the store.
    let times = query(&data, "SELECT stage_at FROM events");
    let times: Vec<String> = times.iter().map(|r| r["stage_at"].to_string()).collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted);
    // Files younger than the minimum age are left alone.
    import(&data, "prod", "e", 5, "2026-11-30");
    let young = run(&["compact", "--data-dir", &data.display().to_string()]);
    assert!(young.status.success());
    assert_eq!(parquet_files(&hour).len(), 2);
}

#[test]
fn a_crash_in_the_middle_of_a_compaction_loses_and_duplicates_nothing() {
    for step in ["after-manifest", "after-output"] {
        let (_dir, data, hour) = four_small_files();
        let before = audit_ids(&data);
        let crashed = compact(&data, Some(step));
        assert!(
            !crashed.status.success(),
            "{step}: the process should have stopped"
        );
        assert!(data.join("wal/compaction-pending").exists(), "{step}");
        // The next run finishes (or undoes) the interrupted one, then compacts.
        let output = compact(&data, None);
        assert!(output.status.success(), "{step}: {}", text(&output.stderr));
        assert!(!data.join("wal/compaction-pending").exists(), "{step}");
        assert_eq!(parquet_files(&hour).len(), 1, "{step}");
        assert_eq!(audit_ids(&data), before, "{step}");
        let leftovers: Vec<_> = std::fs::read_dir(&hour)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{step}: {leftovers:?}");
    }
}

#[test]
fn retention_deletes_days_older_than_each_clusters_limit() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let today = chrono::Utc::now()
        .date_naive()
        .format("%Y-%m-%d")
        .to_string();
    import(&data, "prod", "old", 3, "2020-01-01");
    import(&data, "prod", "new", 2, &today);
    import(&data, "audit", "kept", 4, "2020-01-01");
    import(&data, "lab", "lab", 1, "2026-01-01");
    let output = run(&[
        "retention",
        "--data-dir",
        &data.display().to_string(),
        "--retention-days",
        "30",
        "--retention",
        "audit=0",
        "--retention",
        "lab=100000",
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        summary["deleted"],
        serde_json::json!(["events/cluster=prod/date=2020-01-01"])
    );
    let counts = query(
        &data,
        "SELECT cluster, count(*) AS n FROM events GROUP BY cluster ORDER BY cluster",
    );
    assert_eq!(
        counts,
        [
            serde_json::json!({"cluster": "audit", "n": 4}),
            serde_json::json!({"cluster": "lab", "n": 1}),
            serde_json::json!({"cluster": "prod", "n": 2}),
        ]
    );
    let refused = run(&[
        "retention",
        "--data-dir",
        &data.display().to_string(),
        "--retention",
        "prod",
    ]);
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("CLUSTER=DAYS"),
        "{}",
        text(&refused.stderr)
    );
}
