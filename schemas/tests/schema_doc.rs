//! `docs/schema.md` is generated from the column catalogue; this fails when they drift.
//! Regenerate with `cargo run -- schema > docs/schema.md`.

#[test]
fn schema_doc_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/schema.md");
    let on_disk = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        on_disk == auditlens_schemas::doc::schema_markdown(),
        "docs/schema.md is out of date: run `cargo run -- schema > docs/schema.md`"
    );
}

/// `schemas/alert.schema.json` is generated from the `Alert` type; this fails when they drift.
#[test]
fn alert_schema_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/alert.schema.json");
    let on_disk = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        on_disk == auditlens_schemas::alert::alert_json_schema(),
        "schemas/alert.schema.json is out of date: run `cargo run -- schema --alert > schemas/alert.schema.json`"
    );
}
