//! Observed coverage: what the stored events show about the audit policy in force. Per CIS 3.2.2
//! request class, the events seen and their levels; every event that breaks the Metadata-only
//! guidance; classes an active cluster should show but does not; which policies (the presets,
//! or the one declared) the stream is consistent with, and the events that contradict each; and
//! evidence for other CIS items (anonymous access, profiling, NodeRestriction, EventRateLimit,
//! privileged containers).
//!
//! The SQL is in `queries/coverage/`; it reads `scoped`, the events of the report's cluster and
//! time range. Policies are evaluated in Rust ([`crate::coverage`]) on the distinct request
//! attributes of the scope.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::{col, lit, SessionContext};
use serde::Serialize;

use crate::coverage::{requirement_titles, Level, Policy, Preset, Request, Stage};
use crate::QueryError;

/// Version of the JSON shape; bumped when a field changes meaning or disappears.
pub const OBSERVED_SCHEMA_VERSION: u32 = 1;
/// A scope with at least this many events is "clearly active": classes every running cluster
/// produces must show up in it.
pub const ACTIVE_EVENTS: u64 = 1000;
/// Contradicting events listed per policy.
const MAX_CONTRADICTIONS: usize = 20;

/// The building blocks, `(table name, SQL)`: each is registered as a view, in this order.
const VIEWS: &[(&str, &str)] = &[(
    "request_classes",
    include_str!("../../queries/coverage/request_classes.sql"),
)];
const ACTIVITY: &str = include_str!("../../queries/coverage/activity.sql");
const REQUIREMENT_LEVELS: &str = include_str!("../../queries/coverage/requirement_levels.sql");
const SENSITIVE_BODIES: &str = include_str!("../../queries/coverage/sensitive_bodies.sql");
const POLICY_INPUTS: &str = include_str!("../../queries/coverage/policy_inputs.sql");

/// One piece of evidence for a CIS item beyond 3.2: `(id, CIS item, title, SQL)`.
const EVIDENCE: &[(&str, &str, &str, &str)] = &[
    (
        "anonymous-requests-allowed",
        "1.2.1",
        "Anonymous requests are authenticated and answered (--anonymous-auth is not false)",
        include_str!("../../queries/coverage/evidence_anonymous_allowed.sql"),
    ),
    (
        "profiling-enabled",
        "1.2.15",
        "/debug/pprof answers (--profiling is not false)",
        include_str!("../../queries/coverage/evidence_profiling_enabled.sql"),
    ),
    (
        "node-restriction-missing",
        "1.2.9",
        "A node changed another node's object and was allowed (NodeRestriction is not enforced)",
        include_str!("../../queries/coverage/evidence_node_restriction.sql"),
    ),
    (
        "event-rate-not-limited",
        "1.2.8",
        "A namespace created over 600 events a minute with no 429 (EventRateLimit is not enforced)",
        include_str!("../../queries/coverage/evidence_event_rate_limit.sql"),
    ),
    (
        "privileged-containers-admitted",
        "5.2.2",
        "Pods with privileged containers were admitted",
        include_str!("../../queries/coverage/evidence_privileged_admitted.sql"),
    ),
];

/// Classes every running cluster produces (controllers read Secrets and ConfigMaps, and
/// create and delete Pods): missing from an active scope, the policy does not log them.
const EXPECTED_WHEN_ACTIVE: &[&str] = &[
    "3.2.2-secrets-metadata-only",
    "3.2.2-configmaps-metadata-only",
    "3.2.2-pod-changes-logged",
];

/// What the report covers and what it compares the stream with.
#[derive(Debug, Clone, Default)]
pub struct ObservedOptions {
    /// Only this cluster's events.
    pub cluster: Option<String>,
    /// Only events at or after this time (µs since the epoch, UTC).
    pub since_micros: Option<i64>,
    /// The policy the cluster is said to run, named (a path, `preset recommended`); the stream
    /// is checked against it as well as against the built-in presets.
    pub declared: Option<(String, Policy)>,
}

