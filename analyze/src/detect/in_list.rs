//! SQL functions over the named [`Lists`], as plain functions of the row: no join, and the
//! engine can apply them before running a rule (see [`super::prefilter`]).
//!
//! - `in_list(value, 'list')`: whether the value is in the list; the same answer as
//!   `value IN (SELECT value FROM list)`.
//! - `like_any(value, 'list')`: whether the value matches one of the list's entries as SQL
//!   `LIKE` patterns; `EXISTS (SELECT 1 FROM list WHERE value LIKE list.value)`.
//! - `starts_with_any(value, 'list')`: whether the value starts with one of the entries, taken
//!   as written; `EXISTS (SELECT 1 FROM list WHERE starts_with(value, list.value))`.
//!
//! The pattern functions look at each distinct value of a batch once: user agents and names
//! repeat a great deal, and every pattern is tried only on the distinct values.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use std::collections::HashMap;

use datafusion::arrow::array::{Array, BooleanArray, Scalar, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::lists::Lists;

/// The function's name in SQL.
pub const IN_LIST: &str = "in_list";
/// `like_any`'s name in SQL.
pub const LIKE_ANY: &str = "like_any";
/// `starts_with_any`'s name in SQL.
pub const STARTS_WITH_ANY: &str = "starts_with_any";

/// How a value is compared with a list's entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Match {
    Equal,
    Like,
    Prefix,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct InList {
    name: &'static str,
    matching: Match,
    lists: Arc<BTreeMap<String, BTreeSet<String>>>,
    signature: Signature,
}

fn list_function(lists: &Lists, name: &'static str, matching: Match) -> ScalarUDF {
    let lists = lists
        .iter()
        .map(|(name, values)| (name.to_string(), values.iter().cloned().collect()))
        .collect();
    ScalarUDF::from(InList {
        name,
        matching,
        lists: Arc::new(lists),
        signature: Signature::string(2, Volatility::Immutable),
    })
}

/// `in_list` over `lists`.
pub fn in_list(lists: &Lists) -> ScalarUDF {
    list_function(lists, IN_LIST, Match::Equal)
}

/// Every function of this module over `lists`.
pub fn functions(lists: &Lists) -> Vec<ScalarUDF> {
    vec![
        in_list(lists),
        list_function(lists, LIKE_ANY, Match::Like),
        list_function(lists, STARTS_WITH_ANY, Match::Prefix),
    ]
}

/// For each value of `values`, whether one of `patterns` matches it (NULL for NULL), looking
/// at each distinct value once (and trying each `LIKE` pattern once on all of them).
fn matches_any(
    values: &StringArray,
    patterns: &BTreeSet<String>,
    matching: Match,
) -> Result<BooleanArray> {
    let mut slots: HashMap<&str, usize> = HashMap::new();
    let mut distinct: Vec<&str> = Vec::new();
    let rows: Vec<Option<usize>> = values
        .iter()
        .map(|value| {
            value.map(|value| {
                *slots.entry(value).or_insert_with(|| {
                    distinct.push(value);
                    distinct.len() - 1
                })
            })
        })
        .collect();
    let mut found = vec![false; distinct.len()];
    match matching {
        Match::Equal => {
            for (slot, value) in distinct.iter().enumerate() {
                found[slot] = patterns.contains(*value);
            }
        }
        Match::Prefix => {
            for (slot, value) in distinct.iter().enumerate() {
                found[slot] = patterns.iter().any(|p| value.starts_with(p.as_str()));
            }
        }
        Match::Like => {
            let array = StringArray::from(distinct.clone());
            for pattern in patterns {
                let pattern = Scalar::new(StringArray::from(vec![pattern.as_str()]));
                let hits = datafusion::arrow::compute::kernels::comparison::like(&array, &pattern)?;
                for (slot, hit) in hits.iter().enumerate() {
                    found[slot] |= hit == Some(true);
                }
            }
        }
    }
    Ok(rows
        .into_iter()
        .map(|slot| slot.map(|slot| found[slot]))
        .collect())
}

impl InList {
    fn list(&self, name: &ScalarValue) -> Result<&BTreeSet<String>> {
        let name = match name {
            ScalarValue::Utf8(Some(name))
            | ScalarValue::LargeUtf8(Some(name))
            | ScalarValue::Utf8View(Some(name)) => name,
            _ => {
                return plan_err!(
                    "{}: the second argument must name a list, as a string",
                    self.name
                )
            }
        };
        match self.lists.get(name) {
            Some(list) => Ok(list),
            None => plan_err!(
                "{}: no list named `{name}` (lists: {})",
                self.name,
                self.lists.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        }
    }
}

impl ScalarUDFImpl for InList {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let ColumnarValue::Scalar(name) = &args.args[1] else {
            return exec_err!(
                "{}: the second argument must be a constant list name",
                self.name
            );
        };
        let list = self.list(name)?;
        let values = args.args[0].to_array(args.number_rows)?;
        let values = cast(&values, &DataType::Utf8)?;
        let Some(values) = values.as_any().downcast_ref::<StringArray>() else {
            return exec_err!("{}: the first argument must be a string", self.name);
        };
        // NULL stays NULL, as with `IN (SELECT …)`.
        let result = matches_any(values, list, self.matching)?;
        Ok(ColumnarValue::Array(Arc::new(result)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::prelude::SessionContext;

    #[tokio::test]
    async fn answers_like_an_in_subquery() {
        let mut lists = Lists::default();
        lists.insert("admins", vec!["alice".into(), "bob".into()]);
        let ctx = SessionContext::new();
        ctx.register_udf(in_list(&lists));
        let sql = "SELECT name, in_list(name, 'admins') AS listed, NOT in_list(name, 'admins') AS unlisted \
                   FROM (VALUES ('alice'), ('carol'), (NULL)) AS t(name) ORDER BY name";
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let text = pretty_format_batches(&batches).unwrap().to_string();
        assert!(text.contains("| alice | true   | false    |"), "{text}");
        assert!(text.contains("| carol | false  | true     |"), "{text}");
        assert!(text.contains("|       |        |          |"), "{text}");
        let unknown = ctx
            .sql("SELECT in_list('x', 'nope')")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap_err()
            .to_string();
        assert!(unknown.contains("no list named `nope`"), "{unknown}");
    }

    #[tokio::test]
    async fn patterns_answer_like_an_exists_subquery() {
        let mut lists = Lists::default();
        lists.insert("agents", vec!["%kube-hunter%".into(), "curl/_.%".into()]);
        lists.insert("prefixes", vec!["kubectl/".into(), "50%".into()]);
        let ctx = SessionContext::new();
        for function in functions(&lists) {
            ctx.register_udf(function);
        }
        let sql = "SELECT ua, like_any(ua, 'agents') AS liked, starts_with_any(ua, 'prefixes') AS prefixed \
                   FROM (VALUES ('x kube-hunter y'), ('curl/8.1'), ('curl/81'), ('kubectl/v1'), \
                   ('50% off'), ('500'), ('kubectl/v1'), (NULL)) AS t(ua) ORDER BY ua";
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let text = pretty_format_batches(&batches).unwrap().to_string();
        for row in [
            "| 50% off         | false | true     |",
            "| 500             | false | false    |",
            "| curl/8.1        | true  | false    |",
            "| curl/81         | false | false    |",
            "| kubectl/v1      | false | true     |",
            "| x kube-hunter y | true  | false    |",
            "|                 |       |          |",
        ] {
            assert!(text.contains(row), "{row}\n{text}");
        }
    }
}
