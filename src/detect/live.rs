//! Detection inside `serve`: a thread that takes the events the WAL made durable, gathers them
//! into batches, runs the rule pack, and publishes alerts to the outbox (the alert log, then the
//! sinks). At start it refills window rules from the stored events and remembers the alerts
//! already sent, so a restart neither forgets history nor repeats alerts.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use analyze::alerts::log::LogReader;
use analyze::alerts::sink::SinkRunner;
use analyze::alerts::Outbox;
use analyze::detect::{
    detection_schema, in_time_order, Engine, EngineOptions, Lists, Mode, Rule, RuleStatus,
};
use analyze::{open_session, QueryOptions};
use anyhow::Context;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;
use futures::TryStreamExt;
use ingest::pipeline::{Tap, Tapped};

/// Requests' worth of events waiting for the engine at most.
pub const TAP_QUEUE: usize = 256;
/// The engine runs once this many events wait, or [`MAX_BATCH_WAIT`] after the first.
pub const MAX_BATCH_EVENTS: usize = 65_536;
pub const MAX_BATCH_WAIT: Duration = Duration::from_millis(250);
/// Batches waiting for the window and sequence rules at most; they take up to one more than
/// this at once.
const WINDOW_QUEUE: usize = 4;
/// How often quiet window rules are given the time.
const CLOCK_TICK: Duration = Duration::from_secs(1);

/// The running detection thread.
pub struct Detection {
    thread: JoinHandle<()>,
}

/// Each rule's status as of the last batch, for `GET /v1/rules`.
pub type Statuses = Arc<Mutex<Vec<RuleStatus>>>;

/// `GET /v1/rules`: every rule's state, runs, failures (with the last error), alerts and
/// suppressed alerts, window rows, as JSON.
pub fn status_routes(statuses: Statuses) -> axum::Router {
    axum::Router::new().route(
        "/v1/rules",
        axum::routing::get(move || {
            let statuses = statuses.clone();
            async move {
                let rules = statuses.lock().unwrap_or_else(|e| e.into_inner()).clone();
                axum::Json(serde_json::json!({ "rules": rules }))
            }
        }),
    )
}

/// Starts detection. The returned [`Tap`] goes into the pipeline's config; when the pipeline
/// stops (dropping every sender), the thread publishes what is left, stops the sinks and ends.
pub fn start(
    rules: Vec<Rule>,
    options: EngineOptions,
    data_dir: &Path,
    sinks: Vec<SinkRunner>,
    runtime: tokio::runtime::Handle,
    statuses: Statuses,
) -> anyhow::Result<(Tap, Detection)> {
    let outbox = {
        let _entered = runtime.enter();
        Outbox::start(data_dir, sinks).context("cannot open the alert log")?
    };
    let (tx, rx) = mpsc::sync_channel(TAP_QUEUE);
    // The engine fills its windows from the stored events before any new event can arrive:
    // an event stored later must reach the windows once, through the queue.
    let (ready_tx, ready_rx) = mpsc::sync_channel::<()>(1);
    let data_dir = data_dir.to_path_buf();
    let thread = std::thread::Builder::new()
        .name("auditlens-detect".into())
        .spawn(move || {
            let local = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(local) => local,
                Err(error) => {
                    tracing::error!(%error, "cannot start the detection runtime; no detection");
                    return;
                }
            };
            local.block_on(run(
                rules, options, data_dir, outbox, rx, statuses, ready_tx,
            ));
        })
        .context("cannot start the detection thread")?;
    // An error means the thread ended early; it has logged why, and serving goes on without it.
    let _ = ready_rx.recv();
    Ok((Tap::new(tx), Detection { thread }))
}

impl Detection {
    /// Waits for the thread, after the pipeline stopped.
    pub fn join(self) {
        if self.thread.join().is_err() {
            tracing::error!("the detection thread panicked");
        }
    }
}

