//! The PostgreSQL wire protocol listener inside `serve` (`--pg-listen`): psql, Grafana,
//! DBeaver and Metabase query the audit history over it, with the same session setup as the
//! CLI and `POST /v1/query` (tables, views, functions, the pipeline's tail) plus the
//! `pg_catalog` those clients read on connect.
//!
//! The protocol comes from `datafusion-postgres` (pgwire). This module adds what a query
//! service of audit history needs around it:
//! - **read-only**: every statement is checked before it is planned, in the simple and the
//!   extended protocol alike, and the plan of every prepared statement again before it runs;
//!   only client settings (`SET application_name`, `SET TIME ZONE`, …) may be set;
//! - **limits**: queries share `POST /v1/query`'s slots (more than allowed at once are refused
//!   with SQLSTATE 53000), each connection has its own memory pool, and a query is stopped at
//!   the time limit, rows included (SQLSTATE 57014);
//! - **authentication**: a password that is one of the webhook's tokens, or a client
//!   certificate signed by `--client-ca`; without either (loopback only), any user and
//!   database name is accepted.

use std::fmt::Debug;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use datafusion::common::ParamValues;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{Set, Statement};
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::setup_pg_catalog;
use datafusion_postgres::hooks::cursor::CursorStatementHook;
use datafusion_postgres::hooks::set_show::SetShowHook;
use datafusion_postgres::hooks::transactions::TransactionStatementHook;
use datafusion_postgres::hooks::HookClient;
use datafusion_postgres::pgwire;
use datafusion_postgres::{DfSessionService, QueryHook};
use futures::{Sink, SinkExt, StreamExt};
use ingest::server::auth::TokenMap;
use pgwire::api::auth::{
    finish_authentication, protocol_negotiation, save_startup_parameters_to_metadata,
    DefaultServerParameterProvider, StartupHandler,
};
use pgwire::api::cancel::DefaultCancelHandler;
use pgwire::api::portal::Portal;
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{Response, SendableRowStream};
use pgwire::api::store::PortalStore;
use pgwire::api::{
    ClientInfo, ClientPortalStore, ConnectionHandle, ConnectionManager, ErrorHandler,
    PgWireConnectionState, PgWireServerHandlers, PidSecretKeyGenerator,
    RandomPidSecretKeyGenerator,
};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::startup::Authentication;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The catalog name clients see as the database (`current_database()`).
const CATALOG: &str = "datafusion";

/// Settings a client may change: they shape how its own session prints and names things, and
/// nothing of the engine. Drivers set several of them on connect.
const CLIENT_SETTINGS: &[&str] = &[
    "application_name",
    "bytea_output",
    "client_encoding",
    "client_min_messages",
    "datestyle",
    "extra_float_digits",
    "intervalstyle",
    "search_path",
    "standard_conforming_strings",
    "statement_timeout",
    "timezone",
];

/// How clients prove who they are.
#[derive(Clone, Default)]
pub struct PgAuth {
    /// A password that is one of these tokens (the webhook's `--tokens-file`).
    pub tokens: Option<Arc<TokenMap>>,
    /// A client certificate was verified by the TLS handshake (`--client-ca`).
    pub client_certificates: bool,
}

impl PgAuth {
    /// Whether anything is asked of clients.
    pub fn required(&self) -> bool {
        self.tokens.is_some() || self.client_certificates
    }
}

/// Limits shared with `POST /v1/query`.
#[derive(Clone)]
pub struct PgLimits {
    /// Slots of running queries, shared with the HTTP query service.
    pub permits: Arc<Semaphore>,
    /// Memory one connection's queries may hold.
    pub memory_per_connection: usize,
    /// Time a query may take, its rows included.
    pub timeout: Duration,
    /// Connections open at once; more are closed at once.
    pub max_connections: usize,
}

/// Everything a connection is served with.
struct Shared {
    base: SessionContext,
    auth: PgAuth,
    limits: PgLimits,
    connections: Arc<ConnectionManager>,
}

