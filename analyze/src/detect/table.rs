//! [`BatchTable`]: an in-memory table whose rows are replaced between runs, so a rule's SQL is
//! planned once — down to its physical plan — and run on every batch or window. The scan reads
//! the batches of the moment when the plan is executed, not when it is planned.

use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{Session, TableProvider};
use datafusion::error::Result;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Expr, TableType};
use datafusion::physical_plan::memory::MemoryStream;
use datafusion::physical_plan::streaming::{PartitionStream, StreamingTableExec};
use datafusion::physical_plan::ExecutionPlan;

type Shared = Arc<RwLock<Arc<Vec<RecordBatch>>>>;

/// A table of record batches that its owner swaps; executions see the batches of the moment.
#[derive(Debug)]
pub struct BatchTable {
    source: Arc<Source>,
}

#[derive(Debug)]
struct Source {
    schema: SchemaRef,
    batches: Shared,
}

impl BatchTable {
    pub fn new(schema: SchemaRef) -> Self {
        BatchTable {
            source: Arc::new(Source {
                schema,
                batches: Arc::new(RwLock::new(Arc::new(Vec::new()))),
            }),
        }
    }

    /// Replaces the rows. Every batch must have the table's schema.
    pub fn set(&self, batches: Arc<Vec<RecordBatch>>) {
        debug_assert!(batches.iter().all(|b| b.schema() == self.source.schema));
        // A poisoned lock only means a writer panicked mid-assignment of an `Arc`: still valid.
        *self
            .source
            .batches
            .write()
            .unwrap_or_else(|e| e.into_inner()) = batches;
    }

    /// The rows of the moment.
    pub fn current(&self) -> Arc<Vec<RecordBatch>> {
        self.source.current()
    }
}

impl Source {
    fn current(&self) -> Arc<Vec<RecordBatch>> {
        self.batches
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl PartitionStream for Source {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let batches = self.current().as_ref().clone();
        match MemoryStream::try_new(batches, self.schema.clone(), None) {
            Ok(stream) => Box::pin(stream),
            Err(error) => Box::pin(
                datafusion::physical_plan::stream::RecordBatchStreamAdapter::new(
                    self.schema.clone(),
                    futures::stream::once(async move { Err(error) }),
                ),
            ),
        }
    }
}

#[async_trait]
impl TableProvider for BatchTable {
    fn schema(&self) -> SchemaRef {
        self.source.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        // No statistics on purpose: a plan made for one batch must hold for the next, so the
        // planner may not fold row counts into it.
        let exec = StreamingTableExec::try_new(
            self.source.schema.clone(),
            vec![self.source.clone() as Arc<dyn PartitionStream>],
            projection,
            Vec::new(),
            false,
            limit,
        )?;
        Ok(Arc::new(exec))
    }
}
