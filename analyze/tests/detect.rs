//! The rule engine on real batches: event rules, windows that slide, sequences that join with
//! earlier events, suppression, and a broken rule that does not stop the others.

use std::path::Path;

use auditlens_analyze::detect::{input_batch, parse_rule, Engine, EngineOptions, Lists, Rule};
use schemas::{EventRow, ObjectRef, ResponseStatus, UserInfo};

const MINUTE: i64 = 60_000_000;
const T0: i64 = 1_780_000_000_000_000;

fn event(id: &str, at: i64, user: &str, verb: &str, resource: &str, code: i32) -> EventRow {
    EventRow {
        source: "webhook".into(),
        received_at: at,
        audit_id: Some(id.to_string().into()),
        stage: Some("ResponseComplete".into()),
        verb: Some(verb.to_string().into()),
        source_ips: Some(vec!["203.0.113.7".into()]),
        user: Some(UserInfo {
            name: Some(user.to_string().into()),
            ..UserInfo::default()
        }),
        object: Some(ObjectRef {
            resource: Some(resource.to_string().into()),
            namespace: Some("default".into()),
            name: Some(format!("obj-{id}").into()),
            ..ObjectRef::default()
        }),
        response: Some(ResponseStatus {
            code: Some(code),
            ..ResponseStatus::default()
        }),
        stage_at: Some(at),
        ..EventRow::default()
    }
}

fn rule(id: &str, header: &str, sql: &str) -> Rule {
    let text = format!(
        "-- id: {id}\n-- title: {id}\n-- severity: Warning\n-- mitre: T1078\n-- level: Metadata\n-- description: test\n{header}\n{sql}\n"
    );
    parse_rule(Path::new(&format!("{id}.sql")), &text).unwrap()
}

async fn engine(rules: Vec<Rule>) -> Engine {
    Engine::new(
        rules,
        EngineOptions {
            lists: Lists::default(),
            ..EngineOptions::default()
        },
    )
    .await
}

async fn feed(engine: &mut Engine, rows: &[EventRow]) -> Vec<schemas::Alert> {
    let batch = input_batch(rows.iter().map(|row| ("prod", row))).unwrap();
    engine.process(&batch).await
}

#[tokio::test]
async fn event_rules_alert_on_the_batch_with_falco_fields() {
    let exec = rule(
        "secret-read",
        "-- mode: event\n-- output: {user_name} read {object_name}",
        "SELECT cluster, audit_id, stage_at AS time, user_name, object_name FROM events WHERE object_resource = 'secrets' AND verb = 'get'",
    );
    let mut engine = engine(vec![exec]).await;
    let alerts = feed(
        &mut engine,
        &[
            event("a", T0, "alice", "get", "secrets", 200),
            event("b", T0, "bob", "get", "pods", 200),
        ],
    )
    .await;
    assert_eq!(alerts.len(), 1);
    let alert = &alerts[0];
    assert_eq!(alert.output, "alice read obj-a");
    assert_eq!(alert.cluster, "prod");
    assert_eq!(alert.audit_ids, ["a"]);
    assert_eq!(alert.source, "k8s_audit");
    assert_eq!(alert.output_fields["ka.user.name"], "alice");
    assert_eq!(alert.output_fields["ka.target.name"], "obj-a");
    assert_eq!(alert.time, schemas::time::format_micros(T0));
    // The same event again (a retried webhook batch) is suppressed.
    let again = feed(
        &mut engine,
        &[event("a", T0, "alice", "get", "secrets", 200)],
    )
    .await;
    assert!(again.is_empty());
    assert_eq!(engine.statuses()[0].suppressed, 1);
}

#[tokio::test]
async fn window_rules_count_within_the_window_only() {
    let burst = rule(
        "forbidden-burst",
        "-- mode: window\n-- window: 10m\n-- every: 1m\n-- filter: response_code = 403\n-- dedup: cluster, user_name\n-- suppress: 10m\n-- output: {user_name} got {n} 403s",
        "SELECT cluster, array_agg(audit_id) AS audit_ids, max(stage_at) AS time, user_name, count(*) AS n FROM events GROUP BY cluster, user_name HAVING count(*) >= 5",
    );
    let mut engine = engine(vec![burst]).await;
    // Four 403s, then a fifth 20 minutes later: never five within 10 minutes.
    let mut rows: Vec<EventRow> = (0..4)
        .map(|i| {
            event(
                &format!("s{i}"),
                T0 + i * MINUTE,
                "slow",
                "get",
                "pods",
                403,
            )
        })
        .collect();
    rows.push(event("s4", T0 + 20 * MINUTE, "slow", "get", "pods", 403));
    // Six 403s within three minutes from someone else, and 200s that do not count.
    for i in 0..6 {
        rows.push(event(
            &format!("f{i}"),
            T0 + 21 * MINUTE + i * 30_000_000,
            "fast",
            "get",
            "pods",
            403,
        ));
        rows.push(event(
            &format!("ok{i}"),
            T0 + 21 * MINUTE,
            "slow",
            "get",
            "pods",
            200,
        ));
    }
    let mut alerts = Vec::new();
    for row in rows {
        alerts.extend(feed(&mut engine, std::slice::from_ref(&row)).await);
    }
    alerts.extend(engine.finish().await);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].output_fields["ka.user.name"], "fast");
    assert!(alerts[0].audit_ids.len() >= 5);
    assert!(engine.statuses()[0].window_rows <= 7);
}

