//! A rule's result rows into alerts: the special columns (`cluster`, `audit_id`/`audit_ids`,
//! `time`), the others as `output_fields` under Falco's `ka.*` names, and the output template.

use std::collections::BTreeMap;

use datafusion::arrow::array::Array;
use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::ScalarValue;
use serde_json::Value;

/// Result columns with a meaning of their own; every other column is an output field.
pub const CLUSTER: &str = "cluster";
pub const AUDIT_ID: &str = "audit_id";
pub const AUDIT_IDS: &str = "audit_ids";
pub const TIME: &str = "time";

/// `events` columns and the Falco `ka.*` field each is known as.
pub const FALCO_NAMES: [(&str, &str); 16] = [
    ("user_name", "ka.user.name"),
    ("user_groups", "ka.user.groups"),
    ("impersonated_user_name", "ka.impuser.name"),
    ("verb", "ka.verb"),
    ("request_uri", "ka.uri"),
    ("user_agent", "ka.useragent"),
    ("source_ips", "ka.sourceips"),
    ("object_resource", "ka.target.resource"),
    ("object_subresource", "ka.target.subresource"),
    ("object_namespace", "ka.target.namespace"),
    ("object_name", "ka.target.name"),
    ("response_code", "ka.response.code"),
    ("response_reason", "ka.response.reason"),
    ("authz_decision", "ka.auth.decision"),
    ("authz_reason", "ka.auth.reason"),
    ("stage", "ka.stage"),
];

/// The `output_fields` key of a result column.
pub fn output_field_name(column: &str) -> &str {
    FALCO_NAMES
        .iter()
        .find(|(name, _)| *name == column)
        .map_or(column, |(_, falco)| falco)
}

/// One result row.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub cluster: String,
    pub audit_ids: Vec<String>,
    /// µs since the epoch, when the rule selected a `time`.
    pub time: Option<i64>,
    /// Every other column, by result column name, in result order.
    pub fields: Vec<(String, Value)>,
}

/// Checks that a result schema has what an alert needs; the message names what is missing.
pub fn check_result_schema(schema: &Schema) -> Result<(), String> {
    if schema.field_with_name(CLUSTER).is_err() {
        return Err(format!("the query must select a `{CLUSTER}` column"));
    }
    let audit_id = schema.field_with_name(AUDIT_ID).ok();
    let audit_ids = schema.field_with_name(AUDIT_IDS).ok();
    match (audit_id, audit_ids) {
        (None, None) => Err(format!(
            "the query must select `{AUDIT_ID}` (one event) or `{AUDIT_IDS}` (a list, e.g. `array_agg(audit_id)`)"
        )),
        (_, Some(field)) if !matches!(field.data_type(), DataType::List(_) | DataType::LargeList(_)) => {
            Err(format!("`{AUDIT_IDS}` must be a list of strings, not {}", field.data_type()))
        }
        _ => Ok(()),
    }
}

/// The findings of a rule's result batches.
pub fn findings(batches: &[RecordBatch]) -> Result<Vec<Finding>, String> {
    let mut found = Vec::new();
    for batch in batches {
        let schema = batch.schema();
        for row in 0..batch.num_rows() {
            let mut finding = Finding {
                cluster: String::new(),
                audit_ids: Vec::new(),
                time: None,
                fields: Vec::new(),
            };
            for (field, column) in schema.fields().iter().zip(batch.columns()) {
                let value =
                    ScalarValue::try_from_array(column.as_ref(), row).map_err(|e| e.to_string())?;
                match field.name().as_str() {
                    CLUSTER => finding.cluster = text(&value).unwrap_or_default(),
                    AUDIT_ID => finding.audit_ids.extend(text(&value)),
                    AUDIT_IDS => {
                        if let Value::Array(items) = json(&value) {
                            finding.audit_ids.extend(items.into_iter().filter_map(
                                |item| match item {
                                    Value::String(id) => Some(id),
                                    _ => None,
                                },
                            ));
                        }
                    }
                    TIME => finding.time = micros(&value),
                    name => finding.fields.push((name.to_string(), json(&value))),
                }
            }
            finding.audit_ids.sort();
            finding.audit_ids.dedup();
            found.push(finding);
        }
    }
    Ok(found)
}

fn text(value: &ScalarValue) -> Option<String> {
    match json(value) {
        Value::Null => None,
        Value::String(text) => Some(text),
        other => Some(other.to_string()),
    }
}

