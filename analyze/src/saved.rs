//! Saved investigations: one read-only query per file in `queries/forensics/*.sql`, with a
//! comment header (title, description, named parameters with optional defaults) and `$name`
//! placeholders in the SQL. Values are bound as SQL string literals (quotes doubled), so a value
//! can never change the statement; the SQL casts them where it needs another type.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Why a saved investigation could not be loaded or bound.
#[derive(Debug, thiserror::Error)]
pub enum SavedError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Header {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("no saved investigation named `{name}` (auditlens query --list-saved lists them)")]
    Unknown { name: String },
    #[error("investigation `{name}`: {message}")]
    Binding { name: String, message: String },
}

/// One named parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Param {
    pub name: String,
    /// `None`: the parameter is required.
    pub default: Option<String>,
    pub description: String,
}

/// One saved investigation (as `GET /v1/saved` lists it: without its SQL and path).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedQuery {
    /// The file name without `.sql`.
    pub name: String,
    pub title: String,
    pub description: String,
    pub params: Vec<Param>,
    #[serde(skip)]
    pub sql: String,
    #[serde(skip)]
    pub path: PathBuf,
}

/// Every `*.sql` file directly in `dir`, sorted by name.
pub fn load_dir(dir: &Path) -> Result<Vec<SavedQuery>, SavedError> {
    let io = |source| SavedError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_file() && path.extension().is_some_and(|e| e == "sql"))
        .collect();
    paths.sort();
    paths.iter().map(|path| load_file(path)).collect()
}

/// The investigation named `name` in `dir`.
pub fn find(dir: &Path, name: &str) -> Result<SavedQuery, SavedError> {
    load_dir(dir)?
        .into_iter()
        .find(|query| query.name == name)
        .ok_or_else(|| SavedError::Unknown {
            name: name.to_string(),
        })
}

/// Parses one file.
pub fn load_file(path: &Path) -> Result<SavedQuery, SavedError> {
    let text = std::fs::read_to_string(path).map_err(|source| SavedError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &text)
}

/// A literal in a header (`'text'`, quotes doubled inside) and what follows it.
fn literal(text: &str) -> Option<(String, &str)> {
    let rest = text.strip_prefix('\'')?;
    let mut value = String::new();
    let mut chars = rest.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '\'' {
            if chars.peek().is_some_and(|(_, next)| *next == '\'') {
                chars.next();
                value.push('\'');
            } else {
                return Some((value, &rest[i + 1..]));
            }
        } else {
            value.push(c);
        }
    }
    None
}

fn parse(path: &Path, text: &str) -> Result<SavedQuery, SavedError> {
    let header_error = |line: usize, message: String| SavedError::Header {
        path: path.to_path_buf(),
        line,
        message,
    };
    let name = path
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (mut title, mut description, mut params) = (String::new(), String::new(), Vec::new());
    // Which field an indented continuation line extends.
    let mut last: Option<&str> = None;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let Some(comment) = line.trim_start().strip_prefix("--") else {
            break;
        };
        if let Some(continued) = comment.strip_prefix("   ") {
            let continued = continued.trim();
            match last {
                Some("description") => {
                    description.push(' ');
                    description.push_str(continued);
                }
                Some("param") => {
                    if let Some(param) = params.last_mut() {
                        let param: &mut Param = param;
                        param.description.push(' ');
                        param.description.push_str(continued);
                    }
                }
                _ => {}
            }
            continue;
        }
        let comment = comment.trim();
        let Some((key, value)) = comment.split_once(':') else {
            last = None;
            continue;
        };
        let value = value.trim();
        match key.trim() {
            "title" => {
                title = value.to_string();
                last = Some("title");
            }
            "description" => {
                description = value.to_string();
                last = Some("description");
            }
            "param" => {
                params.push(parse_param(value).map_err(|m| header_error(number, m))?);
                last = Some("param");
            }
            _ => last = None,
        }
    }
    if title.is_empty() {
        return Err(header_error(1, "the header has no `-- title:` line".into()));
    }
    let query = SavedQuery {
        name,
        title,
        description,
        params,
        sql: text.to_string(),
        path: path.to_path_buf(),
    };
    // Every placeholder must be declared.
    for placeholder in placeholders(&query.sql) {
        if !query.params.iter().any(|p| p.name == placeholder) {
            return Err(header_error(
                1,
                format!("the SQL uses ${placeholder}, which no `-- param:` line declares"),
            ));
        }
    }
    Ok(query)
}

