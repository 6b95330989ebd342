//! `docs/coverage.md` shows the report of every built-in preset; this test keeps those blocks
//! equal to what the code renders. With `AUDITLENS_BLESS=1` it rewrites them instead.
//!
//! Finding the document: this module is compiled both as part of the workspace crate (where
//! `file!()` is relative to the workspace root, an ancestor of `CARGO_MANIFEST_DIR`) and as the
//! root of a standalone crate elsewhere (where `file!()` is absolute). Either way we resolve the
//! source file's absolute path, then walk up from it to the first `docs/coverage.md`.

use std::path::{Path, PathBuf};

use super::presets::Preset;
use super::report::build_report;

const BLESS_VAR: &str = "AUDITLENS_BLESS";

fn source_file() -> PathBuf {
    let source = Path::new(file!());
    if source.is_absolute() {
        return source.to_path_buf();
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|dir| dir.join(source))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "cannot find {} above the manifest directory",
                source.display()
            )
        })
}

fn doc_path() -> PathBuf {
    let source = source_file();
    source
        .ancestors()
        .map(|dir| dir.join("docs").join("coverage.md"))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("no docs/coverage.md above {}", source.display()))
}

/// The text between `<!-- report:NAME -->` and `<!-- /report:NAME -->`, and its byte range.
fn block(doc: &str, name: &str) -> (usize, usize) {
    let open = format!("<!-- report:{name} -->\n");
    let close = format!("<!-- /report:{name} -->");
    let start = doc
        .find(&open)
        .unwrap_or_else(|| panic!("docs/coverage.md lacks `{open}`"))
        + open.len();
    let end = doc[start..]
        .find(&close)
        .unwrap_or_else(|| panic!("docs/coverage.md lacks `{close}`"))
        + start;
    (start, end)
}

fn rendered(preset: Preset) -> String {
    let report = build_report(&preset.policy(), &format!("preset `{preset}`"));
    report.to_markdown()
}

#[test]
fn doc_shows_the_current_report_of_every_preset() {
    let path = doc_path();
    let mut doc = std::fs::read_to_string(&path).expect("docs/coverage.md is readable");
    let bless = std::env::var_os(BLESS_VAR).is_some_and(|value| value == "1");
    let mut stale = Vec::new();
    for preset in Preset::ALL {
        let (start, end) = block(&doc, preset.name());
        let wanted = rendered(preset);
        if doc[start..end] != wanted {
            if bless {
                doc.replace_range(start..end, &wanted);
            } else {
                stale.push(preset.name());
            }
        }
    }
    if bless {
        std::fs::write(&path, doc).expect("docs/coverage.md is writable");
    }
    assert!(
        stale.is_empty(),
        "the reports of {stale:?} in {} are stale: rerun this test with {BLESS_VAR}=1",
        path.display()
    );
}
