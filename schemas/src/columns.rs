//! The catalogue of the `events` and `quarantine` tables: each column's name, type, the audit
//! event path it comes from, and what it means. The Arrow schemas and `docs/schema.md` are built
//! from it, so the three cannot drift apart.

use std::sync::{Arc, OnceLock};

use datafusion::arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};

/// The time zone of every timestamp column.
pub const UTC: &str = "UTC";

/// The kinds of column the tables use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// `Utf8`.
    Text,
    /// `List<Utf8>`.
    TextList,
    /// `Map<Utf8, Utf8>`.
    TextMap,
    /// `Map<Utf8, List<Utf8>>`.
    TextListMap,
    /// `Int32`.
    Int32,
    /// `Timestamp(µs, UTC)`.
    Timestamp,
}

impl ColumnType {
    /// The Arrow type of a column of this kind.
    pub fn data_type(self) -> DataType {
        match self {
            ColumnType::Text => DataType::Utf8,
            ColumnType::TextList => list_of(DataType::Utf8),
            ColumnType::TextMap => map_of(DataType::Utf8),
            ColumnType::TextListMap => map_of(list_of(DataType::Utf8)),
            ColumnType::Int32 => DataType::Int32,
            ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into())),
        }
    }

    /// How the type reads in SQL terms, for the docs.
    pub fn sql_name(self) -> &'static str {
        match self {
            ColumnType::Text => "string",
            ColumnType::TextList => "list<string>",
            ColumnType::TextMap => "map<string, string>",
            ColumnType::TextListMap => "map<string, list<string>>",
            ColumnType::Int32 => "int32",
            ColumnType::Timestamp => "timestamp(µs, UTC)",
        }
    }
}

fn list_of(item: DataType) -> DataType {
    DataType::List(Arc::new(Field::new("item", item, true)))
}

fn map_of(value: DataType) -> DataType {
    let entries = Field::new(
        "entries",
        DataType::Struct(Fields::from(vec![
            Field::new("keys", DataType::Utf8, false),
            Field::new("values", value, true),
        ])),
        false,
    );
    DataType::Map(Arc::new(entries), false)
}

/// One column of a table.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub kind: ColumnType,
    pub nullable: bool,
    /// The audit event path it holds (`objectRef.resource`), or how it is derived.
    pub source: &'static str,
    pub description: &'static str,
}

const fn col(
    name: &'static str,
    kind: ColumnType,
    nullable: bool,
    source: &'static str,
    description: &'static str,
) -> Column {
    Column {
        name,
        kind,
        nullable,
        source,
        description,
    }
}

use ColumnType::{Int32, Text, TextList, TextListMap, TextMap, Timestamp};

/// The columns stored in each Parquet file of the `events` table, in file order.
pub const EVENT_COLUMNS: &[Column] = &[
    col("source", Text, false, "(auditlens)", "How the event arrived: `webhook`, `file` or `kafka`."),
    col("received_at", Timestamp, false, "(auditlens)", "When auditlens accepted the event."),
    col("kind", Text, true, "`kind`", "Object kind, normally `Event`."),
    col("api_version", Text, true, "`apiVersion`", "Event API version, e.g. `audit.k8s.io/v1`."),
    col("level", Text, true, "`level`", "Audit level: `None`, `Metadata`, `Request`, `RequestResponse`."),
    col("audit_id", Text, true, "`auditID`", "Request ID shared by all stages of one request. A client can choose it: never trust it alone. NULL only for events from other tools that left it out (as for `stage` and `verb`)."),
    col("stage", Text, true, "`stage`", "`RequestReceived`, `ResponseStarted`, `ResponseComplete` or `Panic`."),
    col("verb", Text, true, "`verb`", "Kubernetes verb (`get`, `list`, `create`, …) or lower-cased HTTP method for non-resource requests."),
    col("request_uri", Text, true, "`requestURI`", "Path and query as sent."),
    col("user_agent", Text, true, "`userAgent`", "Client user agent."),
    col("source_ips", TextList, true, "`sourceIPs`", "Client IPs; all but the last are client-controlled."),
    col("source_ip", Text, true, "`sourceIPs[0]`", "First source IP (derived)."),
    col("user_name", Text, true, "`user.username`", "Authenticated user name."),
    col("user_uid", Text, true, "`user.uid`", "Authenticated user UID."),
    col("user_groups", TextList, true, "`user.groups`", "Groups of the authenticated user."),
    col("user_extra", TextListMap, true, "`user.extra`", "Extra attributes of the authenticated user (e.g. credential ID)."),
    col("impersonated_user_name", Text, true, "`impersonatedUser.username`", "User impersonated by the requester."),
    col("impersonated_user_uid", Text, true, "`impersonatedUser.uid`", "UID of the impersonated user."),
    col("impersonated_user_groups", TextList, true, "`impersonatedUser.groups`", "Groups of the impersonated user."),
    col("object_resource", Text, true, "`objectRef.resource`", "Resource, e.g. `pods`, `secrets`."),
    col("object_subresource", Text, true, "`objectRef.subresource`", "Subresource, e.g. `exec`, `status`."),
    col("object_namespace", Text, true, "`objectRef.namespace`", "Namespace of the object."),
    col("object_name", Text, true, "`objectRef.name`", "Name of the object."),
    col("object_uid", Text, true, "`objectRef.uid`", "UID of the object."),
    col("object_api_group", Text, true, "`objectRef.apiGroup`", "API group; empty for the core group."),
    col("object_api_version", Text, true, "`objectRef.apiVersion`", "API version of the object, e.g. `v1`."),
    col("object_resource_version", Text, true, "`objectRef.resourceVersion`", "Resource version of the object."),
    col("response_code", Int32, true, "`responseStatus.code`", "HTTP status code of the response."),
    col("response_status", Text, true, "`responseStatus.status`", "`Success` or `Failure` where given."),
    col("response_reason", Text, true, "`responseStatus.reason`", "Machine-readable reason, e.g. `Forbidden`."),
    col("response_message", Text, true, "`responseStatus.message`", "Human-readable error message."),
    col("authz_decision", Text, true, "`annotations[\"authorization.k8s.io/decision\"]`", "`allow` or `forbid` (derived)."),
    col("authz_reason", Text, true, "`annotations[\"authorization.k8s.io/reason\"]`", "Why the authorizer decided so (derived)."),
    col("request_object", Text, true, "`requestObject`", "Request body as JSON text (level `Request` and above)."),
    col("response_object", Text, true, "`responseObject`", "Response body as JSON text (level `RequestResponse`)."),
    col("annotations", TextMap, true, "`annotations`", "All annotations of the event."),
    col("request_received_at", Timestamp, true, "`requestReceivedTimestamp`", "When kube-apiserver received the request."),
    col("stage_at", Timestamp, true, "`stageTimestamp`", "When the stage was reached; files are sorted by it."),
    col("extra", Text, true, "(everything else)", "JSON object of every field and value the columns above do not hold exactly (unknown fields, `responseStatus.metadata`, timestamps in another layout, explicit nulls). Merged over the columns, it rebuilds the event as received."),
];

