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
