//! Named views rules share (`queries/views/<name>.sql`: one `SELECT`, leading `--` comments
//! allowed): the parts several rules would otherwise repeat, such as every container of every
//! pod spec written. In a rule's session a view reads the same `events` the rule reads.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::datasource::ViewTable;
use datafusion::prelude::SessionContext;

/// One view: its name in SQL and its query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    pub name: String,
    pub sql: String,
    pub path: PathBuf,
}

/// Reads `DIR/*.sql`, sorted by name; a missing directory is no views.
pub fn load_views(dir: &Path) -> Result<Vec<View>, std::io::Error> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    let mut views = Vec::new();
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_none_or(|ext| ext != "sql") {
            continue;
        }
        let Some(name) = path
            .file_stem()
            .and_then(|s| s.to_str())
            .map(str::to_string)
        else {
            continue;
        };
        let sql = std::fs::read_to_string(&path)?;
        views.push(View { name, sql, path });
    }
    views.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(views)
}

/// Registers `views` in `ctx`. A view may read another: views that do not plan yet are tried
/// again after the others, until a round makes no progress; then the first error is returned.
pub async fn register_views(ctx: &SessionContext, views: &[View]) -> Result<(), String> {
    let options = crate::readonly::read_only_options();
    let mut pending: Vec<&View> = views.iter().collect();
    while !pending.is_empty() {
        let mut failed = Vec::new();
        let mut first_error = None;
        for view in &pending {
            let planned = match ctx.sql_with_options(&view.sql, options).await {
                Ok(frame) => frame.into_unoptimized_plan(),
                Err(error) => {
                    first_error.get_or_insert_with(|| {
                        format!("view `{}` ({}): {error}", view.name, view.path.display())
                    });
                    failed.push(*view);
                    continue;
                }
            };
            let table = ViewTable::new(planned, Some(view.sql.clone()));
            ctx.register_table(view.name.as_str(), Arc::new(table))
                .map_err(|e| e.to_string())?;
        }
        if failed.len() == pending.len() {
            return Err(first_error.unwrap_or_default());
        }
        pending = failed;
    }
    Ok(())
}
