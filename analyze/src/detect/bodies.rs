//! The parts of request and response bodies a window keeps (`bodies:` in a rule's header).
//!
//! A window or sequence rule that reads a few members of each body (a pod's service account,
//! a binding's subjects) need not hold whole bodies for its window's length: each body it keeps
//! is cut down to the members on the paths it names, everything under a path's last member
//! kept as written. Any JSON path that starts with a named path finds in the cut body what it
//! found in the whole one; a body not holding a path simply lacks it there too.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;

use std::ops::Range;

use crate::json_scan::{members, Malformed, Scan};

/// The body columns a rule may cut.
pub const BODY_COLUMNS: [&str; 2] = ["request_object", "response_object"];

/// Each body column a rule cuts, with the member paths it keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bodies {
    /// (column name, paths); a path is its members' names, in order.
    pub columns: Vec<(String, Vec<Vec<String>>)>,
}

impl Bodies {
    /// Parses `request_object($.metadata.name, $.spec), response_object($.metadata.name)`.
    pub fn parse(text: &str) -> Result<Bodies, String> {
        let mut columns: Vec<(String, Vec<Vec<String>>)> = Vec::new();
        let mut rest = text.trim();
        while !rest.is_empty() {
            let open = rest
                .find('(')
                .ok_or_else(|| format!("`{rest}`: expected `column($.path, …)`"))?;
            let column = rest[..open].trim();
            if !BODY_COLUMNS.contains(&column) {
                return Err(format!(
                    "`{column}` is not a body column (expected {})",
                    BODY_COLUMNS.join(" or ")
                ));
            }
            if columns.iter().any(|(name, _)| name == column) {
                return Err(format!("`{column}` is named twice"));
            }
            let close = rest[open..]
                .find(')')
                .map(|at| open + at)
                .ok_or_else(|| format!("`{column}(`: missing `)`"))?;
            let mut paths: Vec<Vec<String>> = Vec::new();
            for path in rest[open + 1..close].split(',') {
                paths.push(parse_path(path.trim())?);
            }
            // A path under another one is kept with it.
            let mut kept: Vec<Vec<String>> = Vec::new();
            for path in &paths {
                if !paths
                    .iter()
                    .any(|other| other != path && path.starts_with(other))
                    && !kept.contains(path)
                {
                    kept.push(path.clone());
                }
            }
            columns.push((column.to_string(), kept));
            rest = rest[close + 1..].trim_start();
            rest = match rest.strip_prefix(',') {
                Some(more) if !more.trim().is_empty() => more.trim_start(),
                Some(_) => return Err("nothing after the last `,`".into()),
                None if rest.is_empty() => rest,
                None => return Err(format!("`{rest}`: expected `,` before it")),
            };
        }
        if columns.is_empty() {
            return Err("expected `column($.path, …)`".into());
        }
        Ok(Bodies { columns })
    }

    /// The batch with each named body column cut to its paths (other columns as they are).
    /// `memo` remembers the last column cut, so a column shared by two batches is cut once.
    pub fn cut(&self, batch: &RecordBatch, memo: &mut Memo) -> RecordBatch {
        let mut columns = batch.columns().to_vec();
        let mut changed = false;
        for (name, paths) in &self.columns {
            let Ok(index) = batch.schema().index_of(name) else {
                continue;
            };
            let column = &columns[index];
            if column.data_type() != &DataType::Utf8 || column.null_count() == column.len() {
                continue;
            }
            let cut = match memo.get(index, column) {
                Some(cut) => cut,
                None => {
                    let cut = cut_column(column, paths);
                    memo.put(index, column, &cut);
                    cut
                }
            };
            columns[index] = cut;
            changed = true;
        }
        if !changed {
            return batch.clone();
        }
        RecordBatch::try_new(batch.schema(), columns).unwrap_or_else(|_| batch.clone())
    }
}

/// The last columns cut, by column index: the input and what it became.
#[derive(Default)]
pub struct Memo {
    last: Vec<(usize, ArrayRef, ArrayRef)>,
}

impl Memo {
    fn get(&self, index: usize, column: &ArrayRef) -> Option<ArrayRef> {
        self.last
            .iter()
            .find(|(at, input, _)| *at == index && Arc::ptr_eq(input, column))
            .map(|(_, _, cut)| cut.clone())
    }

    fn put(&mut self, index: usize, column: &ArrayRef, cut: &ArrayRef) {
        self.last.retain(|(at, _, _)| *at != index);
        self.last.push((index, column.clone(), cut.clone()));
    }
}

