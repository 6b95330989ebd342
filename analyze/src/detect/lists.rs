//! Named lists (allow-lists, deny-lists) that rules read as one-column tables: the rule pack's
//! defaults from `queries/lists/<name>.txt`, replaced list by list from a TOML file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::StringArray;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;

/// The only column of a list's table.
pub const LIST_COLUMN: &str = "value";

/// A list file that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ListsError {
    #[error("cannot read lists from {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid lists file {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// Every named list, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lists(BTreeMap<String, Vec<String>>);

impl Lists {
    /// Reads `DIR/<name>.txt` files: one value per line, `#` starts a comment, blank lines
    /// ignored. A missing directory is no lists.
    pub fn load_dir(dir: &Path) -> Result<Lists, ListsError> {
        let read_error = |source| ListsError::Read {
            path: dir.to_path_buf(),
            source,
        };
        let mut lists = BTreeMap::new();
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Lists::default())
            }
            Err(error) => return Err(read_error(error)),
        };
        for entry in entries {
            let path = entry.map_err(read_error)?.path();
            let Some(name) = list_name(&path) else {
                continue;
            };
            let text = std::fs::read_to_string(&path).map_err(|source| ListsError::Read {
                path: path.clone(),
                source,
            })?;
            let values = text
                .lines()
                .map(|line| line.split_once('#').map_or(line, |(value, _)| value).trim())
                .filter(|value| !value.is_empty())
                .map(str::to_string)
                .collect();
            lists.insert(name, values);
        }
        Ok(Lists(lists))
    }

    /// Replaces lists with those of a TOML file of `name = ["value", …]` entries.
    pub fn override_from_toml(&mut self, path: &Path) -> Result<(), ListsError> {
        let text = std::fs::read_to_string(path).map_err(|source| ListsError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let invalid = |message: String| ListsError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let table: toml::Table = text.parse().map_err(|e| invalid(format!("{e}")))?;
        // `serve`'s configuration file holds its lists in a `[lists]` table.
        let table = match table.get("lists") {
            Some(toml::Value::Table(lists)) => lists.clone(),
            _ => table,
        };
        for (name, value) in table {
            if !valid_name(&name) {
                return Err(invalid(format!(
                    "list name `{name}`: use lower-case letters, digits and `_`"
                )));
            }
            let Some(items) = value.as_array() else {
                return Err(invalid(format!("`{name}`: expected a list of strings")));
            };
            let mut values = Vec::with_capacity(items.len());
            for item in items {
                let Some(text) = item.as_str() else {
                    return Err(invalid(format!(
                        "`{name}`: expected a list of strings, found `{item}`"
                    )));
                };
                values.push(text.to_string());
            }
            self.0.insert(name, values);
        }
        Ok(())
    }

    /// Adds or replaces one list.
    pub fn insert(&mut self, name: &str, values: Vec<String>) {
        self.0.insert(name.to_string(), values);
    }

    pub fn get(&self, name: &str) -> Option<&[String]> {
        self.0.get(name).map(Vec::as_slice)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.0
            .iter()
            .map(|(name, values)| (name.as_str(), values.as_slice()))
    }

    /// Each list as an in-memory table with one `value` column.
    pub fn tables(&self) -> datafusion::error::Result<Vec<(String, Arc<MemTable>)>> {
        let schema = list_schema();
        let mut tables = Vec::with_capacity(self.0.len());
        for (name, values) in &self.0 {
            let column = StringArray::from_iter_values(values.iter());
            let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(column)])?;
            let table = MemTable::try_new(schema.clone(), vec![vec![batch]])?;
            tables.push((name.clone(), Arc::new(table)));
        }
        Ok(tables)
    }
}

fn list_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new(
        LIST_COLUMN,
        DataType::Utf8,
        false,
    )]))
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn list_name(path: &Path) -> Option<String> {
    if path.extension()? != "txt" {
        return None;
    }
    let name = path.file_stem()?.to_str()?;
    valid_name(name).then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_then_overrides() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("trusted_users.txt"),
            "# people\nalice\n\nbob # on call\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("README.md"), "not a list").unwrap();
        let mut lists = Lists::load_dir(dir.path()).unwrap();
        assert_eq!(lists.get("trusted_users").unwrap(), ["alice", "bob"]);

        let config = dir.path().join("lists.toml");
        std::fs::write(&config, "trusted_users = [\"carol\"]\nmalicious_ips = []\n").unwrap();
        lists.override_from_toml(&config).unwrap();
        assert_eq!(lists.get("trusted_users").unwrap(), ["carol"]);
        assert_eq!(lists.get("malicious_ips").unwrap(), [] as [String; 0]);

        std::fs::write(&config, "trusted_users = [1]\n").unwrap();
        let error = lists.override_from_toml(&config).unwrap_err().to_string();
        assert!(
            error.contains("`trusted_users`: expected a list of strings"),
            "{error}"
        );
    }
}