/// Adds the PostgreSQL catalog (`pg_catalog`, `current_database()`, `has_table_privilege`, …)
/// that clients read on connect to a session opened with [`analyze::open_session_with_tail`].
pub fn add_pg_catalog(session: &SessionContext) -> anyhow::Result<()> {
    setup_pg_catalog(
        session,
        CATALOG,
        Arc::new(datafusion_postgres::auth::AuthManager::default()),
    )
    .map_err(|e| anyhow::anyhow!("cannot set up pg_catalog: {e}"))
}

/// Serves `listener` until the task is dropped: each connection in a task of its own, over TLS
/// when `tls` is given (clients that ask for it; with `auth.client_certificates`, required).
pub async fn serve(
    listener: tokio::net::TcpListener,
    base: SessionContext,
    tls: Option<Arc<rustls::ServerConfig>>,
    auth: PgAuth,
    limits: PgLimits,
) {
    let acceptor = tls.map(|config| {
        let mut config = config.as_ref().clone();
        // Clients that open TLS directly (PostgreSQL 17's sslnegotiation=direct) name this.
        config.alpn_protocols = vec![b"postgresql".to_vec()];
        tokio_rustls::TlsAcceptor::from(Arc::new(config))
    });
    let connection_slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let shared = Arc::new(Shared {
        base,
        auth,
        limits,
        connections: Arc::new(ConnectionManager::new()),
    });
    loop {
        let (socket, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "cannot accept a PostgreSQL connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = connection_slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, max = shared.limits.max_connections, "PostgreSQL connection refused: too many open");
            continue;
        };
        let (acceptor, shared) = (acceptor.clone(), shared.clone());
        tokio::spawn(async move {
            let handlers = Connection::new(&shared);
            if let Err(error) =
                pgwire::tokio::process_socket(socket, acceptor, Arc::new(handlers)).await
            {
                tracing::debug!(%peer, %error, "PostgreSQL connection ended with an error");
            }
            drop(slot);
        });
    }
}

/// The handlers of one connection: its own session (own memory pool) over the shared setup.
struct Connection {
    queries: Arc<Limited>,
    startup: Arc<Startup>,
    cancel: Arc<DefaultCancelHandler>,
}

impl Connection {
    fn new(shared: &Shared) -> Connection {
        let session = Arc::new(analyze::session::with_own_memory_pool(
            &shared.base,
            shared.limits.memory_per_connection,
        ));
        let hooks: Vec<Arc<dyn QueryHook>> = vec![
            Arc::new(ReadOnlyHook),
            Arc::new(CursorStatementHook),
            Arc::new(SetShowHook),
            Arc::new(TransactionStatementHook),
        ];
        let inner = DfSessionService::new_with_hooks(session, hooks);
        Connection {
            queries: Arc::new(Limited {
                parser: Arc::new(CheckedParser(inner.query_parser())),
                inner,
                permits: shared.limits.permits.clone(),
                timeout: shared.limits.timeout,
            }),
            startup: Arc::new(Startup {
                auth: shared.auth.clone(),
                connections: shared.connections.clone(),
            }),
            cancel: Arc::new(DefaultCancelHandler::new(shared.connections.clone())),
        }
    }
}

impl PgWireServerHandlers for Connection {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.queries.clone()
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        self.queries.clone()
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        self.startup.clone()
    }

    fn error_handler(&self) -> Arc<impl ErrorHandler> {
        Arc::new(LogErrors)
    }

    fn cancel_handler(&self) -> Arc<impl pgwire::api::cancel::CancelHandler> {
        self.cancel.clone()
    }
}

struct LogErrors;

impl ErrorHandler for LogErrors {
    fn on_error<C: ClientInfo>(&self, client: &C, error: &mut PgWireError) {
        tracing::debug!(peer = %client.socket_addr(), %error, "PostgreSQL error answered");
    }
}

/// An error answered to the client, with its SQLSTATE: the statement fails.
fn user_error(code: &str, message: String) -> PgWireError {
    pg_error("ERROR", code, message)
}

/// An error that ends the connection (at start-up).
fn fatal(code: &str, message: String) -> PgWireError {
    pg_error("FATAL", code, message)
}

fn pg_error(severity: &str, code: &str, message: String) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        severity.to_string(),
        code.to_string(),
        message,
    )))
}

/// Authentication at connection start.
struct Startup {
    auth: PgAuth,
    connections: Arc<ConnectionManager>,
}

