//! The `alerts` table: the alert log read at every scan, so a query sees the alerts raised a
//! moment ago. `output_fields` is JSON text (use the JSON functions on it).

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, ListBuilder, StringBuilder, TimestampMicrosecondBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{Expr, TableType};
use datafusion::physical_plan::ExecutionPlan;
use schemas::Alert;

use super::log::LogReader;

/// The table's name in SQL.
pub const ALERTS_TABLE: &str = "alerts";

const TEXT_COLUMNS: [&str; 10] = [
    "uuid",
    "rule_id",
    "rule",
    "priority",
    "severity",
    "cluster",
    "output",
    "output_fields",
    "source",
    "hostname",
];
const LIST_COLUMNS: [&str; 3] = ["tags", "mitre", "audit_ids"];

pub fn alerts_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            let mut fields = vec![Field::new(
                "time",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                true,
            )];
            for name in TEXT_COLUMNS {
                fields.push(Field::new(name, DataType::Utf8, true));
            }
            for name in LIST_COLUMNS {
                let item = Arc::new(Field::new_list_field(DataType::Utf8, true));
                fields.push(Field::new(name, DataType::List(item), true));
            }
            Arc::new(Schema::new(fields))
        })
        .clone()
}

/// Alerts as one batch of [`alerts_schema`].
pub fn alerts_batch(alerts: &[Alert]) -> Result<RecordBatch> {
    let mut time = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    let mut texts: Vec<StringBuilder> = TEXT_COLUMNS.iter().map(|_| StringBuilder::new()).collect();
    let mut lists: Vec<ListBuilder<StringBuilder>> = LIST_COLUMNS
        .iter()
        .map(|_| ListBuilder::new(StringBuilder::new()))
        .collect();
    for alert in alerts {
        time.append_option(schemas::time::parse_micros(&alert.time));
        let output_fields = serde_json::to_string(&alert.output_fields)
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let values = [
            alert.uuid.as_str(),
            &alert.rule_id,
            &alert.rule,
            alert.priority.as_str(),
            match alert.severity {
                schemas::Severity::Critical => "critical",
                schemas::Severity::High => "high",
                schemas::Severity::Medium => "medium",
                schemas::Severity::Low => "low",
                schemas::Severity::Info => "info",
            },
            &alert.cluster,
            &alert.output,
            &output_fields,
            &alert.source,
            &alert.hostname,
        ];
        for (builder, value) in texts.iter_mut().zip(values) {
            builder.append_value(value);
        }
        for (builder, items) in lists
            .iter_mut()
            .zip([&alert.tags, &alert.mitre, &alert.audit_ids])
        {
            for item in items {
                builder.values().append_value(item);
            }
            builder.append(true);
        }
    }
    let mut columns: Vec<ArrayRef> = vec![Arc::new(time.finish())];
    columns.extend(texts.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
    columns.extend(lists.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
    Ok(RecordBatch::try_new(alerts_schema(), columns)?)
}

/// The `alerts` table over `DATA_DIR/alerts/log/`.
#[derive(Debug)]
pub struct AlertsTable {
    data_dir: PathBuf,
}

impl AlertsTable {
    pub fn new(data_dir: PathBuf) -> Self {
        AlertsTable { data_dir }
    }
}

#[async_trait]
impl TableProvider for AlertsTable {
    fn schema(&self) -> SchemaRef {
        alerts_schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let alerts = LogReader::new(&self.data_dir)
            .read_all()
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let batch = alerts_batch(&alerts)?;
        let exec =
            MemorySourceConfig::try_new_exec(&[vec![batch]], alerts_schema(), projection.cloned())?;
        Ok(exec)
    }
}
