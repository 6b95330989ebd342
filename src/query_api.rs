//! The query service inside `serve`: `POST /v1/query` (SQL in the body, or JSON
//! `{"sql":…, "params":{…}}` / `{"saved":NAME, "params":{…}}`), `GET /v1/saved`.
//!
//! Results stream in the format the `Accept` header asks for: `application/x-ndjson` (the
//! default), `text/csv` or `application/vnd.apache.arrow.stream`. Queries run on a runtime of
//! their own, so a heavy one never takes the webhook's threads; at most `max_concurrent` run at
//! once (more get 429), each with its own memory limit and a time limit. `events` includes the
//! rows acknowledged but not yet in Parquet (the pipeline's tail).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use analyze::output::{Flow, ResultWriter};
use analyze::table::TailSource;
use analyze::{open_session_with_tail, run_query, saved, OutputFormat, QueryError, QueryOptions};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use datafusion::arrow::array::{ArrayRef, StringArray, StringBuilder};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::DataFusionError;
use futures::StreamExt;
use tokio::sync::{mpsc, Semaphore};

/// The Arrow IPC stream media type.
pub const ARROW_STREAM: &str = "application/vnd.apache.arrow.stream";
/// Largest request body (the SQL and its parameters).
const MAX_REQUEST_BYTES: usize = 1024 * 1024;

/// Limits of the query service.
#[derive(Debug, Clone)]
pub struct QueryLimits {
    /// Queries running at once; more are refused with 429.
    pub max_concurrent: usize,
    /// The slots of running queries, `max_concurrent` of them, shared with the PostgreSQL
    /// listener.
    pub permits: Arc<Semaphore>,
    /// Memory each query may hold (all of them at most `max_concurrent` times this).
    pub memory_per_query: usize,
    /// Time a query may take, results included.
    pub timeout: Duration,
}

/// The pipeline's tail as a [`TailSource`]: rows acknowledged but not yet in Parquet, with
/// their `cluster`, `date` and `hour`.
#[derive(Debug)]
pub struct PipelineTail(pub ingest::tail::Tail);

impl TailSource for PipelineTail {
    fn batch(&self, schema: &SchemaRef) -> datafusion::error::Result<Option<RecordBatch>> {
        let segments = self.0.snapshot();
        if segments.iter().all(|(_, events)| events.num_rows() == 0) {
            return Ok(None);
        }
        let arrow = |e: ArrowError| DataFusionError::ArrowError(Box::new(e), None);
        let mut parts = Vec::with_capacity(segments.len());
        for (cluster, events) in &segments {
            let (mut dates, mut hours) = (StringBuilder::new(), StringBuilder::new());
            for time in schemas::batch::partition_times(events) {
                let (date, hour) = schemas::time::partition_of(time);
                dates.append_value(date);
                hours.append_value(hour);
            }
            let mut columns = events.columns().to_vec();
            columns.push(
                Arc::new(StringArray::from(vec![cluster.as_str(); events.num_rows()])) as ArrayRef,
            );
            columns.push(Arc::new(dates.finish()));
            columns.push(Arc::new(hours.finish()));
            // The table may read some columns as other types than the events are built with
            // (text as `Utf8View`).
            let columns = columns
                .into_iter()
                .zip(schema.fields())
                .map(
                    |(column, field)| match column.data_type() == field.data_type() {
                        true => Ok(column),
                        false => datafusion::arrow::compute::cast(&column, field.data_type()),
                    },
                )
                .collect::<Result<Vec<_>, _>>()
                .map_err(arrow)?;
            parts.push(RecordBatch::try_new(schema.clone(), columns).map_err(arrow)?);
        }
        datafusion::arrow::compute::concat_batches(schema, &parts)
            .map(Some)
            .map_err(arrow)
    }
}

#[derive(Clone)]
struct QueryState {
    tail: Option<Arc<dyn TailSource>>,
    data_dir: PathBuf,
    queries_dir: PathBuf,
    limits: QueryLimits,
    permits: Arc<Semaphore>,
    runtime: tokio::runtime::Handle,
}

/// The routes; queries run on `runtime`, which should be a runtime of their own, and see the
/// rows of `tail` beside the stored ones.
pub fn routes(
    tail: Option<Arc<dyn TailSource>>,
    data_dir: PathBuf,
    queries_dir: PathBuf,
    limits: QueryLimits,
    runtime: tokio::runtime::Handle,
) -> Router {
    let permits = limits.permits.clone();
    Router::new()
        .route("/v1/query", post(query))
        .route("/v1/saved", get(list_saved))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .with_state(QueryState {
            tail,
            data_dir,
            queries_dir,
            limits,
            permits,
            runtime,
        })
}

