//! One webhook request: authenticate, name the cluster, read and decode the body off the async
//! workers, append to the WAL, and answer once it is durable.

use std::collections::HashMap;
use std::io::Read;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use tokio::sync::oneshot;

use super::auth::{bearer_token, validate_cluster, ANY_CLUSTER};
use super::tls::Peer;
use super::{AppState, Durable, RETRY_AFTER_SECS};
use crate::decode::decode_body;
use crate::kafka::{ForwardError, Messages};
use crate::pipeline::{Append, AppendRefused};
use crate::stats::Stats;

/// `source` of events that came through the webhook.
pub const SOURCE_WEBHOOK: &str = "webhook";
/// Seconds a client should wait after a 503 before trying again.
const RETRY_AFTER_UNAVAILABLE_SECS: u64 = 5;

/// A refusal: the status and a message naming what was wrong.
struct Refusal {
    status: StatusCode,
    message: String,
    retry_after: Option<u64>,
}

impl Refusal {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Refusal {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(json!({ "error": self.message }))).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

fn overloaded(state: &AppState, what: &str) -> Refusal {
    Stats::add(&state.stats.requests_overloaded, 1);
    Refusal::new(
        StatusCode::TOO_MANY_REQUESTS,
        format!("overloaded: {what}; retry shortly"),
    )
    .retry_after(RETRY_AFTER_SECS)
}

fn unavailable(state: &AppState, message: impl Into<String>) -> Refusal {
    Stats::add(&state.stats.requests_unavailable, 1);
    Refusal::new(StatusCode::SERVICE_UNAVAILABLE, message).retry_after(RETRY_AFTER_UNAVAILABLE_SECS)
}

/// The cluster: the client certificate's CN, else the token's cluster, else `?cluster=`, else
/// the default. A `?cluster=` naming another cluster than the caller's certificate or token is
/// refused (403): one cluster's credentials cannot write another's events. A token whose
/// cluster is `*` takes the cluster from `?cluster=`.
fn resolve_cluster(
    state: &AppState,
    query: &HashMap<String, String>,
    peer: &Peer,
    headers: &HeaderMap,
) -> Result<String, Refusal> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(bearer_token);
    let token_cluster = match &state.config.tokens {
        Some(tokens) => {
            let cluster = token.and_then(|token| tokens.cluster_of(token));
            if cluster.is_none() {
                Stats::add(&state.stats.requests_unauthorized, 1);
                let message = if token.is_some() {
                    "unknown bearer token"
                } else {
                    "missing bearer token"
                };
                return Err(Refusal::new(StatusCode::UNAUTHORIZED, message));
            }
            cluster
        }
        None => None,
    };
    let named = query.get("cluster").map(String::as_str);
    let identity = peer
        .client_cn
        .as_deref()
        .or(token_cluster.filter(|cluster| *cluster != ANY_CLUSTER));
    if let (Some(identity), Some(named)) = (identity, named) {
        if identity != named {
            Stats::add(&state.stats.requests_unauthorized, 1);
            return Err(Refusal::new(
                StatusCode::FORBIDDEN,
                format!(
                    "these credentials are cluster {identity}'s: ?cluster={named} is not theirs"
                ),
            ));
        }
    }
    let cluster = identity.or(named).unwrap_or(&state.config.default_cluster);
    validate_cluster(cluster).map_err(|message| {
        Stats::add(&state.stats.requests_bad_body, 1);
        Refusal::new(StatusCode::BAD_REQUEST, message)
    })?;
    Ok(cluster.to_string())
}

fn too_large(state: &AppState) -> Refusal {
    Stats::add(&state.stats.requests_too_large, 1);
    Refusal::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "request body is larger than {} bytes",
            state.config.max_body_bytes
        ),
    )
}