/// The observed-coverage report.
#[derive(Debug, Clone, Serialize)]
pub struct ObservedReport {
    /// [`OBSERVED_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The cluster covered, `null` for all.
    pub cluster: Option<String>,
    /// The start of the time range covered (RFC 3339), `null` for all stored history.
    pub since: Option<String>,
    /// How much the scope holds.
    pub activity: Activity,
    /// Whether the scope holds at least [`ACTIVE_EVENTS`] events.
    pub active: bool,
    /// Requirements that pass, fail, and were not observed.
    pub passed: usize,
    pub failed: usize,
    pub not_observed: usize,
    /// 3.2.1, then one per CIS 3.2.2 requirement.
    pub requirements: Vec<ObservedRequirement>,
    /// Each policy checked against the stream.
    pub policies: Vec<PolicyConsistency>,
    /// Names of the policies no event contradicts.
    pub consistent_with: Vec<String>,
    /// Evidence for other CIS items.
    pub evidence: Vec<ObservedEvidence>,
}

/// The size of the scope.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Activity {
    pub events: u64,
    /// First and last event time (RFC 3339).
    pub first_at: Option<String>,
    pub last_at: Option<String>,
    /// Distinct users and verbs seen.
    pub identities: u64,
    pub verbs: u64,
}

/// An observed verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ObservedStatus {
    /// Events of the class were seen and none breaks the guidance.
    Pass,
    /// Events break the guidance, or an active scope lacks a class every cluster produces.
    Fail,
    /// No event of the class: nothing to judge by (the cluster may not have done it).
    NotObserved,
}

/// One requirement as the stream shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ObservedRequirement {
    /// The static report's id.
    pub id: String,
    pub title: String,
    pub status: ObservedStatus,
    /// One sentence on the outcome.
    pub summary: String,
    /// Events of the class.
    pub events: u64,
    /// Events of the class per level.
    pub levels: BTreeMap<String, u64>,
    /// Events that break the guidance (all of them), of which `violations` lists the first.
    pub violation_count: u64,
    pub violations: Vec<ViolatingEvent>,
}

/// An event that breaks the Metadata-only guidance.
#[derive(Debug, Clone, Serialize)]
pub struct ViolatingEvent {
    pub audit_id: Option<String>,
    pub stage: Option<String>,
    pub time: Option<String>,
    pub level: Option<String>,
    pub verb: Option<String>,
    pub user: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub has_request_body: bool,
    pub has_response_body: bool,
}

/// Whether the stream looks like one policy.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyConsistency {
    /// `preset metadata`, or the declared policy's name.
    pub policy: String,
    /// Whether this is the policy the cluster is said to run.
    pub declared: bool,
    /// No event contradicts it.
    pub consistent: bool,
    /// Events checked and events that contradict it.
    pub events_checked: u64,
    pub events_contradicting: u64,
    /// The first distinct contradictions, one example event each.
    pub contradictions: Vec<Contradiction>,
}

/// Events the policy would not have produced as they are.
#[derive(Debug, Clone, Serialize)]
pub struct Contradiction {
    /// One of the events.
    pub audit_id: Option<String>,
    /// Events with the same request attributes, level and stage.
    pub events: u64,
    /// The request, rendered on one line.
    pub request: String,
    pub seen_level: String,
    pub seen_stage: String,
    pub expected_level: Level,
    pub rule_index: Option<usize>,
    /// What does not fit.
    pub reason: String,
}

/// Evidence for a CIS item found in the stream.
#[derive(Debug, Clone, Serialize)]
pub struct ObservedEvidence {
    pub id: String,
    pub cis: String,
    pub title: String,
    /// Whether any event shows it.
    pub found: bool,
    /// Events (or, for rates, minutes) that show it; `examples` lists the first.
    pub total: u64,
    pub examples: Vec<EvidenceEvent>,
}

/// One event behind a piece of evidence.
#[derive(Debug, Clone, Serialize)]
pub struct EvidenceEvent {
    pub audit_id: Option<String>,
    pub time: Option<String>,
    pub user: Option<String>,
    pub detail: Option<String>,
}

/// Column access by name over collected batches, whatever string or integer layout the
/// engine chose.
struct Rows {
    batches: Vec<RecordBatch>,
}

impl Rows {
    async fn collect(ctx: &SessionContext, sql: &str) -> Result<Rows, QueryError> {
        let frame = ctx.sql(sql).await.map_err(QueryError::Execution)?;
        let batches = frame.collect().await.map_err(QueryError::Execution)?;
        Ok(Rows { batches })
    }

