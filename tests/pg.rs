//! The PostgreSQL wire protocol listener of `serve` (`--pg-listen`), driven by the real `psql`
//! client (Debian's `postgresql-client`) and, for the extended protocol with bound parameters,
//! by `tokio-postgres`; over `fixtures/forensics/incident.jsonl` (cluster `prod`, 25 events).

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{event_list, http, import_incident, text, Server};

fn stderr(output: &Output) -> String {
    text(&output.stderr)
}

fn stdout(output: &Output) -> String {
    text(&output.stdout)
}

/// `serve` over the incident with `--pg-listen` on a free port and `extra` flags; the tokens
/// file (`responder-token,prod`) is written to the data directory.
fn serve_pg(dir: &Path, extra: &[&str]) -> (Server, u16) {
    let port = common::free_port().port();
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec!["--pg-listen", listen.as_str()];
    args.extend_from_slice(extra);
    (Server::start(dir, &args), port)
}

fn write_tokens(dir: &Path) -> String {
    let tokens = dir.join("tokens.csv");
    std::fs::write(&tokens, "responder-token,prod\n").unwrap();
    tokens.display().to_string()
}

/// Runs `psql` with a connection string and SQL (`-c`), unaligned, tuples only, stopping at
/// the first error.
fn psql(conninfo: &str, password: Option<&str>, sql: &str) -> Output {
    let mut command = Command::new("psql");
    command
        .args([
            conninfo,
            "-X",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ])
        .env_remove("PGPASSWORD")
        .env("PGCONNECT_TIMEOUT", "10");
    if let Some(password) = password {
        command.env("PGPASSWORD", password);
    }
    command
        .output()
        .expect("psql (postgresql-client) is installed")
}

fn local(port: u16) -> String {
    format!("host=127.0.0.1 port={port} user=responder dbname=audit sslmode=disable")
}

/// The rows `psql -A -t` printed.
fn lines(output: &Output) -> Vec<String> {
    assert!(output.status.success(), "psql failed: {}", stderr(output));
    stdout(output).lines().map(str::to_string).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_reads_the_history_and_just_received_events_with_a_token_as_password() {
    let dir = import_incident();
    let tokens = write_tokens(dir.path());
    let (server, port) = serve_pg(dir.path(), &["--tokens-file", &tokens]);
    let conninfo = local(port);
    let token = Some("responder-token");

    assert_eq!(
        lines(&psql(&conninfo, token, "SELECT count(*) FROM events")),
        ["25"]
    );
    // Who read secret db-pass: the same answer as the saved investigation's.
    let readers = lines(&psql(
        &conninfo,
        token,
        "SELECT user_name, count(*) FROM secret_access \
         WHERE object_name = 'db-pass' AND object_namespace = 'shop' AND allowed \
         GROUP BY user_name ORDER BY count(*) DESC, user_name",
    ));
    assert_eq!(
        readers,
        [
            "alice@example.com|2",
            "bob@example.com|1",
            "mallory@example.com|1",
            "system:serviceaccount:kube-system:generic-garbage-collector|1"
        ]
    );
    // An event acknowledged a moment ago is there, before any Parquet file holds it.
    let sent = http()
        .post(server.url("/v1/audit"))
        .bearer_auth("responder-token")
        .body(event_list("fresh", 3))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 200);
    assert_eq!(
        lines(&psql(
            &conninfo,
            token,
            "SELECT count(*) FROM events WHERE audit_id LIKE 'fresh-%'"
        )),
        ["3"]
    );
    // A time range as Grafana's $__timeFilter writes it.
    assert_eq!(
        lines(&psql(
            &conninfo,
            token,
            "SELECT count(*) FROM events_dedup WHERE user_name = 'alice@example.com' \
             AND stage_at BETWEEN '2026-11-30T09:00:00Z' AND '2026-11-30T10:00:00Z'"
        )),
        ["6"]
    );
    // psql's own catalog queries: the tables and a table's columns.
    let tables = stdout(&psql(&conninfo, token, "\\dt"));
    for table in ["events", "quarantine", "alerts"] {
        assert!(tables.contains(table), "\\dt lists {table}: {tables}");
    }
    let columns = stdout(&psql(&conninfo, token, "\\d events"));
    assert!(
        columns.contains("audit_id") && columns.contains("user_name"),
        "\\d events lists the columns: {columns}"
    );

    // What Grafana, DBeaver and Metabase ask on connect and to list tables and columns.
    for (sql, wanted) in [
        ("SELECT current_database()", "datafusion"),
        ("SHOW search_path", "public"),
        (
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
            "secret_access",
        ),
        (
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'events' AND column_name = 'stage_at'",
            "stage_at",
        ),
        (
            "SELECT n.nspname FROM pg_catalog.pg_namespace n ORDER BY 1",
            "public",
        ),
        (
            "SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' ORDER BY 1",
            "events",
        ),
    ] {
        let rows = lines(&psql(&conninfo, token, sql));
        assert!(rows.iter().any(|row| row == wanted), "{sql}: {rows:?}");
    }
    // Without the password, or with a wrong one, nothing is served.
    let refused = psql(&conninfo, None, "SELECT 1");
    assert!(!refused.status.success());
    let refused = psql(&conninfo, Some("guess"), "SELECT 1");
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("password authentication failed"),
        "{}",
        stderr(&refused)
    );
    server.terminate_cleanly();
}