#[tokio::test]
async fn sequence_rules_join_new_events_with_earlier_ones() {
    let sequence = rule(
        "create-then-exec",
        "-- mode: sequence\n-- window: 30m\n-- filter: verb = 'create'\n-- output: {user_name} created then exec'd",
        "SELECT n.cluster, make_array(c.audit_id, n.audit_id) AS audit_ids, n.user_name FROM new_events n JOIN events c ON c.user_name = n.user_name AND c.object_resource = 'pods' AND n.object_resource = 'pods/exec' AND c.stage_at < n.stage_at",
    );
    let mut engine = engine(vec![sequence]).await;
    assert!(feed(
        &mut engine,
        &[event("c1", T0, "mallory", "create", "pods", 201)]
    )
    .await
    .is_empty());
    let alerts = feed(
        &mut engine,
        &[event(
            "x1",
            T0 + 5 * MINUTE,
            "mallory",
            "create",
            "pods/exec",
            101,
        )],
    )
    .await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].audit_ids, ["c1", "x1"]);
    // Outside the window the earlier create is forgotten.
    let late = feed(
        &mut engine,
        &[event(
            "x2",
            T0 + 50 * MINUTE,
            "mallory",
            "create",
            "pods/exec",
            101,
        )],
    )
    .await;
    assert!(late.is_empty());
}

#[tokio::test]
async fn a_failing_rule_is_reported_and_the_others_run() {
    let broken = rule(
        "broken",
        "-- mode: event\n-- output: x",
        "SELECT cluster, audit_id FROM events WHERE no_such_column = 1",
    );
    let runtime_error = rule(
        "divides",
        "-- mode: event\n-- output: x",
        "SELECT cluster, audit_id, json_values(user_name, '$[') AS v FROM events",
    );
    let fine = rule(
        "all",
        "-- mode: event\n-- output: {user_name}",
        "SELECT cluster, audit_id, user_name FROM events",
    );
    let mut engine = engine(vec![broken, runtime_error, fine]).await;
    let alerts = feed(&mut engine, &[event("a", T0, "alice", "get", "pods", 200)]).await;
    assert_eq!(alerts.len(), 1);
    let statuses = engine.statuses();
    assert_eq!(statuses[0].state, "failed");
    assert!(
        statuses[0].error.as_deref().unwrap().contains("broken.sql"),
        "{statuses:?}"
    );
    assert_eq!(statuses[1].failures, 1);
    assert!(statuses[1].error.as_deref().unwrap().contains("JSONPath"));
    assert_eq!(statuses[2].alerts, 1);
}

#[tokio::test]
async fn rules_read_shared_views_over_their_own_events() {
    let views = vec![auditlens_analyze::detect::View {
        name: "secret_reads".into(),
        sql: "-- reads of secrets\nSELECT * FROM events WHERE object_resource = 'secrets' AND verb = 'get'".into(),
        path: "views/secret_reads.sql".into(),
    }];
    let rule = rule(
        "reads",
        "-- mode: event\n-- output: {user_name}",
        "SELECT cluster, audit_id, user_name FROM secret_reads",
    );
    let mut engine = Engine::new(
        vec![rule],
        EngineOptions {
            views,
            ..EngineOptions::default()
        },
    )
    .await;
    let alerts = feed(
        &mut engine,
        &[
            event("a", T0, "alice", "get", "secrets", 200),
            event("b", T0, "bob", "get", "pods", 200),
        ],
    )
    .await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].output, "alice");
}