fn micros(value: &ScalarValue) -> Option<i64> {
    match value {
        ScalarValue::TimestampMicrosecond(v, _) => *v,
        ScalarValue::TimestampNanosecond(v, _) => v.map(|n| n.div_euclid(1000)),
        ScalarValue::TimestampMillisecond(v, _) => v.map(|m| m * 1000),
        ScalarValue::TimestampSecond(v, _) => v.map(|s| s * 1_000_000),
        _ => None,
    }
}

/// A result value as JSON: text, numbers and booleans as themselves, times in RFC 3339, lists
/// as arrays, maps and structs as objects.
pub fn json(value: &ScalarValue) -> Value {
    if value.is_null() {
        return Value::Null;
    }
    if let Some(micros) = micros(value) {
        return Value::String(schemas::time::format_micros(micros));
    }
    match value {
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => Value::String(s.clone()),
        ScalarValue::Boolean(Some(b)) => Value::Bool(*b),
        ScalarValue::Int8(Some(v)) => Value::from(*v),
        ScalarValue::Int16(Some(v)) => Value::from(*v),
        ScalarValue::Int32(Some(v)) => Value::from(*v),
        ScalarValue::Int64(Some(v)) => Value::from(*v),
        ScalarValue::UInt8(Some(v)) => Value::from(*v),
        ScalarValue::UInt16(Some(v)) => Value::from(*v),
        ScalarValue::UInt32(Some(v)) => Value::from(*v),
        ScalarValue::UInt64(Some(v)) => Value::from(*v),
        ScalarValue::Float32(Some(v)) => Value::from(*v),
        ScalarValue::Float64(Some(v)) => Value::from(*v),
        ScalarValue::List(array) => list_json(array.as_ref()),
        ScalarValue::LargeList(array) => list_json(array.as_ref()),
        ScalarValue::FixedSizeList(array) => list_json(array.as_ref()),
        other => Value::String(other.to_string()),
    }
}

fn list_json(array: &dyn Array) -> Value {
    // A list scalar is a one-row list array; its only row holds the items.
    let Some(list) = array
        .as_any()
        .downcast_ref::<datafusion::arrow::array::GenericListArray<i32>>()
    else {
        if let Some(large) = array
            .as_any()
            .downcast_ref::<datafusion::arrow::array::GenericListArray<i64>>()
        {
            return items_json(large.value(0).as_ref());
        }
        return Value::Null;
    };
    if list.is_empty() || list.is_null(0) {
        return Value::Array(Vec::new());
    }
    items_json(list.value(0).as_ref())
}

fn items_json(items: &dyn Array) -> Value {
    let mut values = Vec::with_capacity(items.len());
    for index in 0..items.len() {
        match ScalarValue::try_from_array(items, index) {
            Ok(item) => values.push(json(&item)),
            Err(_) => values.push(Value::Null),
        }
    }
    Value::Array(values)
}

/// The placeholders of an output template, in order.
pub fn placeholders(template: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else { break };
        names.push(&after[..close]);
        rest = &after[close + 1..];
    }
    names
}

/// Fills `{column}` placeholders: text as it is, lists joined with `, `, NULL as `<NA>`.
pub fn render(template: &str, finding: &Finding) -> String {
    let mut values: BTreeMap<&str, String> = BTreeMap::new();
    values.insert(CLUSTER, finding.cluster.clone());
    values.insert(AUDIT_ID, finding.audit_ids.join(", "));
    values.insert(AUDIT_IDS, finding.audit_ids.join(", "));
    if let Some(time) = finding.time {
        values.insert(TIME, schemas::time::format_micros(time));
    }
    for (name, value) in &finding.fields {
        values.insert(name, shown(value));
    }
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            rest = "";
            break;
        };
        let name = &after[..close];
        match values.get(name) {
            Some(value) => out.push_str(value),
            None => out.push_str("<NA>"),
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

fn shown(value: &Value) -> String {
    match value {
        Value::Null => "<NA>".into(),
        Value::String(text) => text.clone(),
        Value::Array(items) => items.iter().map(shown).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_fill_columns() {
        let finding = Finding {
            cluster: "prod".into(),
            audit_ids: vec!["a".into()],
            time: None,
            fields: vec![
                ("user_name".into(), Value::from("alice")),
                ("images".into(), serde_json::json!(["nginx", "busybox"])),
                ("namespace".into(), Value::Null),
            ],
        };
        assert_eq!(
            render(
                "{user_name} ran {images} in {namespace} on {cluster}",
                &finding
            ),
            "alice ran nginx, busybox in <NA> on prod"
        );
        assert_eq!(placeholders("{a} and {b}"), ["a", "b"]);
        assert_eq!(output_field_name("user_name"), "ka.user.name");
        assert_eq!(output_field_name("command"), "command");
    }
}
