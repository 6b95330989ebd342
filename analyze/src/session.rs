//! [`open_session`]: the DataFusion session over the store, with `events` and `quarantine`
//! registered as bounded, time-pruned listing tables. The CLI and the query services share it.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::config::Dialect;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::{FairSpillPool, MemoryPool, TrackConsumersPool};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::error::QueryError;
use crate::options::QueryOptions;
use crate::table::TimePartitionedTable;

/// The table of accepted audit events, under `DATA_DIR/events/`.
pub const EVENTS_TABLE: &str = "events";
/// The table of inputs that were not accepted, under `DATA_DIR/quarantine/`.
pub const QUARANTINE_TABLE: &str = "quarantine";

/// Extension of finished Parquet files; files being written end in `.tmp` and are not listed.
const PARQUET_EXTENSION: &str = ".parquet";

/// How many memory consumers a "memory limit exceeded" error names.
const MEMORY_ERROR_TOP_CONSUMERS: NonZeroUsize = match NonZeroUsize::new(5) {
    Some(n) => n,
    None => unreachable!(),
};

/// One table of the store.
struct StoredTable {
    /// Table name in SQL, also the directory name under `DATA_DIR`.
    name: &'static str,
    /// Columns stored in each file (the partition columns come from the directory names).
    file_schema: fn() -> SchemaRef,
    /// The timestamp column whose UTC hour names the `date=`/`hour=` directory of every row in
    /// which it is not null.
    partition_time_column: &'static str,
}

const STORED_TABLES: [StoredTable; 2] = [
    StoredTable {
        name: EVENTS_TABLE,
        file_schema: schemas::events_schema,
        partition_time_column: "stage_at",
    },
    StoredTable {
        name: QUARANTINE_TABLE,
        file_schema: schemas::quarantine_schema,
        partition_time_column: "received_at",
    },
];

/// Views for audit work, over `events` (`queries/forensics/views/`, and the rules' own
/// `exec_sessions`), registered in every session.
pub const FORENSIC_VIEWS: &[(&str, &str)] = &[
    (
        "events_dedup",
        include_str!("../../queries/forensics/views/events_dedup.sql"),
    ),
    (
        "exec_sessions",
        include_str!("../../queries/views/exec_sessions.sql"),
    ),
    (
        "secret_access",
        include_str!("../../queries/forensics/views/secret_access.sql"),
    ),
    (
        "rbac_changes",
        include_str!("../../queries/forensics/views/rbac_changes.sql"),
    ),
    (
        "auth_failures",
        include_str!("../../queries/forensics/views/auth_failures.sql"),
    ),
];

/// Opens a query session over the store at `data_dir`: `events` and `quarantine` are
/// registered over `DATA_DIR/events/` and `DATA_DIR/quarantine/` (created when missing, so an
/// empty store answers with 0 rows), with the `cluster`, `date` and `hour` partition columns;
/// `alerts` over the alert log; and the [`FORENSIC_VIEWS`].
///
/// All queries of the session share one memory pool of `options.memory_limit_bytes`. Files are
/// listed anew for every query, so a long-lived session sees files written after it opened.
/// Tables from URLs (`SELECT * FROM 'file.parquet'`) are not enabled.
pub async fn open_session(
    data_dir: &Path,
    options: &QueryOptions,
) -> Result<SessionContext, QueryError> {
    open_session_with_tail(data_dir, options, None).await
}