async fn read_body(state: &AppState, body: Body) -> Result<Bytes, Refusal> {
    let limit = state.config.max_body_bytes;
    match tokio::time::timeout(state.config.body_timeout, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(error)) => {
            let too_big = std::error::Error::source(&error)
                .is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
            if too_big {
                Err(too_large(state))
            } else {
                Err(Refusal::new(
                    StatusCode::BAD_REQUEST,
                    format!("could not read the request body: {error}"),
                ))
            }
        }
        Err(_) => Err(Refusal::new(
            StatusCode::REQUEST_TIMEOUT,
            "the request body did not arrive in time",
        )),
    }
}

/// How the body is compressed.
fn gzip_encoded(headers: &HeaderMap) -> Result<bool, Refusal> {
    let Some(value) = headers.get(header::CONTENT_ENCODING) else {
        return Ok(false);
    };
    match value.to_str().map(str::trim) {
        Ok(v) if v.eq_ignore_ascii_case("gzip") => Ok(true),
        Ok(v) if v.eq_ignore_ascii_case("identity") => Ok(false),
        _ => Err(Refusal::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "unsupported Content-Encoding `{}`: send gzip or none",
                String::from_utf8_lossy(value.as_bytes())
            ),
        )),
    }
}

/// Decompresses a gzip body, refusing one that grows past `limit`.
fn gunzip(bytes: &[u8], limit: usize) -> Result<Vec<u8>, DecodeFailure> {
    let mut out = Vec::with_capacity(bytes.len().saturating_mul(4).min(limit));
    let mut reader = flate2::read::GzDecoder::new(bytes).take(limit as u64 + 1);
    reader
        .read_to_end(&mut out)
        .map_err(|error| DecodeFailure::Bad(format!("request body is not valid gzip: {error}")))?;
    if out.len() > limit {
        return Err(DecodeFailure::TooLarge);
    }
    Ok(out)
}

enum DecodeFailure {
    Bad(String),
    TooLarge,
}

/// A decoded request, ready to make durable.
struct Prepared {
    work: Option<Work>,
    accepted: usize,
    quarantined: usize,
}

/// What makes a request durable.
enum Work {
    Append(Append),
    /// Messages for the Kafka topic.
    Forward(Messages),
}

fn prepare(
    body: Bytes,
    gzip: bool,
    limit: usize,
    cluster: String,
    durable: &Durable,
    reply: oneshot::Sender<Result<(), crate::pipeline::StorageFailed>>,
) -> Result<Prepared, DecodeFailure> {
    let inflated;
    let bytes: &[u8] = if gzip {
        inflated = gunzip(&body, limit)?;
        &inflated
    } else {
        &body
    };
    let received_at = chrono::Utc::now().timestamp_micros();
    let decoded = decode_body(bytes, SOURCE_WEBHOOK, received_at)
        .map_err(|error| DecodeFailure::Bad(error.to_string()))?;
    let accepted = decoded.events.len();
    let quarantined = decoded.quarantined.len();
    if accepted + quarantined == 0 {
        return Ok(Prepared {
            work: None,
            accepted,
            quarantined,
        });
    }
    let work = match durable {
        Durable::Wal(_) => Work::Append(Append::new(
            decoded,
            SOURCE_WEBHOOK,
            cluster,
            received_at,
            reply,
        )),
        Durable::Kafka(forwarder) => Work::Forward(forwarder.messages(&decoded)),
    };
    Ok(Prepared {
        work: Some(work),
        accepted,
        quarantined,
    })
}

