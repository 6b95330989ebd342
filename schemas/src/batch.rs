//! Rows into Arrow `RecordBatch`es of the `events` and `quarantine` schemas.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, Int32Builder, ListBuilder, MapBuilder, MapFieldNames, StringBuilder,
    TimestampMicrosecondArray, TimestampMicrosecondBuilder,
};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;

use crate::columns::{
    events_schema, quarantine_schema, AUTHZ_DECISION_ANNOTATION, AUTHZ_REASON_ANNOTATION, UTC,
};
use crate::row::{Event, Object, QuarantineRow, Response, User};

type TextList = ListBuilder<StringBuilder>;
type TextMap = MapBuilder<StringBuilder, StringBuilder>;
type TextListMap = MapBuilder<StringBuilder, TextList>;

fn map_names() -> Option<MapFieldNames> {
    Some(MapFieldNames {
        entry: "entries".into(),
        key: "keys".into(),
        value: "values".into(),
    })
}

fn timestamps(rows: usize) -> TimestampMicrosecondBuilder {
    TimestampMicrosecondBuilder::with_capacity(rows).with_timezone(UTC)
}

/// A text column's builder with room for `rows` short values (it grows for longer ones).
fn text(rows: usize) -> StringBuilder {
    StringBuilder::with_capacity(rows, rows * 16)
}

fn text_list(rows: usize) -> TextList {
    TextList::with_capacity(text(rows), rows)
}

fn append_list<S: AsRef<str>>(builder: &mut TextList, items: Option<&[S]>) {
    match items {
        Some(items) => {
            for item in items {
                builder.values().append_value(item);
            }
            builder.append(true);
        }
        None => builder.append(false),
    }
}

/// Builds `events` batches one row at a time. Columns follow [`crate::columns::EVENT_COLUMNS`].
pub struct EventBatchBuilder {
    rows: usize,
    source: StringBuilder,
    received_at: TimestampMicrosecondBuilder,
    kind: StringBuilder,
    api_version: StringBuilder,
    level: StringBuilder,
    audit_id: StringBuilder,
    stage: StringBuilder,
    verb: StringBuilder,
    request_uri: StringBuilder,
    user_agent: StringBuilder,
    source_ips: TextList,
    source_ip: StringBuilder,
    user: UserColumns,
    impersonated: UserColumns,
    object: ObjectColumns,
    response: ResponseColumns,
    authz_decision: StringBuilder,
    authz_reason: StringBuilder,
    request_object: StringBuilder,
    response_object: StringBuilder,
    annotations: TextMap,
    request_received_at: TimestampMicrosecondBuilder,
    stage_at: TimestampMicrosecondBuilder,
    extra: StringBuilder,
}

struct UserColumns {
    name: StringBuilder,
    uid: StringBuilder,
    groups: TextList,
    /// Only the authenticated user's `extra` has a column.
    extra: Option<TextListMap>,
}

impl UserColumns {
    fn new(with_extra: bool, rows: usize) -> Self {
        UserColumns {
            name: text(rows),
            uid: text(rows),
            groups: text_list(rows),
            extra: with_extra
                .then(|| MapBuilder::with_capacity(map_names(), text(0), text_list(0), rows)),
        }
    }

    fn push(&mut self, user: Option<&User<'_>>) -> Result<(), ArrowError> {
        let empty = User::default();
        let user = user.unwrap_or(&empty);
        self.name.append_option(user.name.as_deref());
        self.uid.append_option(user.uid.as_deref());
        append_list(&mut self.groups, user.groups.as_deref());
        if let Some(builder) = self.extra.as_mut() {
            match &user.extra {
                Some(entries) => {
                    for (key, values) in entries {
                        builder.keys().append_value(key);
                        append_list(builder.values(), Some(values.as_slice()));
                    }
                    builder.append(true)?;
                }
                None => builder.append(false)?,
            }
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<ArrayRef>) {
        out.push(Arc::new(self.name.finish()));
        out.push(Arc::new(self.uid.finish()));
        out.push(Arc::new(self.groups.finish()));
        if let Some(extra) = self.extra.as_mut() {
            out.push(Arc::new(extra.finish()));
        }
    }
}

struct ObjectColumns {
    resource: StringBuilder,
    subresource: StringBuilder,
    namespace: StringBuilder,
    name: StringBuilder,
    uid: StringBuilder,
    api_group: StringBuilder,
    api_version: StringBuilder,
    resource_version: StringBuilder,
}

impl ObjectColumns {
    fn new(rows: usize) -> Self {
        ObjectColumns {
            resource: text(rows),
            subresource: text(rows),
            namespace: text(rows),
            name: text(rows),
            uid: text(rows),
            api_group: text(rows),
            api_version: text(rows),
            resource_version: text(rows),
        }
    }

