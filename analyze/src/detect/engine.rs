//! [`Engine`]: runs a rule pack over batches of events in event-time order and turns what the
//! rules return into alerts. Each rule is planned once, in a session of its own; a rule that
//! fails to plan or to run is reported in its [`RuleStatus`] and the others go on.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::array::BooleanArray;
use datafusion::arrow::compute::kernels::boolean::and;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::TableProvider;
use datafusion::common::DFSchema;
use datafusion::execution::memory_pool::GreedyMemoryPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::SessionStateBuilder;
use datafusion::logical_expr::simplify::SimplifyContext;
use datafusion::logical_expr::LogicalPlan;
use datafusion::optimizer::simplify_expressions::ExprSimplifier;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::execution_plan::reset_plan_states;
use datafusion::physical_plan::{collect, ExecutionPlan};
use datafusion::physical_planner::{DefaultPhysicalPlanner, PhysicalPlanner};
use datafusion::prelude::{SessionConfig, SessionContext};
use schemas::{Alert, ALERT_SOURCE};

use super::dedup::{Dedup, DEFAULT_MAX_KEYS};
use super::input::{detection_schema, event_times};
use super::lists::Lists;
use super::output::{self, check_result_schema, findings, output_field_name, Finding};
use super::prefilter::{rows_of, slim, unqualified, Reads};
use super::rule::{Mode, Rule};
use super::table::BatchTable;
use super::window::{
    Window, DEFAULT_COMPACTION_ROWS, DEFAULT_MAX_WINDOW_BYTES, DEFAULT_MAX_WINDOW_ROWS,
};

/// The table a rule's SQL reads.
pub const EVENTS: &str = "events";
/// Window and sequence rules: the events added since the rule last ran.
pub const NEW_EVENTS: &str = "new_events";
/// How long one run of one rule may take before it counts as failed.
pub const DEFAULT_RULE_TIMEOUT: Duration = Duration::from_secs(10);
/// Memory one rule's run may hold.
pub const DEFAULT_RULE_MEMORY_BYTES: usize = 256 * 1024 * 1024;

/// Window rules see at most this much event time of a batch at once…
const MAX_SLICE: Duration = Duration::from_secs(60);
/// …and at least this much, however short their `every`.
const MIN_SLICE: Duration = Duration::from_secs(1);

/// How the engine runs.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub lists: Lists,
    /// Views every rule can read, over the same `events` as the rule.
    pub views: Vec<super::views::View>,
    pub max_window_rows: usize,
    /// Bytes of Arrow data one window holds at most.
    pub max_window_bytes: usize,
    pub rule_timeout: Duration,
    pub rule_memory_bytes: usize,
    pub max_dedup_keys: usize,
    /// Rows a compacting window holds at least before it compacts (`rules test` compacts
    /// before every addition, so that a rule's cases show whether compaction changes what it
    /// finds).
    pub compaction_rows: usize,
    /// The alerts' `hostname`.
    pub hostname: String,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            lists: Lists::default(),
            views: Vec::new(),
            max_window_rows: DEFAULT_MAX_WINDOW_ROWS,
            max_window_bytes: DEFAULT_MAX_WINDOW_BYTES,
            rule_timeout: DEFAULT_RULE_TIMEOUT,
            rule_memory_bytes: DEFAULT_RULE_MEMORY_BYTES,
            max_dedup_keys: DEFAULT_MAX_KEYS,
            compaction_rows: DEFAULT_COMPACTION_ROWS,
            hostname: "auditlens".into(),
        }
    }
}

/// What `rules list` shows of one rule.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RuleStatus {
    pub id: String,
    pub mode: String,
    pub priority: String,
    /// `ok`, `disabled` or `failed`.
    pub state: String,
    /// Why the rule could not be planned, or its last run's error.
    pub error: Option<String>,
    pub runs: u64,
    pub failures: u64,
    pub alerts: u64,
    pub suppressed: u64,
    /// Batches the rule was not run on because none of their rows could match it.
    pub skipped: u64,
    pub run_micros: u64,
    /// Time spent choosing the rows a window rule keeps.
    pub filter_micros: u64,
    pub window_rows: usize,
    pub window_rows_dropped: u64,
    /// Rows a compacting window let go because another row of their key stays.
    pub window_rows_compacted: u64,
    /// New rows a window rule did not see as new: too many waited for its next run (they
    /// stay in its window).
    pub window_new_rows_dropped: u64,
    /// Bytes of Arrow data the window holds.
    pub window_bytes: usize,
}

/// A query planned once, down to the physical plan, and run again on every batch.
struct Query {
    physical: Arc<dyn ExecutionPlan>,
    reads: Reads,
}