impl Startup {
    /// Completes the start: registers the connection for cancel requests and tells the client
    /// it may query.
    async fn accept<C>(&self, client: &mut C) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let (pid, secret_key) = RandomPidSecretKeyGenerator::default().generate(client);
        client.set_pid_and_secret_key(pid, secret_key.clone());
        let (handle, guard) = self.connections.register(pid, secret_key);
        client
            .session_extensions()
            .insert::<Arc<ConnectionHandle>>(handle);
        client.session_extensions().insert(guard);
        finish_authentication(client, &DefaultServerParameterProvider::default()).await
    }
}

#[async_trait]
impl StartupHandler for Startup {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match message {
            PgWireFrontendMessage::Startup(ref startup) => {
                protocol_negotiation(client, startup).await?;
                save_startup_parameters_to_metadata(client, startup);
                // The TLS handshake verified a certificate against --client-ca.
                let certified = self.auth.client_certificates
                    && client.is_secure()
                    && client.client_certificates().is_some_and(|c| !c.is_empty());
                if certified || !self.auth.required() {
                    return self.accept(client).await;
                }
                if self.auth.tokens.is_none() {
                    return Err(fatal(
                        "28000",
                        "a client certificate signed by the server's client CA is required: connect with sslmode=require, sslcert and sslkey".into(),
                    ));
                }
                client.set_state(PgWireConnectionState::AuthenticationInProgress);
                client
                    .send(PgWireBackendMessage::Authentication(
                        Authentication::CleartextPassword,
                    ))
                    .await?;
                Ok(())
            }
            PgWireFrontendMessage::PasswordMessageFamily(password) => {
                if !matches!(
                    client.state(),
                    PgWireConnectionState::AuthenticationInProgress
                ) {
                    return Err(fatal("08P01", "no password was asked for".into()));
                }
                let password = password.into_password()?;
                let known = self
                    .auth
                    .tokens
                    .as_ref()
                    .is_some_and(|tokens| tokens.cluster_of(&password.password).is_some());
                if !known {
                    let user = client.metadata().get("user").cloned().unwrap_or_default();
                    tracing::warn!(peer = %client.socket_addr(), %user, "PostgreSQL password refused");
                    return Err(fatal(
                        "28P01",
                        format!("password authentication failed for user \"{user}\": the password must be one of the server's tokens"),
                    ));
                }
                self.accept(client).await
            }
            _ => Ok(()),
        }
    }
}

/// What a read-only query service refuses of a statement, named by its keywords.
fn refused(statement: &Statement) -> Option<String> {
    match statement {
        // Nothing can be written, so a transaction is only a frame around queries.
        Statement::StartTransaction { .. }
        | Statement::Commit { .. }
        | Statement::Rollback { .. }
        | Statement::ShowVariable { .. }
        | Statement::ShowStatus { .. }
        | Statement::ShowCatalogs { .. }
        | Statement::Fetch { .. }
        | Statement::Close { .. } => None,
        Statement::Declare { stmts } => stmts.iter().find_map(|declare| {
            declare
                .for_query
                .as_deref()
                .and_then(analyze::readonly::refused_query)
        }),
        Statement::Set(set) => refused_setting(set),
        other => analyze::readonly::refused_sql_statement(other),
    }
}

fn refused_setting(set: &Set) -> Option<String> {
    match set {
        Set::SingleAssignment { variable, .. } => {
            let name = variable.to_string().to_ascii_lowercase();
            if CLIENT_SETTINGS.contains(&name.as_str()) {
                None
            } else {
                Some(format!("SET {name}"))
            }
        }
        Set::SetTimeZone { .. } | Set::SetNames { .. } | Set::SetTransaction { .. } => None,
        _ => Some("SET".into()),
    }
}

fn read_only_error(statement: &str) -> PgWireError {
    user_error(
        "25006",
        format!(
            "auditlens serves the audit history read-only: {statement} is refused (queries, EXPLAIN, SHOW and client settings are allowed)"
        ),
    )
}

