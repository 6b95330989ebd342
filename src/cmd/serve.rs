//! `auditlens serve`: the webhook (and the Kafka source), the WAL, the store and detection in
//! one process, until SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use ingest::batcher::{self, BatchLimits};
use ingest::kafka::writer::{self, Target};
use ingest::kafka::KafkaSource;
use ingest::kafka::{Destination, Forwarder};
use ingest::pipeline::{Pipeline, PipelineConfig};
use ingest::server::{self, auth::TokenMap, tls, Durable, ServerConfig};
use ingest::stats::Stats;
use ingest::store::object::ObjectTarget;
use ingest::store::{FileOptions, Store};

use analyze::alerts::file::{self, FileSink};
use analyze::alerts::kafka::KafkaSink;
use analyze::alerts::sink::{Sink, SinkRunner};
use analyze::alerts::stdout::StdoutSink;
use analyze::alerts::webhook::{self, WebhookSink};
use analyze::detect::EngineOptions;
use schemas::Priority;

use super::DataDirArg;
use crate::detect::live;
use crate::detect::pack::PackArgs;
use crate::kafka::KafkaArgs;

/// Where the webhook listens by default: Falco's port, loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9765";

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// A TOML file of settings: keys are these flags without dashes (`tls_cert = "…"`); flags
    /// and environment variables override it (`auditlens config example` prints one).
    #[arg(long, env = "AUDITLENS_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub data: DataDirArg,
    /// Address to listen on. Off loopback, TLS or bearer tokens are required (or --allow-insecure).
    #[arg(long, default_value = DEFAULT_LISTEN, env = "AUDITLENS_LISTEN")]
    pub listen: SocketAddr,
    /// Cluster name for requests that carry none (no ?cluster=, client certificate or token).
    #[arg(long, default_value = server::DEFAULT_CLUSTER, env = "AUDITLENS_CLUSTER")]
    pub cluster: String,
    /// Server certificate chain (PEM); enables TLS.
    #[arg(long, requires = "tls_key", env = "AUDITLENS_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// Server private key (PEM).
    #[arg(long, requires = "tls_cert", env = "AUDITLENS_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// CA (PEM) that signs client certificates; enables mTLS: clients without a valid certificate are refused.
    #[arg(long, requires = "tls_cert", env = "AUDITLENS_CLIENT_CA")]
    pub client_ca: Option<PathBuf>,
    /// File of `token,cluster` lines; every request then needs `Authorization: Bearer <token>`.
    #[arg(long, env = "AUDITLENS_TOKENS_FILE")]
    pub tokens_file: Option<PathBuf>,
    /// Serve plain HTTP without authentication on a non-loopback address.
    #[arg(long, env = "AUDITLENS_ALLOW_INSECURE")]
    pub allow_insecure: bool,
    /// Largest request body in bytes (after gzip decompression too); larger ones get 413.
    #[arg(long, default_value_t = server::DEFAULT_MAX_BODY_BYTES, env = "AUDITLENS_MAX_BODY_BYTES")]
    pub max_body_bytes: usize,
    /// Requests read and decoded at once at most; more get 429.
    #[arg(long, default_value_t = server::DEFAULT_MAX_IN_FLIGHT, env = "AUDITLENS_MAX_IN_FLIGHT")]
    pub max_in_flight: usize,
    /// Flush to Parquet once this many events are buffered.
    #[arg(long, default_value_t = batcher::DEFAULT_MAX_ROWS, env = "AUDITLENS_FLUSH_MAX_ROWS")]
    pub flush_max_rows: usize,
    /// Flush to Parquet once the buffered events take this many bytes of Arrow memory.
    #[arg(long, default_value_t = batcher::DEFAULT_MAX_BYTES, env = "AUDITLENS_FLUSH_MAX_BYTES")]
    pub flush_max_bytes: usize,
    /// Flush to Parquet once the oldest buffered event waited this long (milliseconds).
    #[arg(long, default_value_t = batcher::DEFAULT_MAX_AGE.as_millis() as u64, env = "AUDITLENS_FLUSH_MAX_AGE_MS")]
    pub flush_max_age_ms: u64,
    #[command(flatten)]
    pub pack: PackArgs,
    /// Run without detection rules.
    #[arg(long, env = "AUDITLENS_NO_RULES")]
    pub no_rules: bool,
    #[command(flatten)]
    pub alerts: AlertArgs,
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// What this process does: `all` (webhook, WAL, Parquet, detection, alerts); `ingest` (a
    /// stateless webhook that produces accepted events to --events-topic and answers 200 once
    /// Kafka acknowledged them); `writer` (a consumer group turning --source-topics into Parquet
    /// under --data-dir, committing offsets once the files are stored); `detect` (a consumer
    /// group running the rule pack on --source-topics, alerts to the sinks).
    #[arg(long, value_enum, default_value = "all", env = "AUDITLENS_ROLE")]
    pub role: Role,
    /// `--role ingest`: the topic accepted events go to (key: cluster).
    #[arg(long, env = "AUDITLENS_EVENTS_TOPIC")]
    pub events_topic: Option<String>,
    /// `--role ingest`: largest message produced; a request's events are split over several.
    #[arg(long, default_value_t = ingest::kafka::DEFAULT_FORWARD_MESSAGE_BYTES, env = "AUDITLENS_EVENTS_MESSAGE_MAX_BYTES")]
    pub events_message_max_bytes: usize,
    /// Also consume audit events (one Event or EventList per message) from these Kafka topics.
    #[arg(
        long,
        value_delimiter = ',',
        requires = "kafka_brokers",
        env = "AUDITLENS_SOURCE_TOPICS"
    )]
    pub source_topics: Vec<String>,
    /// Consumer group of the Kafka source: replicas in one group share the partitions.
    #[arg(long, default_value = "auditlens", env = "AUDITLENS_SOURCE_GROUP")]
    pub source_group: String,
    /// Directory of the saved investigations `POST /v1/query` runs by name.
    #[arg(long, default_value = "queries/forensics", env = "AUDITLENS_QUERIES")]
    pub queries: PathBuf,
    /// `POST /v1/query`: queries running at once; more get 429.
    #[arg(long, default_value_t = 4, env = "AUDITLENS_QUERY_MAX_CONCURRENT")]
    pub query_max_concurrent: usize,
    /// `POST /v1/query`: memory each query may hold, in bytes (it spills to disk, then fails).
    #[arg(long, default_value_t = 512 * 1024 * 1024, env = "AUDITLENS_QUERY_MEMORY_BYTES")]
    pub query_memory_bytes: usize,
    /// `POST /v1/query`: time a query may take, results included.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "60s", env = "AUDITLENS_QUERY_TIMEOUT")]
    pub query_timeout: Duration,
    /// Also serve the audit history over the PostgreSQL wire protocol on this address (psql,
    /// Grafana, DBeaver, Metabase), read-only, with the limits of `POST /v1/query`. The password
    /// is one of --tokens-file's tokens, or a client certificate signed by --client-ca
    /// authenticates; TLS with --tls-cert. Off loopback one of those is required.
    #[arg(long, env = "AUDITLENS_PG_LISTEN")]
    pub pg_listen: Option<SocketAddr>,
    /// `--pg-listen`: connections open at once; more are closed.
    #[arg(long, default_value_t = 64, env = "AUDITLENS_PG_MAX_CONNECTIONS")]
    pub pg_max_connections: usize,
    /// How often small Parquet files of closed hours are merged and the retention applied
    /// (`0s`: never; `auditlens compact` and `auditlens retention` do it by hand).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "1h", env = "AUDITLENS_COMPACT_EVERY")]
    pub compact_every: Duration,
    /// Files younger than this are not compacted.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "2h", env = "AUDITLENS_COMPACT_MIN_AGE")]
    pub compact_min_age: Duration,
    #[command(flatten)]
    pub keep: super::maintain::KeepArgs,
    /// How often the coverage gauges of `/metrics` are recomputed from the stored events
    /// (`10m`; `0s` turns them off). `GET /v1/coverage` always computes on demand.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "10m", env = "AUDITLENS_COVERAGE_EVERY")]
    pub coverage_every: Duration,
    /// The period of stored events the coverage gauges look at.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "24h", env = "AUDITLENS_COVERAGE_WINDOW")]
    pub coverage_window: Duration,
    /// `--role writer`: store the files on S3-compatible object storage, `s3://BUCKET[/PREFIX]`,
    /// instead of under --data-dir. Credentials, region and endpoint come from the `AWS_*`
    /// environment variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION,
    /// AWS_ENDPOINT_URL, AWS_ALLOW_HTTP, …) or from --store-option.
    #[arg(long, value_name = "s3://BUCKET/PREFIX", env = "AUDITLENS_STORE_URL")]
    pub store_url: Option<String>,
    /// An object storage setting, KEY=VALUE (repeatable), e.g. aws_endpoint=http://minio:9000,
    /// aws_allow_http=true, aws_region=eu-west-1, aws_virtual_hosted_style_request=false.
    #[arg(
        long = "store-option",
        value_name = "KEY=VALUE",
        requires = "store_url",
        env = "AUDITLENS_STORE_OPTION"
    )]
    pub store_options: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    All,
    Ingest,
    Writer,
    Detect,
}