/// `NAME (default 'V'): description` or `NAME: description`: what follows `param:` (the
/// description may itself hold colons).
fn parse_param(after: &str) -> Result<Param, String> {
    let end = after
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(after.len());
    let name = &after[..end];
    if name.is_empty() {
        return Err("a `-- param:` line needs a name: `-- param: NAME: description`".into());
    }
    let mut rest = after[end..].trim_start();
    let mut default = None;
    if let Some(open) = rest.strip_prefix("(default ") {
        let (value, after_value) = literal(open.trim_start()).ok_or_else(|| {
            format!(
                "parameter {name}: the default must be a quoted literal, e.g. (default '7 days')"
            )
        })?;
        rest = after_value
            .trim_start()
            .strip_prefix(')')
            .ok_or_else(|| format!("parameter {name}: `)` expected after the default"))?;
        default = Some(value);
    }
    let description = rest
        .trim_start()
        .strip_prefix(':')
        .ok_or_else(|| format!("parameter {name}: `:` and a description expected"))?
        .trim()
        .to_string();
    Ok(Param {
        name: name.to_string(),
        default,
        description,
    })
}

/// A piece of SQL text: plain text (string literals and comments included, untouched) or a
/// `$name` placeholder outside them.
enum Piece<'a> {
    Text(&'a str),
    Placeholder(&'a str),
}

/// Splits `sql` into [`Piece`]s.
fn scan(sql: &str) -> Vec<Piece<'_>> {
    let mut pieces = Vec::new();
    let bytes = sql.as_bytes();
    let (mut i, mut start, mut in_literal) = (0, 0, false);
    while i < bytes.len() {
        let c = bytes[i];
        if in_literal {
            if c == b'\'' {
                in_literal = false;
            }
            i += 1;
        } else if c == b'\'' {
            in_literal = true;
            i += 1;
        } else if c == b'-' && bytes.get(i + 1) == Some(&b'-') {
            // A comment runs to the end of the line.
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
        } else if c == b'$'
            && bytes
                .get(i + 1)
                .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
        {
            pieces.push(Piece::Text(&sql[start..i]));
            let mut end = i + 1;
            while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
                end += 1;
            }
            pieces.push(Piece::Placeholder(&sql[i + 1..end]));
            i = end;
            start = end;
        } else {
            i += 1;
        }
    }
    pieces.push(Piece::Text(&sql[start..]));
    pieces
}

fn placeholders(sql: &str) -> Vec<&str> {
    scan(sql)
        .into_iter()
        .filter_map(|piece| match piece {
            Piece::Placeholder(name) => Some(name),
            Piece::Text(_) => None,
        })
        .collect()
}

/// `value` as a SQL string literal.
fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// `sql` (ad-hoc, not saved) with every `$name` replaced by its value in `values` as a string
/// literal; a placeholder without a value, or a value without a placeholder, is an error.
pub fn bind_sql(sql: &str, values: &BTreeMap<String, String>) -> Result<String, SavedError> {
    let found = placeholders(sql);
    let params = found
        .iter()
        .map(|name| Param {
            name: name.to_string(),
            default: None,
            description: "a parameter of the query".into(),
        })
        .fold(Vec::<Param>::new(), |mut params, param| {
            if !params.iter().any(|p| p.name == param.name) {
                params.push(param);
            }
            params
        });
    SavedQuery {
        name: "(query)".into(),
        title: String::new(),
        description: String::new(),
        params,
        sql: sql.to_string(),
        path: PathBuf::new(),
    }
    .bind(values)
}

