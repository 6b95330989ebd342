//! The webhook server: kube-apiserver POSTs `EventList`s to `/v1/audit` (or Falco's
//! `/k8s-audit`); the answer is 200 only once the events are in the fsynced WAL.
//!
//! - [`handler`]: one request, from body to durable append;
//! - [`auth`]: bearer tokens and cluster names;
//! - [`tls`]: TLS/mTLS listener and client certificate names.

pub mod auth;
pub mod handler;
pub mod tls;

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::pipeline::PipelineHandle;
use crate::stats::Stats;
use auth::TokenMap;
use tls::Peer;

/// Largest accepted request body, after gzip decompression too.
pub const DEFAULT_MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
/// Requests being read and decoded at once at most; one more gets 429.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 32;
/// A body that takes longer to arrive is refused (408).
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// Cluster of requests that name none.
pub const DEFAULT_CLUSTER: &str = "default";
/// `Retry-After` on 429, in seconds: kube-apiserver's client waits this long and retries.
pub const RETRY_AFTER_SECS: u64 = 1;

/// Settings of the webhook.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub max_body_bytes: usize,
    pub max_in_flight: usize,
    pub body_timeout: Duration,
    pub default_cluster: String,
    /// With tokens, every request needs `Authorization: Bearer <token>`.
    pub tokens: Option<TokenMap>,
    /// More routes served beside the webhook (status pages of other parts of the process).
    pub extra_routes: Option<Router>,
    /// `/readyz` checks that a file can be created here (the data directory).
    pub ready_dir: Option<std::path::PathBuf>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            default_cluster: DEFAULT_CLUSTER.to_string(),
            tokens: None,
            extra_routes: None,
            ready_dir: None,
        }
    }
}

/// What every request handler shares.
/// Where accepted requests are made durable before the 200.
#[derive(Clone)]
pub enum Durable {
    /// The local write-ahead log (`serve`, `--role all`).
    Wal(PipelineHandle),
    /// A Kafka topic (`--role ingest`).
    Kafka(crate::kafka::Forwarder),
}

pub struct AppState {
    config: ServerConfig,
    durable: Durable,
    stats: Arc<Stats>,
    in_flight: Arc<Semaphore>,
    shutting_down: AtomicBool,
}

fn router(state: Arc<AppState>) -> Router {
    let extra = state.config.extra_routes.clone();
    let webhook: Router = Router::new()
        .route("/v1/audit", post(handler::ingest))
        .route("/k8s-audit", post(handler::ingest))
        .route("/livez", get(handler::livez))
        .route("/readyz", get(handler::readyz))
        .route("/healthz", get(handler::readyz))
        // The handler reads the body itself, with its own limit and timeout.
        .layer(DefaultBodyLimit::disable())
        .with_state(state.clone());
    match extra {
        Some(extra) => {
            // The status and report pages name users and audit IDs: with tokens configured,
            // they take the same bearer tokens as the webhook.
            let guarded = extra.layer(axum::middleware::from_fn_with_state(
                state.clone(),
                require_token,
            ));
            webhook.merge(guarded)
        }
        None => webhook,
    }
}

async fn require_token(
    axum::extract::State(state): axum::extract::State<Arc<AppState>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if let Some(tokens) = &state.config.tokens {
        let known = request
            .headers()
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(auth::bearer_token)
            .and_then(|token| tokens.cluster_of(token))
            .is_some();
        if !known {
            Stats::add(&state.stats.requests_unauthorized, 1);
            return (
                axum::http::StatusCode::UNAUTHORIZED,
                axum::Json(serde_json::json!({"error": "a known bearer token is required"})),
            )
                .into_response();
        }
    }
    next.run(request).await
}

/// Serves the webhook on `listener` (TLS when `tls` is given) until `shutdown` completes, then
/// answers 503 to new requests, lets the ones in flight finish, and returns.
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    config: ServerConfig,
    durable: Durable,
    stats: Arc<Stats>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let state = Arc::new(AppState {
        in_flight: Arc::new(Semaphore::new(config.max_in_flight.max(1))),
        config,
        durable,
        stats,
        shutting_down: AtomicBool::new(false),
    });
    let signal = {
        let state = state.clone();
        async move {
            shutdown.await;
            state.shutting_down.store(true, Ordering::SeqCst);
        }
    };
    let app = router(state).into_make_service_with_connect_info::<Peer>();
    match tls {
        Some(config) => {
            let listener = tls::TlsListener::new(listener, config)?;
            axum::serve(listener, app)
                .with_graceful_shutdown(signal)
                .await
        }
        None => {
            axum::serve(listener, app)
                .with_graceful_shutdown(signal)
                .await
        }
    }
}