#[tokio::test]
async fn a_rule_runs_only_on_the_rows_its_conditions_select() {
    let mut lists = Lists::default();
    lists.insert("watched_users", vec!["mallory".into()]);
    let rules = vec![
        rule(
            "secret-delete",
            "-- mode: event\n-- output: {user_name} deleted {object_name}",
            "SELECT cluster, audit_id, user_name, object_name FROM events \
             WHERE verb = 'delete' AND object_resource = 'secrets' \
             AND in_list(user_name, 'watched_users')",
        ),
        rule(
            "first-write",
            "-- mode: sequence\n-- window: 1h\n-- filter: verb <> 'get'\n-- output: {user_name}",
            "SELECT n.cluster, n.audit_id, n.user_name FROM new_events n \
             WHERE n.verb = 'create' \
             AND NOT EXISTS (SELECT 1 FROM events e WHERE e.user_name = n.user_name \
                             AND e.stage_at < n.stage_at)",
        ),
    ];
    let mut engine = Engine::new(
        rules,
        EngineOptions {
            lists,
            ..EngineOptions::default()
        },
    )
    .await;
    // Nothing either rule looks at: neither runs.
    let quiet = [
        event("a", T0, "mallory", "get", "secrets", 200),
        event("b", T0 + 1, "alice", "delete", "secrets", 200),
        event("c", T0 + 2, "alice", "update", "pods", 200),
    ];
    assert!(feed(&mut engine, &quiet).await.is_empty());
    let statuses = engine.statuses();
    for status in &statuses {
        assert_eq!((status.runs, status.skipped), (0, 1), "{status:?}");
    }
    // One row for each: both run, on that row alone, and alert on it. The sequence rule still
    // sees the earlier events of its window (alice's update) when it looks back.
    let busy = [
        event("d", T0 + MINUTE, "mallory", "delete", "secrets", 200),
        event("e", T0 + MINUTE + 1, "alice", "create", "pods", 201),
        event("f", T0 + MINUTE + 2, "bob", "create", "pods", 201),
    ];
    let alerts = feed(&mut engine, &busy).await;
    let mut found: Vec<(String, Vec<String>)> = alerts
        .iter()
        .map(|a| (a.rule_id.clone(), a.audit_ids.clone()))
        .collect();
    found.sort();
    assert_eq!(
        found,
        vec![
            ("first-write".to_string(), vec!["f".to_string()]),
            ("secret-delete".to_string(), vec!["d".to_string()]),
        ]
    );
    for status in engine.statuses() {
        assert_eq!((status.runs, status.skipped), (1, 1), "{status:?}");
    }
}

#[tokio::test]
async fn windows_keep_only_the_columns_their_rule_reads() {
    // The filter looks into request bodies (one as a plain row condition, one through a
    // subquery); the rule only counts users. Neither window may hold the bodies.
    let header = |filter: &str| {
        format!("-- mode: window\n-- window: 10m\n-- every: 1m\n-- filter: {filter}\n-- dedup: cluster, user_name\n-- suppress: 10m\n-- output: {{user_name}} created {{n}} pods")
    };
    let sql = "SELECT cluster, array_agg(audit_id) AS audit_ids, max(stage_at) AS time, user_name, count(*) AS n FROM events GROUP BY cluster, user_name HAVING count(*) >= 3";
    let row_condition = rule(
        "pods-by-kind",
        &header("json_value(request_object, '$.kind') = 'Pod'"),
        sql,
    );
    let subquery = rule(
        "pods-by-kind-subquery",
        &header("json_value(request_object, '$.kind') IN (SELECT 'Pod')"),
        sql,
    );
    let mut engine = engine(vec![row_condition, subquery]).await;
    let body = format!(
        r#"{{"kind":"Pod","metadata":{{"name":"web"}},"padding":"{}"}}"#,
        "x".repeat(64 * 1024)
    );
    let rows: Vec<EventRow> = (0..4)
        .map(|i| EventRow {
            request_object: Some(body.clone().into()),
            ..event(
                &format!("p{i}"),
                T0 + i * MINUTE,
                "ci",
                "create",
                "pods",
                201,
            )
        })
        .collect();
    let mut alerts = feed(&mut engine, &rows).await;
    alerts.extend(engine.finish().await);
    assert_eq!(alerts.len(), 2, "both rules see the rows: {alerts:?}");
    for status in engine.statuses() {
        assert_eq!(status.window_rows, 4, "{}", status.id);
        assert!(
            status.window_bytes < 64 * 1024,
            "{} holds {} bytes: the request bodies were kept",
            status.id,
            status.window_bytes
        );
    }
}