async fn handle(
    state: &AppState,
    query: HashMap<String, String>,
    peer: Peer,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Refusal> {
    if state.shutting_down.load(Ordering::SeqCst) {
        return Err(unavailable(state, "auditlens is shutting down"));
    }
    let cluster = resolve_cluster(state, &query, &peer, &headers)?;
    let gzip = gzip_encoded(&headers)?;
    let Ok(_permit) = state.in_flight.clone().try_acquire_owned() else {
        return Err(overloaded(state, "too many requests in flight"));
    };
    let body = read_body(state, body).await?;
    let limit = state.config.max_body_bytes;
    let (reply, durable) = oneshot::channel();
    let destination = state.durable.clone();
    let for_prepare = cluster.clone();
    let prepared = tokio::task::spawn_blocking(move || {
        prepare(body, gzip, limit, for_prepare, &destination, reply)
    })
    .await
    .map_err(|_| {
        Refusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "decoding the request failed unexpectedly",
        )
    })?;
    let mut prepared = match prepared {
        Ok(prepared) => prepared,
        Err(DecodeFailure::TooLarge) => return Err(too_large(state)),
        Err(DecodeFailure::Bad(message)) => {
            Stats::add(&state.stats.requests_bad_body, 1);
            return Err(Refusal::new(StatusCode::BAD_REQUEST, message));
        }
    };
    match (prepared.work, &state.durable) {
        (None, _) => {}
        (Some(Work::Append(append)), Durable::Wal(pipeline)) => {
            match pipeline.try_append(append) {
                Ok(()) => {}
                Err(AppendRefused::Full) => {
                    return Err(overloaded(state, "the write-ahead log is behind"))
                }
                Err(AppendRefused::Closed) => {
                    return Err(unavailable(
                        state,
                        "the write-ahead log is not accepting writes",
                    ))
                }
            }
            match durable.await {
                Ok(Ok(())) => {}
                Ok(Err(failed)) => return Err(unavailable(state, failed.to_string())),
                Err(_) => return Err(unavailable(state, "the write-ahead log stopped")),
            }
        }
        (Some(Work::Forward(messages)), Durable::Kafka(forwarder)) => {
            if messages.truncated > 0 || messages.unfit > 0 {
                tracing::warn!(
                    truncated = messages.truncated,
                    quarantined = messages.unfit,
                    "events too large for one Kafka message: sent without their bodies, or quarantined"
                );
            }
            let (truncated, unfit) = (messages.truncated, messages.unfit);
            match forwarder.send(&cluster, messages.payloads).await {
                Ok(()) => {
                    Stats::add(&state.stats.events_truncated, truncated as u64);
                    prepared.accepted -= unfit;
                    prepared.quarantined += unfit;
                }
                Err(ForwardError::Full) => return Err(overloaded(state, "Kafka is behind")),
                Err(error @ ForwardError::Failed(_)) => {
                    tracing::warn!(%error, "events not forwarded to Kafka");
                    return Err(unavailable(state, error.to_string()));
                }
            }
        }
        (Some(_), _) => {
            return Err(Refusal::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "request prepared for another destination",
            ))
        }
    }
    state
        .stats
        .events(&cluster, prepared.accepted, prepared.quarantined);
    if prepared.quarantined > 0 {
        tracing::warn!(
            quarantined = prepared.quarantined,
            accepted = prepared.accepted,
            "quarantined invalid events; see the quarantine table"
        );
    }
    let body = json!({ "accepted": prepared.accepted, "quarantined": prepared.quarantined });
    Ok((StatusCode::OK, Json(body)).into_response())
}

/// `POST /v1/audit`, `POST /k8s-audit`.
pub async fn ingest(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = std::time::Instant::now();
    let in_flight = state.stats.metrics.in_flight();
    let response = match handle(&state, query, peer, headers, body).await {
        Ok(response) => response,
        Err(refusal) => {
            tracing::debug!(status = refusal.status.as_u16(), message = %refusal.message, "refused a webhook request");
            refusal.into_response()
        }
    };
    drop(in_flight);
    state
        .stats
        .metrics
        .request(response.status().as_u16(), started.elapsed().as_secs_f64());
    response
}

/// `GET /livez`: the process is up.
pub async fn livez() -> &'static str {
    "ok"
}