    fn column(&self, name: &str, to: &DataType) -> Result<Vec<ArrayRef>, QueryError> {
        self.batches
            .iter()
            .map(|batch| {
                let column = batch.column_by_name(name).ok_or_else(|| {
                    QueryError::Execution(datafusion::error::DataFusionError::Plan(format!(
                        "coverage query has no column {name}"
                    )))
                })?;
                cast(column, to).map_err(|e| QueryError::Execution(e.into()))
            })
            .collect()
    }

    fn strings(&self, name: &str) -> Result<Vec<Option<String>>, QueryError> {
        Ok(self
            .column(name, &DataType::Utf8)?
            .iter()
            .flat_map(|array| {
                let array = array.as_string::<i32>();
                (0..array.len())
                    .map(|i| array.is_valid(i).then(|| array.value(i).to_string()))
                    .collect::<Vec<_>>()
            })
            .collect())
    }

    fn ints(&self, name: &str) -> Result<Vec<Option<i64>>, QueryError> {
        Ok(self
            .column(name, &DataType::Int64)?
            .iter()
            .flat_map(|array| {
                let array = array.as_primitive::<Int64Type>();
                (0..array.len())
                    .map(|i| array.is_valid(i).then(|| array.value(i)))
                    .collect::<Vec<_>>()
            })
            .collect())
    }

    fn bools(&self, name: &str) -> Result<Vec<bool>, QueryError> {
        Ok(self
            .column(name, &DataType::Boolean)?
            .iter()
            .flat_map(|array| {
                let array = array.as_boolean();
                (0..array.len())
                    .map(|i| array.is_valid(i) && array.value(i))
                    .collect::<Vec<_>>()
            })
            .collect())
    }

    /// Timestamps rendered as RFC 3339 text.
    fn times(&self, name: &str) -> Result<Vec<Option<String>>, QueryError> {
        let micros = self.column(
            name,
            &DataType::Timestamp(datafusion::arrow::datatypes::TimeUnit::Microsecond, None),
        )?;
        Ok(micros
            .iter()
            .flat_map(|array| {
                let array =
                    array.as_primitive::<datafusion::arrow::datatypes::TimestampMicrosecondType>();
                (0..array.len())
                    .map(|i| array.is_valid(i).then(|| rfc3339(array.value(i))).flatten())
                    .collect::<Vec<_>>()
            })
            .collect())
    }
}

fn rfc3339(micros: i64) -> Option<String> {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|time| time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
}

/// `events` narrowed to one cluster (or all) and to events at or after `since_micros`.
async fn scoped_events(
    ctx: &SessionContext,
    cluster: Option<&str>,
    since_micros: Option<i64>,
) -> Result<datafusion::dataframe::DataFrame, QueryError> {
    let mut events = ctx
        .table(crate::session::EVENTS_TABLE)
        .await
        .map_err(QueryError::Execution)?;
    if let Some(cluster) = cluster {
        events = events
            .filter(col("cluster").eq(lit(cluster)))
            .map_err(QueryError::Execution)?;
    }
    if let Some(since) = since_micros {
        let since = datafusion::scalar::ScalarValue::TimestampMicrosecond(
            Some(since),
            Some(schemas::columns::UTC.into()),
        );
        events = events
            .filter(col("stage_at").gt_eq(lit(since)))
            .map_err(QueryError::Execution)?;
    }
    Ok(events)
}

/// The clusters with events at or after `since_micros`: the scopes worth a report.
pub async fn clusters(
    ctx: &SessionContext,
    since_micros: Option<i64>,
) -> Result<Vec<String>, QueryError> {
    let batches = scoped_events(ctx, None, since_micros)
        .await?
        .select(vec![col("cluster")])
        .and_then(|frame| frame.distinct())
        .map_err(QueryError::Execution)?
        .collect()
        .await
        .map_err(QueryError::Execution)?;
    Ok(Rows { batches }
        .strings("cluster")?
        .into_iter()
        .flatten()
        .collect())
}

/// Registers `scoped` (the events of the scope) and the building-block views on `ctx`.
async fn register_scope(ctx: &SessionContext, options: &ObservedOptions) -> Result<(), QueryError> {
    let events = scoped_events(ctx, options.cluster.as_deref(), options.since_micros).await?;
    ctx.register_table("scoped", events.into_view())
        .map_err(QueryError::Execution)?;
    for (name, sql) in VIEWS {
        let view = ctx.sql(sql).await.map_err(QueryError::Execution)?;
        ctx.register_table(*name, view.into_view())
            .map_err(QueryError::Execution)?;
    }
    Ok(())
}