/// Where alerts go. Every alert is first written to the alert log under the data directory
/// (the `alerts` table); each sink delivers from there at least once.
#[derive(Debug, clap::Args)]
pub struct AlertArgs {
    /// Print alerts on stdout, one JSON object per line.
    #[arg(long, env = "AUDITLENS_ALERTS_STDOUT")]
    pub alerts_stdout: bool,
    /// Append alerts to this file (JSON Lines), rotated by size.
    #[arg(long, env = "AUDITLENS_ALERTS_FILE")]
    pub alerts_file: Option<PathBuf>,
    /// Rotate the alerts file once it holds this many bytes.
    #[arg(long, default_value_t = file::DEFAULT_MAX_BYTES, env = "AUDITLENS_ALERTS_FILE_MAX_BYTES")]
    pub alerts_file_max_bytes: u64,
    /// Rotated alert files kept (`FILE.1` … `FILE.N`).
    #[arg(long, default_value_t = file::DEFAULT_KEEP, env = "AUDITLENS_ALERTS_FILE_KEEP")]
    pub alerts_file_keep: usize,
    /// POST each alert as JSON to this URL (retried with backoff until it answers 2xx).
    #[arg(long, env = "AUDITLENS_ALERTS_WEBHOOK")]
    pub alerts_webhook: Option<String>,
    /// Bearer token sent to the alert webhook.
    #[arg(long, env = "AUDITLENS_ALERTS_WEBHOOK_TOKEN", hide_env_values = true)]
    pub alerts_webhook_token: Option<String>,
    /// Produce each alert to this Kafka topic (needs --kafka-brokers).
    #[arg(long, env = "AUDITLENS_ALERTS_TOPIC")]
    pub alerts_topic: Option<String>,
    /// Sinks skip alerts below this priority (Emergency … Debug).
    #[arg(long, default_value = "Debug", env = "AUDITLENS_ALERTS_MIN_PRIORITY")]
    pub alerts_min_priority: Priority,
    /// The Kafka sink skips alerts below this priority (default: --alerts-min-priority).
    #[arg(long, env = "AUDITLENS_ALERTS_KAFKA_MIN_PRIORITY")]
    pub alerts_kafka_min_priority: Option<Priority>,
}

