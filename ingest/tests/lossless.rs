//! Every fixture event that is accepted is stored losslessly: rebuilding it from its Parquet row
//! gives back the JSON value it arrived as. Every one that is not is in the quarantine, raw,
//! with a reason.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use auditlens_ingest::batcher::BatchLimits;
use auditlens_ingest::import::Importer;
use auditlens_ingest::stats::Stats;
use auditlens_ingest::store::FileOptions;
use datafusion::arrow::array::{Array, AsArray};
use schemas::rebuild::rebuild_event;
use serde_json::Value;

fn jsonl_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "jsonl" || e == "log"))
        .collect();
    files.sort();
    files
}

/// Canonical text of a JSON value (object keys sorted), counted.
fn multiset(values: impl IntoIterator<Item = Value>) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for value in values {
        *counts.entry(value.to_string()).or_default() += 1;
    }
    counts
}

fn check_lossless(inputs: &[PathBuf]) -> (usize, usize) {
    let data = tempfile::tempdir().unwrap();
    let stats = Arc::new(Stats::default());
    let options = FileOptions {
        row_group_rows: 7,
        ..FileOptions::default()
    };
    let mut importer = Importer::new(
        data.path(),
        "fixtures",
        BatchLimits::default(),
        options,
        stats,
    )
    .unwrap();
    let mut lines = Vec::new();
    for path in inputs {
        importer.import_path(path, Default::default()).unwrap();
        let text = fs::read_to_string(path).unwrap();
        lines.extend(
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_string),
        );
    }
    importer.finish().unwrap();

    let quarantine = common::read_table(&data.path().join("quarantine"));
    let mut quarantined_raw = Vec::new();
    for batch in &quarantine {
        let raw = batch.column_by_name("raw").unwrap().as_string::<i32>();
        let reason = batch.column_by_name("reason").unwrap().as_string::<i32>();
        for row in 0..batch.num_rows() {
            assert!(!reason.value(row).is_empty() && reason.is_valid(row));
            quarantined_raw.push(raw.value(row).to_string());
        }
    }
    let mut rebuilt = Vec::new();
    for batch in common::read_table(&data.path().join("events")) {
        for row in 0..batch.num_rows() {
            rebuilt.push(rebuild_event(&batch, row).unwrap());
        }
    }
    let accepted: Vec<Value> = lines
        .iter()
        .filter(|line| !quarantined_raw.contains(line))
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(
        accepted.len() + quarantined_raw.len(),
        lines.len(),
        "every input is stored or quarantined"
    );
    assert_eq!(
        multiset(rebuilt.clone()),
        multiset(accepted),
        "rebuilt events differ from the inputs"
    );
    (rebuilt.len(), quarantined_raw.len())
}

fn shared_fixtures(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures")
        .join(name)
}

#[test]
fn falco_fixtures_are_stored_losslessly() {
    let (stored, quarantined) = check_lossless(&jsonl_files(&shared_fixtures("falco")));
    assert!(stored > 0, "some Falco events are valid");
    println!("falco: {stored} stored, {quarantined} quarantined");
}

#[test]
fn panther_fixtures_are_stored_losslessly() {
    let (stored, quarantined) = check_lossless(&jsonl_files(&shared_fixtures("panther")));
    assert!(stored > 0, "some Panther events are valid");
    println!("panther: {stored} stored, {quarantined} quarantined");
}

#[test]
fn project_fixtures_are_stored_losslessly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let (stored, quarantined) = check_lossless(&jsonl_files(&dir));
    assert!(stored > 0);
    assert_eq!(quarantined, 0, "the project's own fixtures are all valid");
}