/// Builds the report over the session's `events` table (a session of its own is best: the
/// report registers views on it).
pub async fn observe(
    ctx: &SessionContext,
    options: &ObservedOptions,
) -> Result<ObservedReport, QueryError> {
    register_scope(ctx, options).await?;
    let activity = activity(ctx).await?;
    let active = activity.events >= ACTIVE_EVENTS;
    let requirements = requirements(ctx, &activity).await?;
    let policies = consistency(ctx, options).await?;
    let consistent_with = policies
        .iter()
        .filter(|policy| policy.consistent && policy.events_checked > 0)
        .map(|policy| policy.policy.clone())
        .collect();
    let mut evidence = Vec::new();
    for (id, cis, title, sql) in EVIDENCE {
        evidence.push(evidence_of(ctx, id, cis, title, sql).await?);
    }
    let count = |status| {
        requirements
            .iter()
            .filter(|r: &&ObservedRequirement| r.status == status)
            .count()
    };
    Ok(ObservedReport {
        schema_version: OBSERVED_SCHEMA_VERSION,
        cluster: options.cluster.clone(),
        since: options.since_micros.and_then(rfc3339),
        active,
        passed: count(ObservedStatus::Pass),
        failed: count(ObservedStatus::Fail),
        not_observed: count(ObservedStatus::NotObserved),
        activity,
        requirements,
        policies,
        consistent_with,
        evidence,
    })
}

async fn activity(ctx: &SessionContext) -> Result<Activity, QueryError> {
    let rows = Rows::collect(ctx, ACTIVITY).await?;
    let first = |values: Vec<Option<i64>>| values.into_iter().next().flatten().unwrap_or(0) as u64;
    Ok(Activity {
        events: first(rows.ints("events")?),
        first_at: rows.times("first_at")?.into_iter().next().flatten(),
        last_at: rows.times("last_at")?.into_iter().next().flatten(),
        identities: first(rows.ints("identities")?),
        verbs: first(rows.ints("verbs")?),
    })
}

async fn requirements(
    ctx: &SessionContext,
    activity: &Activity,
) -> Result<Vec<ObservedRequirement>, QueryError> {
    let active = activity.events >= ACTIVE_EVENTS;
    let mut levels: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    let rows = Rows::collect(ctx, REQUIREMENT_LEVELS).await?;
    for ((requirement, level), events) in rows
        .strings("requirement")?
        .into_iter()
        .zip(rows.strings("level")?)
        .zip(rows.ints("events")?)
    {
        let level = level.filter(|l| !l.is_empty()).unwrap_or("(none)".into());
        *levels
            .entry(requirement.unwrap_or_default())
            .or_default()
            .entry(level)
            .or_default() += events.unwrap_or(0) as u64;
    }
    let mut violations: BTreeMap<String, (u64, Vec<ViolatingEvent>)> = BTreeMap::new();
    let rows = Rows::collect(ctx, SENSITIVE_BODIES).await?;
    let ids = rows.strings("requirement")?;
    let audit_ids = rows.strings("audit_id")?;
    let stages = rows.strings("stage")?;
    let times = rows.times("stage_at")?;
    let levels_seen = rows.strings("level")?;
    let verbs = rows.strings("verb")?;
    let users = rows.strings("user_name")?;
    let namespaces = rows.strings("object_namespace")?;
    let names = rows.strings("object_name")?;
    let request_bodies = rows.bools("has_request_body")?;
    let response_bodies = rows.bools("has_response_body")?;
    let totals = rows.ints("total")?;
    for i in 0..ids.len() {
        let entry = violations
            .entry(ids[i].clone().unwrap_or_default())
            .or_default();
        entry.0 = totals[i].unwrap_or(0) as u64;
        entry.1.push(ViolatingEvent {
            audit_id: audit_ids[i].clone(),
            stage: stages[i].clone(),
            time: times[i].clone(),
            level: levels_seen[i].clone(),
            verb: verbs[i].clone(),
            user: users[i].clone(),
            namespace: namespaces[i].clone(),
            name: names[i].clone(),
            has_request_body: request_bodies[i],
            has_response_body: response_bodies[i],
        });
    }
    let mut out = vec![ObservedRequirement {
        id: "3.2.1".to_string(),
        title: "An audit policy is in force (the cluster sends audit events)".to_string(),
        status: if activity.events > 0 {
            ObservedStatus::Pass
        } else {
            ObservedStatus::NotObserved
        },
        summary: format!("{} events in the scope", activity.events),
        events: activity.events,
        levels: BTreeMap::new(),
        violation_count: 0,
        violations: Vec::new(),
    }];
    for (id, title) in requirement_titles() {
        let levels = levels.remove(id).unwrap_or_default();
        let events: u64 = levels.values().sum();
        let (violation_count, listed) = violations.remove(id).unwrap_or_default();
        let metadata_only = id.ends_with("-metadata-only");
        let (status, summary) = if violation_count > 0 {
            (
                ObservedStatus::Fail,
                format!(
                    "{violation_count} of {events} events carry request or response data (level Request or RequestResponse, or a body)"
                ),
            )
        } else if events == 0 && active && EXPECTED_WHEN_ACTIVE.contains(&id) {
            (
                ObservedStatus::Fail,
                "no event of this class although the scope is active: the policy in force does not log it".to_string(),
            )
        } else if events == 0 {
            (
                ObservedStatus::NotObserved,
                "no event of this class in the scope".to_string(),
            )
        } else if metadata_only {
            (
                ObservedStatus::Pass,
                format!("{events} events, all at Metadata without bodies"),
            )
        } else {
            (ObservedStatus::Pass, format!("{events} events logged"))
        };
        out.push(ObservedRequirement {
            id: id.to_string(),
            title: title.to_string(),
            status,
            summary,
            events,
            levels,
            violation_count,
            violations: listed,
        });
    }
    Ok(out)
}

