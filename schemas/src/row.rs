//! One audit event as typed columns, and one input that could not be accepted.

/// `user` and `impersonatedUser` of an audit event (authentication/v1 `UserInfo`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserInfo {
    pub name: Option<String>,
    pub uid: Option<String>,
    /// `None` when the event has no `groups` key; `Some(vec![])` for `"groups": []`.
    pub groups: Option<Vec<String>>,
    /// `user.extra`, in the order it arrived. Stored for `user` only; an impersonated user's
    /// `extra` is kept in the event's `extra` column.
    pub extra: Option<Vec<(String, Vec<String>)>>,
}

/// `objectRef` of an audit event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObjectRef {
    pub resource: Option<String>,
    pub subresource: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub uid: Option<String>,
    pub api_group: Option<String>,
    pub api_version: Option<String>,
    pub resource_version: Option<String>,
}

/// `responseStatus` of an audit event (meta/v1 `Status`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResponseStatus {
    pub code: Option<i32>,
    pub status: Option<String>,
    pub reason: Option<String>,
    pub message: Option<String>,
}

/// One row of the `events` table before it is columnar. Every field maps onto one path of the
/// audit event; whatever the event holds beyond them is in `extra`, so the event can be rebuilt.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventRow {
    /// How the event reached auditlens: `webhook`, `file`, `kafka`.
    pub source: String,
    /// When auditlens accepted it, µs since the epoch.
    pub received_at: i64,
    pub kind: Option<String>,
    pub api_version: Option<String>,
    pub level: Option<String>,
    /// `None` only for events from other tools that left it out; kube-apiserver always sets it.
    pub audit_id: Option<String>,
    pub stage: Option<String>,
    pub verb: Option<String>,
    pub request_uri: Option<String>,
    pub user_agent: Option<String>,
    pub source_ips: Option<Vec<String>>,
    pub user: Option<UserInfo>,
    pub impersonated_user: Option<UserInfo>,
    pub object: Option<ObjectRef>,
    pub response: Option<ResponseStatus>,
    /// `requestObject` as the JSON text that arrived.
    pub request_object: Option<String>,
    /// `responseObject` as the JSON text that arrived.
    pub response_object: Option<String>,
    pub annotations: Option<Vec<(String, String)>>,
    pub request_received_at: Option<i64>,
    pub stage_at: Option<i64>,
    /// A JSON object of everything the columns do not hold, merged back over them on rebuild.
    pub extra: Option<String>,
}

impl EventRow {
    /// The time that decides the row's `date=`/`hour=` partition: `stageTimestamp`, else
    /// `requestReceivedTimestamp`, else when auditlens received it.
    pub fn partition_time(&self) -> i64 {
        self.stage_at
            .or(self.request_received_at)
            .unwrap_or(self.received_at)
    }

    /// A rough count of the bytes this row holds, for batch size limits.
    pub fn approx_bytes(&self) -> usize {
        fn opt(value: &Option<String>) -> usize {
            value.as_ref().map_or(0, String::len)
        }
        let fixed = 160;
        let texts = opt(&self.request_uri)
            + opt(&self.user_agent)
            + opt(&self.request_object)
            + opt(&self.response_object)
            + opt(&self.extra)
            + self.audit_id.as_ref().map_or(0, String::len);
        let annotations: usize = self
            .annotations
            .iter()
            .flatten()
            .map(|(k, v)| k.len() + v.len())
            .sum();
        let message = self
            .response
            .as_ref()
            .map_or(0, |response| opt(&response.message));
        fixed + texts + annotations + message
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