impl AlertArgs {
    /// The sinks, each with its minimum priority. The Kafka sink asks the brokers for the
    /// topic first: when that fails it says why, and alerts wait in the log until Kafka is back.
    fn sinks(
        &self,
        kafka: &KafkaArgs,
        runtime: &tokio::runtime::Runtime,
    ) -> anyhow::Result<Vec<SinkRunner>> {
        let mut sinks: Vec<(Box<dyn Sink>, Priority)> = Vec::new();
        let mut others: Vec<Box<dyn Sink>> = Vec::new();
        if let Some(topic) = &self.alerts_topic {
            if !kafka.enabled() {
                bail!("--alerts-topic needs --kafka-brokers");
            }
            let client = kafka.client_config()?;
            let sink = {
                let _entered = runtime.enter();
                KafkaSink::new(&client, topic)
                    .map_err(anyhow::Error::msg)
                    .context("--alerts-topic")?
            };
            match runtime.block_on(sink.check()) {
                Ok(partitions) => {
                    tracing::info!(%topic, partitions, "Kafka alert sink ready")
                }
                Err(reason) => tracing::error!(
                    %topic,
                    %reason,
                    "the Kafka alert sink cannot deliver now; alerts wait in the alert log"
                ),
            }
            let priority = self
                .alerts_kafka_min_priority
                .unwrap_or(self.alerts_min_priority);
            sinks.push((Box::new(sink), priority));
        }
        if self.alerts_stdout {
            others.push(Box::new(StdoutSink));
        }
        if let Some(path) = &self.alerts_file {
            others.push(Box::new(FileSink {
                path: path.clone(),
                max_bytes: self.alerts_file_max_bytes,
                keep: self.alerts_file_keep,
            }));
        }
        if let Some(url) = &self.alerts_webhook {
            let sink = WebhookSink::new(
                url,
                self.alerts_webhook_token.clone(),
                webhook::DEFAULT_TIMEOUT,
            )
            .map_err(anyhow::Error::msg)
            .context("--alerts-webhook")?;
            others.push(Box::new(sink));
        }
        sinks.extend(
            others
                .into_iter()
                .map(|sink| (sink, self.alerts_min_priority)),
        );
        Ok(sinks
            .into_iter()
            .map(|(sink, min_priority)| SinkRunner {
                sink,
                min_priority,
                stats: Arc::default(),
            })
            .collect())
    }
}