/// `$.a.b["c/d"]`: members only, each `.name` (without `.`, brackets, quotes, `*`, `$` or
/// spaces) or `["name"]` (any name without a quote; single quotes too).
fn parse_path(path: &str) -> Result<Vec<String>, String> {
    let malformed = || {
        format!(
            "`{path}`: a path is `$` and members, `.name` or `[\"name\"]` (`$.spec.containers`)"
        )
    };
    let mut rest = path.strip_prefix('$').ok_or_else(malformed)?;
    let mut members = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            let name = &after[..end];
            let plain = !name.is_empty()
                && !name
                    .chars()
                    .any(|c| c.is_whitespace() || matches!(c, ']' | '\'' | '"' | '*' | '$'));
            if !plain {
                return Err(format!("`{path}`: `{name}` is not a plain member name"));
            }
            members.push(name.to_string());
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let quote = after.chars().next().filter(|c| matches!(c, '"' | '\''));
            let quote = quote.ok_or_else(|| {
                format!("`{path}`: `[{after}`: only members (`[\"name\"]`) are kept")
            })?;
            let end = after[1..].find(quote).ok_or_else(malformed)? + 1;
            members.push(after[1..end].to_string());
            rest = after[end + 1..].strip_prefix(']').ok_or_else(malformed)?;
        } else {
            return Err(malformed());
        }
    }
    if members.is_empty() {
        return Err(format!(
            "`{path}`: name at least one member (`$` is the whole body)"
        ));
    }
    Ok(members)
}

fn cut_column(column: &ArrayRef, paths: &[Vec<String>]) -> ArrayRef {
    let texts = column.as_string::<i32>();
    let tree = Tree::of(paths);
    let mut builder = StringBuilder::with_capacity(texts.len(), 64 * texts.len());
    let mut out = String::new();
    for text in texts.iter() {
        match text {
            None => builder.append_null(),
            Some(text) => match cut_text(text, &tree, &mut out) {
                true => builder.append_value(&out),
                false => builder.append_value(text),
            },
        }
    }
    Arc::new(builder.finish())
}

/// The paths as a tree of member names; a member without children is kept whole.
#[derive(Debug, Default)]
struct Tree {
    children: Vec<(String, Tree)>,
}

impl Tree {
    fn of(paths: &[Vec<String>]) -> Tree {
        let mut tree = Tree::default();
        for path in paths {
            let mut node = &mut tree;
            for name in path {
                let at = match node.children.iter().position(|(n, _)| n == name) {
                    Some(at) => at,
                    None => {
                        node.children.push((name.clone(), Tree::default()));
                        node.children.len() - 1
                    }
                };
                node = &mut node.children[at].1;
            }
        }
        tree
    }
}

/// Writes into `out` the object holding only the paths of `tree` in `text`, in one pass over
/// it; `false` when `text` is kept whole: not an object, not JSON where it was read, or with
/// a member on a path named twice in its object (the JSON functions differ on which counts).
fn cut_text(text: &str, tree: &Tree, out: &mut String) -> bool {
    let at = text.len() - text.trim_start().len();
    out.clear();
    text.as_bytes().get(at) == Some(&b'{') && write_cut(text, at, tree, out) == Ok(true)
}

