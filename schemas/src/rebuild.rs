//! A stored `events` row back into the audit event JSON it was decoded from: the columns give the
//! known fields, and the `extra` column is merged over them.

use datafusion::arrow::array::{
    Array, AsArray, Int32Array, ListArray, MapArray, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{Int32Type, TimestampMicrosecondType};
use datafusion::arrow::record_batch::RecordBatch;
use serde_json::{Map, Value};

use crate::time::format_micros;

/// Why a row could not be rebuilt.
#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    #[error("column `{0}` is missing or has another type")]
    Column(&'static str),
    #[error("column `{column}` holds invalid JSON: {source}")]
    Json {
        column: &'static str,
        source: serde_json::Error,
    },
}

struct Columns<'a>(&'a RecordBatch);

impl<'a> Columns<'a> {
    fn text(&self, name: &'static str) -> Result<&'a StringArray, RebuildError> {
        self.0
            .column_by_name(name)
            .and_then(|column| column.as_string_opt::<i32>())
            .ok_or(RebuildError::Column(name))
    }

    fn list(&self, name: &'static str) -> Result<&'a ListArray, RebuildError> {
        self.0
            .column_by_name(name)
            .and_then(|column| column.as_list_opt::<i32>())
            .ok_or(RebuildError::Column(name))
    }

    fn map(&self, name: &'static str) -> Result<&'a MapArray, RebuildError> {
        self.0
            .column_by_name(name)
            .and_then(|column| column.as_map_opt())
            .ok_or(RebuildError::Column(name))
    }

    fn int(&self, name: &'static str) -> Result<&'a Int32Array, RebuildError> {
        self.0
            .column_by_name(name)
            .and_then(|column| column.as_primitive_opt::<Int32Type>())
            .ok_or(RebuildError::Column(name))
    }

    fn time(&self, name: &'static str) -> Result<&'a TimestampMicrosecondArray, RebuildError> {
        self.0
            .column_by_name(name)
            .and_then(|column| column.as_primitive_opt::<TimestampMicrosecondType>())
            .ok_or(RebuildError::Column(name))
    }
}

fn text_at(array: &StringArray, row: usize) -> Option<Value> {
    array
        .is_valid(row)
        .then(|| Value::String(array.value(row).to_string()))
}

fn text_list(array: &dyn Array) -> Value {
    let strings = array.as_string::<i32>();
    Value::Array(
        (0..strings.len())
            .map(|i| Value::String(strings.value(i).to_string()))
            .collect(),
    )
}

fn list_at(array: &ListArray, row: usize) -> Option<Value> {
    array.is_valid(row).then(|| text_list(&array.value(row)))
}

fn map_at(array: &MapArray, row: usize, list_values: bool) -> Option<Value> {
    if !array.is_valid(row) {
        return None;
    }
    let entries = array.value(row);
    let keys = entries.column(0).as_string::<i32>();
    let values = entries.column(1);
    let mut object = Map::new();
    for i in 0..keys.len() {
        let value = if list_values {
            text_list(&values.as_list::<i32>().value(i))
        } else {
            Value::String(values.as_string::<i32>().value(i).to_string())
        };
        object.insert(keys.value(i).to_string(), value);
    }
    Some(Value::Object(object))
}

/// Inserts `key` into `object` when the value is present.
fn put(object: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(value) = value {
        object.insert(key.to_string(), value);
    }
}

/// Builds a nested object from `(key, column)` pairs; absent when no column has a value.
fn nested(
    columns: &Columns<'_>,
    row: usize,
    fields: &[(&str, &'static str)],
) -> Result<Option<Value>, RebuildError> {
    let mut object = Map::new();
    for (key, column) in fields {
        put(&mut object, key, text_at(columns.text(column)?, row));
    }
    Ok((!object.is_empty()).then_some(Value::Object(object)))
}

fn parse_json(column: &'static str, text: &str) -> Result<Value, RebuildError> {
    serde_json::from_str(text).map_err(|source| RebuildError::Json { column, source })
}

/// Merges `patch` into `target`: objects key by key, anything else replaces.
fn merge(target: &mut Value, patch: Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                match target.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        target.insert(key, value);
                    }
                }
            }
        }
        (target, patch) => *target = patch,
    }
}

/// Rebuilds the audit event of row `row` of an `events` batch (read back from storage, with or
/// without the partition columns).
pub fn rebuild_event(batch: &RecordBatch, row: usize) -> Result<Value, RebuildError> {
    let columns = Columns(batch);
    let mut event = Map::new();
    let top_level = [
        ("kind", "kind"),
        ("apiVersion", "api_version"),
        ("level", "level"),
        ("auditID", "audit_id"),
        ("stage", "stage"),
        ("requestURI", "request_uri"),
        ("verb", "verb"),
        ("userAgent", "user_agent"),
    ];
    for (key, column) in top_level {
        put(&mut event, key, text_at(columns.text(column)?, row));
    }
    put(
        &mut event,
        "sourceIPs",
        list_at(columns.list("source_ips")?, row),
    );

    let mut user = nested(
        &columns,
        row,
        &[("username", "user_name"), ("uid", "user_uid")],
    )?
    .unwrap_or_else(|| Value::Object(Map::new()));
    if let Value::Object(object) = &mut user {
        put(object, "groups", list_at(columns.list("user_groups")?, row));
        put(
            object,
            "extra",
            map_at(columns.map("user_extra")?, row, true),
        );
        if !object.is_empty() {
            event.insert("user".into(), user);
        }
    }

    let mut impersonated = nested(
        &columns,
        row,
        &[
            ("username", "impersonated_user_name"),
            ("uid", "impersonated_user_uid"),
        ],
    )?
    .unwrap_or_else(|| Value::Object(Map::new()));
    if let Value::Object(object) = &mut impersonated {
        put(
            object,
            "groups",
            list_at(columns.list("impersonated_user_groups")?, row),
        );
        if !object.is_empty() {
            event.insert("impersonatedUser".into(), impersonated);
        }
    }

    let object_ref = nested(
        &columns,
        row,
        &[
            ("resource", "object_resource"),
            ("subresource", "object_subresource"),
            ("namespace", "object_namespace"),
            ("name", "object_name"),
            ("uid", "object_uid"),
            ("apiGroup", "object_api_group"),
            ("apiVersion", "object_api_version"),
            ("resourceVersion", "object_resource_version"),
        ],
    )?;
    put(&mut event, "objectRef", object_ref);

    let mut response = nested(
        &columns,
        row,
        &[
            ("status", "response_status"),
            ("reason", "response_reason"),
            ("message", "response_message"),
        ],
    )?
    .unwrap_or_else(|| Value::Object(Map::new()));
    let code = columns.int("response_code")?;
    if let Value::Object(object) = &mut response {
        if code.is_valid(row) {
            object.insert("code".into(), Value::from(code.value(row)));
        }
        if !object.is_empty() {
            event.insert("responseStatus".into(), response);
        }
    }

    for (key, column) in [
        ("requestObject", "request_object"),
        ("responseObject", "response_object"),
    ] {
        let array = columns.text(column)?;
        if array.is_valid(row) {
            event.insert(key.into(), parse_json(column, array.value(row))?);
        }
    }
    put(
        &mut event,
        "annotations",
        map_at(columns.map("annotations")?, row, false),
    );
    for (key, column) in [
        ("requestReceivedTimestamp", "request_received_at"),
        ("stageTimestamp", "stage_at"),
    ] {
        let array = columns.time(column)?;
        if array.is_valid(row) {
            event.insert(key.into(), Value::String(format_micros(array.value(row))));
        }
    }

    let mut event = Value::Object(event);
    let extra = columns.text("extra")?;
    if extra.is_valid(row) {
        merge(&mut event, parse_json("extra", extra.value(row))?);
    }
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_is_deep_for_objects_and_replaces_otherwise() {
        let mut target = json!({"a": {"b": 1}, "c": "x"});
        merge(&mut target, json!({"a": {"d": {}}, "c": "y", "e": null}));
        assert_eq!(target, json!({"a": {"b": 1, "d": {}}, "c": "y", "e": null}));
    }
}