struct Validated {
    server: ServerConfig,
    pipeline: PipelineConfig,
    tls: Option<Arc<rustls::ServerConfig>>,
}

/// What `serve` checks of its settings before it starts: `auditlens config check`.
pub fn check(args: &ServeArgs) -> anyhow::Result<()> {
    validate(args)?;
    args.keep.retention()?;
    if args.store_url.is_some() && args.role != Role::Writer {
        bail!("--store-url is for --role writer; the other roles keep their data under --data-dir");
    }
    Ok(())
}

fn validate(args: &ServeArgs) -> anyhow::Result<Validated> {
    if args.tls_cert.is_some() != args.tls_key.is_some() {
        bail!("--tls-cert and --tls-key (tls_cert, tls_key) go together");
    }
    if args.client_ca.is_some() && args.tls_cert.is_none() {
        bail!("--client-ca (client_ca) needs --tls-cert and --tls-key");
    }
    server::auth::validate_cluster(&args.cluster)
        .map_err(anyhow::Error::msg)
        .context("--cluster")?;
    if args.max_body_bytes == 0 || args.max_in_flight == 0 || args.flush_max_rows == 0 {
        bail!("--max-body-bytes, --max-in-flight and --flush-max-rows must be positive");
    }
    let tokens = match &args.tokens_file {
        Some(path) => Some(TokenMap::load(path)?),
        None => None,
    };
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(tls::server_config(&tls::TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
            client_ca: args.client_ca.clone(),
        })?),
        _ => None,
    };
    if !args.listen.ip().is_loopback() && tls.is_none() && tokens.is_none() && !args.allow_insecure
    {
        bail!(
            "refusing to serve plain HTTP without authentication on {}: give --tls-cert/--tls-key, --tokens-file, or --allow-insecure",
            args.listen
        );
    }
    let mut pipeline = PipelineConfig::new(&args.data.data_dir);
    pipeline.limits = BatchLimits {
        max_rows: args.flush_max_rows,
        max_bytes: args.flush_max_bytes,
        max_age: Duration::from_millis(args.flush_max_age_ms),
    };
    let server = ServerConfig {
        max_body_bytes: args.max_body_bytes,
        max_in_flight: args.max_in_flight,
        default_cluster: args.cluster.clone(),
        tokens,
        ready_dir: (args.role == Role::All).then(|| args.data.data_dir.clone()),
        ..ServerConfig::default()
    };
    Ok(Validated {
        server,
        pipeline,
        tls,
    })
}