impl SavedQuery {
    /// The SQL with every `$name` replaced by its value (or default) as a string literal.
    /// Unknown and missing parameters are errors naming them.
    pub fn bind(&self, values: &BTreeMap<String, String>) -> Result<String, SavedError> {
        let binding = |message: String| SavedError::Binding {
            name: self.name.clone(),
            message,
        };
        for key in values.keys() {
            if !self.params.iter().any(|p| &p.name == key) {
                let known: Vec<&str> = self.params.iter().map(|p| p.name.as_str()).collect();
                return Err(binding(format!(
                    "unknown parameter `{key}` (it takes: {})",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                )));
            }
        }
        let mut bound = BTreeMap::new();
        for param in &self.params {
            let value = values
                .get(&param.name)
                .or(param.default.as_ref())
                .ok_or_else(|| {
                    binding(format!(
                        "parameter `{}` is required: {}",
                        param.name, param.description
                    ))
                })?;
            if value.contains('\0') {
                return Err(binding(format!(
                    "parameter `{}` holds a NUL byte",
                    param.name
                )));
            }
            bound.insert(param.name.as_str(), quote(value));
        }
        let mut sql = String::with_capacity(self.sql.len());
        for piece in scan(&self.sql) {
            match piece {
                Piece::Text(text) => sql.push_str(text),
                // Declared (checked at load), so bound.
                Piece::Placeholder(name) => {
                    sql.push_str(bound.get(name).map(String::as_str).unwrap_or("NULL"))
                }
            }
        }
        Ok(sql)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(text: &str) -> Result<SavedQuery, SavedError> {
        parse(Path::new("queries/forensics/example.sql"), text)
    }

    const EXAMPLE: &str = "-- title: Who read a secret
-- description: Every identity that read one secret,
--   with counts.
-- param: name: secret name, e.g. db-pass
-- param: namespace (default 'it''s'): its namespace
SELECT user_name FROM events
WHERE object_name = $name AND object_namespace = $namespace -- $name in a comment
  AND request_uri NOT LIKE '%$name%' AND json_value(request_object, '$.kind') = 'Secret'
";

    #[test]
    fn the_header_gives_title_description_and_parameters() {
        let query = query(EXAMPLE).unwrap();
        assert_eq!(query.name, "example");
        assert_eq!(query.title, "Who read a secret");
        assert_eq!(
            query.description,
            "Every identity that read one secret, with counts."
        );
        assert_eq!(
            query.params,
            vec![
                Param {
                    name: "name".into(),
                    default: None,
                    description: "secret name, e.g. db-pass".into()
                },
                Param {
                    name: "namespace".into(),
                    default: Some("it's".into()),
                    description: "its namespace".into()
                },
            ]
        );
    }

    #[test]
    fn values_are_bound_as_literals_outside_strings_and_comments() {
        let query = query(EXAMPLE).unwrap();
        let values = BTreeMap::from([("name".to_string(), "x' OR '1'='1".to_string())]);
        let sql = query.bind(&values).unwrap();
        assert!(sql.contains("object_name = 'x'' OR ''1''=''1'"), "{sql}");
        assert!(sql.contains("object_namespace = 'it''s'"), "{sql}");
        assert!(sql.contains("-- $name in a comment"), "{sql}");
        assert!(sql.contains("'%$name%'"), "{sql}");
        assert!(sql.contains("'$.kind'"), "{sql}");
    }

    #[test]
    fn missing_and_unknown_parameters_are_named() {
        let query = query(EXAMPLE).unwrap();
        let error = query.bind(&BTreeMap::new()).unwrap_err().to_string();
        assert!(error.contains("parameter `name` is required"), "{error}");
        let values = BTreeMap::from([
            ("name".to_string(), "a".to_string()),
            ("nmespace".to_string(), "b".to_string()),
        ]);
        let error = query.bind(&values).unwrap_err().to_string();
        assert!(error.contains("unknown parameter `nmespace`"), "{error}");
        assert!(error.contains("name, namespace"), "{error}");
    }

    #[test]
    fn an_undeclared_placeholder_or_a_bad_header_names_the_file_and_line() {
        let error = query("-- title: T\nSELECT $who").unwrap_err().to_string();
        assert!(error.contains("example.sql:1"), "{error}");
        assert!(error.contains("$who"), "{error}");
        let error = query("-- title: T\n-- param: x (default 7): no quotes\nSELECT $x")
            .unwrap_err()
            .to_string();
        assert!(error.contains("example.sql:2"), "{error}");
        let error = query("SELECT 1").unwrap_err().to_string();
        assert!(error.contains("title"), "{error}");
    }

    #[test]
    fn the_shipped_investigations_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../queries/forensics");
        let all = load_dir(&dir).unwrap();
        assert!(all.len() >= 15, "{} investigations", all.len());
        for query in &all {
            assert!(
                !query.description.is_empty(),
                "{} has no description",
                query.name
            );
        }
    }
}