async fn run(
    rules: Vec<Rule>,
    options: EngineOptions,
    data_dir: PathBuf,
    outbox: Outbox,
    rx: Receiver<Tapped>,
    statuses: Statuses,
    ready: mpsc::SyncSender<()>,
) {
    let lists = options.lists.clone();
    // Two engines, two threads: event rules answer within the batch, and the window and
    // sequence rules (heavier, and not in a hurry) never hold them up.
    let (event_rules, window_rules): (Vec<Rule>, Vec<Rule>) =
        rules.into_iter().partition(|rule| rule.mode == Mode::Event);
    let mut engine = Engine::new(event_rules, options.clone()).await;
    let mut windows = Engine::new(window_rules, options).await;
    let loaded = [&engine, &windows]
        .iter()
        .flat_map(|engine| engine.statuses())
        .filter(|s| s.state == "ok")
        .count();
    publish_statuses(&statuses, &engine);
    publish_statuses(&statuses, &windows);
    tracing::info!(rules = loaded, "detection rules loaded");
    seed_windows(&mut windows, &data_dir, &lists).await;
    match LogReader::new(&data_dir).read_all() {
        Ok(sent) => {
            engine.remember(&sent);
            windows.remember(&sent);
        }
        Err(error) => tracing::warn!(%error, "cannot read past alerts; some may be sent again"),
    }
    let outbox = Arc::new(Mutex::new(outbox));
    let (window_tx, window_rx) = mpsc::sync_channel::<RecordBatch>(WINDOW_QUEUE);
    let window_thread = {
        let (outbox, statuses) = (outbox.clone(), statuses.clone());
        std::thread::Builder::new()
            .name("auditlens-windows".into())
            .spawn(move || run_windows(windows, window_rx, outbox, statuses))
    };
    let (window_tx, window_thread) = match window_thread {
        Ok(thread) => (Some(window_tx), Some(thread)),
        Err(error) => {
            tracing::error!(%error, "cannot start the window rules' thread; window and sequence rules do not run");
            (None, None)
        }
    };
    let _ = ready.send(());
    // Requests' rows as ingest shares them, with their cluster.
    let mut pending: Vec<Tapped> = Vec::new();
    let mut pending_rows = 0;
    let mut first_pending: Option<Instant> = None;
    loop {
        let wait = match first_pending {
            Some(first) => MAX_BATCH_WAIT.saturating_sub(first.elapsed()),
            None => CLOCK_TICK,
        };
        let mut closed = false;
        match rx.recv_timeout(wait) {
            Ok(tapped) => {
                first_pending.get_or_insert_with(Instant::now);
                pending_rows += tapped.events.num_rows();
                pending.push(tapped);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => closed = true,
        }
        let due = closed
            || pending_rows >= MAX_BATCH_EVENTS
            || first_pending.is_some_and(|first| first.elapsed() >= MAX_BATCH_WAIT);
        if due && !pending.is_empty() {
            let batch = in_time_order(
                pending
                    .iter()
                    .map(|tapped| (&tapped.events, tapped.cluster.as_str())),
            );
            let done: Vec<_> = pending
                .iter_mut()
                .filter_map(|tapped| tapped.done.take())
                .collect();
            pending.clear();
            pending_rows = 0;
            first_pending = None;
            match batch {
                Ok(batch) => {
                    engine
                        .process_with(&batch, &mut |alerts| publish(&outbox, &alerts))
                        .await;
                    publish_statuses(&statuses, &engine);
                    // Waits when the window rules are behind: ingest slows rather than the
                    // window rules missing events.
                    if let Some(tx) = &window_tx {
                        let _ = tx.send(batch);
                    }
                }
                Err(error) => {
                    tracing::error!(%error, "cannot build a detection batch; events skipped")
                }
            }
            // The event rules ran and their alerts are in the outbox.
            for done in done {
                let _ = done.send(Ok(()));
            }
        }
        if closed {
            break;
        }
    }
    drop(window_tx);
    if let Some(thread) = window_thread {
        if thread.join().is_err() {
            tracing::error!("the window rules' thread panicked");
        }
    }
    let outbox = match Arc::try_unwrap(outbox) {
        Ok(outbox) => outbox.into_inner().unwrap_or_else(|e| e.into_inner()),
        Err(_) => return,
    };
    outbox.shutdown().await;
}

/// The window and sequence rules' thread: the batches the event rules saw, in the same order,
/// and the clock for quiet windows.
fn run_windows(
    mut engine: Engine,
    rx: Receiver<RecordBatch>,
    outbox: Arc<Mutex<Outbox>>,
    statuses: Statuses,
) {
    let local = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(local) => local,
        Err(error) => {
            tracing::error!(%error, "cannot start the window rules' runtime; they do not run");
            return;
        }
    };
    local.block_on(async {
        let mut last_tick = Instant::now();
        loop {
            match rx.recv_timeout(CLOCK_TICK) {
                Ok(batch) => {
                    // Whatever else waits goes with it: when the rules fall behind, each of
                    // their runs (which costs what its window holds) covers more events.
                    let mut batches = vec![batch];
                    while batches.len() <= WINDOW_QUEUE {
                        match rx.try_recv() {
                            Ok(more) => batches.push(more),
                            Err(_) => break,
                        }
                    }
                    engine
                        .process_all_with(&batches, &mut |alerts| publish(&outbox, &alerts))
                        .await;
                    publish_statuses(&statuses, &engine);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if last_tick.elapsed() >= CLOCK_TICK {
                last_tick = Instant::now();
                let alerts = engine.advance(chrono::Utc::now().timestamp_micros()).await;
                publish(&outbox, &alerts);
            }
        }
    });
}

/// Replaces the statuses of `engine`'s rules in `statuses`, keeping the others.
fn publish_statuses(statuses: &Statuses, engine: &Engine) {
    let mut all = statuses.lock().unwrap_or_else(|e| e.into_inner());
    for status in engine.statuses() {
        match all.iter_mut().find(|s| s.id == status.id) {
            Some(slot) => *slot = status,
            None => all.push(status),
        }
    }
}

fn publish(outbox: &Mutex<Outbox>, alerts: &[schemas::Alert]) {
    if alerts.is_empty() {
        return;
    }
    let published = outbox
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .publish(alerts);
    if let Err(error) = published {
        // Without the log there is no outbox: say so loudly, with what was lost.
        for alert in alerts {
            tracing::error!(%error, rule = %alert.rule_id, output = %alert.output, "alert not stored");
        }
    }
}

/// Fills each window and sequence rule's window from the stored events of its length.
async fn seed_windows(engine: &mut Engine, data_dir: &Path, lists: &Lists) {
    let wanted: Vec<(String, String, Duration)> = engine
        .rules()
        .filter(|rule| !rule.disabled)
        .filter_map(|rule| {
            let spec = rule.window.as_ref()?;
            Some((rule.id.clone(), spec.filter.clone(), spec.length))
        })
        .collect();
    if wanted.is_empty() {
        return;
    }
    let session = match open_session(data_dir, &QueryOptions::default()).await {
        Ok(session) => session,
        Err(error) => {
            tracing::warn!(%error, "cannot read stored events; windows start empty");
            return;
        }
    };
    // Filters may read lists, as the rules do.
    for function in analyze::detect::in_list::functions(lists) {
        session.register_udf(function);
    }
    match lists.tables() {
        Ok(tables) => {
            for (name, table) in tables {
                if let Err(error) = session.register_table(name.as_str(), table) {
                    tracing::warn!(list = %name, %error, "list not available to window filters");
                }
            }
        }
        Err(error) => tracing::warn!(%error, "lists not available to window filters"),
    }
    let columns: Vec<String> = detection_schema()
        .fields()
        .iter()
        // The session reads text as `Utf8View` (and `cluster` as a dictionary); windows hold
        // the engine's own types.
        .map(|field| match field.data_type() {
            DataType::Utf8 => format!("arrow_cast(\"{0}\", 'Utf8') AS \"{0}\"", field.name()),
            _ => format!("\"{}\"", field.name()),
        })
        .collect();
    let now = chrono::Utc::now();
    for (rule_id, filter, length) in wanted {
        let since =
            now - chrono::Duration::from_std(length).unwrap_or(chrono::Duration::days(3650));
        let sql = format!(
            "SELECT {} FROM events WHERE stage_at >= TIMESTAMP '{}' AND ({filter}) ORDER BY stage_at",
            columns.join(", "),
            since.format("%Y-%m-%dT%H:%M:%S%.6fZ")
        );
        match collect(&session, &sql).await {
            Ok(batches) => {
                let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
                engine.seed(&rule_id, batches);
                if rows > 0 {
                    tracing::info!(rule = %rule_id, rows, "window refilled from stored events");
                }
            }
            Err(error) => {
                tracing::warn!(rule = %rule_id, %error, "cannot refill the window from stored events")
            }
        }
    }
}

async fn collect(
    session: &datafusion::prelude::SessionContext,
    sql: &str,
) -> anyhow::Result<Vec<RecordBatch>> {
    let frame = session.sql(sql).await?;
    let stream = frame.execute_stream().await?;
    let batches: Vec<RecordBatch> = stream.try_collect().await?;
    let mut matching = Vec::with_capacity(batches.len());
    for batch in batches {
        // Same columns in the same order; the schema object must be the engine's.
        matching.push(RecordBatch::try_new(
            detection_schema(),
            batch.columns().to_vec(),
        )?);
    }
    Ok(matching)
}

/// The host name alerts carry.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "auditlens".into())
}