/// [`open_session`], with `events` also holding the rows `tail` gives (acknowledged, not yet
/// in Parquet).
pub async fn open_session_with_tail(
    data_dir: &Path,
    options: &QueryOptions,
    tail: Option<Arc<dyn crate::table::TailSource>>,
) -> Result<SessionContext, QueryError> {
    let mut ctx =
        SessionContext::new_with_config_rt(session_config(options), runtime_env(options)?);
    crate::functions::register(&mut ctx).map_err(QueryError::Execution)?;
    for table in &STORED_TABLES {
        let dir = create_table_dir(&data_dir.join(table.name)).await?;
        let listing = listing_table(&ctx, &dir, read_schema((table.file_schema)()))?;
        let provider: Arc<dyn datafusion::catalog::TableProvider> = Arc::new(
            TimePartitionedTable::new(Arc::new(listing), table.partition_time_column),
        );
        let provider = match (&tail, table.name) {
            (Some(tail), EVENTS_TABLE) => {
                Arc::new(crate::table::WithTail::new(provider, tail.clone()))
            }
            _ => provider,
        };
        ctx.register_table(table.name, provider)
            .map_err(QueryError::Execution)?;
    }
    let alerts = crate::alerts::table::AlertsTable::new(data_dir.to_path_buf());
    ctx.register_table(crate::alerts::table::ALERTS_TABLE, Arc::new(alerts))
        .map_err(QueryError::Execution)?;
    for (name, sql) in FORENSIC_VIEWS {
        let view = ctx.sql(sql).await.map_err(QueryError::Execution)?;
        ctx.register_table(*name, view.into_view())
            .map_err(QueryError::Execution)?;
    }
    Ok(ctx)
}

fn session_config(options: &QueryOptions) -> SessionConfig {
    let mut config = SessionConfig::new()
        .with_target_partitions(options.target_partitions.get())
        // `SHOW TABLES`, `SHOW COLUMNS FROM events`, `information_schema.columns`.
        .with_information_schema(true);
    let settings = config.options_mut();
    // `now()` and friends in UTC, like every stored timestamp and the partition names.
    settings.execution.time_zone = Some("UTC".into());
    // The generic dialect accepts a trailing comma in a projection, so it ends the list at
    // `CLUSTER` (`CLUSTER BY`): `SELECT verb, cluster FROM events` would not parse. PostgreSQL's
    // does not, and it is what the PostgreSQL wire protocol's clients speak anyway.
    settings.sql_parser.dialect = Dialect::PostgreSQL;
    // Filters are evaluated while the Parquet is decoded: the other columns of a row are only
    // decoded when the row passes (an investigation's filters usually keep few rows). They run
    // in the order written: DataFusion's reordering puts the filter on the smallest column
    // first, which is often the least selective (`verb IN (…)` before `object_resource = …`
    // made the top-secret-readers query 1.6× slower).
    settings.execution.parquet.pushdown_filters = true;
    config
}

/// A session sharing everything with `ctx` (tables, views, functions, caches, settings) but
/// with a memory pool of its own of `memory_limit_bytes`: a limit per connection of a query
/// service whose connections share one session setup.
pub fn with_own_memory_pool(ctx: &SessionContext, memory_limit_bytes: usize) -> SessionContext {
    let state = ctx.state();
    let mut runtime = state.runtime_env().as_ref().clone();
    runtime.memory_pool = memory_pool(memory_limit_bytes);
    SessionContext::new_with_state(
        SessionStateBuilder::new_from_existing(state)
            .with_runtime_env(Arc::new(runtime))
            .build(),
    )
}

fn memory_pool(limit_bytes: usize) -> Arc<dyn MemoryPool> {
    Arc::new(TrackConsumersPool::new(
        FairSpillPool::new(limit_bytes),
        MEMORY_ERROR_TOP_CONSUMERS,
    ))
}

fn runtime_env(options: &QueryOptions) -> Result<Arc<RuntimeEnv>, QueryError> {
    let disk = if options.max_spill_bytes == 0 {
        DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled)
    } else {
        DiskManagerBuilder::default().with_max_temp_directory_size(options.max_spill_bytes)
    };
    RuntimeEnvBuilder::new()
        .with_memory_pool(memory_pool(options.memory_limit_bytes))
        .with_disk_manager_builder(disk)
        // DataFusion caches directory listings forever by default; a session that lives as long
        // as the query service must see the files written after it opened.
        .with_object_list_cache_limit(0)
        .build_arc()
        .map_err(QueryError::Execution)
}