/// A runtime for queries: two worker threads named `auditlens-query`.
pub fn query_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("auditlens-query")
        .enable_all()
        .build()
}

/// An error answer: `status` with `{"error": message}`.
pub fn problem(status: StatusCode, message: impl Into<String>) -> Response {
    Problem(status, message.into()).into_response()
}

/// A refusal before the query runs: a status and a message, answered as `{"error": …}`.
struct Problem(StatusCode, String);

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({ "error": self.1 }))).into_response()
    }
}

/// What a query error answers: the client's mistakes are 4xx.
fn refusal(error: &QueryError) -> Response {
    let status = match error {
        QueryError::Refused { .. } => StatusCode::FORBIDDEN,
        QueryError::Invalid(_) => StatusCode::BAD_REQUEST,
        QueryError::ResourcesExhausted(_) => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    problem(status, error.to_string())
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct QueryRequest {
    sql: Option<String>,
    saved: Option<String>,
    #[serde(default)]
    params: BTreeMap<String, serde_json::Value>,
}

/// The SQL a request asks for, bound to its parameters.
fn statement(state: &QueryState, headers: &HeaderMap, body: &[u8]) -> Result<String, Problem> {
    let bad = |message: String| Problem(StatusCode::BAD_REQUEST, message);
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let text = std::str::from_utf8(body).map_err(|_| bad("the body is not UTF-8".into()))?;
    if !is_json {
        if text.trim().is_empty() {
            return Err(bad("the body holds no SQL".into()));
        }
        return Ok(text.to_string());
    }
    let request: QueryRequest = serde_json::from_str(text).map_err(|e| {
        bad(format!(
            "the JSON body is not {{\"sql\"|\"saved\", \"params\"}}: {e}"
        ))
    })?;
    let params: BTreeMap<String, String> = request
        .params
        .into_iter()
        .map(|(key, value)| {
            let value = match value {
                serde_json::Value::String(text) => text,
                other => other.to_string(),
            };
            (key, value)
        })
        .collect();
    let bound = match (request.sql, request.saved) {
        (Some(sql), None) => saved::bind_sql(&sql, &params),
        (None, Some(name)) => saved::find(&state.queries_dir, &name).and_then(|q| q.bind(&params)),
        _ => return Err(bad("give exactly one of \"sql\" and \"saved\"".into())),
    };
    bound.map_err(|error| match error {
        saved::SavedError::Unknown { .. } => Problem(StatusCode::NOT_FOUND, error.to_string()),
        other => bad(other.to_string()),
    })
}

/// The response format the `Accept` header asks for.
enum Format {
    Rows(OutputFormat),
    Arrow,
}

fn format_of(headers: &HeaderMap) -> Result<(Format, &'static str), Problem> {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("*/*");
    for wanted in accept
        .split(',')
        .map(|part| part.split(';').next().unwrap_or("").trim())
    {
        match wanted {
            "application/x-ndjson" | "application/jsonl" | "application/json" | "*/*" => {
                return Ok((Format::Rows(OutputFormat::Jsonl), "application/x-ndjson"))
            }
            "text/csv" => return Ok((Format::Rows(OutputFormat::Csv), "text/csv")),
            ARROW_STREAM => return Ok((Format::Arrow, ARROW_STREAM)),
            _ => {}
        }
    }
    Err(Problem(
        StatusCode::NOT_ACCEPTABLE,
        format!(
            "cannot answer in {accept}: accept application/x-ndjson, text/csv or {ARROW_STREAM}"
        ),
    ))
}

/// A `Write` whose bytes are taken out after each batch and sent as one chunk.
#[derive(Clone, Default)]
struct Chunk(Arc<Mutex<Vec<u8>>>);

impl Write for Chunk {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Chunk {
    fn take(&self) -> Bytes {
        Bytes::from(std::mem::take(
            &mut *self.0.lock().unwrap_or_else(|e| e.into_inner()),
        ))
    }
}

enum Encoder {
    Rows(Box<ResultWriter<Chunk>>),
    Arrow(Box<StreamWriter<Chunk>>),
}

impl Encoder {
    fn write(
        &mut self,
        batch: &datafusion::arrow::record_batch::RecordBatch,
    ) -> Result<Flow, String> {
        match self {
            Encoder::Rows(writer) => writer.write(batch).map_err(|e| e.to_string()),
            Encoder::Arrow(writer) => writer
                .write(batch)
                .map(|()| Flow::Continue)
                .map_err(|e| e.to_string()),
        }
    }

    fn finish(self) -> Result<(), String> {
        match self {
            Encoder::Rows(writer) => (*writer).finish().map(|_| ()).map_err(|e| e.to_string()),
            Encoder::Arrow(mut writer) => writer.finish().map_err(|e| e.to_string()),
        }
    }
}

async fn query(State(state): State<QueryState>, headers: HeaderMap, body: Bytes) -> Response {
    let sql = match statement(&state, &headers, &body) {
        Ok(sql) => sql,
        Err(problem) => return problem.into_response(),
    };
    let (format, content_type) = match format_of(&headers) {
        Ok(found) => found,
        Err(problem) => return problem.into_response(),
    };
    let Ok(permit) = state.permits.clone().try_acquire_owned() else {
        return problem(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "{} queries are running, the most allowed at once; try again",
                state.limits.max_concurrent
            ),
        );
    };
    // Planning answers first (a 4xx for a bad query); then the rows stream, chunk by chunk.
    let (planned_tx, planned_rx) = tokio::sync::oneshot::channel::<Result<(), QueryError>>();
    let (chunks_tx, chunks_rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let options = QueryOptions {
        memory_limit_bytes: state.limits.memory_per_query,
        ..QueryOptions::default()
    };
    let (data_dir, timeout, tail) = (
        state.data_dir.clone(),
        state.limits.timeout,
        state.tail.clone(),
    );
    state.runtime.spawn(async move {
        // The last message is sent after the slot is given back, so a client that saw the end of
        // one query can start the next at once.
        let work = async {
            let session = match open_session_with_tail(&data_dir, &options, tail).await {
                Ok(session) => session,
                Err(error) => {
                    let _ = planned_tx.send(Err(error));
                    return None;
                }
            };
            let mut results = match run_query(&session, &sql).await {
                Ok(results) => {
                    let _ = planned_tx.send(Ok(()));
                    results
                }
                Err(error) => {
                    let _ = planned_tx.send(Err(error));
                    return None;
                }
            };
            let chunk = Chunk::default();
            let mut encoder = match format {
                Format::Rows(format) => Encoder::Rows(Box::new(ResultWriter::new(
                    format,
                    results.schema(),
                    chunk.clone(),
                ))),
                Format::Arrow => match StreamWriter::try_new(chunk.clone(), &results.schema()) {
                    Ok(writer) => Encoder::Arrow(Box::new(writer)),
                    Err(error) => return Some(Err(std::io::Error::other(error.to_string()))),
                },
            };
            while let Some(batch) = results.next().await {
                let written = batch
                    .map_err(|e| e.to_string())
                    .and_then(|batch| encoder.write(&batch));
                match written {
                    Ok(flow) => {
                        if chunks_tx.send(Ok(chunk.take())).await.is_err() {
                            return None; // the client went away: dropping the stream stops the query
                        }
                        if flow == Flow::Stop {
                            break;
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, "query failed while streaming its results");
                        return Some(Err(std::io::Error::other(error)));
                    }
                }
            }
            Some(
                encoder
                    .finish()
                    .map(|()| chunk.take())
                    .map_err(std::io::Error::other),
            )
        };
        let last = match tokio::time::timeout(timeout, work).await {
            Ok(last) => last,
            Err(_) => {
                tracing::warn!(?timeout, "query stopped at its time limit");
                Some(Err(std::io::Error::other(
                    "the query ran past its time limit",
                )))
            }
        };
        drop(permit);
        if let Some(last) = last {
            let _ = chunks_tx.send(last).await;
        }
    });
    match planned_rx.await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => return refusal(&error),
        Err(_) => {
            return problem(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the query did not start within {timeout:?}"),
            )
        }
    }
    let stream = tokio_stream_from(chunks_rx);
    (
        [(header::CONTENT_TYPE, content_type)],
        Body::from_stream(stream),
    )
        .into_response()
}

fn tokio_stream_from(
    mut rx: mpsc::Receiver<Result<Bytes, std::io::Error>>,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

async fn list_saved(State(state): State<QueryState>) -> Response {
    match saved::load_dir(&state.queries_dir) {
        Ok(all) => Json(serde_json::json!({ "saved": all })).into_response(),
        Err(error) => problem(StatusCode::INTERNAL_SERVER_ERROR, error.to_string()),
    }
}