/// `GET /readyz` (and `/healthz`): new events can be accepted. 503 names the failing checks;
/// `?verbose` lists every check, one per line, as kube-apiserver's `/readyz?verbose` does.
pub async fn readyz(
    State(state): State<Arc<AppState>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut checks: Vec<(&str, Result<(), String>)> = Vec::new();
    checks.push((
        "shutdown",
        if state.shutting_down.load(Ordering::SeqCst) {
            Err("shutting down".into())
        } else {
            Ok(())
        },
    ));
    if let Durable::Wal(pipeline) = &state.durable {
        checks.push((
            "wal",
            if pipeline.is_healthy() {
                Ok(())
            } else {
                Err("the write-ahead log failed".into())
            },
        ));
    }
    if let Some(dir) = state.config.ready_dir.clone() {
        let writable = tokio::task::spawn_blocking(move || storage_writable(&dir))
            .await
            .unwrap_or_else(|_| Err("the storage check failed".into()));
        checks.push(("storage", writable));
    }
    checks.push((
        "capacity",
        if state.in_flight.available_permits() > 0 {
            Ok(())
        } else {
            Err(format!(
                "all {} request slots are busy (--max-in-flight)",
                state.config.max_in_flight
            ))
        },
    ));
    let failed: Vec<String> = checks
        .iter()
        .filter_map(|(name, result)| result.as_ref().err().map(|e| format!("{name}: {e}")))
        .collect();
    let status = if failed.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = if query.contains_key("verbose") {
        let mut text = String::new();
        for (name, result) in &checks {
            match result {
                Ok(()) => text.push_str(&format!("[+]{name} ok\n")),
                Err(error) => text.push_str(&format!("[-]{name} failed: {error}\n")),
            }
        }
        let verdict = if failed.is_empty() {
            "passed"
        } else {
            "failed"
        };
        text.push_str(&format!("readyz check {verdict}\n"));
        text
    } else if failed.is_empty() {
        "ok".to_string()
    } else {
        failed.join("; ")
    };
    (status, body).into_response()
}

/// A file can be created, written and removed in `dir`.
fn storage_writable(dir: &std::path::Path) -> Result<(), String> {
    let probe = dir.join(".readyz-probe");
    std::fs::write(&probe, b"ok")
        .and_then(|()| std::fs::remove_file(&probe))
        .map_err(|e| format!("cannot write to {}: {e}", dir.display()))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use tokio::sync::Semaphore;

    use super::*;

    #[test]
    fn storage_that_cannot_be_written_is_named() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let error = storage_writable(file.path()).unwrap_err();
        assert!(error.contains("cannot write to"), "{error}");
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(storage_writable(dir.path()), Ok(()));
        assert!(
            std::fs::read_dir(dir.path()).unwrap().next().is_none(),
            "the probe is removed"
        );
    }
    use crate::pipeline::{Pipeline, PipelineConfig};
    use crate::server::ServerConfig;

    fn body() -> Body {
        Body::from(
            r#"{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{"auditID":"a","stage":"ResponseComplete","verb":"get"}]}"#,
        )
    }

    fn peer() -> Peer {
        Peer {
            addr: "127.0.0.1:1".parse().unwrap(),
            client_cn: None,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn requests_during_shutdown_get_503_and_are_not_written() {
        let data = tempfile::tempdir().unwrap();
        let stats = Arc::new(Stats::default());
        let pipeline = Pipeline::start(PipelineConfig::new(data.path()), stats.clone()).unwrap();
        let state = AppState {
            config: ServerConfig::default(),
            durable: Durable::Wal(pipeline.handle()),
            stats: stats.clone(),
            in_flight: Arc::new(Semaphore::new(4)),
            shutting_down: AtomicBool::new(false),
        };
        let accepted = handle(&state, HashMap::new(), peer(), HeaderMap::new(), body()).await;
        assert_eq!(accepted.ok().map(|r| r.status()), Some(StatusCode::OK));

        state.shutting_down.store(true, Ordering::SeqCst);
        let refused = handle(&state, HashMap::new(), peer(), HeaderMap::new(), body())
            .await
            .err()
            .unwrap();
        assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(refused.retry_after, Some(RETRY_AFTER_UNAVAILABLE_SECS));
        assert_eq!(stats.snapshot().events_accepted, 1);
        drop(state);
        tokio::task::spawn_blocking(move || pipeline.shutdown())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stats.snapshot().events_written, 1);
    }
}
