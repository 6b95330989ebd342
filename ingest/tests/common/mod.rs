//! Helpers for the ingest integration tests: a real server on a socket over a temporary data
//! directory, and reading the stored Parquet back.

#![allow(dead_code)]

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use auditlens_ingest::pipeline::{Pipeline, PipelineConfig};
use auditlens_ingest::server::{self, ServerConfig};
use auditlens_ingest::stats::{Stats, StatsSnapshot};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use tokio::sync::oneshot;

pub struct TestServer {
    pub addr: SocketAddr,
    pub data: tempfile::TempDir,
    pub stats: Arc<Stats>,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    pipeline: Pipeline,
}

impl TestServer {
    pub async fn start(config: ServerConfig, tls: Option<Arc<rustls::ServerConfig>>) -> TestServer {
        Self::start_with(config, tls, |_| {}).await
    }

    pub async fn start_with(
        config: ServerConfig,
        tls: Option<Arc<rustls::ServerConfig>>,
        tweak: impl FnOnce(&mut PipelineConfig),
    ) -> TestServer {
        let data = tempfile::tempdir().unwrap();
        let mut pipeline_config = PipelineConfig::new(data.path());
        tweak(&mut pipeline_config);
        let stats = Arc::new(Stats::default());
        let pipeline = Pipeline::start(pipeline_config, stats.clone()).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server::serve(
            listener,
            tls,
            config,
            auditlens_ingest::server::Durable::Wal(pipeline.handle()),
            stats.clone(),
            async {
                let _ = stopped.await;
            },
        ));
        TestServer {
            addr,
            data,
            stats,
            stop,
            task,
            pipeline,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Stops like SIGTERM does: no new requests, flush everything, return the data directory.
    pub async fn stop(self) -> (tempfile::TempDir, StatsSnapshot) {
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap();
        let pipeline = self.pipeline;
        tokio::task::spawn_blocking(move || pipeline.shutdown())
            .await
            .unwrap()
            .unwrap();
        (self.data, self.stats.snapshot())
    }
}

pub fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "parquet") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

pub fn read_table(table: &Path) -> Vec<RecordBatch> {
    let mut batches = Vec::new();
    for file in parquet_files(table) {
        let reader = ParquetRecordBatchReaderBuilder::try_new(fs::File::open(&file).unwrap())
            .unwrap()
            .build()
            .unwrap();
        batches.extend(reader.map(Result::unwrap));
    }
    batches
}

pub fn row_count(table: &Path) -> usize {
    read_table(table).iter().map(RecordBatch::num_rows).sum()
}

/// Values of a string column across a table.
pub fn strings(table: &Path, column: &str) -> Vec<String> {
    use datafusion::arrow::array::AsArray;
    let mut out = Vec::new();
    for batch in read_table(table) {
        let array = batch.column_by_name(column).unwrap().as_string::<i32>();
        out.extend(array.iter().map(|v| v.unwrap_or_default().to_string()));
    }
    out
}

/// An `EventList` body of `n` valid events with audit IDs `PREFIX-0`….
pub fn event_list(prefix: &str, n: usize) -> String {
    let items: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"{prefix}-{i}","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/pods","verb":"list","user":{{"username":"alice","groups":["dev"]}},"sourceIPs":["10.0.0.1"],"objectRef":{{"resource":"pods","namespace":"default","apiVersion":"v1"}},"responseStatus":{{"metadata":{{}},"code":200}},"requestReceivedTimestamp":"2026-11-30T10:00:00.000001Z","stageTimestamp":"2026-11-30T10:00:00.000{i:03}Z"}}"#
            )
        })
        .collect();
    format!(
        r#"{{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{{}},"items":[{}]}}"#,
        items.join(",")
    )
}