/// What DataFusion's own statements in `sql` (`CREATE EXTERNAL TABLE`, `COPY … TO`, `RESET`),
/// which the PostgreSQL parser does not know and would call a syntax error, ask for: they are
/// named as refused instead. Statements of PostgreSQL's syntax are left to [`ReadOnlyHook`].
fn refused_datafusion_statement(sql: &str) -> Option<String> {
    let dialect = datafusion::sql::sqlparser::dialect::PostgreSqlDialect {};
    let statements =
        datafusion::sql::parser::DFParser::parse_sql_with_dialect(sql, &dialect).ok()?;
    statements.iter().find_map(|statement| match statement {
        datafusion::sql::parser::Statement::Statement(_) => None,
        other => analyze::readonly::refused_statement(other),
    })
}

/// The session's parser, after a check for DataFusion's own statements.
struct CheckedParser(Arc<<DfSessionService as ExtendedQueryHandler>::QueryParser>);

#[async_trait]
impl pgwire::api::stmt::QueryParser for CheckedParser {
    type Statement = <DfSessionService as ExtendedQueryHandler>::Statement;

    async fn parse_sql<C>(
        &self,
        client: &C,
        sql: &str,
        types: &[Option<pgwire::api::Type>],
    ) -> PgWireResult<Option<Self::Statement>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        if let Some(name) = refused_datafusion_statement(sql) {
            return Err(read_only_error(&name));
        }
        self.0.parse_sql(client, sql, types).await
    }

    fn get_parameter_types(
        &self,
        statement: &Self::Statement,
    ) -> PgWireResult<Vec<pgwire::api::Type>> {
        self.0.get_parameter_types(statement)
    }

    fn get_result_schema(
        &self,
        statement: &Self::Statement,
        column_format: Option<&pgwire::api::portal::Format>,
    ) -> PgWireResult<Vec<pgwire::api::results::FieldInfo>> {
        self.0.get_result_schema(statement, column_format)
    }
}

/// Refuses every statement that is not a read-only query, before anything else sees it.
struct ReadOnlyHook;

#[async_trait]
impl QueryHook for ReadOnlyHook {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        _session: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        refused(statement).map(|name| Err(read_only_error(&name)))
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        _session: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        refused(statement).map(|name| Err(read_only_error(&name)))
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        _plan: &LogicalPlan,
        _params: &ParamValues,
        _session: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        refused(statement).map(|name| Err(read_only_error(&name)))
    }
}

/// The session's query handlers within the service's limits: a slot, a time limit.
struct Limited {
    inner: DfSessionService,
    parser: Arc<CheckedParser>,
    permits: Arc<Semaphore>,
    timeout: Duration,
}

impl Limited {
    fn slot(&self) -> PgWireResult<Arc<OwnedSemaphorePermit>> {
        self.permits
            .clone()
            .try_acquire_owned()
            .map(Arc::new)
            .map_err(|_| {
                user_error(
                    "53000",
                    "as many queries as allowed are running; try again".into(),
                )
            })
    }

    fn timeout_error(&self) -> PgWireError {
        user_error(
            "57014",
            format!(
                "canceling statement: the query ran past the server's time limit of {:?}",
                self.timeout
            ),
        )
    }

    /// Runs `work` within the time limit, and lets the rows of its answers stream within the
    /// same limit, holding `slot` until the last of them is sent.
    async fn limit<F>(
        &self,
        slot: Arc<OwnedSemaphorePermit>,
        work: F,
    ) -> PgWireResult<Vec<Response>>
    where
        F: std::future::Future<Output = PgWireResult<Vec<Response>>>,
    {
        let deadline = tokio::time::Instant::now() + self.timeout;
        let responses = tokio::time::timeout_at(deadline, work)
            .await
            .map_err(|_| self.timeout_error())??;
        Ok(responses
            .into_iter()
            .map(|response| match response {
                Response::Query(mut answer) => {
                    let rows = std::mem::replace(
                        &mut answer.data_rows,
                        Box::pin(futures::stream::empty()),
                    );
                    answer.data_rows =
                        rows_until(rows, deadline, slot.clone(), self.timeout_error());
                    Response::Query(answer)
                }
                other => other,
            })
            .collect())
    }
}