/// Resolves on SIGINT or SIGTERM. The handlers are installed when this is called, not when the
/// future is first polled, so a signal that arrives right after start-up is not missed.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => {},
            _ = interrupt.recv() => {},
        }
        tracing::info!("shutting down: no new requests, flushing to Parquet");
    })
}

/// Listens on `--listen` and serves the webhook until SIGINT/SIGTERM.
fn listen_and_serve(
    runtime: &tokio::runtime::Runtime,
    listen: SocketAddr,
    tls: Option<Arc<rustls::ServerConfig>>,
    server_config: ServerConfig,
    durable: Durable,
    stats: Arc<Stats>,
    destination: &str,
) -> anyhow::Result<()> {
    runtime.block_on(async {
        let shutdown = shutdown_signal()?;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let address = listener.local_addr()?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        tracing::info!(%address, scheme, destination, "listening");
        server::serve(listener, tls, server_config, durable, stats, shutdown)
            .await
            .context("the webhook server failed")
    })
}

/// `--role ingest`: the webhook in front of a Kafka topic; nothing on local disk.
fn run_ingest_role(args: ServeArgs, config: Validated) -> anyhow::Result<ExitCode> {
    let Some(topic) = args.events_topic.as_deref() else {
        bail!("--role ingest needs --events-topic (and --kafka-brokers)");
    };
    let client = args.kafka.client_config()?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let forwarder = {
        let _entered = runtime.enter();
        Forwarder::new(&client, topic, args.events_message_max_bytes)
            .context("cannot create the Kafka producer")?
    };
    let stats = Arc::new(Stats::default());
    let served = listen_and_serve(
        &runtime,
        args.listen,
        config.tls,
        config.server,
        Durable::Kafka(forwarder.clone()),
        stats.clone(),
        &format!("kafka topic {topic}"),
    );
    forwarder.flush(Duration::from_secs(10));
    let totals = stats.snapshot();
    tracing::info!(
        accepted = totals.events_accepted,
        quarantined = totals.events_quarantined,
        bad_requests = totals.requests_bad_body,
        overloaded = totals.requests_overloaded,
        unavailable = totals.requests_unavailable,
        "stopped"
    );
    served?;
    Ok(ExitCode::SUCCESS)
}

/// `--role detect`: the rule pack over Kafka topics, until SIGINT/SIGTERM. Offsets are
/// committed once the event rules ran on a message and their alerts are in the outbox.
fn run_detect_role(args: ServeArgs) -> anyhow::Result<ExitCode> {
    if args.source_topics.is_empty() {
        bail!("--role detect needs --source-topics (and --kafka-brokers)");
    }
    if args.no_rules {
        bail!("--role detect runs the rules: drop --no-rules");
    }
    let data_dir = args.data.data_dir.display().to_string();
    std::fs::create_dir_all(&args.data.data_dir)
        .with_context(|| format!("cannot create the data directory {data_dir}"))?;
    let source = kafka_source(&args)?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let (tap, detection) = start_detection(
        &args,
        &runtime,
        live::Statuses::default(),
        &crate::coverage::SinkMetrics::default(),
    )?;
    let consumer = {
        let _entered = runtime.enter();
        source.consumer().context("--source-topics")?
    };
    let stats = Arc::new(Stats::default());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tracing::info!(topics = ?source.topics, group = %source.group, "running the rules on Kafka topics");
    runtime.block_on(async {
        let shutdown = shutdown_signal()?;
        let consuming = source.run(consumer, Destination::Detect(tap), stats.clone(), stopped);
        tokio::pin!(consuming);
        tokio::select! {
            _ = &mut consuming => {}
            _ = shutdown => {
                stop.send_replace(true);
                consuming.await;
            }
        }
        anyhow::Ok(())
    })?;
    // The consumer dropped the last tap: detection publishes what is left and stops the sinks.
    detection.join();
    runtime.shutdown_timeout(Duration::from_secs(10));
    let totals = stats.snapshot();
    tracing::info!(
        events = totals.events_accepted,
        quarantined = totals.events_quarantined,
        "stopped"
    );
    Ok(ExitCode::SUCCESS)
}