    fn push(&mut self, object: Option<&Object<'_>>) {
        let empty = Object::default();
        let object = object.unwrap_or(&empty);
        self.resource.append_option(object.resource.as_deref());
        self.subresource
            .append_option(object.subresource.as_deref());
        self.namespace.append_option(object.namespace.as_deref());
        self.name.append_option(object.name.as_deref());
        self.uid.append_option(object.uid.as_deref());
        self.api_group.append_option(object.api_group.as_deref());
        self.api_version
            .append_option(object.api_version.as_deref());
        self.resource_version
            .append_option(object.resource_version.as_deref());
    }

    fn finish(&mut self, out: &mut Vec<ArrayRef>) {
        for builder in [
            &mut self.resource,
            &mut self.subresource,
            &mut self.namespace,
            &mut self.name,
            &mut self.uid,
            &mut self.api_group,
            &mut self.api_version,
            &mut self.resource_version,
        ] {
            out.push(Arc::new(builder.finish()));
        }
    }
}

struct ResponseColumns {
    code: Int32Builder,
    status: StringBuilder,
    reason: StringBuilder,
    message: StringBuilder,
}

impl ResponseColumns {
    fn new(rows: usize) -> Self {
        ResponseColumns {
            code: Int32Builder::with_capacity(rows),
            status: text(rows),
            reason: text(rows),
            message: text(rows),
        }
    }

    fn push(&mut self, response: Option<&Response<'_>>) {
        let empty = Response::default();
        let response = response.unwrap_or(&empty);
        self.code.append_option(response.code);
        self.status.append_option(response.status.as_deref());
        self.reason.append_option(response.reason.as_deref());
        self.message.append_option(response.message.as_deref());
    }

    fn finish(&mut self, out: &mut Vec<ArrayRef>) {
        out.push(Arc::new(self.code.finish()));
        out.push(Arc::new(self.status.finish()));
        out.push(Arc::new(self.reason.finish()));
        out.push(Arc::new(self.message.finish()));
    }
}

impl Default for EventBatchBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBatchBuilder {
    pub fn new() -> Self {
        Self::with_capacity(1024)
    }

    /// A builder with room for `rows` rows of short values (it grows as needed). A batch keeps
    /// the room it was built with, so small batches should be built with a small one.
    pub fn with_capacity(rows: usize) -> Self {
        EventBatchBuilder {
            rows: 0,
            source: text(rows),
            received_at: timestamps(rows),
            kind: text(rows),
            api_version: text(rows),
            level: text(rows),
            audit_id: text(rows),
            stage: text(rows),
            verb: text(rows),
            request_uri: text(rows),
            user_agent: text(rows),
            source_ips: text_list(rows),
            source_ip: text(rows),
            user: UserColumns::new(true, rows),
            impersonated: UserColumns::new(false, rows),
            object: ObjectColumns::new(rows),
            response: ResponseColumns::new(rows),
            authz_decision: text(rows),
            authz_reason: text(rows),
            request_object: text(rows),
            response_object: text(rows),
            annotations: MapBuilder::with_capacity(map_names(), text(rows), text(rows), rows),
            request_received_at: timestamps(rows),
            stage_at: timestamps(rows),
            extra: text(rows),
        }
    }

