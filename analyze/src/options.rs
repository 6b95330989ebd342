//! [`QueryOptions`]: the bounds every query session runs within.

use std::num::NonZeroUsize;

/// Memory all queries of one session may hold at once: 1 GiB.
pub const DEFAULT_MEMORY_LIMIT_BYTES: usize = 1024 * 1024 * 1024;

/// Disk that sorts, joins and aggregations may spill to once memory is full: 10 GiB.
pub const DEFAULT_MAX_SPILL_BYTES: u64 = 10 * 1024 * 1024 * 1024;

/// Partitions scanned in parallel when the CPU count is unknown.
pub const FALLBACK_TARGET_PARTITIONS: NonZeroUsize = match NonZeroUsize::new(4) {
    Some(n) => n,
    None => unreachable!(),
};

/// How much a query session may use. Shared by every query run in the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryOptions {
    /// Memory pool of the session, in bytes. Operators that can spill (sort, hash aggregate,
    /// join) spill to disk when their share is used up; a query that still does not fit fails
    /// with [`crate::QueryError::ResourcesExhausted`].
    pub memory_limit_bytes: usize,
    /// How many partitions a query is split into (roughly: CPU cores used).
    pub target_partitions: NonZeroUsize,
    /// Spill files' total size limit, in bytes; `0` disables spilling.
    pub max_spill_bytes: u64,
}

impl Default for QueryOptions {
    /// The default limits, with one partition per available CPU.
    fn default() -> Self {
        QueryOptions {
            memory_limit_bytes: DEFAULT_MEMORY_LIMIT_BYTES,
            target_partitions: std::thread::available_parallelism()
                .unwrap_or(FALLBACK_TARGET_PARTITIONS),
            max_spill_bytes: DEFAULT_MAX_SPILL_BYTES,
        }
    }
}