/// The Kafka source of `--source-topics`.
fn kafka_source(args: &ServeArgs) -> anyhow::Result<KafkaSource> {
    Ok(KafkaSource {
        client: args.kafka.client_config()?,
        topics: args.source_topics.clone(),
        group: args.source_group.clone(),
        default_cluster: args.cluster.clone(),
        max_message_bytes: args.max_body_bytes,
    })
}

/// Loads the rule pack and starts detection with the alert sinks.
fn start_detection(
    args: &ServeArgs,
    runtime: &tokio::runtime::Runtime,
    statuses: live::Statuses,
    sink_metrics: &crate::coverage::SinkMetrics,
) -> anyhow::Result<(ingest::pipeline::Tap, live::Detection)> {
    let pack = args.pack.load()?;
    for error in &pack.errors {
        tracing::error!(%error, "rule not loaded");
    }
    let options = EngineOptions {
        hostname: live::hostname(),
        ..pack.engine_options()
    };
    let sinks = args.alerts.sinks(&args.kafka, runtime)?;
    *sink_metrics.lock().unwrap_or_else(|e| e.into_inner()) = sinks
        .iter()
        .map(|runner| (runner.sink.name().to_string(), runner.stats.clone()))
        .collect();
    live::start(
        pack.rules,
        options,
        &args.data.data_dir,
        sinks,
        runtime.handle().clone(),
        statuses,
    )
}

/// `--role writer`: Kafka to Parquet, until SIGINT/SIGTERM.
fn run_writer_role(args: ServeArgs, config: Validated) -> anyhow::Result<ExitCode> {
    if args.source_topics.is_empty() {
        bail!("--role writer needs --source-topics (and --kafka-brokers)");
    }
    let source = kafka_source(&args)?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let (target, destination) = match &args.store_url {
        Some(url) => {
            let mut settings = Vec::new();
            for option in &args.store_options {
                let Some((key, value)) = option.split_once('=') else {
                    bail!("--store-option `{option}`: expected KEY=VALUE");
                };
                settings.push((key.trim().to_string(), value.trim().to_string()));
            }
            let target =
                ObjectTarget::s3(url, &settings, FileOptions::default()).context("--store-url")?;
            runtime.block_on(target.check()).with_context(|| {
                format!("cannot list {url}; check the bucket, the endpoint and the credentials")
            })?;
            let destination = target.url().to_string();
            (Target::Object(Arc::new(target)), destination)
        }
        None => {
            let data_dir = args.data.data_dir.display().to_string();
            let store = Store::open(&args.data.data_dir, FileOptions::default())
                .with_context(|| format!("cannot open the data directory {data_dir}"))?;
            (Target::Local(Arc::new(store)), data_dir)
        }
    };
    let consumer = {
        let _entered = runtime.enter();
        source.consumer().context("--source-topics")?
    };
    let stats = Arc::new(Stats::default());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tracing::info!(topics = ?source.topics, group = %source.group, %destination, "writing Kafka topics to Parquet");
    runtime.block_on(async {
        let shutdown = shutdown_signal()?;
        let writer = writer::run(
            &source,
            consumer,
            target,
            config.pipeline.limits,
            stats.clone(),
            stopped,
        );
        tokio::pin!(writer);
        tokio::select! {
            _ = &mut writer => {}
            _ = shutdown => {
                stop.send_replace(true);
                writer.await;
            }
        }
        anyhow::Ok(())
    })?;
    let totals = stats.snapshot();
    tracing::info!(
        accepted = totals.events_accepted,
        quarantined = totals.events_quarantined,
        written = totals.events_written,
        files = totals.files_written,
        "stopped"
    );
    Ok(ExitCode::SUCCESS)
}

