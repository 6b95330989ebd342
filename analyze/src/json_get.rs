//! `json_get_bool`, `json_get_int`, `json_get_str`, `json_get_json` and `json_get_array` as
//! `datafusion-functions-json` defines them (same answers, same types, the first of duplicate
//! members), with their common case — a column of JSON text and a path of literals — answered
//! by [`crate::json_scan`], which skips what the path passes over without decoding it. Rules
//! call these on every request body and pod spec they look into; every other case, and a batch
//! holding text that is not JSON, is left to the original functions.

use std::borrow::Cow;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanBuilder, Int64Builder, ListBuilder, StringBuilder,
};
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ExpressionPlacement, ReturnFieldArgs, ScalarFunctionArgs,
    ScalarUDF, ScalarUDFImpl, Signature,
};
use datafusion::prelude::{Expr, SessionContext};

use crate::json_scan::{self, Dialect, Malformed, Step};

/// Replaces the functions `datafusion_functions_json::register_all` registered in `ctx`.
pub(crate) fn register(ctx: &mut SessionContext) -> Result<()> {
    for kind in [Kind::Bool, Kind::Int, Kind::Str, Kind::Json, Kind::Array] {
        let inner = datafusion::execution::FunctionRegistry::udf(ctx, kind.name())?;
        ctx.register_udf(ScalarUDF::new_from_impl(JsonGet { inner, kind }));
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Bool,
    Int,
    Str,
    Json,
    Array,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Bool => "json_get_bool",
            Kind::Int => "json_get_int",
            Kind::Str => "json_get_str",
            Kind::Json => "json_get_json",
            Kind::Array => "json_get_array",
        }
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct JsonGet {
    inner: Arc<ScalarUDF>,
    kind: Kind,
}

impl ScalarUDFImpl for JsonGet {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn schema_name(&self, args: &[Expr]) -> Result<String> {
        self.inner.inner().schema_name(args)
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        self.inner.return_field_from_args(args)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        match self.answer(&args) {
            Some(Ok(array)) => Ok(ColumnarValue::Array(array)),
            Some(Err(Malformed)) | None => self.inner.invoke_with_args(args),
        }
    }

    fn simplify(&self, args: Vec<Expr>, info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        self.inner.simplify(args, info)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.inner.coerce_types(arg_types)
    }

    fn short_circuits(&self) -> bool {
        self.inner.short_circuits()
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }

    fn placement(&self, args: &[ExpressionPlacement]) -> ExpressionPlacement {
        self.inner.inner().placement(args)
    }
}

impl JsonGet {
    /// The answer for the common case, `None` for any other (left to the original function).
    fn answer(
        &self,
        args: &ScalarFunctionArgs,
    ) -> Option<std::result::Result<ArrayRef, Malformed>> {
        let (ColumnarValue::Array(json), path) = args.args.split_first()? else {
            return None;
        };
        let path = path
            .iter()
            .map(|step| match step {
                ColumnarValue::Scalar(scalar) => literal_step(scalar),
                ColumnarValue::Array(_) => None,
            })
            .collect::<Option<Vec<_>>>()?;
        let texts: Box<dyn Iterator<Item = Option<&str>>> = match json.data_type() {
            DataType::Utf8 => Box::new(json.as_string::<i32>().iter()),
            DataType::LargeUtf8 => Box::new(json.as_string::<i64>().iter()),
            DataType::Utf8View => Box::new(json.as_string_view().iter()),
            _ => return None,
        };
        let values = texts.map(|text| match text {
            Some(text) => json_scan::find(text, &path, Dialect::FunctionsJson)
                .map(|found| found.map(|range| &text[range])),
            None => Ok::<_, Malformed>(None),
        });
        let rows = json.len();
        let return_type = args.return_field.data_type();
        let array: ArrayRef = match (self.kind, return_type) {
            (Kind::Bool, DataType::Boolean) => {
                let mut builder = BooleanBuilder::with_capacity(rows);
                for value in values {
                    builder.append_option(value.ok()?.and_then(boolean));
                }
                Arc::new(builder.finish())
            }
            (Kind::Int, DataType::Int64) => {
                let mut builder = Int64Builder::with_capacity(rows);
                for value in values {
                    builder.append_option(value.ok()?.and_then(integer));
                }
                Arc::new(builder.finish())
            }
            (Kind::Str | Kind::Json, DataType::Utf8) => {
                let mut builder = StringBuilder::with_capacity(rows, 0);
                for value in values {
                    match (self.kind, value.ok()?) {
                        (Kind::Str, Some(raw)) => {
                            builder.append_option(json_scan::string_value(raw))
                        }
                        (_, raw) => builder.append_option(raw),
                    }
                }
                Arc::new(builder.finish())
            }
            (Kind::Array, DataType::List(item)) if item.data_type() == &DataType::Utf8 => {
                let mut builder = ListBuilder::new(StringBuilder::new()).with_field(item.clone());
                let mut ranges = Vec::new();
                for value in values {
                    match value.ok()? {
                        Some(raw) if raw.starts_with('[') => {
                            if json_scan::elements(raw.as_bytes(), 0, &mut ranges).is_err() {
                                return Some(Err(Malformed));
                            }
                            for range in &ranges {
                                builder.values().append_value(&raw[range.clone()]);
                            }
                            builder.append(true);
                        }
                        _ => builder.append_null(),
                    }
                }
                Arc::new(builder.finish())
            }
            _ => return None,
        };
        Some(Ok(array))
    }
}

/// A path step written as a literal: text names a member, a whole number an element.
fn literal_step(scalar: &ScalarValue) -> Option<Step<'static>> {
    let step = match scalar {
        ScalarValue::Utf8(Some(name))
        | ScalarValue::Utf8View(Some(name))
        | ScalarValue::LargeUtf8(Some(name)) => Step::Member(Cow::Owned(name.clone())),
        ScalarValue::Int64(Some(index)) => Step::Index(isize::try_from(*index).ok()?),
        ScalarValue::Int32(Some(index)) => Step::Index(isize::try_from(*index).ok()?),
        ScalarValue::UInt64(Some(index)) => Step::Index(isize::try_from(*index).ok()?),
        ScalarValue::UInt32(Some(index)) => Step::Index(isize::try_from(*index).ok()?),
        _ => return None,
    };
    Some(step)
}