/// One distinct request of the scope and what was logged for it.
struct Observed {
    request: Request,
    level: String,
    stage: String,
    events: u64,
    example: Option<String>,
}

async fn observed_requests(ctx: &SessionContext) -> Result<Vec<Observed>, QueryError> {
    let rows = Rows::collect(ctx, POLICY_INPUTS).await?;
    let users = rows.strings("user_name")?;
    let groups = rows.strings("user_groups")?;
    let verbs = rows.strings("verb")?;
    let is_resource = rows.bools("is_resource")?;
    let api_groups = rows.strings("api_group")?;
    let resources = rows.strings("resource")?;
    let subresources = rows.strings("subresource")?;
    let namespaces = rows.strings("namespace")?;
    let names = rows.strings("name")?;
    let paths = rows.strings("path")?;
    let levels = rows.strings("level")?;
    let stages = rows.strings("stage")?;
    let counts = rows.ints("events")?;
    let examples = rows.strings("example")?;
    let text = |values: &Vec<Option<String>>, i: usize| values[i].clone().unwrap_or_default();
    let mut out = Vec::with_capacity(users.len());
    for i in 0..users.len() {
        let verb = text(&verbs, i);
        let mut request = if is_resource[i] {
            Request::resource(&verb, &text(&api_groups, i), &text(&resources, i))
                .subresource(&text(&subresources, i))
                .in_namespace(&text(&namespaces, i))
                .named(&text(&names, i))
        } else {
            Request::non_resource(&verb, &text(&paths, i))
        };
        let user = text(&users, i);
        if !user.is_empty() {
            let groups = text(&groups, i);
            let groups: Vec<&str> = groups.split(',').filter(|g| !g.is_empty()).collect();
            request = request.by(&user, &groups);
        }
        out.push(Observed {
            request,
            level: text(&levels, i),
            stage: text(&stages, i),
            events: counts[i].unwrap_or(0) as u64,
            example: examples[i].clone(),
        });
    }
    Ok(out)
}

/// Why `observed` could not come from `policy`, if it could not.
fn contradiction(policy: &Policy, observed: &Observed) -> Option<Contradiction> {
    let decision = policy.evaluate(&observed.request);
    let seen_level: Option<Level> = observed.level.parse().ok();
    let seen_stage: Option<Stage> = observed.stage.parse().ok();
    let reason = if decision.level == Level::None {
        Some("the policy logs nothing for this request".to_string())
    } else if seen_level.is_some_and(|level| level != decision.level) {
        Some(format!(
            "logged at {} where the policy gives {}",
            observed.level, decision.level
        ))
    } else if seen_stage.is_some_and(|stage| decision.omit_stages.contains(&stage)) {
        Some(format!(
            "recorded at stage {} which the policy omits",
            observed.stage
        ))
    } else {
        None
    }?;
    Some(Contradiction {
        audit_id: observed.example.clone(),
        events: observed.events,
        request: observed.request.to_string(),
        seen_level: observed.level.clone(),
        seen_stage: observed.stage.clone(),
        expected_level: decision.level,
        rule_index: decision.rule_index,
        reason,
    })
}