impl Query {
    /// Plans `sql`; `inputs` are the tables whose rows change between runs.
    async fn plan(
        ctx: &SessionContext,
        sql: &str,
        inputs: &[(String, SchemaRef)],
    ) -> Result<(Query, LogicalPlan), String> {
        let plan = plan_sql(ctx, sql).await?;
        let physical = DefaultPhysicalPlanner::default()
            .create_physical_plan(&plan, &ctx.state())
            .await
            .map_err(|e| e.to_string())?;
        let schemas = inputs
            .iter()
            .map(|(name, schema)| {
                DFSchema::try_from(schema.as_ref().clone()).map(|s| (name.clone(), s))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        let reads = Reads::of(&plan, &schemas, ctx);
        Ok((Query { physical, reads }, plan))
    }

    async fn run(&self, ctx: &SessionContext) -> Result<Vec<RecordBatch>, String> {
        // A fresh copy of the plan's state (hash tables, subquery results) for this run.
        let physical = reset_plan_states(self.physical.clone()).map_err(|e| e.to_string())?;
        collect(physical, ctx.task_ctx())
            .await
            .map_err(|e| e.to_string())
    }
}

struct Planned {
    ctx: SessionContext,
    query: Query,
    /// Event rules: the shared views, as this rule's own tables (holding the rows it can use).
    views: Vec<(String, Arc<BatchTable>)>,
    events: Arc<BatchTable>,
    new_events: Arc<BatchTable>,
    /// Window rules: the query choosing which events of a batch the window keeps.
    filter: Option<Query>,
    /// Window rules: the columns the window keeps and the filter reads.
    window_columns: WindowColumns,
    window: Option<Window>,
    /// Event time at which a window rule runs next.
    next_run: Option<i64>,
}

/// The columns of `events` a window rule needs (`None`: all of them).
#[derive(Default)]
struct WindowColumns {
    /// Those the rule reads from `events`: the window keeps these.
    kept: Option<BTreeSet<usize>>,
    /// Those it reads from `events` or `new_events`: new events keep these until the next run.
    fresh: Option<BTreeSet<usize>>,
    /// Those the rule and its filter read: the filter runs on these.
    filtered: Option<BTreeSet<usize>>,
}

impl WindowColumns {
    /// Adds the rows of `rows` that passed the filter (`passing`; `None`: all of them),
    /// holding at least the columns `fresh` names, to the window as new events. The window
    /// keeps those the rule's scans of `events` can use (a rule that reads only the refusals
    /// and writes of its window need not keep every read for 35 minutes), and holds apart
    /// until the next run those its scans of `new_events` can use: a row no scan keeps cannot
    /// change the rule's result. Each row is copied once, from `rows`: when both parts take the
    /// same rows (a sequence rule reading `events` and `new_events` alike), they share the copy.
    fn add(
        &self,
        reads: &Reads,
        window: &mut Window,
        rows: &RecordBatch,
        passing: Option<&BooleanArray>,
    ) {
        if passing.is_some_and(|mask| mask.true_count() == 0) {
            return;
        }
        let mask = |table: &str| {
            if !reads.tables.contains(table) {
                return None;
            }
            Some(match (passing, reads.mask(table, rows)) {
                (Some(passing), Some(used)) => Some(and(passing, &used).unwrap_or(used)),
                (passing, used) => used.or_else(|| passing.cloned()),
            })
        };
        let (history, fresh) = match (mask(EVENTS), mask(NEW_EVENTS)) {
            (Some(history), Some(fresh)) if history == fresh => {
                let both = match (&self.kept, &self.fresh) {
                    (Some(kept), Some(fresh)) => Some(kept | fresh),
                    _ => None,
                };
                let copied = rows_of(rows, history.as_ref(), both.as_ref());
                let part = |columns: &Option<BTreeSet<usize>>| {
                    copied.as_ref().map(|batch| slim(batch, columns.as_ref()))
                };
                (part(&self.kept), part(&self.fresh))
            }
            (history, fresh) => {
                let part = |mask: Option<Option<BooleanArray>>,
                            columns: &Option<BTreeSet<usize>>| {
                    mask.and_then(|mask| rows_of(rows, mask.as_ref(), columns.as_ref()))
                };
                (part(history, &self.kept), part(fresh, &self.fresh))
            }
        };
        window.add_new(history, fresh);
    }
}

struct Runner {
    rule: Arc<Rule>,
    planned: Option<Planned>,
    status: RuleStatus,
}

/// The rule engine.
pub struct Engine {
    runners: Vec<Runner>,
    /// Views computed once per batch for all event rules.
    shared: Option<SharedViews>,
    /// Longest stretch of event time window rules see at once (µs).
    slice_micros: i64,
    dedup: Dedup,
    watermark: Option<i64>,
    options: EngineOptions,
    /// Time spent computing the shared views (µs).
    views_micros: u64,
}

impl Engine {
    /// Plans every enabled rule. A rule that does not plan is kept, as failed, with the error.
    pub async fn new(rules: Vec<Rule>, options: EngineOptions) -> Engine {
        let event_rules = rules.iter().any(|r| r.mode == Mode::Event && !r.disabled);
        let shared = match SharedViews::plan(&options, event_rules).await {
            Ok(shared) => shared,
            Err(error) => {
                tracing::error!(%error, "views not computed once per batch; each rule computes them");
                None
            }
        };
        let mut runners = Vec::with_capacity(rules.len());
        for rule in rules {
            let mut status = RuleStatus {
                id: rule.id.clone(),
                mode: rule.mode.as_str().into(),
                priority: rule.priority.as_str().into(),
                state: "ok".into(),
                ..RuleStatus::default()
            };
            let planned = if rule.disabled {
                status.state = "disabled".into();
                None
            } else {
                match plan_rule(&rule, &options, shared.as_ref()).await {
                    Ok(planned) => Some(planned),
                    Err(message) => {
                        let error = format!("{}:{}: {message}", rule.path.display(), rule.sql_line);
                        tracing::error!(rule = %rule.id, %error, "rule not loaded");
                        status.state = "failed".into();
                        status.error = Some(error);
                        None
                    }
                }
            };
            runners.push(Runner {
                rule: Arc::new(rule),
                planned,
                status,
            });
        }
        let shortest_every = runners
            .iter()
            .filter_map(|r| r.rule.window.as_ref().map(|w| w.every))
            .min()
            .unwrap_or(MAX_SLICE)
            .clamp(MIN_SLICE, MAX_SLICE);
        Engine {
            runners,
            shared,
            slice_micros: i64::try_from(shortest_every.as_micros()).unwrap_or(i64::MAX),
            dedup: Dedup::new(options.max_dedup_keys),
            watermark: None,
            options,
            views_micros: 0,
        }
    }

    pub fn statuses(&self) -> Vec<RuleStatus> {
        self.runners
            .iter()
            .map(|runner| {
                let mut status = runner.status.clone();
                if let Some(window) = runner.planned.as_ref().and_then(|p| p.window.as_ref()) {
                    status.window_rows = window.rows();
                    status.window_rows_dropped = window.dropped_rows;
                    status.window_rows_compacted = window.compacted_rows;
                    status.window_new_rows_dropped = window.dropped_new_rows;
                    status.window_bytes = window.bytes();
                }
                status
            })
            .collect()
    }

    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.runners.iter().map(|runner| runner.rule.as_ref())
    }

    /// Time spent computing the views shared by the event rules (µs).
    pub fn views_micros(&self) -> u64 {
        self.views_micros
    }

    /// Each shared view's name and the time spent computing it (µs).
    pub fn view_times(&self) -> Vec<(String, u64)> {
        self.shared.as_ref().map_or_else(Vec::new, |shared| {
            shared
                .views
                .iter()
                .map(|view| (view.name.clone(), view.micros.load(Ordering::Relaxed)))
                .collect()
        })
    }

    /// The event time the engine has reached (µs), if any event was seen.
    pub fn watermark(&self) -> Option<i64> {
        self.watermark
    }

    /// Runs every rule on a batch of [`detection_schema`] and returns the alerts to send.
    ///
    /// Event rules see the whole batch. Window and sequence rules see it in event-time order,
    /// in slices no longer than the shortest `every`, so that within a long batch (a file being
    /// replayed) their windows slide and run as they would have live.
    pub async fn process(&mut self, batch: &RecordBatch) -> Vec<Alert> {
        let mut alerts = Vec::new();
        self.process_with(batch, &mut |found| alerts.extend(found))
            .await;
        alerts
    }

    /// [`Engine::process`], handing alerts over as soon as they are known: the event rules'
    /// before the window and sequence rules run.
    pub async fn process_with(
        &mut self,
        batch: &RecordBatch,
        on_alerts: &mut (dyn FnMut(Vec<Alert>) + Send),
    ) {
        self.process_all_with(std::slice::from_ref(batch), on_alerts)
            .await
    }

    /// [`Engine::process_with`] over consecutive batches taken as one: event rules run on each
    /// batch, window and sequence rules once per slice of event time across them. A thread
    /// that fell behind hands over what waited, and each window rule's run (whose cost grows
    /// with its window, not with the new rows) covers all of it.
    pub async fn process_all_with(
        &mut self,
        batches: &[RecordBatch],
        on_alerts: &mut (dyn FnMut(Vec<Alert>) + Send),
    ) {
        let sorted: Vec<(RecordBatch, Vec<i64>)> = batches
            .iter()
            .filter(|batch| batch.num_rows() > 0)
            .map(|batch| {
                sorted_by_time(batch).unwrap_or_else(|error| {
                    tracing::error!(%error, "cannot order a batch by event time; using it as it came");
                    (batch.clone(), event_times(batch))
                })
            })
            .collect();
        if sorted.is_empty() {
            return;
        }
        let before = self.watermark;
        for (batch, times) in &sorted {
            let newest = times.iter().copied().max();
            self.watermark = self.watermark.max(newest);
            let alerts = self.run_event_rules(batch).await;
            on_alerts(alerts);
        }
        if !self.runners.iter().any(|r| r.rule.window.is_some()) {
            return;
        }
        let mut alerts = Vec::new();
        // The slice being filled: where it ends (µs), and the newest event time seen.
        let mut boundary: Option<i64> = None;
        let mut newest = before.unwrap_or(i64::MIN);
        for (batch, times) in &sorted {
            let mut start = 0;
            while start < times.len() {
                let end_time =
                    *boundary.get_or_insert_with(|| times[start].saturating_add(self.slice_micros));
                let mut end = start;
                while end < times.len() && times[end] < end_time {
                    end += 1;
                }
                if end > start {
                    newest = newest.max(times[end - 1]);
                    self.keep_in_windows(&batch.slice(start, end - start)).await;
                }
                if end < times.len() {
                    // The slice ends inside this batch.
                    alerts.extend(self.run_due_windows(newest).await);
                    boundary = None;
                }
                start = end;
            }
        }
        alerts.extend(self.run_due_windows(newest).await);
        on_alerts(alerts);
    }

    /// Runs the event rules on a batch in event-time order.
    async fn run_event_rules(&mut self, batch: &RecordBatch) -> Vec<Alert> {
        let now = self.watermark.unwrap_or(0);
        let mut alerts = Vec::new();
        if !self.runners.iter().any(|r| r.rule.mode == Mode::Event) {
            return alerts;
        }
        if let Some(shared) = &self.shared {
            let started = Instant::now();
            shared.compute(batch, self.options.rule_timeout).await;
            self.views_micros += started.elapsed().as_micros() as u64;
        }
        for index in 0..self.runners.len() {
            let runner = &mut self.runners[index];
            let Some(planned) = runner.planned.as_mut() else {
                continue;
            };
            if runner.rule.mode != Mode::Event {
                continue;
            }
            // Only the rows the rule can use; not run at all when it has nothing to read.
            let reads = &planned.query.reads;
            let rows = reads.select(EVENTS, batch);
            let mut any_rows = rows.is_some() || !reads.tables.contains(EVENTS);
            planned.events.set(Arc::new(rows.into_iter().collect()));
            if let Some(shared) = &self.shared {
                for ((name, table), view) in planned.views.iter().zip(&shared.views) {
                    if reads.tables.contains(name) {
                        any_rows |= pass_on(reads, name, &view.table, table);
                    }
                }
            }
            if !any_rows {
                runner.status.skipped += 1;
                continue;
            }
            alerts.extend(self.run(index, now).await);
        }
        alerts
    }

    /// Hands a slice of events (in event-time order) to every window and sequence rule's
    /// filter.
    async fn keep_in_windows(&mut self, slice: &RecordBatch) {
        for runner in &mut self.runners {
            let Some(planned) = runner.planned.as_mut() else {
                continue;
            };
            if runner.rule.mode == Mode::Event {
                continue;
            }
            let started = Instant::now();
            let kept = keep_in_window(planned, slice, &self.options).await;
            runner.status.filter_micros += started.elapsed().as_micros() as u64;
            let compaction = planned.window.as_mut().and_then(Window::take_error);
            if let Err(error) = kept {
                fail(runner, error);
            }
            if let Some(error) = compaction {
                fail(
                    runner,
                    format!("cannot compact the window (it keeps every row): {error}"),
                );
            }
        }
    }

    /// Runs the window and sequence rules that are due at event time `now` (µs).
    async fn run_due_windows(&mut self, now: i64) -> Vec<Alert> {
        let mut alerts = Vec::new();
        for index in 0..self.runners.len() {
            let runner = &mut self.runners[index];
            let Some(planned) = runner.planned.as_mut() else {
                continue;
            };
            if runner.rule.mode != Mode::Event && window_due(runner.rule.as_ref(), planned, now) {
                alerts.extend(self.run(index, now).await);
            }
        }
        alerts
    }

    /// Moves event time on to `now` (µs) without events, e.g. from a clock while a cluster is
    /// quiet, and runs the window rules that became due.
    pub async fn advance(&mut self, now: i64) -> Vec<Alert> {
        if self.watermark.is_some_and(|mark| mark >= now) {
            return Vec::new();
        }
        self.watermark = Some(now);
        let mut alerts = Vec::new();
        for index in 0..self.runners.len() {
            let runner = &mut self.runners[index];
            let Some(planned) = runner.planned.as_mut() else {
                continue;
            };
            if runner.rule.mode == Mode::Window && window_due(&runner.rule, planned, now) {
                alerts.extend(self.run(index, now).await);
            }
        }
        alerts
    }

    /// End of input: runs every window rule holding events it has not run on yet.
    pub async fn finish(&mut self) -> Vec<Alert> {
        let now = self.watermark.unwrap_or(0);
        let mut alerts = Vec::new();
        for index in 0..self.runners.len() {
            let pending = self.runners[index]
                .planned
                .as_ref()
                .and_then(|p| p.window.as_ref())
                .is_some_and(Window::has_fresh);
            if pending {
                alerts.extend(self.run(index, now).await);
            }
        }
        alerts
    }

    /// Fills a rule's window with stored history (already evaluated: nothing alerts on it).
    /// The batches must have [`detection_schema`] and pass the rule's filter.
    pub fn seed(&mut self, rule_id: &str, batches: Vec<RecordBatch>) {
        let Some(runner) = self.runners.iter_mut().find(|r| r.rule.id == rule_id) else {
            return;
        };
        let Some(planned) = runner.planned.as_mut() else {
            return;
        };
        let Some(window) = planned.window.as_mut() else {
            return;
        };
        for batch in batches {
            if batch.schema() != detection_schema() {
                tracing::warn!(rule = %rule_id, "stored history does not have the events schema; not used");
                return;
            }
            // Only what the rule's scans of `events` can use, as for new events.
            let reads = &planned.query.reads;
            if !reads.tables.contains(EVENTS) {
                return;
            }
            if let Some(rows) =
                reads.select_keeping(EVENTS, &batch, planned.window_columns.kept.as_ref())
            {
                window.add_history(rows);
            }
        }
    }

    /// Remembers alerts sent before (from the alert log), so a restart does not repeat them.
    pub fn remember(&mut self, alerts: &[Alert]) {
        for alert in alerts {
            let Some(runner) = self.runners.iter().find(|r| r.rule.id == alert.rule_id) else {
                continue;
            };
            let Some(time) = schemas::time::parse_micros(&alert.time) else {
                continue;
            };
            let key = dedup_key_of_alert(&runner.rule, alert);
            self.dedup.remember(&alert.rule_id, &key, time);
        }
    }

    async fn run(&mut self, index: usize, now: i64) -> Vec<Alert> {
        let timeout = self.options.rule_timeout;
        let runner = &mut self.runners[index];
        let Some(planned) = runner.planned.as_mut() else {
            return Vec::new();
        };
        if let Some(window) = planned.window.as_mut() {
            window.evict(now);
            let (all, fresh) = window.take_run();
            if let Some(spec) = runner.rule.window.as_ref() {
                let every = i64::try_from(spec.every.as_micros()).unwrap_or(i64::MAX);
                planned.next_run = Some(now.saturating_add(every));
            }
            let reads = &planned.query.reads;
            // A sequence rule is about new events: it runs when one of them passes its own
            // conditions on `new_events` (the window held only those apart).
            if runner.rule.mode == Mode::Sequence
                && reads.tables.contains(NEW_EVENTS)
                && fresh.is_empty()
            {
                runner.status.skipped += 1;
                return Vec::new();
            }
            planned.new_events.set(fresh);
            planned.events.set(all);
        }
        let started = Instant::now();
        let result = tokio::time::timeout(timeout, planned.query.run(&planned.ctx)).await;
        runner.status.runs += 1;
        runner.status.run_micros += started.elapsed().as_micros() as u64;
        // The tables are not needed until the next run: let go of the batches.
        if runner.rule.mode == Mode::Event {
            planned.events.set(Arc::new(Vec::new()));
            for (_, table) in &planned.views {
                table.set(Arc::new(Vec::new()));
            }
        }
        let batches = match result {
            Ok(Ok(batches)) => batches,
            Ok(Err(error)) => {
                fail(runner, error);
                return Vec::new();
            }
            Err(_) => {
                fail(
                    runner,
                    format!("took longer than {}s; stopped", timeout.as_secs()),
                );
                return Vec::new();
            }
        };
        let found = match findings(&batches) {
            Ok(found) => found,
            Err(error) => {
                fail(runner, error);
                return Vec::new();
            }
        };
        let mut alerts = Vec::new();
        for finding in found {
            let time = finding.time.unwrap_or(now);
            let key = dedup_key(&runner.rule, &finding);
            if !self
                .dedup
                .admit(&runner.rule.id, &key, time, runner.rule.suppress)
            {
                runner.status.suppressed += 1;
                continue;
            }
            runner.status.alerts += 1;
            alerts.push(alert(&runner.rule, &finding, time, &self.options.hostname));
        }
        if self.dedup.len() > self.options.max_dedup_keys / 2 {
            let longest = self
                .runners
                .iter()
                .map(|r| r.rule.suppress)
                .max()
                .unwrap_or_default();
            let horizon = i64::try_from(longest.as_micros()).unwrap_or(i64::MAX);
            self.dedup.prune(now.saturating_sub(horizon));
        }
        alerts
    }
}

/// Fills `into` with the rows of the view table `from` (named `name`) that a query reading it
/// can use; whether any row was left.
fn pass_on(reads: &Reads, name: &str, from: &BatchTable, into: &BatchTable) -> bool {
    let kept: Vec<RecordBatch> = from
        .current()
        .iter()
        .filter_map(|rows| reads.select(name, rows))
        .collect();
    let any = !kept.is_empty();
    into.set(Arc::new(kept));
    any
}

fn fail(runner: &mut Runner, error: String) {
    runner.status.failures += 1;
    if runner.status.failures == 1 || runner.status.failures.is_power_of_two() {
        tracing::error!(rule = %runner.rule.id, failures = runner.status.failures, %error, "rule failed");
    }
    runner.status.error = Some(error);
}

fn window_due(rule: &Rule, planned: &mut Planned, now: i64) -> bool {
    let Some(window) = planned.window.as_ref() else {
        return false;
    };
    if !window.has_fresh() {
        return false;
    }
    match rule.mode {
        Mode::Sequence => true,
        Mode::Window => match planned.next_run {
            Some(next) => now >= next,
            None => {
                // The first run waits one interval so that a burst can gather.
                let every = rule.window.as_ref().map_or(0, |spec| {
                    i64::try_from(spec.every.as_micros()).unwrap_or(i64::MAX)
                });
                planned.next_run = Some(now.saturating_add(every));
                false
            }
        },
        Mode::Event => true,
    }
}

/// The batch in event-time order, with its event times.
fn sorted_by_time(batch: &RecordBatch) -> Result<(RecordBatch, Vec<i64>), String> {
    let times = event_times(batch);
    if times.windows(2).all(|pair| pair[0] <= pair[1]) {
        return Ok((batch.clone(), times));
    }
    let array = datafusion::arrow::array::Int64Array::from(times);
    let order = datafusion::arrow::compute::sort_to_indices(&array, None, None)
        .map_err(|e| e.to_string())?;
    let sorted =
        datafusion::arrow::compute::take_record_batch(batch, &order).map_err(|e| e.to_string())?;
    let times = event_times(&sorted);
    Ok((sorted, times))
}

async fn keep_in_window(
    planned: &mut Planned,
    batch: &RecordBatch,
    options: &EngineOptions,
) -> Result<(), String> {
    let Some(filter) = planned.filter.as_ref() else {
        return Ok(());
    };
    let columns = &planned.window_columns;
    if filter.reads.exact {
        // The filter is all in the prefilter: these are the rows.
        if let Some(window) = planned.window.as_mut() {
            let passing = filter.reads.mask(EVENTS, batch);
            columns.add(&planned.query.reads, window, batch, passing.as_ref());
        }
        return Ok(());
    }
    let Some(rows) = filter
        .reads
        .select_keeping(EVENTS, batch, columns.filtered.as_ref())
    else {
        return Ok(());
    };
    planned.events.set(Arc::new(vec![rows]));
    let kept = tokio::time::timeout(options.rule_timeout, filter.run(&planned.ctx)).await;
    planned.events.set(Arc::new(Vec::new()));
    let kept = match kept {
        Ok(result) => result?,
        Err(_) => return Err("the window filter took too long; stopped".into()),
    };
    if let Some(window) = planned.window.as_mut() {
        for batch in kept {
            // Same columns as the input; the schema object is made identical for the table.
            let batch = RecordBatch::try_new(detection_schema(), batch.columns().to_vec())
                .map_err(|e| e.to_string())?;
            columns.add(&planned.query.reads, window, &batch, None);
        }
    }
    Ok(())
}

fn dedup_key(rule: &Rule, finding: &Finding) -> String {
    if rule.dedup.is_empty() {
        return finding.audit_ids.join(",");
    }
    let mut parts = Vec::with_capacity(rule.dedup.len());
    for column in &rule.dedup {
        let value = match column.as_str() {
            output::CLUSTER => serde_json::Value::from(finding.cluster.clone()),
            output::AUDIT_ID | output::AUDIT_IDS => {
                serde_json::Value::from(finding.audit_ids.clone())
            }
            name => finding
                .fields
                .iter()
                .find(|(field, _)| field == name)
                .map_or(serde_json::Value::Null, |(_, value)| value.clone()),
        };
        parts.push(value.to_string());
    }
    parts.join("\u{1f}")
}

/// The dedup key an alert read back from the log had when it was raised.
fn dedup_key_of_alert(rule: &Rule, alert: &Alert) -> String {
    let fields = rule
        .dedup
        .iter()
        .filter_map(|column| {
            let value = alert.output_fields.get(output_field_name(column))?;
            Some((column.clone(), value.clone()))
        })
        .collect();
    let finding = Finding {
        cluster: alert.cluster.clone(),
        audit_ids: alert.audit_ids.clone(),
        time: None,
        fields,
    };
    dedup_key(rule, &finding)
}

fn alert(rule: &Rule, finding: &Finding, time: i64, hostname: &str) -> Alert {
    let output_fields = finding
        .fields
        .iter()
        .map(|(name, value)| (output_field_name(name).to_string(), value.clone()))
        .collect();
    Alert {
        uuid: uuid::Uuid::now_v7().to_string(),
        time: schemas::time::format_micros(time),
        rule: rule.title.clone(),
        priority: rule.priority,
        output: output::render(&rule.output, finding),
        output_fields,
        source: ALERT_SOURCE.to_string(),
        tags: rule.tags.clone(),
        hostname: hostname.to_string(),
        rule_id: rule.id.clone(),
        cluster: finding.cluster.clone(),
        audit_ids: finding.audit_ids.clone(),
        mitre: rule.mitre.clone(),
        severity: rule.priority.severity(),
    }
}

fn session(options: &EngineOptions) -> Result<SessionContext, String> {
    let mut config = SessionConfig::new()
        .with_target_partitions(1)
        .with_information_schema(false);
    let settings = config.options_mut();
    settings.execution.time_zone = Some("UTC".into());
    settings.sql_parser.dialect = datafusion::config::Dialect::PostgreSQL;
    // Plans are run again on every batch: no state may outlive a run.
    settings.optimizer.enable_dynamic_filter_pushdown = false;
    settings.optimizer.enable_join_dynamic_filter_pushdown = false;
    settings.optimizer.enable_topk_dynamic_filter_pushdown = false;
    settings.optimizer.enable_aggregate_dynamic_filter_pushdown = false;
    // JSON functions stay in the conditions that use them, where the engine evaluates them on
    // the rows the plain comparisons left (see `prefilter`), instead of on every row below.
    settings.optimizer.enable_leaf_expression_pushdown = false;
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_pool(Arc::new(GreedyMemoryPool::new(options.rule_memory_bytes)))
        .build_arc()
        .map_err(|e| e.to_string())?;
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_default_features()
        .build();
    let mut ctx = SessionContext::new_with_state(state);
    crate::functions::register(&mut ctx).map_err(|e| e.to_string())?;
    for function in super::in_list::functions(&options.lists) {
        ctx.register_udf(function);
    }
    Ok(ctx)
}

async fn plan_sql(ctx: &SessionContext, sql: &str) -> Result<LogicalPlan, String> {
    let options = crate::readonly::read_only_options();
    let frame = ctx
        .sql_with_options(sql, options)
        .await
        .map_err(|e| e.to_string())?;
    frame.into_optimized_plan().map_err(|e| e.to_string())
}

async fn plan_rule(
    rule: &Rule,
    options: &EngineOptions,
    shared: Option<&SharedViews>,
) -> Result<Planned, String> {
    let ctx = session(options)?;
    let schema = detection_schema();
    let events = Arc::new(BatchTable::new(schema.clone()));
    let new_events = Arc::new(BatchTable::new(schema));
    ctx.register_table(EVENTS, events.clone())
        .map_err(|e| e.to_string())?;
    if rule.mode != Mode::Event {
        ctx.register_table(NEW_EVENTS, new_events.clone())
            .map_err(|e| e.to_string())?;
    }
    for (name, table) in options.lists.tables().map_err(|e| e.to_string())? {
        if name == EVENTS || name == NEW_EVENTS {
            continue;
        }
        ctx.register_table(name.as_str(), table)
            .map_err(|e| e.to_string())?;
    }
    let mut inputs = vec![(EVENTS.to_string(), detection_schema())];
    if rule.mode != Mode::Event {
        inputs.push((NEW_EVENTS.to_string(), detection_schema()));
    }
    let mut views = Vec::new();
    match shared {
        // Event rules read the views computed once for the batch, through tables of their own.
        Some(shared) if rule.mode == Mode::Event => {
            for view in &shared.views {
                let schema = view.table.schema();
                let table = Arc::new(BatchTable::new(schema.clone()));
                ctx.register_table(view.name.as_str(), table.clone())
                    .map_err(|e| e.to_string())?;
                inputs.push((view.name.clone(), schema));
                views.push((view.name.clone(), table));
            }
        }
        _ => super::views::register_views(&ctx, &options.views).await?,
    }
    let (query, plan) = Query::plan(&ctx, &rule.sql, &inputs).await?;
    let result = plan.schema().as_arrow().clone();
    check_result_schema(&result)?;
    for column in &rule.dedup {
        if result.field_with_name(column).is_err() {
            return Err(format!(
                "`dedup` names `{column}`, which the query does not select"
            ));
        }
    }
    for name in output::placeholders(&rule.output) {
        let special = [
            output::CLUSTER,
            output::AUDIT_ID,
            output::AUDIT_IDS,
            output::TIME,
        ];
        if !special.contains(&name) && result.field_with_name(name).is_err() {
            return Err(format!(
                "`output` uses `{{{name}}}`, which the query does not select"
            ));
        }
    }
    let (filter, window, window_columns) = match rule.window.as_ref() {
        None => (None, None, WindowColumns::default()),
        Some(spec) => {
            let sql = format!("SELECT * FROM {EVENTS} WHERE {}", spec.filter);
            let (filter, _) = Query::plan(&ctx, &sql, &inputs[..1])
                .await
                .map_err(|e| format!("`filter`: {e}"))?;
            // The window holds only what the rule reads: a window of 30 days need not hold
            // request bodies nobody looks at. The new events, which a sequence rule may read
            // more of, are held until its next run; the filter sees the columns it reads too.
            let read = |table: &str| -> Option<BTreeSet<usize>> {
                if query.reads.tables.contains(table) {
                    query.reads.columns(table).cloned()
                } else {
                    Some(BTreeSet::new())
                }
            };
            let compaction = match spec.compact.as_deref() {
                Some(keys) => Some(
                    compaction_keys(&ctx, keys)
                        .await
                        .map_err(|e| format!("`compact`: {e}"))?,
                ),
                None => None,
            };
            // The window keeps what the rule reads, and what its keys are computed from.
            let kept = match (read(EVENTS), &compaction) {
                (Some(mut kept), Some((_, columns))) => {
                    kept.extend(columns);
                    Some(kept)
                }
                (kept, _) => kept,
            };
            let rule_columns = match (&kept, read(NEW_EVENTS)) {
                (Some(kept), Some(new)) => {
                    Some(kept.union(&new).copied().collect::<BTreeSet<usize>>())
                }
                _ => None,
            };
            let filter_columns = if filter.reads.exact {
                rule_columns.clone()
            } else {
                let sql = format!("SELECT 1 FROM {EVENTS} WHERE {}", spec.filter);
                let (probe, _) = Query::plan(&ctx, &sql, &inputs[..1])
                    .await
                    .map_err(|e| format!("`filter`: {e}"))?;
                match (&rule_columns, probe.reads.columns(EVENTS)) {
                    (Some(rule), Some(read)) => Some(rule.union(read).copied().collect()),
                    _ => None,
                }
            };
            (
                Some(filter),
                Some(
                    Window::new(
                        spec.length,
                        options.max_window_rows,
                        options.max_window_bytes,
                    )
                    .holding_new_events(query.reads.tables.contains(NEW_EVENTS))
                    .compacting_by(compaction.map(|(keys, _)| keys), options.compaction_rows)
                    .cutting_bodies(spec.bodies.clone()),
                ),
                WindowColumns {
                    kept,
                    fresh: rule_columns,
                    filtered: filter_columns,
                },
            )
        }
    };
    Ok(Planned {
        ctx,
        query,
        views,
        events,
        new_events,
        filter,
        window_columns,
        window,
        next_run: None,
    })
}

/// The physical expressions of a `compact` list (a `SELECT` list over `events`), and the
/// columns of `events` they read.
async fn compaction_keys(
    ctx: &SessionContext,
    keys: &str,
) -> Result<(Vec<Arc<dyn PhysicalExpr>>, BTreeSet<usize>), String> {
    let frame = ctx
        .sql_with_options(
            &format!("SELECT {keys} FROM {EVENTS}"),
            crate::readonly::read_only_options(),
        )
        .await
        .map_err(|e| e.to_string())?;
    let LogicalPlan::Projection(projection) = frame.logical_plan() else {
        return Err("expected a list of expressions over `events`".into());
    };
    let schema =
        DFSchema::try_from(detection_schema().as_ref().clone()).map_err(|e| e.to_string())?;
    let simplifier = ExprSimplifier::new(
        SimplifyContext::builder()
            .with_schema(Arc::new(schema.clone()))
            .with_config_options(Arc::clone(ctx.state().config_options()))
            .build(),
    );
    let mut columns = BTreeSet::new();
    let mut physical = Vec::with_capacity(projection.expr.len());
    for expr in &projection.expr {
        if expr.is_volatile() {
            return Err(format!("`{expr}` is volatile"));
        }
        let expr = unqualified(expr.clone().unalias())
            .ok_or_else(|| format!("`{expr}`: cannot read its columns"))?;
        for column in expr.column_refs() {
            columns.insert(
                schema
                    .index_of_column_by_name(None, &column.name)
                    .ok_or_else(|| format!("`{}` is not a column of `events`", column.name))?,
            );
        }
        // Simplified as a planned query's expressions are (some functions exist only in
        // their simplified form: `coalesce` becomes a `CASE`).
        let expr = simplifier
            .coerce(expr, &schema)
            .and_then(|expr| simplifier.simplify(expr))
            .map_err(|e| e.to_string())?;
        physical.push(
            ctx.create_physical_expr(expr, &schema)
                .map_err(|e| e.to_string())?,
        );
    }
    Ok((physical, columns))
}

/// The views, computed once per batch into in-memory tables every event rule reads: their
/// work (parsing request bodies, unnesting containers) is done once, not once per rule. Each
/// view runs in a session of its own, on the rows of `events` and of earlier views that its
/// own conditions select.
struct SharedViews {
    /// In an order where every view comes after the views it reads.
    views: Vec<SharedView>,
}

struct SharedView {
    name: String,
    ctx: SessionContext,
    query: Query,
    /// This view's `events`.
    events: Arc<BatchTable>,
    /// The earlier views, as this view reads them (same order as [`SharedViews::views`]).
    inputs: Vec<Arc<BatchTable>>,
    /// The view's rows for the current batch.
    table: Arc<BatchTable>,
    /// Time spent computing it (µs).
    micros: AtomicU64,
}

impl SharedViews {
    async fn plan(
        options: &EngineOptions,
        event_rules: bool,
    ) -> Result<Option<SharedViews>, String> {
        if options.views.is_empty() || !event_rules {
            return Ok(None);
        }
        let mut pending: Vec<&super::views::View> = options.views.iter().collect();
        let mut views: Vec<SharedView> = Vec::new();
        while !pending.is_empty() {
            let mut failed = Vec::new();
            let mut first_error = None;
            for view in &pending {
                let ctx = session(options)?;
                let events = Arc::new(BatchTable::new(detection_schema()));
                ctx.register_table(EVENTS, events.clone())
                    .map_err(|e| e.to_string())?;
                for (name, table) in options.lists.tables().map_err(|e| e.to_string())? {
                    if name != EVENTS {
                        ctx.register_table(name.as_str(), table)
                            .map_err(|e| e.to_string())?;
                    }
                }
                let mut inputs = Vec::with_capacity(views.len());
                let mut schemas = vec![(EVENTS.to_string(), detection_schema())];
                for earlier in &views {
                    let schema = earlier.table.schema();
                    let input = Arc::new(BatchTable::new(schema.clone()));
                    ctx.register_table(earlier.name.as_str(), input.clone())
                        .map_err(|e| e.to_string())?;
                    inputs.push(input);
                    schemas.push((earlier.name.clone(), schema));
                }
                match Query::plan(&ctx, &view.sql, &schemas).await {
                    Ok((query, plan)) => {
                        let schema = Arc::new(plan.schema().as_arrow().clone());
                        views.push(SharedView {
                            name: view.name.clone(),
                            ctx,
                            query,
                            events,
                            inputs,
                            table: Arc::new(BatchTable::new(schema)),
                            micros: AtomicU64::new(0),
                        });
                    }
                    Err(error) => {
                        first_error.get_or_insert_with(|| {
                            format!("view `{}` ({}): {error}", view.name, view.path.display())
                        });
                        failed.push(*view);
                    }
                }
            }
            if failed.len() == pending.len() {
                return Err(first_error.unwrap_or_default());
            }
            pending = failed;
        }
        Ok(Some(SharedViews { views }))
    }