/// Starts the PostgreSQL listener on the query runtime.
fn start_pg(
    args: &ServeArgs,
    address: SocketAddr,
    config: &Validated,
    tail: Arc<dyn analyze::table::TailSource>,
    limits: &crate::query_api::QueryLimits,
    query_runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    let auth = crate::pg::PgAuth {
        tokens: config.server.tokens.clone().map(Arc::new),
        client_certificates: args.client_ca.is_some(),
    };
    if !address.ip().is_loopback() && !auth.required() {
        bail!(
            "refusing to serve the audit history on {address} (--pg-listen) without authentication: give --tokens-file (clients log in with a token as password) or --client-ca"
        );
    }
    let listener = crate::pg::bind(address)?;
    let options = analyze::QueryOptions {
        memory_limit_bytes: args.query_memory_bytes,
        ..analyze::QueryOptions::default()
    };
    let base = query_runtime.block_on(async {
        let session =
            analyze::open_session_with_tail(&args.data.data_dir, &options, Some(tail)).await?;
        crate::pg::add_pg_catalog(&session)?;
        anyhow::Ok(session)
    })?;
    let pg_limits = crate::pg::PgLimits {
        permits: limits.permits.clone(),
        memory_per_connection: args.query_memory_bytes,
        timeout: args.query_timeout,
        max_connections: args.pg_max_connections,
    };
    // With both tokens and a client CA, a PostgreSQL client may log in either way, so TLS
    // must not require a certificate: one without gets asked for a token as password.
    let tls = match (&args.tls_cert, &args.tls_key, &auth.tokens, &args.client_ca) {
        (Some(cert), Some(key), Some(_), Some(ca)) => {
            Some(ingest::server::tls::server_config_with(
                &ingest::server::tls::TlsFiles {
                    cert: cert.clone(),
                    key: key.clone(),
                    client_ca: Some(ca.clone()),
                },
                false,
            )?)
        }
        _ => config.tls.clone(),
    };
    query_runtime.spawn(async move {
        match tokio::net::TcpListener::from_std(listener) {
            Ok(listener) => {
                let address = listener
                    .local_addr()
                    .map(|a| a.to_string())
                    .unwrap_or_default();
                tracing::info!(%address, tls = tls.is_some(), "PostgreSQL listening");
                crate::pg::serve(listener, base, tls, auth, pg_limits).await
            }
            Err(error) => tracing::error!(%error, "cannot serve --pg-listen"),
        }
    });
    Ok(())
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let mut config = validate(&args)?;
    if args.store_url.is_some() && args.role != Role::Writer {
        bail!("--store-url is for --role writer; the other roles keep their data under --data-dir");
    }
    match args.role {
        Role::Ingest => return run_ingest_role(args, config),
        Role::Writer => return run_writer_role(args, config),
        Role::Detect => return run_detect_role(args),
        Role::All => {}
    }
    let stats = Arc::new(Stats::default());
    let data_dir = args.data.data_dir.display().to_string();
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let rules_missing = !args.no_rules && !args.pack.rules.is_dir();
    if rules_missing {
        tracing::warn!(rules = %args.pack.rules.display(), "no rules directory; detection is off (give --rules DIR)");
    }
    let sink_metrics = crate::coverage::SinkMetrics::default();
    let statuses = live::Statuses::default();
    let detection = if args.no_rules || rules_missing {
        None
    } else {
        std::fs::create_dir_all(&args.data.data_dir)
            .with_context(|| format!("cannot create the data directory {data_dir}"))?;
        let (tap, detection) = start_detection(&args, &runtime, statuses.clone(), &sink_metrics)?;
        config.pipeline.tap = Some(tap);
        config.server.extra_routes = Some(live::status_routes(statuses.clone()));
        Some(detection)
    };
    // Reading the audit history (queries, the coverage report) needs a client identity off
    // loopback: a bearer token or a client certificate. TLS alone (or --allow-insecure) keeps
    // those routes off.
    let authenticated = config.server.tokens.is_some() || args.client_ca.is_some();
    let history_allowed = args.listen.ip().is_loopback() || authenticated;
    if !history_allowed {
        tracing::warn!(
            listen = %args.listen,
            "POST /v1/query and GET /v1/coverage are off: off loopback they need --tokens-file or --client-ca"
        );
    }
    let latest = crate::coverage::Latest::default();
    let coverage = crate::coverage::routes(
        args.data.data_dir.clone(),
        stats.clone(),
        sink_metrics,
        latest.clone(),
        statuses,
        history_allowed,
    );
    let query_runtime =
        crate::query_api::query_runtime().context("cannot start the query runtime")?;
    let tail: Arc<dyn analyze::table::TailSource> =
        Arc::new(crate::query_api::PipelineTail(config.pipeline.tail.clone()));
    let limits = crate::query_api::QueryLimits {
        max_concurrent: args.query_max_concurrent,
        permits: Arc::new(tokio::sync::Semaphore::new(
            args.query_max_concurrent.max(1),
        )),
        memory_per_query: args.query_memory_bytes,
        timeout: args.query_timeout,
    };
    if let Some(address) = args.pg_listen {
        start_pg(
            &args,
            address,
            &config,
            tail.clone(),
            &limits,
            &query_runtime,
        )?;
    }
    let queries = crate::query_api::routes(
        Some(tail),
        args.data.data_dir.clone(),
        args.queries.clone(),
        limits,
        query_runtime.handle().clone(),
    );
    let coverage = if history_allowed {
        coverage.merge(queries)
    } else {
        coverage
    };
    config.server.extra_routes = Some(match config.server.extra_routes.take() {
        Some(routes) => routes.merge(coverage),
        None => coverage,
    });
    if !args.coverage_every.is_zero() {
        runtime.spawn(crate::coverage::refresh(
            args.data.data_dir.clone(),
            latest,
            args.coverage_window,
            args.coverage_every,
        ));
    }
    let retention = args.keep.retention()?;
    if args.data.data_dir.join("wal").is_dir() {
        ingest::store::maintain::recover(&args.data.data_dir)
            .context("cannot finish or undo an interrupted compaction")?;
    }
    let pipeline = Pipeline::start(config.pipeline, stats.clone())
        .with_context(|| format!("cannot open the data directory {data_dir}"))?;
    super::maintain::spawn(
        args.data.data_dir.clone(),
        args.compact_every,
        args.compact_min_age,
        retention,
    );
    let (stop_source, stop_rx) = tokio::sync::watch::channel(false);
    let source = if args.source_topics.is_empty() {
        None
    } else {
        let source = kafka_source(&args)?;
        let consumer = {
            let _entered = runtime.enter();
            source.consumer().context("--source-topics")?
        };
        tracing::info!(topics = ?source.topics, group = %source.group, "consuming audit events from Kafka");
        let (handle, stats) = (pipeline.handle(), stats.clone());
        let destination = Destination::Wal(handle);
        Some(runtime.spawn(async move { source.run(consumer, destination, stats, stop_rx).await }))
    };
    let served = listen_and_serve(
        &runtime,
        args.listen,
        config.tls,
        config.server,
        Durable::Wal(pipeline.handle()),
        stats.clone(),
        &data_dir,
    );
    if let Some(source) = source {
        // What was read is made durable and committed before the pipeline stops.
        stop_source.send_replace(true);
        if let Err(error) = runtime.block_on(source) {
            tracing::error!(%error, "the Kafka source failed");
        }
    }
    let flushed = pipeline
        .shutdown()
        .context("the final flush to Parquet failed; the WAL keeps the events for the next start");
    // The pipeline dropped its tap: detection publishes what is left and stops the sinks.
    if let Some(detection) = detection {
        detection.join();
    }
    runtime.shutdown_timeout(Duration::from_secs(10));
    query_runtime.shutdown_timeout(Duration::from_secs(1));
    let totals = stats.snapshot();
    tracing::info!(
        accepted = totals.events_accepted,
        quarantined = totals.events_quarantined,
        written = totals.events_written,
        bad_requests = totals.requests_bad_body,
        too_large = totals.requests_too_large,
        unauthorized = totals.requests_unauthorized,
        overloaded = totals.requests_overloaded,
        detect_skipped = totals.detect_events_skipped,
        files = totals.files_written,
        "stopped"
    );
    served?;
    flushed?;
    Ok(ExitCode::SUCCESS)
}
