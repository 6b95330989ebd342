use proptest::prelude::*;
use schemas::batch::events_batch;
use schemas::rebuild::rebuild_event;
use serde_json::{json, Value};

use super::*;

fn round_trip(event: &Value) -> Value {
    let text = event.to_string();
    let row = decode_borrowed(&text, "test", 0).expect("valid event");
    let batch = events_batch([&row]).unwrap();
    rebuild_event(&batch, 0).unwrap()
}

fn full_event() -> Value {
    json!({
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "RequestResponse",
        "auditID": "6b5e9c7e-1", "stage": "ResponseComplete",
        "requestURI": "/api/v1/namespaces/default/secrets/db-pass", "verb": "get",
        "user": {"username": "alice", "uid": "u1", "groups": ["dev", "system:authenticated"],
                 "extra": {"authentication.kubernetes.io/credential-id": ["JTI=abc"]}},
        "impersonatedUser": {"username": "bob", "groups": [], "extra": {"k": ["v"]}},
        "sourceIPs": ["10.0.0.1", "10.0.0.2"], "userAgent": "kubectl/v1.31",
        "objectRef": {"resource": "secrets", "namespace": "default", "name": "db-pass",
                      "apiGroup": "", "apiVersion": "v1", "subresource": "x", "uid": "o1",
                      "resourceVersion": "7"},
        "responseStatus": {"metadata": {}, "code": 403, "status": "Failure",
                           "reason": "Forbidden", "message": "no", "details": {"kind": "secrets"}},
        "requestObject": {"a": [1, 2.5, "x", null, true]},
        "responseObject": {"kind": "Status", "big": 123456789012345678u64},
        "requestReceivedTimestamp": "2026-11-30T10:00:00.000001Z",
        "stageTimestamp": "2026-11-30T10:00:00.123456Z",
        "annotations": {"authorization.k8s.io/decision": "forbid", "authorization.k8s.io/reason": ""},
        "authenticationMetadata": {"impersonationConstraint": "x"}
    })
}

#[test]
fn full_event_round_trips() {
    let event = full_event();
    assert_eq!(round_trip(&event), event);
}

#[test]
fn unusual_shapes_round_trip() {
    for event in [
        // empty nested objects, explicit nulls, another timestamp layout, unknown fields
        json!({"auditID": "a", "stage": "RequestReceived", "verb": "get", "user": {},
               "objectRef": null, "level": null, "responseStatus": {"metadata": {}},
               "stageTimestamp": "2022-11-29 00:09:04.38", "p_log_type": "Amazon.EKS.Audit"}),
        json!({"auditID": "a", "stage": "Panic", "verb": "list", "user": {"groups": null, "username": "x"},
               "stageTimestamp": "2026-01-01T00:00:00Z", "annotations": {}, "sourceIPs": []}),
        json!({"auditID": "é\"\\", "stage": "s", "verb": "v", "requestObject": "text", "responseObject": 7}),
    ] {
        assert_eq!(round_trip(&event), event, "for {event}");
    }
}