#[tokio::test]
async fn a_window_keeps_bodies_only_a_sequence_rules_new_events_read() {
    // The rule reads the body of new events only; the window keeps earlier events for their
    // user alone.
    let sequence = rule(
        "second-create-named-in-body",
        "-- mode: sequence\n-- window: 30m\n-- filter: verb = 'create'\n-- output: {user_name} created {name}",
        "SELECT n.cluster, n.audit_id, n.user_name, json_value(n.request_object, '$.metadata.name') AS name \
         FROM new_events n WHERE EXISTS (SELECT 1 FROM events e WHERE e.user_name = n.user_name AND e.stage_at < n.stage_at)",
    );
    let mut engine = engine(vec![sequence]).await;
    let with_body = |id: &str, at: i64, name: &str| EventRow {
        request_object: Some(
            format!(
                r#"{{"metadata":{{"name":"{name}"}},"padding":"{}"}}"#,
                "x".repeat(64 * 1024)
            )
            .into(),
        ),
        ..event(id, at, "ci", "create", "pods", 201)
    };
    assert!(feed(&mut engine, &[with_body("a", T0, "first")])
        .await
        .is_empty());
    let alerts = feed(&mut engine, &[with_body("b", T0 + MINUTE, "second")]).await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        alerts[0].output, "ci created second",
        "the new event's body was read"
    );
    let status = &engine.statuses()[0];
    assert_eq!(status.window_rows, 2);
    assert!(
        status.window_bytes < 64 * 1024,
        "the window holds {} bytes: bodies were kept after the run",
        status.window_bytes
    );
}

#[tokio::test]
async fn a_window_keeps_only_the_rows_its_rule_can_use() {
    // The filter keeps every request; the rule reads refusals from the window and creates from
    // the new events. The reads in between can never matter: they are neither kept for the
    // window's length nor does the rule run for them.
    let sequence = rule(
        "refused-then-created",
        "-- mode: sequence\n-- window: 30m\n-- filter: verb <> 'watch'\n-- output: {user_name} created after {refusals} refusals",
        "SELECT n.cluster, n.audit_id, n.user_name, count(*) AS refusals \
         FROM new_events n JOIN events d ON d.user_name = n.user_name AND d.response_code = 403 \
         AND d.stage_at < n.stage_at \
         WHERE n.verb = 'create' AND n.response_code = 201 \
         GROUP BY n.cluster, n.audit_id, n.user_name HAVING count(*) >= 2",
    );
    let mut engine = engine(vec![sequence]).await;
    let mut rows: Vec<EventRow> = (0..100)
        .map(|i| event(&format!("r{i}"), T0 + i, "mallory", "get", "pods", 200))
        .collect();
    rows.extend((0..3).map(|i| {
        event(
            &format!("d{i}"),
            T0 + 200 + i,
            "mallory",
            "get",
            "secrets",
            403,
        )
    }));
    assert!(feed(&mut engine, &rows).await.is_empty());
    let status = &engine.statuses()[0];
    assert_eq!(status.window_rows, 3, "only the refusals are kept");
    assert_eq!(status.runs, 0, "no new event was a create");
    let alerts = feed(
        &mut engine,
        &[
            event("c1", T0 + MINUTE, "mallory", "create", "pods", 201),
            event("g1", T0 + MINUTE, "mallory", "get", "pods", 200),
        ],
    )
    .await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].output, "mallory created after 3 refusals");
    assert_eq!(alerts[0].audit_ids, ["c1"]);
    let status = &engine.statuses()[0];
    assert_eq!((status.window_rows, status.runs), (3, 1));
}