/// The schema the files are read with: text columns as `Utf8View`, which the Parquet reader
/// fills without copying each value into one contiguous buffer and whose short values (verbs,
/// resources, namespaces) compare and hash inline; aggregations over them take about 40% less
/// time (docs/benchmarks.md). The files themselves store plain strings.
fn read_schema(file_schema: SchemaRef) -> SchemaRef {
    let fields: Vec<_> = file_schema
        .fields()
        .iter()
        .map(|field| match field.data_type() {
            DataType::Utf8 => Arc::new(field.as_ref().clone().with_data_type(DataType::Utf8View)),
            _ => field.clone(),
        })
        .collect();
    Arc::new(Schema::new_with_metadata(
        fields,
        file_schema.metadata().clone(),
    ))
}

/// Creates the table directory if needed and returns its canonical path.
async fn create_table_dir(dir: &Path) -> Result<PathBuf, QueryError> {
    let store_error = |error| QueryError::Store {
        path: dir.to_path_buf(),
        error,
    };
    tokio::fs::create_dir_all(dir).await.map_err(store_error)?;
    tokio::fs::canonicalize(dir).await.map_err(store_error)
}

fn listing_table(
    ctx: &SessionContext,
    dir: &Path,
    file_schema: SchemaRef,
) -> Result<ListingTable, QueryError> {
    let url = directory_url(dir)?;
    let format = ParquetFormat::default().with_options(ctx.state().table_options().parquet.clone());
    let listing_options = ListingOptions::new(Arc::new(format))
        .with_file_extension(PARQUET_EXTENSION)
        .with_table_partition_cols(partition_columns());
    let config = ListingTableConfig::new(url)
        .with_listing_options(listing_options)
        .with_schema(file_schema);
    let table = ListingTable::try_new(config).map_err(QueryError::Execution)?;
    // Footer statistics are read once per file, not once per query (entries are checked
    // against the file's size and modification time).
    let statistics_cache = ctx.runtime_env().cache_manager.get_file_statistic_cache();
    Ok(table.with_cache(statistics_cache))
}

/// `cluster`, `date`, `hour`, with their types, in directory order.
fn partition_columns() -> Vec<(String, DataType)> {
    schemas::PARTITION_COLUMNS
        .iter()
        .map(|column| (column.name.to_string(), column.kind.data_type()))
        .collect()
}

/// The `file://` URL of a directory, percent-encoded so that no character of the path is read
/// as a glob (`*`, `?`, `[`) or as URL syntax (`#`, `%`).
fn directory_url(dir: &Path) -> Result<ListingTableUrl, QueryError> {
    let Some(text) = dir.to_str() else {
        return Err(QueryError::Store {
            path: dir.to_path_buf(),
            error: std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the path is not valid UTF-8",
            ),
        });
    };
    let mut url = String::from("file://");
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"/-._~".contains(&byte) {
            url.push(char::from(byte));
        } else {
            url.push_str(&format!("%{byte:02X}"));
        }
    }
    if !url.ends_with('/') {
        url.push('/');
    }
    ListingTableUrl::parse(&url).map_err(QueryError::Execution)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_url_escapes_glob_and_url_characters() {
        let url = directory_url(Path::new("/data/a b/[x]?#%")).unwrap();
        assert_eq!(url.as_str(), "file:///data/a%20b/%5Bx%5D%3F%23%25/");
        assert_eq!(url.prefix().as_ref(), "data/a b/[x]?#%");
    }

    #[test]
    fn partition_columns_are_cluster_date_hour_text() {
        let columns = partition_columns();
        let names: Vec<&str> = columns.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["cluster", "date", "hour"]);
        assert!(columns.iter().all(|(_, ty)| ty == &DataType::Utf8));
    }
}
