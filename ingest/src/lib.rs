//! The way in: audit events from kube-apiserver's webhook and from files, decoded, made durable
//! and stored as Parquet.
//!
//! One event's path: [`server`] (HTTP, TLS, auth, cluster) → [`decode`] (bytes → rows, invalid
//! events quarantined) → [`pipeline`] (WAL thread: [`wal`] append + group fsync, then 200) →
//! [`batcher`] (rows by partition until a limit) → [`store`] (Parquet, checkpoint, WAL
//! truncation). [`import`] takes files through the same decoder into the store. [`stats`]
//! counts every event accepted, quarantined or refused.

pub mod batcher;
pub mod decode;
pub mod import;
pub mod pipeline;
pub mod server;
pub mod stats;
pub mod store;
pub mod wal;
