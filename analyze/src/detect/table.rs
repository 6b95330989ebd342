//! [`BatchTable`]: an in-memory table whose rows are replaced between runs, so a rule's SQL is
//! planned once and run on every batch or window.

use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::error::Result;
use datafusion::logical_expr::{Expr, TableType};
use datafusion::physical_plan::ExecutionPlan;

/// A table of record batches that its owner swaps; scans see the batches of the moment.
#[derive(Debug)]
pub struct BatchTable {
    schema: SchemaRef,
    batches: RwLock<Arc<Vec<RecordBatch>>>,
}

impl BatchTable {
    pub fn new(schema: SchemaRef) -> Self {
        BatchTable {
            schema,
            batches: RwLock::new(Arc::new(Vec::new())),
        }
    }

    /// Replaces the rows. Every batch must have the table's schema.
    pub fn set(&self, batches: Arc<Vec<RecordBatch>>) {
        debug_assert!(batches.iter().all(|b| b.schema() == self.schema));
        // A poisoned lock only means a writer panicked mid-assignment of an `Arc`: still valid.
        *self.batches.write().unwrap_or_else(|e| e.into_inner()) = batches;
    }

    fn current(&self) -> Arc<Vec<RecordBatch>> {
        self.batches
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

#[async_trait]
impl TableProvider for BatchTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let batches = self.current();
        let exec = MemorySourceConfig::try_new_exec(
            &[batches.as_ref().clone()],
            self.schema.clone(),
            projection.cloned(),
        )?;
        Ok(exec)
    }
}