/// `true` or `false`, or a string spelling one.
fn boolean(raw: &str) -> Option<bool> {
    match raw {
        "true" => Some(true),
        "false" => Some(false),
        _ => json_scan::string_value(raw)?.parse().ok(),
    }
}

/// A whole number: an integer, a number with an integral value (`2.0`, `1e3`) within `i64`,
/// or a string spelling an integer.
fn integer(raw: &str) -> Option<i64> {
    if raw.starts_with('"') {
        return json_scan::string_value(raw)?.parse().ok();
    }
    if !raw.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        return None;
    }
    if let Ok(whole) = raw.parse::<i64>() {
        return Some(whole);
    }
    let float = raw.parse::<f64>().ok()?;
    // -2^63 and 2^63 are exact as f64, so the range check is exact.
    #[allow(clippy::cast_possible_truncation)]
    let whole = (float.fract() == 0.0
        && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&float))
    .then_some(float as i64);
    whole
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::StringArray;
    use datafusion::arrow::util::display::array_value_to_string;

    use super::*;

    /// Each function over `texts` with `path`, as ours and as `datafusion-functions-json`'s.
    async fn both(
        function: &str,
        texts: &[Option<&str>],
        path: &str,
    ) -> (Vec<String>, Vec<String>) {
        let batch = datafusion::arrow::record_batch::RecordBatch::try_from_iter([(
            "t",
            Arc::new(StringArray::from(texts.to_vec())) as ArrayRef,
        )])
        .unwrap();
        let sql = format!("SELECT {function}(t, {path}) AS v FROM b");
        let mut answers = Vec::new();
        for ours in [true, false] {
            let mut ctx = SessionContext::new();
            datafusion_functions_json::register_all(&mut ctx).unwrap();
            if ours {
                register(&mut ctx).unwrap();
            }
            ctx.register_batch("b", batch.clone()).unwrap();
            let out = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
            let column = out[0].column(0);
            answers.push(
                (0..column.len())
                    .map(|row| {
                        if column.is_null(row) {
                            "NULL".to_string()
                        } else {
                            array_value_to_string(column, row).unwrap()
                        }
                    })
                    .collect(),
            );
        }
        let theirs = answers.pop().unwrap();
        (answers.pop().unwrap(), theirs)
    }

    #[tokio::test]
    async fn answers_are_those_of_datafusion_functions_json() {
        let texts = [
            Some(
                r#"{"spec": {"hostNetwork": true, "containers": [{"name": "a", "securityContext": {"privileged": "true", "runAsUser": 0}}, {"name": "b\u00e9", "securityContext": {"runAsUser": 1e3}}]}}"#,
            ),
            Some(r#"{"spec": {"hostNetwork": false, "hostNetwork": true, "containers": []}}"#),
            Some(
                r#"{"spec": {"containers": [{"securityContext": {"runAsUser": 2.5}}, {"securityContext": {"runAsUser": "7"}}]}}"#,
            ),
            Some(r#"{"spec": "none"}"#),
            Some(r#"[1, 2]"#),
            None,
        ];
        for (function, path) in [
            ("json_get_bool", "'spec', 'hostNetwork'"),
            (
                "json_get_bool",
                "'spec', 'containers', 0, 'securityContext', 'privileged'",
            ),
            (
                "json_get_int",
                "'spec', 'containers', 0, 'securityContext', 'runAsUser'",
            ),
            (
                "json_get_int",
                "'spec', 'containers', 1, 'securityContext', 'runAsUser'",
            ),
            (
                "json_get_int",
                "'spec', 'containers', -1, 'securityContext', 'runAsUser'",
            ),
            ("json_get_str", "'spec', 'containers', 1, 'name'"),
            ("json_get_str", "'spec'"),
            ("json_get_json", "'spec', 'containers'"),
            ("json_get_json", "'spec', 'containers', '0'"),
            ("json_get_array", "'spec', 'containers'"),
            ("json_get_array", "'spec'"),
        ] {
            let (ours, theirs) = both(function, &texts, path).await;
            assert_eq!(ours, theirs, "{function}(t, {path})");
        }
    }

    #[tokio::test]
    async fn text_that_is_not_json_is_answered_as_before() {
        let texts = [
            Some(r#"{"spec": {"hostNetwork": true}}"#),
            Some(r#"{"spec": {"hostNetwork": tr"#),
            Some(r#"{"spec": {"other": [}, "hostNetwork": true}}"#),
            Some(""),
        ];
        let (ours, theirs) = both("json_get_bool", &texts, "'spec', 'hostNetwork'").await;
        assert_eq!(ours, theirs);
        assert_eq!(ours[0], "true");
    }
}