    async fn compute(&self, batch: &RecordBatch, timeout: Duration) {
        for (index, view) in self.views.iter().enumerate() {
            let (name, table) = (&view.name, &view.table);
            let reads = &view.query.reads;
            let rows = if reads.tables.contains(EVENTS) {
                reads.select(EVENTS, batch)
            } else {
                None
            };
            let mut any_rows = rows.is_some();
            let mut reads_inputs = reads.tables.contains(EVENTS);
            view.events.set(Arc::new(rows.into_iter().collect()));
            for (earlier, input) in self.views[..index].iter().zip(&view.inputs) {
                if !reads.tables.contains(&earlier.name) {
                    continue;
                }
                reads_inputs = true;
                any_rows |= pass_on(reads, &earlier.name, &earlier.table, input);
            }
            if reads_inputs && !any_rows {
                table.set(Arc::new(Vec::new()));
                continue;
            }
            let schema = table.schema();
            let started = Instant::now();
            let result = tokio::time::timeout(timeout, view.query.run(&view.ctx)).await;
            view.micros
                .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
            view.events.set(Arc::new(Vec::new()));
            for input in &view.inputs {
                input.set(Arc::new(Vec::new()));
            }
            let batches = match result {
                Ok(Ok(batches)) => batches
                    .into_iter()
                    .map(|b| RecordBatch::try_new(schema.clone(), b.columns().to_vec()))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| e.to_string()),
                Ok(Err(error)) => Err(error),
                Err(_) => Err(format!("took longer than {}s", timeout.as_secs())),
            };
            match batches {
                Ok(batches) => table.set(Arc::new(batches)),
                Err(error) => {
                    tracing::error!(view = %name, %error, "view failed for this batch; rules reading it see no rows");
                    table.set(Arc::new(Vec::new()));
                }
            }
        }
    }
}