/// `rows`, ended by `error` at `deadline`; `slot` is held until the stream is dropped.
fn rows_until(
    rows: SendableRowStream,
    deadline: tokio::time::Instant,
    slot: Arc<OwnedSemaphorePermit>,
    error: PgWireError,
) -> SendableRowStream {
    let state = Some((rows, slot, error));
    Box::pin(futures::stream::unfold(state, move |state| async move {
        let (mut rows, slot, error) = state?;
        match tokio::time::timeout_at(deadline, rows.next()).await {
            Ok(Some(row)) => Some((row, Some((rows, slot, error)))),
            Ok(None) => None,
            Err(_) => Some((Err(error), None)),
        }
    }))
}

#[async_trait]
impl SimpleQueryHandler for Limited {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if let Some(name) = refused_datafusion_statement(query) {
            return Err(read_only_error(&name));
        }
        let slot = self.slot()?;
        self.limit(
            slot,
            SimpleQueryHandler::do_query(&self.inner, client, query),
        )
        .await
    }
}

#[async_trait]
impl ExtendedQueryHandler for Limited {
    type Statement = <DfSessionService as ExtendedQueryHandler>::Statement;
    type QueryParser = CheckedParser;

    fn query_parser(&self) -> Arc<Self::QueryParser> {
        self.parser.clone()
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Self::Statement>,
        max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        // The statement was checked when it was parsed; its plan is checked here as well.
        if let (_, Some((_, plan))) = &portal.statement.statement {
            if let Some(name) = analyze::readonly::refused_plan(plan) {
                return Err(read_only_error(&name));
            }
        }
        let slot = self.slot()?;
        let work = async {
            ExtendedQueryHandler::do_query(&self.inner, client, portal, max_rows)
                .await
                .map(|response| vec![response])
        };
        let mut responses = self.limit(slot, work).await?;
        Ok(responses.pop().unwrap_or(Response::EmptyQuery))
    }
}

/// Binds the PostgreSQL listener before anything is served, so a taken port stops start-up
/// with its cause.
pub fn bind(address: SocketAddr) -> anyhow::Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind(address)
        .map_err(|e| anyhow::anyhow!("cannot listen on {address} (--pg-listen): {e}"))?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn check(sql: &str) -> Option<String> {
        let statements = Parser::parse_sql(&PostgreSqlDialect {}, sql).unwrap();
        assert_eq!(statements.len(), 1, "{sql}");
        refused(&statements[0])
    }

    #[test]
    fn client_settings_and_queries_pass() {
        for sql in [
            "SELECT 1",
            "SET application_name = 'psql'",
            "SET extra_float_digits = 3",
            "SET TIME ZONE 'UTC'",
            "SET statement_timeout = '5s'",
            "SHOW server_version",
            "BEGIN",
            "COMMIT",
            "DECLARE c CURSOR FOR SELECT 1",
            "FETCH 10 FROM c",
            "CLOSE c",
        ] {
            assert_eq!(check(sql), None, "{sql}");
        }
    }

    #[test]
    fn datafusion_statements_the_postgresql_parser_does_not_know_are_named() {
        for (sql, name) in [
            (
                "CREATE EXTERNAL TABLE p STORED AS CSV LOCATION '/etc/passwd'",
                Some("CREATE EXTERNAL TABLE"),
            ),
            ("COPY (SELECT 1) TO '/tmp/x.csv'", Some("COPY")),
            ("RESET datafusion.execution.batch_size", Some("RESET")),
            ("SELECT 1", None),
            ("SET application_name = 'psql'", None),
            ("SELECT 1 ~~ not parsed by DataFusion (", None),
        ] {
            assert_eq!(refused_datafusion_statement(sql).as_deref(), name, "{sql}");
        }
    }

    #[test]
    fn engine_settings_and_writes_are_named() {
        for (sql, name) in [
            (
                "SET datafusion.execution.batch_size = 1",
                "SET datafusion.execution.batch_size",
            ),
            ("SET work_mem = '1GB'", "SET work_mem"),
            ("INSERT INTO events SELECT * FROM events", "INSERT"),
            ("CREATE TABLE t (x INT)", "CREATE TABLE"),
            ("DROP VIEW exec_sessions", "DROP VIEW"),
            ("COPY events TO '/tmp/x'", "COPY"),
            ("DECLARE c CURSOR FOR SELECT 1 INTO t", "SELECT INTO"),
        ] {
            assert_eq!(check(sql).as_deref(), Some(name), "{sql}");
        }
    }
}