async fn consistency(
    ctx: &SessionContext,
    options: &ObservedOptions,
) -> Result<Vec<PolicyConsistency>, QueryError> {
    let observed = observed_requests(ctx).await?;
    let events_checked: u64 = observed.iter().map(|o| o.events).sum();
    let mut candidates: Vec<(String, bool, Arc<Policy>)> = Vec::new();
    if let Some((name, policy)) = &options.declared {
        candidates.push((name.clone(), true, Arc::new(policy.clone())));
    }
    for preset in Preset::ALL {
        candidates.push((
            format!("preset {}", preset.name()),
            false,
            Arc::new(preset.policy()),
        ));
    }
    let mut out = Vec::new();
    for (name, declared, policy) in candidates {
        let mut contradictions: Vec<Contradiction> = observed
            .iter()
            .filter_map(|o| contradiction(&policy, o))
            .collect();
        let events_contradicting = contradictions.iter().map(|c| c.events).sum();
        contradictions.sort_by(|a, b| b.events.cmp(&a.events).then(a.request.cmp(&b.request)));
        contradictions.truncate(MAX_CONTRADICTIONS);
        out.push(PolicyConsistency {
            policy: name,
            declared,
            consistent: events_contradicting == 0,
            events_checked,
            events_contradicting,
            contradictions,
        });
    }
    Ok(out)
}

async fn evidence_of(
    ctx: &SessionContext,
    id: &str,
    cis: &str,
    title: &str,
    sql: &str,
) -> Result<ObservedEvidence, QueryError> {
    let rows = Rows::collect(ctx, sql).await?;
    let audit_ids = rows.strings("audit_id")?;
    let times = rows.times("stage_at")?;
    let users = rows.strings("user_name")?;
    let details = rows.strings("detail")?;
    let total = rows
        .ints("total")?
        .into_iter()
        .next()
        .flatten()
        .unwrap_or(0) as u64;
    let examples = (0..audit_ids.len())
        .map(|i| EvidenceEvent {
            audit_id: audit_ids[i].clone(),
            time: times[i].clone(),
            user: users[i].clone(),
            detail: details[i].clone(),
        })
        .collect();
    Ok(ObservedEvidence {
        id: id.to_string(),
        cis: cis.to_string(),
        title: title.to_string(),
        found: total > 0,
        total,
        examples,
    })
}

