//! One audit event as typed columns, and one input that could not be accepted.
//!
//! The event types borrow their text where they can: decoding a webhook body or a line of a file
//! into [`Event`] copies nothing until the row is built into Arrow. [`EventRow`] is an event that
//! owns its text, for rows made in code.

use std::borrow::Cow;

/// Text of an event field: borrowed from the input when it needed no unescaping.
pub type Text<'a> = Cow<'a, str>;

/// `user` and `impersonatedUser` of an audit event (authentication/v1 `UserInfo`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct User<'a> {
    pub name: Option<Text<'a>>,
    pub uid: Option<Text<'a>>,
    /// `None` when the event has no `groups` key; `Some(vec![])` for `"groups": []`.
    pub groups: Option<Vec<Text<'a>>>,
    /// `user.extra`, in the order it arrived. Stored for `user` only; an impersonated user's
    /// `extra` is kept in the event's `extra` column.
    pub extra: Option<Vec<(Text<'a>, Vec<Text<'a>>)>>,
}

/// A [`User`] that owns its text.
pub type UserInfo = User<'static>;

/// `objectRef` of an audit event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Object<'a> {
    pub resource: Option<Text<'a>>,
    pub subresource: Option<Text<'a>>,
    pub namespace: Option<Text<'a>>,
    pub name: Option<Text<'a>>,
    pub uid: Option<Text<'a>>,
    pub api_group: Option<Text<'a>>,
    pub api_version: Option<Text<'a>>,
    pub resource_version: Option<Text<'a>>,
}

/// An [`Object`] that owns its text.
pub type ObjectRef = Object<'static>;

/// `responseStatus` of an audit event (meta/v1 `Status`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Response<'a> {
    pub code: Option<i32>,
    pub status: Option<Text<'a>>,
    pub reason: Option<Text<'a>>,
    pub message: Option<Text<'a>>,
}

/// A [`Response`] that owns its text.
pub type ResponseStatus = Response<'static>;

/// One row of the `events` table before it is columnar. Every field maps onto one path of the
/// audit event; whatever the event holds beyond them is in `extra`, so the event can be rebuilt.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Event<'a> {
    /// How the event reached auditlens: `webhook`, `file`, `kafka`.
    pub source: Text<'a>,
    /// When auditlens accepted it, µs since the epoch.
    pub received_at: i64,
    pub kind: Option<Text<'a>>,
    pub api_version: Option<Text<'a>>,
    pub level: Option<Text<'a>>,
    /// `None` only for events from other tools that left it out; kube-apiserver always sets it.
    pub audit_id: Option<Text<'a>>,
    pub stage: Option<Text<'a>>,
    pub verb: Option<Text<'a>>,
    pub request_uri: Option<Text<'a>>,
    pub user_agent: Option<Text<'a>>,
    pub source_ips: Option<Vec<Text<'a>>>,
    pub user: Option<User<'a>>,
    pub impersonated_user: Option<User<'a>>,
    pub object: Option<Object<'a>>,
    pub response: Option<Response<'a>>,
    /// `requestObject` as the JSON text that arrived.
    pub request_object: Option<Text<'a>>,
    /// `responseObject` as the JSON text that arrived.
    pub response_object: Option<Text<'a>>,
    pub annotations: Option<Vec<(Text<'a>, Text<'a>)>>,
    pub request_received_at: Option<i64>,
    pub stage_at: Option<i64>,
    /// A JSON object of everything the columns do not hold, merged back over them on rebuild.
    pub extra: Option<Text<'a>>,
}

/// An [`Event`] that owns its text.
pub type EventRow = Event<'static>;

impl Event<'_> {
    /// The time that decides the row's `date=`/`hour=` partition: `stageTimestamp`, else
    /// `requestReceivedTimestamp`, else when auditlens received it.
    pub fn partition_time(&self) -> i64 {
        self.stage_at
            .or(self.request_received_at)
            .unwrap_or(self.received_at)
    }
}

/// An input that was not accepted as an event, kept raw with the reason.
#[derive(Debug, Clone, PartialEq)]
pub struct QuarantineRow {
    pub source: String,
    pub received_at: i64,
    /// Where the input came from: `item 17` of a webhook body, `FILE:LINE` of an import.
    pub location: String,
    pub reason: String,
    /// The input as it arrived (lossily decoded where it was not UTF-8).
    pub raw: String,
}

impl QuarantineRow {
    /// A rough count of the bytes this row holds, for batch size limits.
    pub fn approx_bytes(&self) -> usize {
        self.raw.len() + self.reason.len() + 64
    }
}