#[test]
fn nothing_can_be_written_read_from_files_or_reconfigured_over_psql() {
    let dir = import_incident();
    let (server, port) = serve_pg(dir.path(), &[]);
    // On loopback without tokens any user and database name is accepted.
    let conninfo =
        format!("host=127.0.0.1 port={port} user=anyone dbname=whatever sslmode=disable");
    let copied = dir.path().join("copied.csv");
    let copy = format!("COPY events TO '{}'", copied.display());
    for (sql, named) in [
        ("CREATE TABLE t AS SELECT 1", "CREATE TABLE"),
        ("INSERT INTO events SELECT * FROM events", "INSERT"),
        ("DELETE FROM events", "DELETE"),
        ("DROP VIEW exec_sessions", "DROP VIEW"),
        (copy.as_str(), "COPY"),
        (
            "CREATE EXTERNAL TABLE passwd STORED AS CSV LOCATION '/etc/passwd'",
            "CREATE EXTERNAL TABLE",
        ),
        (
            "SET datafusion.execution.target_partitions = 64",
            "SET datafusion.execution.target_partitions",
        ),
        ("SELECT 1 AS x INTO kept", "SELECT INTO"),
    ] {
        let output = psql(&conninfo, None, sql);
        assert!(!output.status.success(), "{sql} must be refused");
        let message = stderr(&output);
        assert!(
            message.contains("read-only") && message.contains(named),
            "{sql}: {message}"
        );
    }
    assert!(!copied.exists(), "COPY wrote a file");
    // Nothing changed: the tables, the views and the settings are as they were.
    assert_eq!(
        lines(&psql(&conninfo, None, "SELECT count(*) FROM events")),
        ["25"]
    );
    assert_eq!(
        lines(&psql(&conninfo, None, "SELECT count(*) FROM exec_sessions")).len(),
        1
    );
    // Client settings that drivers send on connect are accepted.
    let settings = psql(
        &conninfo,
        None,
        "SET application_name = 'grafana'; SET extra_float_digits = 3; SELECT 1",
    );
    assert_eq!(lines(&settings), ["SET", "SET", "1"]);
    server.terminate_cleanly();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_extended_protocol_binds_parameters_and_is_read_only_too() {
    let dir = import_incident();
    let (server, port) = serve_pg(dir.path(), &[]);
    let (client, connection) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={port} user=grafana dbname=audit"),
        tokio_postgres::NoTls,
    )
    .await
    .expect("connect over the PostgreSQL protocol");
    tokio::spawn(connection);
    let rows = client
        .query(
            "SELECT audit_id FROM events_dedup WHERE user_name = $1 AND verb = $2 ORDER BY audit_id",
            &[&"mallory@example.com", &"list"],
        )
        .await
        .expect("a parameterised query");
    let ids: Vec<String> = rows.iter().map(|row| row.get(0)).collect();
    assert!(!ids.is_empty(), "mallory listed something in the incident");
    assert!(ids.iter().all(|id| id.starts_with("inc-")), "{ids:?}");
    for sql in [
        "INSERT INTO events SELECT * FROM events",
        "DROP TABLE events",
        "CREATE VIEW v AS SELECT 1",
    ] {
        let error = client
            .query(sql, &[])
            .await
            .expect_err("refused over the extended protocol");
        let db = error.as_db_error().expect("an error from the server");
        assert_eq!(db.code().code(), "25006", "{sql}: {db}");
        assert!(db.message().contains("read-only"), "{sql}: {db}");
    }
    let count: i64 = client
        .query_one("SELECT count(*) FROM events", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 25);
    server.terminate_cleanly();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_query_stops_at_the_time_limit_and_holds_the_only_slot_meanwhile() {
    let dir = import_incident();
    let tokens = write_tokens(dir.path());
    let (server, port) = serve_pg(
        dir.path(),
        &[
            "--tokens-file",
            &tokens,
            "--query-max-concurrent",
            "1",
            "--query-timeout",
            "3s",
        ],
    );
    let conninfo = local(port);
    let heavy = {
        let conninfo = conninfo.clone();
        tokio::task::spawn_blocking(move || {
            psql(
                &conninfo,
                Some("responder-token"),
                "SELECT count(*) FROM generate_series(1, 100000000000) a",
            )
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    // The HTTP query service shares the slots.
    let second = http()
        .post(server.url("/v1/query"))
        .bearer_auth("responder-token")
        .body("SELECT 1")
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 429);
    // The webhook answers at once while the query runs.
    common::assert_webhook_answers_promptly(&server, "responder-token", "during", 20).await;
    let heavy = heavy.await.unwrap();
    assert!(!heavy.status.success(), "the query must be stopped");
    assert!(stderr(&heavy).contains("time limit"), "{}", stderr(&heavy));
    // The slot is free again.
    assert_eq!(
        lines(&psql(&conninfo, Some("responder-token"), "SELECT 1")),
        ["1"]
    );
    server.terminate_cleanly();
}

#[test]
fn over_mutual_tls_a_client_certificate_logs_in() {
    let dir = import_incident();
    let file = common::certs_for_prod(dir.path(), "localhost,127.0.0.1");
    let port = common::free_port().port();
    let (cert, key, ca) = (file("server.crt"), file("server.key"), file("ca.crt"));
    let listen = format!("0.0.0.0:{port}");
    let server = Server::start(
        dir.path(),
        &[
            "--pg-listen",
            &listen,
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
            "--client-ca",
            &ca,
        ],
    );
    let verified = format!(
        "host=localhost port={port} user=responder dbname=audit sslmode=verify-full sslrootcert={ca} sslcert={} sslkey={}",
        file("client-prod.crt"),
        file("client-prod.key")
    );
    assert_eq!(
        lines(&psql(&verified, None, "SELECT count(*) FROM events")),
        ["25"]
    );
    // Without a certificate (plain, or TLS without one) there is no way in.
    let plain = format!("host=localhost port={port} user=responder dbname=audit sslmode=disable");
    let refused = psql(&plain, None, "SELECT 1");
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("client certificate"),
        "{}",
        stderr(&refused)
    );
    let no_cert = format!(
        "host=localhost port={port} user=responder dbname=audit sslmode=verify-full sslrootcert={ca}"
    );
    assert!(!psql(&no_cert, None, "SELECT 1").status.success());
    server.terminate_cleanly();
}

#[test]
fn off_loopback_without_authentication_the_listener_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port().port();
    let output = Command::new(common::BIN)
        .args(["serve", "--no-rules", "--pg-listen"])
        .arg(format!("0.0.0.0:{port}"))
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("--pg-listen") && stderr(&output).contains("--tokens-file"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn with_tokens_and_a_client_ca_either_logs_in_over_tls() {
    let dir = import_incident();
    let tokens = write_tokens(dir.path());
    let file = common::certs_for_prod(dir.path(), "localhost");
    let (cert, key, ca) = (file("server.crt"), file("server.key"), file("ca.crt"));
    let (server, port) = serve_pg(
        dir.path(),
        &[
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
            "--client-ca",
            &ca,
            "--tokens-file",
            &tokens,
        ],
    );
    let tls = format!(
        "host=localhost port={port} user=responder dbname=audit sslmode=verify-full sslrootcert={ca}"
    );
    // TLS without a certificate: the token is the password.
    assert_eq!(
        lines(&psql(
            &tls,
            Some("responder-token"),
            "SELECT count(*) FROM events"
        )),
        ["25"]
    );
    assert!(!psql(&tls, Some("guess"), "SELECT 1").status.success());
    // A certificate the client CA signed: no password.
    let certified = format!(
        "{tls} sslcert={} sslkey={}",
        file("client-prod.crt"),
        file("client-prod.key")
    );
    assert_eq!(lines(&psql(&certified, None, "SELECT 1")), ["1"]);
    server.terminate_cleanly();
}