impl ObservedReport {
    /// Pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Markdown: a table per section, for tickets and reviews.
    pub fn to_markdown(&self) -> String {
        use std::fmt::Write;
        let cell = |text: &str| text.replace('|', "\\|");
        let mut out = String::new();
        let _ = writeln!(
            out,
            "### Observed audit coverage\n\n{} events{}{}.\n",
            self.activity.events,
            self.cluster
                .as_deref()
                .map(|c| format!(" of cluster `{c}`"))
                .unwrap_or_default(),
            self.since
                .as_deref()
                .map(|s| format!(" since {s}"))
                .unwrap_or_default()
        );
        let _ = writeln!(
            out,
            "| requirement | status | events | levels | violations |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|");
        for r in &self.requirements {
            let levels: Vec<String> = r.levels.iter().map(|(l, n)| format!("{l} {n}")).collect();
            let status = match r.status {
                ObservedStatus::Pass => "pass",
                ObservedStatus::Fail => "**fail**",
                ObservedStatus::NotObserved => "not observed",
            };
            let _ = writeln!(
                out,
                "| `{}` {} | {status} | {} | {} | {} |",
                r.id,
                cell(&r.title),
                r.events,
                levels.join(", "),
                r.violation_count
            );
        }
        let _ = writeln!(out, "\n| policy | consistent | events contradicting |");
        let _ = writeln!(out, "|---|---|---|");
        for p in &self.policies {
            let _ = writeln!(
                out,
                "| {}{} | {} | {} of {} |",
                cell(&p.policy),
                if p.declared { " (declared)" } else { "" },
                if p.consistent { "yes" } else { "no" },
                p.events_contradicting,
                p.events_checked
            );
        }
        let _ = writeln!(out, "\n| CIS | evidence | found | events | examples |");
        let _ = writeln!(out, "|---|---|---|---|---|");
        for e in &self.evidence {
            let examples: Vec<String> = e
                .examples
                .iter()
                .take(3)
                .map(|x| format!("`{}`", x.audit_id.as_deref().unwrap_or("?")))
                .collect();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                e.cis,
                cell(&e.title),
                if e.found { "**yes**" } else { "no" },
                e.total,
                examples.join(" ")
            );
        }
        out
    }

    /// For people: the verdicts, the contradictions and the evidence, briefly.
    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let scope = match (&self.cluster, &self.since) {
            (Some(cluster), Some(since)) => format!("cluster {cluster} since {since}"),
            (Some(cluster), None) => format!("cluster {cluster}"),
            (None, Some(since)) => format!("all clusters since {since}"),
            (None, None) => "all clusters, all history".to_string(),
        };
        let _ = writeln!(
            out,
            "Observed audit coverage: {scope}: {} events{}",
            self.activity.events,
            match (&self.activity.first_at, &self.activity.last_at) {
                (Some(first), Some(last)) => format!(" from {first} to {last}"),
                _ => String::new(),
            }
        );
        let _ = writeln!(
            out,
            "{} pass, {} fail, {} not observed\n",
            self.passed, self.failed, self.not_observed
        );
        for requirement in &self.requirements {
            let status = match requirement.status {
                ObservedStatus::Pass => "PASS",
                ObservedStatus::Fail => "FAIL",
                ObservedStatus::NotObserved => "----",
            };
            let _ = writeln!(out, "{status} {} — {}", requirement.id, requirement.title);
            let _ = writeln!(out, "     {}", requirement.summary);
            if !requirement.levels.is_empty() {
                let levels: Vec<String> = requirement
                    .levels
                    .iter()
                    .map(|(level, n)| format!("{level} {n}"))
                    .collect();
                let _ = writeln!(out, "     levels: {}", levels.join(", "));
            }
            for event in &requirement.violations {
                let _ = writeln!(
                    out,
                    "     {} {} {} {}/{} by {} at {}{}",
                    event.audit_id.as_deref().unwrap_or("?"),
                    event.level.as_deref().unwrap_or("?"),
                    event.verb.as_deref().unwrap_or("?"),
                    event.namespace.as_deref().unwrap_or(""),
                    event.name.as_deref().unwrap_or(""),
                    event.user.as_deref().unwrap_or("?"),
                    event.time.as_deref().unwrap_or("?"),
                    match (event.has_request_body, event.has_response_body) {
                        (true, true) => ", request and response bodies",
                        (true, false) => ", request body",
                        (false, true) => ", response body",
                        (false, false) => "",
                    }
                );
            }
        }
        let _ = writeln!(out, "\nPolicies the stream is consistent with: {}", {
            if self.consistent_with.is_empty() {
                "none".to_string()
            } else {
                self.consistent_with.join(", ")
            }
        });
        for policy in &self.policies {
            let _ = writeln!(
                out,
                "  {}{}: {} of {} events contradict it",
                policy.policy,
                if policy.declared { " (declared)" } else { "" },
                policy.events_contradicting,
                policy.events_checked
            );
            if policy.declared && !policy.consistent {
                let _ = writeln!(
                    out,
                    "    the policy in force is not the declared one; for example:"
                );
                for c in policy.contradictions.iter().take(5) {
                    let _ = writeln!(
                        out,
                        "    {} ({} events): {}: {}",
                        c.audit_id.as_deref().unwrap_or("?"),
                        c.events,
                        c.request,
                        c.reason
                    );
                }
            }
        }
        let _ = writeln!(out, "\nObserved evidence:");
        for evidence in &self.evidence {
            let _ = writeln!(
                out,
                "  {} CIS {} {}: {}",
                if evidence.found { "FOUND" } else { "none " },
                evidence.cis,
                evidence.id,
                evidence.title
            );
            for event in evidence.examples.iter().take(5) {
                let _ = writeln!(
                    out,
                    "        {} {} {}",
                    event.audit_id.as_deref().unwrap_or("?"),
                    event.time.as_deref().unwrap_or("?"),
                    event.detail.as_deref().unwrap_or("")
                );
            }
        }
        out
    }
}
