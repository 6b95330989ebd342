//! `docs/schema.md`, rendered from the column catalogue.

use std::fmt::Write;

use crate::columns::{Column, EVENT_COLUMNS, PARTITION_COLUMNS, QUARANTINE_COLUMNS};

fn table(out: &mut String, columns: &[Column]) {
    out.push_str("| column | type | from | meaning |\n|---|---|---|---|\n");
    for column in columns {
        let null = if column.nullable { "" } else { ", not null" };
        // Writing into a String cannot fail.
        let _ = writeln!(
            out,
            "| `{}` | {}{} | {} | {} |",
            column.name,
            column.kind.sql_name(),
            null,
            column.source,
            column.description.replace('|', "\\|"),
        );
    }
}

/// The whole of `docs/schema.md`.
pub fn schema_markdown() -> String {
    let mut out = String::new();
    out.push_str(
        "# Tables\n\n\
         <!-- Generated from `schemas/src/columns.rs` by `auditlens schema`; a test fails when this \
         file and the code differ. -->\n\n\
         auditlens stores audit events as Parquet under\n\
         `DATA_DIR/events/cluster=NAME/date=YYYY-MM-DD/hour=HH/*.parquet` (zstd, each file sorted by \
         `stage_at`), and inputs it could not accept under `DATA_DIR/quarantine/` in the same \
         layout. Any engine that reads Hive-partitioned Parquet reads them as they are.\n\n\
         ## `events`\n\n\
         One row per audit event (one per stage of a request). Columns stored in each file:\n\n",
    );
    table(&mut out, EVENT_COLUMNS);
    out.push_str("\nColumns from the directory layout (partition columns):\n\n");
    table(&mut out, PARTITION_COLUMNS);
    out.push_str(
        "\nA row rebuilds the event exactly: the columns give the fields above, and `extra` is \
         merged over them (objects key by key). Duplicates are possible when kube-apiserver retries \
         a batch it already delivered; count with `DISTINCT audit_id, stage` where it matters.\n\n\
         ## `quarantine`\n\n\
         One row per input that was not accepted as an event, with the reason. Columns stored in \
         each file (partitioned by `cluster`, `date`, `hour` as above):\n\n",
    );
    table(&mut out, QUARANTINE_COLUMNS);
    out
}
