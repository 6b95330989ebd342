//! The audit event model and the tables auditlens stores it in.
//!
//! Modules:
//! - [`alert`]: the alert every rule raises ([`Alert`]) and its JSON schema;
//! - [`row`]: one audit event as typed columns ([`EventRow`]) and a quarantined input ([`QuarantineRow`]);
//! - [`columns`]: the catalogue of the `events` and `quarantine` tables: names, Arrow types,
//!   the audit event path each column comes from, and the Arrow schemas built from it;
//! - [`batch`]: rows into Arrow `RecordBatch`es of those schemas;
//! - [`rebuild`]: a stored row back into the audit event JSON it came from;
//! - [`time`]: the audit `MicroTime` format, parsed and printed;
//! - [`doc`]: `docs/schema.md`, rendered from the catalogue.
//!
//! No I/O happens here.

pub mod alert;
pub mod batch;
pub mod columns;
pub mod doc;
pub mod rebuild;
pub mod row;
pub mod time;

pub use alert::{Alert, Priority, Severity, ALERT_SOURCE};
pub use batch::{EventBatchBuilder, QuarantineBatchBuilder};
pub use columns::{events_schema, quarantine_schema, PARTITION_COLUMNS};
pub use row::{
    Event, EventRow, Object, ObjectRef, QuarantineRow, Response, ResponseStatus, Text, User,
    UserInfo,
};

/// Arrow, as DataFusion re-exports it, so that the whole program links one Arrow version.
pub use datafusion::arrow;