    /// Rows appended since the last [`Self::finish`].
    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    pub fn push(&mut self, row: &Event<'_>) -> Result<(), ArrowError> {
        self.rows += 1;
        self.source.append_value(&row.source);
        self.received_at.append_value(row.received_at);
        self.kind.append_option(row.kind.as_deref());
        self.api_version.append_option(row.api_version.as_deref());
        self.level.append_option(row.level.as_deref());
        self.audit_id.append_option(row.audit_id.as_deref());
        self.stage.append_option(row.stage.as_deref());
        self.verb.append_option(row.verb.as_deref());
        self.request_uri.append_option(row.request_uri.as_deref());
        self.user_agent.append_option(row.user_agent.as_deref());
        append_list(&mut self.source_ips, row.source_ips.as_deref());
        let first_ip = row.source_ips.as_ref().and_then(|ips| ips.first());
        self.source_ip.append_option(first_ip);
        self.user.push(row.user.as_ref())?;
        self.impersonated.push(row.impersonated_user.as_ref())?;
        self.object.push(row.object.as_ref());
        self.response.push(row.response.as_ref());
        let annotation = |key: &str| {
            row.annotations
                .iter()
                .flatten()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_ref())
        };
        self.authz_decision
            .append_option(annotation(AUTHZ_DECISION_ANNOTATION));
        self.authz_reason
            .append_option(annotation(AUTHZ_REASON_ANNOTATION));
        self.request_object
            .append_option(row.request_object.as_deref());
        self.response_object
            .append_option(row.response_object.as_deref());
        match &row.annotations {
            Some(entries) => {
                for (key, value) in entries {
                    self.annotations.keys().append_value(key);
                    self.annotations.values().append_value(value);
                }
                self.annotations.append(true)?;
            }
            None => self.annotations.append(false)?,
        }
        self.request_received_at
            .append_option(row.request_received_at);
        self.stage_at.append_option(row.stage_at);
        self.extra.append_option(row.extra.as_deref());
        Ok(())
    }

    /// The rows appended so far as one batch; the builder starts empty again.
    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        self.rows = 0;
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(events_schema().fields().len());
        columns.push(Arc::new(self.source.finish()));
        columns.push(Arc::new(self.received_at.finish()));
        for builder in [
            &mut self.kind,
            &mut self.api_version,
            &mut self.level,
            &mut self.audit_id,
            &mut self.stage,
            &mut self.verb,
            &mut self.request_uri,
            &mut self.user_agent,
        ] {
            columns.push(Arc::new(builder.finish()));
        }
        columns.push(Arc::new(self.source_ips.finish()));
        columns.push(Arc::new(self.source_ip.finish()));
        self.user.finish(&mut columns);
        self.impersonated.finish(&mut columns);
        self.object.finish(&mut columns);
        self.response.finish(&mut columns);
        for builder in [
            &mut self.authz_decision,
            &mut self.authz_reason,
            &mut self.request_object,
            &mut self.response_object,
        ] {
            columns.push(Arc::new(builder.finish()));
        }
        columns.push(Arc::new(self.annotations.finish()));
        columns.push(Arc::new(self.request_received_at.finish()));
        columns.push(Arc::new(self.stage_at.finish()));
        columns.push(Arc::new(self.extra.finish()));
        RecordBatch::try_new(events_schema(), columns)
    }
}

/// Builds `events` batches from rows in one call.
pub fn events_batch<'a, 'b: 'a>(
    rows: impl IntoIterator<Item = &'a Event<'b>>,
) -> Result<RecordBatch, ArrowError> {
    let rows = rows.into_iter();
    let mut builder = EventBatchBuilder::with_capacity(rows.size_hint().0.max(1));
    for row in rows {
        builder.push(row)?;
    }
    builder.finish()
}

