//! [`WithTail`]: a stored table plus the rows acknowledged but not yet in its files, so that a
//! query sees an event as soon as the webhook answered 200.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::MemTable;
use datafusion::error::Result;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::physical_plan::union::UnionExec;
use datafusion::physical_plan::ExecutionPlan;

/// Where the rows not yet stored come from (the ingest pipeline, in `serve`).
pub trait TailSource: Send + Sync + fmt::Debug {
    /// The rows not yet in the files, as one batch of `schema` (the table's: file columns,
    /// then partition columns); `None` when there are none.
    fn batch(&self, schema: &SchemaRef) -> Result<Option<RecordBatch>>;
}

/// `inner` (the files) and the tail, scanned as one table. Every filter is reported
/// `Inexact`: the files still prune by them, and DataFusion applies them to the tail's rows.
/// A query that runs while a flush is being stored can see that flush's rows twice, for the
/// moment between the files' rename and the tail letting go of them.
pub struct WithTail {
    inner: Arc<dyn TableProvider>,
    tail: Arc<dyn TailSource>,
}

impl WithTail {
    pub fn new(inner: Arc<dyn TableProvider>, tail: Arc<dyn TailSource>) -> Self {
        WithTail { inner, tail }
    }
}

impl fmt::Debug for WithTail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WithTail")
            .field("tail", &self.tail)
            .finish()
    }
}

#[async_trait]
impl TableProvider for WithTail {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let stored = self.inner.scan(state, projection, filters, limit).await?;
        let schema = self.inner.schema();
        let Some(batch) = self.tail.batch(&schema)? else {
            return Ok(stored);
        };
        let tail = MemTable::try_new(schema, vec![vec![batch]])?
            .scan(state, projection, &[], limit)
            .await?;
        UnionExec::try_new(vec![stored, tail])
    }
}