#[test]
fn plain_text_is_borrowed_and_escaped_text_is_unescaped() {
    let raw = r#"{"auditID":"a-1","verb":"get","userAgent":"say \"hi\" \u00e9","user":{"username":"alice","groups":["dev","qa\/ops"]},"requestObject":{"x":"y"}}"#;
    let row = decode_borrowed(raw, "test", 0).expect("valid event");
    assert!(matches!(row.audit_id, Some(Cow::Borrowed("a-1"))));
    assert!(matches!(row.verb, Some(Cow::Borrowed("get"))));
    assert_eq!(row.user_agent.as_deref(), Some("say \"hi\" \u{e9}"));
    assert!(matches!(row.user_agent, Some(Cow::Owned(_))));
    let user = row.user.as_ref().expect("user");
    assert!(matches!(user.name, Some(Cow::Borrowed("alice"))));
    let groups: Vec<&str> = user.groups.iter().flatten().map(|g| g.as_ref()).collect();
    assert_eq!(groups, ["dev", "qa/ops"]);
    assert!(matches!(
        row.request_object,
        Some(Cow::Borrowed(r#"{"x":"y"}"#))
    ));
}

#[test]
fn a_raw_control_character_in_a_string_is_refused() {
    let raw = "{\"auditID\":\"a\u{1}b\",\"verb\":\"get\"}";
    let error = decode_borrowed(raw, "test", 0).expect_err("control character");
    assert!(error.contains("not valid JSON"), "{error}");
}

#[test]
fn duplicate_keys_keep_the_last_value() {
    let row = decode_borrowed(
        r#"{"auditID":"a","stage":"s","verb":"get","verb":"list","level":null,"level":"None"}"#,
        "t",
        0,
    )
    .unwrap();
    assert_eq!(row.verb.as_deref(), Some("list"));
    assert_eq!(row.level.as_deref(), Some("None"));
    assert_eq!(row.extra, None);
}

#[test]
fn invalid_events_name_the_field() {
    let cases = [
        (
            r#"{"stage":"s","level":"Metadata"}"#,
            "not an audit event: none of `auditID`, `verb`, `requestURI`, `objectRef`, `user`",
        ),
        (
            r#"{"auditID":7,"stage":"s","verb":"get"}"#,
            "field `auditID`: expected a string",
        ),
        (
            r#"{"auditID":"a","stage":"s","verb":"get","stageTimestamp":"soon"}"#,
            "field `stageTimestamp`: unparsable timestamp `soon`",
        ),
        (
            r#"{"auditID":"a","stage":"s","verb":"get","responseStatus":{"code":"200"}}"#,
            "field `responseStatus.code`: expected an integer",
        ),
        (
            r#"{"auditID":"a","stage":"s","verb":"get","user":{"groups":[1]}}"#,
            "field `user.groups`: expected a list of strings",
        ),
        (
            r#"{"auditID":"a","stage":"s","verb":"get","annotations":{"k":1}}"#,
            "field `annotations.k`: expected a string",
        ),
        (
            r#"{"auditID":"a","stage":"s","verb":"get","user":"alice"}"#,
            "field `user`: expected an object",
        ),
        (r#"[1,2]"#, "event is not a JSON object"),
    ];
    for (input, reason) in cases {
        assert_eq!(
            decode_borrowed(input, "t", 0).unwrap_err(),
            reason,
            "for {input}"
        );
    }
}

#[test]
fn body_errors_say_what_is_wrong() {
    let error = parse_body(b"{\"kind\":\n\"EventList\" oops").unwrap_err();
    match error {
        BodyError::NotJson { offset, line, .. } => {
            assert_eq!(line, 2);
            assert!(offset > 10, "offset {offset}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        parse_body(br#"{"kind":"PodList","apiVersion":"audit.k8s.io/v1","items":[]}"#).unwrap_err(),
        BodyError::WrongKind("`PodList`".into())
    );
    assert_eq!(
        parse_body(br#"{"kind":"EventList","apiVersion":"v1","items":[]}"#).unwrap_err(),
        BodyError::WrongApiVersion("`v1`".into())
    );
    assert_eq!(
        parse_body(br#"{"kind":"EventList","apiVersion":"audit.k8s.io/v1"}"#).unwrap_err(),
        BodyError::NoItems
    );
}

#[test]
fn a_body_keeps_good_items_and_quarantines_bad_ones() {
    let body = br#"{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[
        {"auditID":"a","stage":"ResponseComplete","verb":"get"}, {"stage":"x"}, 5]}"#;
    let decoded = decode_body(body, "webhook", 1).unwrap();
    assert_eq!(decoded.events.len(), 1);
    assert_eq!(decoded.quarantined.len(), 2);
    assert_eq!(decoded.quarantined[0].location, "item 1");
    assert_eq!(decoded.quarantined[1].raw, "5");
    let single = br#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a","stage":"s","verb":"get"}"#;
    assert_eq!(decode_body(single, "webhook", 1).unwrap().events.len(), 1);
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z:/._-]{0,12}", any::<String>()]
}

fn arb_event() -> impl Strategy<Value = Value> {
    let user = (
        proptest::option::of(text()),
        proptest::option::of(proptest::collection::vec(text(), 0..3)),
        proptest::option::of(proptest::collection::btree_map(
            text(),
            proptest::collection::vec(text(), 0..2),
            0..3,
        )),
    )
        .prop_map(|(name, groups, extra)| {
            let mut user = serde_json::Map::new();
            if let Some(name) = name {
                user.insert("username".into(), json!(name));
            }
            if let Some(groups) = groups {
                user.insert("groups".into(), json!(groups));
            }
            if let Some(extra) = extra {
                user.insert("extra".into(), json!(extra));
            }
            Value::Object(user)
        });
    (
        text(),
        proptest::option::of(user),
        proptest::option::of(any::<i32>()),
        proptest::option::of(0i64..4_000_000_000_000_000),
        proptest::option::of(proptest::collection::btree_map(text(), text(), 0..3)),
        proptest::option::of(text()),
        proptest::collection::btree_map("[a-z]{1,6}", any::<i64>(), 0..3),
    )
        .prop_map(
            |(audit_id, user, code, stage_at, annotations, resource, unknown)| {
                let mut event =
                    json!({"auditID": audit_id, "stage": "ResponseComplete", "verb": "get"});
                let object = event.as_object_mut().unwrap();
                if let Some(user) = user {
                    object.insert("user".into(), user);
                }
                if let Some(code) = code {
                    object.insert(
                        "responseStatus".into(),
                        json!({"code": code, "metadata": {}}),
                    );
                }
                if let Some(micros) = stage_at {
                    object.insert(
                        "stageTimestamp".into(),
                        json!(schemas::time::format_micros(micros)),
                    );
                }
                if let Some(annotations) = annotations {
                    object.insert("annotations".into(), json!(annotations));
                }
                if let Some(resource) = resource {
                    object.insert("objectRef".into(), json!({"resource": resource}));
                }
                for (key, value) in unknown {
                    object.entry(format!("x_{key}")).or_insert(json!(value));
                }
                event
            },
        )
}

proptest! {
    #[test]
    fn decoding_is_lossless(event in arb_event()) {
        prop_assert_eq!(round_trip(&event), event);
    }
}
