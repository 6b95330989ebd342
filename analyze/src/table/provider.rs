//! [`TimePartitionedTable`]: a listing table whose scans also get `date`/`hour` filters derived
//! from the filters on its partition time column, so that DataFusion lists and opens only the
//! files of the hours a time range covers.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{Constraints, Statistics};
use datafusion::datasource::listing::ListingTable;
use datafusion::error::Result;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::physical_plan::ExecutionPlan;

use super::time_bounds::partition_filter;

/// A `ListingTable` over `cluster=…/date=…/hour=…/*.parquet` whose rows, when
/// `time_column` is not null, lie in the directory of that time's UTC date and hour.
///
/// DataFusion prunes directories only by filters on the partition columns themselves. In
/// [`TableProvider::scan`] this table adds, for each filter on `time_column` it understands
/// (`>`, `>=`, `<`, `<=`, `=`, `BETWEEN`, `IN` with timestamp literals), the matching filter on
/// `date` and `hour`. The original filters are passed on too, so Parquet row groups are still
/// pruned by the time column's statistics, and they stay `Inexact` (DataFusion re-applies them).
pub struct TimePartitionedTable {
    inner: Arc<ListingTable>,
    time_column: &'static str,
}

impl TimePartitionedTable {
    pub fn new(inner: Arc<ListingTable>, time_column: &'static str) -> Self {
        debug_assert!(
            inner.schema().field_with_name(time_column).is_ok(),
            "time column `{time_column}` is not in the table"
        );
        TimePartitionedTable { inner, time_column }
    }

    /// The column whose hour decides a row's `date=`/`hour=` directory.
    pub fn time_column(&self) -> &'static str {
        self.time_column
    }

    async fn scan_hours(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let mut scan_filters = filters.to_vec();
        for filter in filters {
            if let Some(hours) = partition_filter(filter, self.time_column) {
                tracing::debug!(%filter, partitions = %hours, "time filter prunes partitions");
                scan_filters.push(hours);
            }
        }
        self.inner
            .scan(state, projection, &scan_filters, limit)
            .await
    }
}

impl fmt::Debug for TimePartitionedTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimePartitionedTable")
            .field("table_paths", self.inner.table_paths())
            .field("time_column", &self.time_column)
            .finish()
    }
}

#[async_trait]
impl TableProvider for TimePartitionedTable {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn constraints(&self) -> Option<&Constraints> {
        self.inner.constraints()
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    /// As the listing table: `Exact` for filters on partition columns only (they select
    /// directories), `Inexact` for the rest (time filters included).
    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        self.inner.supports_filters_pushdown(filters)
    }

    fn statistics(&self) -> Option<Statistics> {
        self.inner.statistics()
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.scan_hours(state, projection, filters, limit).await
    }
}
