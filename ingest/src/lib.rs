//! The way in: audit events from kube-apiserver's webhook, from files and from Kafka topics,
//! decoded, made durable and stored as Parquet.
//!
//! One event's path: [`server`] (HTTP, TLS, auth, cluster) → [`decode`] (bytes → rows, invalid
//! events quarantined) → [`pipeline`] (WAL thread: [`wal`] append + group fsync, then 200) →
//! [`batcher`] (rows by partition until a limit) → [`store`] (Parquet, checkpoint, WAL
//! truncation). [`import`] takes files through the same decoder into the store; [`kafka`]
//! consumes topics into the same pipeline, committing offsets once durable. [`stats`]
//! counts every event accepted, quarantined or refused.

pub mod batcher;
pub mod decode;
pub mod import;
pub mod kafka;
pub mod metrics;
pub mod pipeline;
pub mod server;
pub mod stats;
pub mod store;
pub mod tail;
pub mod wal;