/// Columns of the `events` and `quarantine` tables that come from the directory layout
/// (`cluster=…/date=…/hour=…`), not from the files.
pub const PARTITION_COLUMNS: &[Column] = &[
    col("cluster", Text, false, "(auditlens)", "Cluster the event came from: `?cluster=`, the client certificate CN, the token's cluster, or the default."),
    col("date", Text, false, "(partition)", "UTC date `YYYY-MM-DD` of `stage_at` (else `request_received_at`, else `received_at`)."),
    col("hour", Text, false, "(partition)", "UTC hour `HH` of the same time."),
];

/// The columns stored in each Parquet file of the `quarantine` table.
pub const QUARANTINE_COLUMNS: &[Column] = &[
    col(
        "source",
        Text,
        false,
        "(auditlens)",
        "How the input arrived: `webhook`, `file` or `kafka`.",
    ),
    col(
        "received_at",
        Timestamp,
        false,
        "(auditlens)",
        "When auditlens received it; also decides the `date=`/`hour=` partition.",
    ),
    col(
        "location",
        Text,
        false,
        "(auditlens)",
        "Where in the input: `item 17` of a webhook body, `FILE:LINE` of an import.",
    ),
    col(
        "reason",
        Text,
        false,
        "(auditlens)",
        "Why it was not accepted, naming the field.",
    ),
    col(
        "raw",
        Text,
        false,
        "(input)",
        "The input exactly as it arrived.",
    ),
];

fn schema_of(columns: &[Column]) -> SchemaRef {
    let fields: Vec<Field> = columns
        .iter()
        .map(|column| Field::new(column.name, column.kind.data_type(), column.nullable))
        .collect();
    Arc::new(Schema::new(fields))
}

/// The schema of one `events` Parquet file (without the partition columns).
pub fn events_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA.get_or_init(|| schema_of(EVENT_COLUMNS)).clone()
}

/// The schema of one `quarantine` Parquet file (without the partition columns).
pub fn quarantine_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA.get_or_init(|| schema_of(QUARANTINE_COLUMNS)).clone()
}

/// Annotation holding the authorizer's decision, surfaced as `authz_decision`.
pub const AUTHZ_DECISION_ANNOTATION: &str = "authorization.k8s.io/decision";
/// Annotation holding the authorizer's reason, surfaced as `authz_reason`.
pub const AUTHZ_REASON_ANNOTATION: &str = "authorization.k8s.io/reason";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_names_are_unique_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for column in EVENT_COLUMNS.iter().chain(PARTITION_COLUMNS) {
            assert!(seen.insert(column.name), "duplicate column {}", column.name);
            assert!(
                column
                    .name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_'),
                "{} is not snake_case",
                column.name
            );
        }
    }
}
