//! The table provider of the stored tables: a listing table over `cluster=/date=/hour=`
//! directories that also prunes those directories by time-range filters.
//!
//! - [`provider`]: [`TimePartitionedTable`], wrapping DataFusion's `ListingTable`;
//! - [`time_bounds`]: a filter on the time column into a filter on `date`/`hour`;
//! - [`tail`]: [`WithTail`], the stored rows plus those not yet in files.

pub mod provider;
pub mod tail;
pub mod time_bounds;

pub use provider::TimePartitionedTable;
pub use tail::{TailSource, WithTail};
