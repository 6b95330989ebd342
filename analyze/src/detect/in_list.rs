//! `in_list(value, 'list')`: whether a value is in one of the named [`Lists`]. The same answer
//! as `value IN (SELECT value FROM list)`, as a plain function of the row: no join, and the
//! engine can apply it before running a rule (see [`super::prefilter`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use datafusion::arrow::array::{Array, BooleanArray, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::lists::Lists;

/// The function's name in SQL.
pub const IN_LIST: &str = "in_list";

#[derive(Debug, PartialEq, Eq, Hash)]
struct InList {
    lists: Arc<BTreeMap<String, BTreeSet<String>>>,
    signature: Signature,
}

/// `in_list` over `lists`.
pub fn in_list(lists: &Lists) -> ScalarUDF {
    let lists = lists
        .iter()
        .map(|(name, values)| (name.to_string(), values.iter().cloned().collect()))
        .collect();
    ScalarUDF::from(InList {
        lists: Arc::new(lists),
        signature: Signature::string(2, Volatility::Immutable),
    })
}

impl InList {
    fn list(&self, name: &ScalarValue) -> Result<&BTreeSet<String>> {
        let name = match name {
            ScalarValue::Utf8(Some(name))
            | ScalarValue::LargeUtf8(Some(name))
            | ScalarValue::Utf8View(Some(name)) => name,
            _ => return plan_err!("{IN_LIST}: the second argument must name a list, as a string"),
        };
        match self.lists.get(name) {
            Some(list) => Ok(list),
            None => plan_err!(
                "{IN_LIST}: no list named `{name}` (lists: {})",
                self.lists.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        }
    }
}

impl ScalarUDFImpl for InList {
    fn name(&self) -> &str {
        IN_LIST
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let ColumnarValue::Scalar(name) = &args.args[1] else {
            return exec_err!("{IN_LIST}: the second argument must be a constant list name");
        };
        let list = self.list(name)?;
        let values = args.args[0].to_array(args.number_rows)?;
        let values = cast(&values, &DataType::Utf8)?;
        let Some(values) = values.as_any().downcast_ref::<StringArray>() else {
            return exec_err!("{IN_LIST}: the first argument must be a string");
        };
        // NULL stays NULL, as with `IN (SELECT …)`.
        let result: BooleanArray = values
            .iter()
            .map(|value| value.map(|value| list.contains(value)))
            .collect();
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
}