#[tokio::test]
async fn a_compacting_window_gives_the_same_alerts_with_a_row_or_two_per_key() {
    // "A resource this identity has not read in the last hour": only whether a key was seen
    // matters, so the window may keep the earliest and latest row of each key.
    let first_read = |id: &str, compact: &str| {
        rule(
            id,
            &format!("-- mode: sequence\n-- window: 1h\n-- filter: verb = 'get'\n{compact}-- output: {{user_name}} read {{object_resource}} for the first time"),
            "WITH first_seen AS (SELECT cluster, user_name, object_resource, min(stage_at) AS first_at \
             FROM events GROUP BY cluster, user_name, object_resource) \
             SELECT n.cluster, n.audit_id, n.user_name, n.object_resource FROM new_events n \
             LEFT JOIN first_seen f ON f.cluster = n.cluster AND f.user_name = n.user_name \
             AND f.object_resource = n.object_resource \
             WHERE f.first_at IS NULL OR n.stage_at <= f.first_at",
        )
    };
    let mut engine = engine(vec![
        first_read("plain", ""),
        first_read(
            "compacting",
            "-- compact: cluster, user_name, lower(COALESCE(object_resource, ''))\n",
        ),
    ])
    .await;
    let minute: Vec<EventRow> = (0..5_000)
        .map(|i| {
            let resource = if i % 1_000 == 7 { "secrets" } else { "pods" };
            event(
                &format!("a{i}"),
                T0 + i * 10_000,
                "ci",
                "get",
                resource,
                200,
            )
        })
        .collect();
    let mut alerts = Vec::new();
    for chunk in minute.chunks(1_000) {
        alerts.extend(feed(&mut engine, chunk).await);
    }
    // The next batch finds the window full enough to compact what came before it.
    let later = |id: &str, at: i64, resource: &str| event(id, T0 + at, "ci", "get", resource, 200);
    alerts.extend(feed(&mut engine, &[later("a5000", MINUTE, "pods")]).await);
    let statuses = engine.statuses();
    let (plain, compacting) = (&statuses[0], &statuses[1]);
    assert_eq!(plain.window_rows, 5_001, "{plain:?}");
    assert!(compacting.window_rows < 10, "{compacting:?}");
    assert!(compacting.window_rows_compacted > 4_990, "{compacting:?}");
    // Pods are read every 10 minutes; secrets once more at 50 minutes, then not for 82:
    // they are new again, and configmaps are new.
    for step in 1..=13 {
        let at = step * 10 * MINUTE;
        alerts.extend(feed(&mut engine, &[later(&format!("p{step}"), at, "pods")]).await);
        if step == 5 {
            alerts.extend(feed(&mut engine, &[later("s1", at + 1, "secrets")]).await);
        }
    }
    alerts.extend(feed(&mut engine, &[later("c1", 130 * MINUTE + 1, "configmaps")]).await);
    alerts.extend(feed(&mut engine, &[later("s2", 132 * MINUTE, "secrets")]).await);
    let by_rule = |rule: &str| {
        let mut ids: Vec<String> = alerts
            .iter()
            .filter(|a| a.rule_id == rule)
            .flat_map(|a| a.audit_ids.clone())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(by_rule("plain"), ["a0", "a7", "c1", "s2"]);
    assert_eq!(by_rule("compacting"), by_rule("plain"));
    assert!(engine.statuses().iter().all(|s| s.error.is_none()));
}

#[tokio::test]
async fn a_compaction_key_that_does_not_plan_names_the_header_key() {
    let broken = rule(
        "broken-compaction",
        "-- mode: sequence\n-- window: 1h\n-- filter: verb = 'get'\n-- compact: no_such_column\n-- output: {user_name}",
        "SELECT cluster, audit_id, user_name FROM new_events",
    );
    let engine = engine(vec![broken]).await;
    let status = &engine.statuses()[0];
    assert_eq!(status.state, "failed");
    let error = status.error.as_deref().unwrap_or_default();
    assert!(
        error.contains("`compact`") && error.contains("no_such_column"),
        "{error}"
    );
}

#[tokio::test]
async fn batches_taken_together_run_a_sequence_rule_once() {
    let sequence = rule(
        "create-then-exec",
        "-- mode: sequence\n-- window: 30m\n-- filter: verb = 'create'\n-- output: {user_name} created then exec'd",
        "SELECT n.cluster, make_array(c.audit_id, n.audit_id) AS audit_ids, n.user_name FROM new_events n JOIN events c ON c.user_name = n.user_name AND c.object_resource = 'pods' AND n.object_resource = 'pods/exec' AND c.stage_at < n.stage_at",
    );
    let batches: Vec<_> = [
        event("c1", T0, "mallory", "create", "pods", 201),
        event("x1", T0 + 1_000_000, "mallory", "create", "pods/exec", 101),
    ]
    .iter()
    .map(|row| input_batch([("prod", row)]).unwrap())
    .collect();
    // One batch after the other: a run for each (the first skipped: no exec among its rows).
    let mut apart = engine(vec![sequence.clone()]).await;
    let mut alerts = Vec::new();
    for batch in &batches {
        alerts.extend(apart.process(batch).await);
    }
    assert_eq!(alerts.len(), 1);
    let status = &apart.statuses()[0];
    assert_eq!((status.runs, status.skipped), (1, 1));
    // Taken together (a thread that fell behind): one run, the same alert.
    let mut together = engine(vec![sequence]).await;
    let mut alerts = Vec::new();
    together
        .process_all_with(&batches, &mut |found| alerts.extend(found))
        .await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].audit_ids, ["c1", "x1"]);
    let status = &together.statuses()[0];
    assert_eq!((status.runs, status.skipped), (1, 0));
}