/// Writes the object at `at` cut to `tree`; `Ok(false)` when a member on a path repeats.
fn write_cut(text: &str, at: usize, tree: &Tree, out: &mut String) -> Scan<bool> {
    let mut found: Vec<Option<Range<usize>>> = vec![None; tree.children.len()];
    let mut repeated = false;
    members(text, at, |name, value| {
        if let Some(index) = tree.children.iter().position(|(n, _)| *n == name) {
            repeated |= found[index].replace(value).is_some();
        }
        Ok(true)
    })?;
    if repeated {
        return Ok(false);
    }
    out.push('{');
    let mut first = true;
    for ((name, below), value) in tree.children.iter().zip(found) {
        let Some(value) = value else {
            continue;
        };
        let whole = below.children.is_empty();
        // Below a member the path goes on through objects only; a value of another kind
        // holds nothing the path could find.
        if !whole && text.as_bytes().get(value.start) != Some(&b'{') {
            continue;
        }
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(&serde_json::to_string(name).map_err(|_| Malformed)?);
        out.push(':');
        if whole {
            out.push_str(&text[value]);
        } else if !write_cut(text, value.start, below, out)? {
            return Ok(false);
        }
    }
    out.push('}');
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::StringArray;
    use datafusion::arrow::datatypes::{Field, Schema};

    fn paths(list: &[&str]) -> Vec<Vec<String>> {
        list.iter().map(|path| parse_path(path).unwrap()).collect()
    }

    fn cut(text: &str, list: &[&str]) -> Option<String> {
        let mut out = String::new();
        cut_text(text, &Tree::of(&paths(list)), &mut out).then_some(out)
    }

    #[test]
    fn a_body_keeps_the_members_on_its_paths_as_written() {
        let pod = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","labels":{"a":"b"}},
            "spec":{"serviceAccountName":"deployer","containers":[{"name":"c","image":"nginx"}],
            "automountServiceAccountToken": false}}"#;
        let kept = cut(
            pod,
            &[
                "$.metadata.name",
                "$.spec.serviceAccountName",
                "$.spec.automountServiceAccountToken",
                "$.spec.containers",
                "$.status.phase",
            ],
        )
        .unwrap();
        assert_eq!(
            kept,
            r#"{"metadata":{"name":"web"},"spec":{"serviceAccountName":"deployer","automountServiceAccountToken":false,"containers":[{"name":"c","image":"nginx"}]}}"#
        );
        let value: serde_json::Value = serde_json::from_str(&kept).unwrap();
        assert_eq!(value["spec"]["containers"][0]["image"], "nginx");
    }

    #[test]
    fn bodies_that_cannot_be_cut_safely_stay_whole() {
        // Not an object, a repeated member name, text that is not JSON where a path is read.
        assert_eq!(cut(r#"["a"]"#, &["$.a"]), None);
        assert_eq!(cut(r#"{"a":1,"a":2}"#, &["$.a"]), None);
        assert_eq!(cut(r#"{"a":{"b":"#, &["$.a.b"]), None);
        // A body without any of the paths is an empty object, not NULL.
        assert_eq!(cut(r#"{"kind":"Pod"}"#, &["$.spec"]).as_deref(), Some("{}"));
        // Members named in brackets may hold dots and slashes.
        assert_eq!(
            cut(
                r#"{"metadata":{"annotations":{"a.b/c":"x","d":"y"}}}"#,
                &[r#"$.metadata.annotations["a.b/c"]"#]
            )
            .as_deref(),
            Some(r#"{"metadata":{"annotations":{"a.b/c":"x"}}}"#)
        );
    }

    #[test]
    fn the_header_names_body_columns_and_plain_paths() {
        let bodies =
            Bodies::parse("request_object($.spec, $.spec.containers, $.metadata.name), response_object($['metadata'][\"name\"])")
                .unwrap();
        assert_eq!(
            bodies.columns,
            vec![
                (
                    "request_object".to_string(),
                    paths(&["$.spec", "$.metadata.name"])
                ),
                ("response_object".to_string(), paths(&["$.metadata.name"])),
            ]
        );
        for (text, error) in [
            ("user_agent($.a)", "`user_agent` is not a body column"),
            ("request_object($.a[0])", "only members"),
            ("request_object($.a.*)", "`*` is not a plain member name"),
            ("request_object($)", "at least one member"),
            ("request_object(spec)", "a path is `$` and members"),
            ("request_object($.a", "missing `)`"),
            ("request_object($.a) response_object($.b)", "expected `,`"),
            ("request_object($.a), request_object($.b)", "named twice"),
        ] {
            let message = Bodies::parse(text).unwrap_err();
            assert!(message.contains(error), "{text}: {message}");
        }
    }

    #[test]
    fn a_column_shared_by_two_batches_is_cut_once() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("request_object", DataType::Utf8, true),
            Field::new("verb", DataType::Utf8, true),
        ]));
        let body: ArrayRef = Arc::new(StringArray::from(vec![
            Some(r#"{"spec":{"x":1},"status":{}}"#),
            None,
        ]));
        let batch = |verb: &str| {
            RecordBatch::try_new(
                schema.clone(),
                vec![body.clone(), Arc::new(StringArray::from(vec![verb, verb]))],
            )
            .unwrap()
        };
        let bodies = Bodies::parse("request_object($.spec)").unwrap();
        let mut memo = Memo::default();
        let (first, second) = (
            bodies.cut(&batch("create"), &mut memo),
            bodies.cut(&batch("update"), &mut memo),
        );
        let texts = first.column(0).as_string::<i32>();
        assert_eq!(texts.value(0), r#"{"spec":{"x":1}}"#);
        assert!(texts.is_null(1));
        assert!(Arc::ptr_eq(first.column(0), second.column(0)));
        assert_eq!(second.column(1).as_string::<i32>().value(0), "update");
    }
}