/// Each row's partition time in µs, as [`Event::partition_time`] has it: `stage_at`, else
/// `request_received_at`, else `received_at`. Missing columns count as nulls.
pub fn partition_times(batch: &RecordBatch) -> Vec<i64> {
    let column = |name: &str| {
        batch
            .column_by_name(name)
            .and_then(|c| c.as_any().downcast_ref::<TimestampMicrosecondArray>())
    };
    let (stage, received, accepted) = (
        column("stage_at"),
        column("request_received_at"),
        column("received_at"),
    );
    let value = |array: Option<&TimestampMicrosecondArray>, row: usize| {
        array.and_then(|a| a.is_valid(row).then(|| a.value(row)))
    };
    (0..batch.num_rows())
        .map(|row| {
            value(stage, row)
                .or_else(|| value(received, row))
                .or_else(|| value(accepted, row))
                .unwrap_or(0)
        })
        .collect()
}

/// Builds `quarantine` batches. Columns follow [`crate::columns::QUARANTINE_COLUMNS`].
pub struct QuarantineBatchBuilder {
    source: StringBuilder,
    received_at: TimestampMicrosecondBuilder,
    location: StringBuilder,
    reason: StringBuilder,
    raw: StringBuilder,
}

impl Default for QuarantineBatchBuilder {
    fn default() -> Self {
        QuarantineBatchBuilder {
            source: StringBuilder::new(),
            received_at: timestamps(1024),
            location: StringBuilder::new(),
            reason: StringBuilder::new(),
            raw: StringBuilder::new(),
        }
    }
}

impl QuarantineBatchBuilder {
    pub fn push(&mut self, row: &QuarantineRow) {
        self.source.append_value(&row.source);
        self.received_at.append_value(row.received_at);
        self.location.append_value(&row.location);
        self.reason.append_value(&row.reason);
        self.raw.append_value(&row.raw);
    }

    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.source.finish()),
            Arc::new(self.received_at.finish()),
            Arc::new(self.location.finish()),
            Arc::new(self.reason.finish()),
            Arc::new(self.raw.finish()),
        ];
        RecordBatch::try_new(quarantine_schema(), columns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::row::{EventRow, UserInfo};

    fn sample() -> EventRow {
        EventRow {
            source: "webhook".into(),
            received_at: 1,
            audit_id: Some("a".into()),
            stage: Some("ResponseComplete".into()),
            verb: Some("get".into()),
            source_ips: Some(vec!["10.0.0.1".into(), "10.0.0.2".into()]),
            user: Some(UserInfo {
                name: Some("alice".into()),
                uid: None,
                groups: Some(vec![]),
                extra: Some(vec![("k".into(), vec!["v1".into(), "v2".into()])]),
            }),
            annotations: Some(vec![
                (AUTHZ_DECISION_ANNOTATION.into(), "forbid".into()),
                (AUTHZ_REASON_ANNOTATION.into(), "no".into()),
            ]),
            stage_at: Some(5),
            ..EventRow::default()
        }
    }

    #[test]
    fn batch_matches_the_declared_schema() {
        let batch = events_batch([&sample(), &EventRow::default()]).unwrap();
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(batch.schema(), events_schema());
    }

    #[test]
    fn derived_columns_are_filled() {
        use datafusion::arrow::array::{Array, AsArray};
        let batch = events_batch([&sample()]).unwrap();
        let text = |name: &str| {
            batch
                .column_by_name(name)
                .unwrap()
                .as_string::<i32>()
                .value(0)
                .to_string()
        };
        assert_eq!(text("source_ip"), "10.0.0.1");
        assert_eq!(text("authz_decision"), "forbid");
        assert_eq!(text("authz_reason"), "no");
        assert!(batch.column_by_name("user_uid").unwrap().is_null(0));
    }

    #[test]
    fn quarantine_batch_matches_its_schema() {
        let mut builder = QuarantineBatchBuilder::default();
        builder.push(&QuarantineRow {
            source: "file".into(),
            received_at: 0,
            location: "x.log:3".into(),
            reason: "missing field `auditID`".into(),
            raw: "{}".into(),
        });
        let batch = builder.finish().unwrap();
        assert_eq!(batch.schema(), quarantine_schema());
    }
}
