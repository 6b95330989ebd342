//! Bytes into events: a webhook body or a log line into typed [`EventRow`]s, each invalid event
//! into a [`QuarantineRow`] with the reason. Decoding is lossless: whatever the columns do not
//! hold exactly goes into the row's `extra` JSON.

use std::borrow::Cow;
use std::fmt;

use schemas::time::{format_micros, parse_micros, parse_microtime_exact};
use schemas::{Event, Object, QuarantineRow, Response, Text, User};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

/// `apiVersion`s of an audit `EventList`/`Event` that auditlens accepts.
pub const ACCEPTED_API_VERSIONS: [&str; 2] = ["audit.k8s.io/v1", "audit.k8s.io/v1beta1"];

/// Why a whole body was refused (HTTP 400): nothing in it was accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error(
        "request body is not valid JSON: {message} at byte {offset} (line {line}, column {column})"
    )]
    NotJson {
        message: String,
        offset: usize,
        line: usize,
        column: usize,
    },
    #[error("request body is not an audit `EventList`: {message} at byte {offset} (line {line}, column {column})")]
    NotEventList {
        message: String,
        offset: usize,
        line: usize,
        column: usize,
    },
    #[error("request body has `kind` {0}: expected `EventList` (or a single `Event`)")]
    WrongKind(String),
    #[error("request body has `apiVersion` {0}: expected `audit.k8s.io/v1`")]
    WrongApiVersion(String),
    #[error("request body is an `EventList` without `items`")]
    NoItems,
}

impl BodyError {
    fn from_json(error: &serde_json::Error, body: &[u8]) -> Self {
        let text = error.to_string();
        // serde_json appends " at line L column C"; the position is reported separately.
        let message = match text.rfind(" at line ") {
            Some(cut) => text[..cut].to_string(),
            None => text,
        };
        let (offset, line, column) = (
            byte_offset(body, error.line(), error.column()),
            error.line(),
            error.column(),
        );
        if error.is_data() {
            BodyError::NotEventList {
                message,
                offset,
                line,
                column,
            }
        } else {
            BodyError::NotJson {
                message,
                offset,
                line,
                column,
            }
        }
    }
}

/// The byte offset of a 1-based line and column as serde_json reports them.
fn byte_offset(body: &[u8], line: usize, column: usize) -> usize {
    let mut start = 0;
    for _ in 1..line {
        match body[start..].iter().position(|&b| b == b'\n') {
            Some(newline) => start += newline + 1,
            None => break,
        }
    }
    (start + column.saturating_sub(1)).min(body.len())
}

/// A JSON object as its entries, borrowing each value's raw text.
struct Entries<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

struct Key<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Key<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Entries<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor;
        impl<'de> Visitor<'de> for EntriesVisitor {
            type Value = Entries<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(20));
                while let Some((key, value)) = map.next_entry::<Key<'de>, &'de RawValue>()? {
                    entries.push((key.0, value));
                }
                if !has_duplicate_key(&entries) {
                    return Ok(Entries(entries));
                }
                // A key given twice counts once, with its last value, as in any JSON reader.
                let mut kept: Vec<(Cow<'de, str>, &'de RawValue)> =
                    Vec::with_capacity(entries.len());
                for (key, value) in entries.into_iter().rev() {
                    if !kept.iter().any(|(seen, _)| *seen == key) {
                        kept.push((key, value));
                    }
                }
                kept.reverse();
                Ok(Entries(kept))
            }
        }
        deserializer.deserialize_map(EntriesVisitor)
    }
}

/// Whether two entries have the same key. Keys are told apart by a cheap fingerprint (length
/// and first and last bytes) first, so the usual object without duplicates costs no string
/// comparison.
fn has_duplicate_key(entries: &[(Cow<'_, str>, &RawValue)]) -> bool {
    let fingerprint = |key: &str| {
        let bytes = key.as_bytes();
        let edge = |b: Option<&u8>| u64::from(b.copied().unwrap_or(0));
        ((bytes.len() as u64) << 16) | (edge(bytes.first()) << 8) | edge(bytes.last())
    };
    let prints: Vec<u64> = entries.iter().map(|(key, _)| fingerprint(key)).collect();
    prints.iter().enumerate().any(|(i, print)| {
        prints[i + 1..]
            .iter()
            .enumerate()
            .any(|(j, other)| other == print && entries[i].0 == entries[i + 1 + j].0)
    })
}

fn entries_of<'a>(raw: &'a RawValue) -> Option<Entries<'a>> {
    serde_json::from_str(raw.get()).ok()
}

fn is_null(raw: &RawValue) -> bool {
    raw.get() == "null"
}

/// An event's content that the columns do not hold, kept as JSON to merge back on rebuild.
#[derive(Default)]
struct Residual<'a>(Vec<(Cow<'a, str>, ResidualValue<'a>)>);

enum ResidualValue<'a> {
    Raw(&'a RawValue),
    Object(Residual<'a>),
}

impl<'a> Residual<'a> {
    fn raw(&mut self, key: Cow<'a, str>, value: &'a RawValue) {
        self.0.push((key, ResidualValue::Raw(value)));
    }

    fn write(&self, out: &mut String) {
        out.push('{');
        for (i, (key, value)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            // Serializing a string to JSON cannot fail.
            out.push_str(&serde_json::to_string(key.as_ref()).unwrap_or_default());
            out.push(':');
            match value {
                ResidualValue::Raw(raw) => out.push_str(raw.get()),
                ResidualValue::Object(nested) => nested.write(out),
            }
        }
        out.push('}');
    }
}

type Invalid = String;

/// A field's dotted path, spelled out only in an error.
struct Dotted<'a>(&'a str, &'a str);

impl fmt::Display for Dotted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

/// The string `raw` holds, borrowed when it has no escapes. `raw` was validated when the
/// enclosing object was read (control characters included), so a quoted value without a
/// backslash is its own text.
fn string<'a>(path: impl fmt::Display, raw: &'a RawValue) -> Result<Text<'a>, Invalid> {
    let text = raw.get();
    let bytes = text.as_bytes();
    if bytes.len() >= 2 && bytes[0] == b'"' && memchr::memchr(b'\\', bytes).is_none() {
        return Ok(Cow::Borrowed(&text[1..text.len() - 1]));
    }
    serde_json::from_str::<String>(text)
        .map(Cow::Owned)
        .map_err(|_| format!("field `{path}`: expected a string"))
}

fn string_list<'a>(path: impl fmt::Display, raw: &'a RawValue) -> Result<Vec<Text<'a>>, Invalid> {
    let invalid = || format!("field `{path}`: expected a list of strings");
    let items: Vec<&'a RawValue> = serde_json::from_str(raw.get()).map_err(|_| invalid())?;
    items
        .into_iter()
        .map(|item| string("", item).map_err(|_| invalid()))
        .collect()
}

fn timestamp(path: &str, raw: &RawValue) -> Result<(i64, bool), Invalid> {
    let text = string(path, raw)?;
    if let Some(micros) = parse_microtime_exact(&text) {
        return Ok((micros, true));
    }
    match parse_micros(&text) {
        Some(micros) => Ok((micros, format_micros(micros) == text)),
        None => Err(format!("field `{path}`: unparsable timestamp `{text}`")),
    }
}

/// Decodes a nested object field with `decode_known` for its known keys; the rest, and the
/// object itself when no known key was present, go into the residual under `key`.
fn nested<'a, T: Default>(
    residual: &mut Residual<'a>,
    key: Cow<'a, str>,
    raw: &'a RawValue,
    decode_known: impl Fn(&mut T, &str, &'a RawValue) -> Result<bool, Invalid>,
) -> Result<Option<T>, Invalid> {
    let Some(entries) = entries_of(raw) else {
        return Err(format!("field `{key}`: expected an object"));
    };
    let mut value = T::default();
    let mut known = 0;
    let mut rest = Residual::default();
    for (sub_key, sub_raw) in entries.0 {
        if !is_null(sub_raw) && decode_known(&mut value, &sub_key, sub_raw)? {
            known += 1;
        } else {
            rest.raw(sub_key, sub_raw);
        }
    }
    if known == 0 || !rest.0.is_empty() {
        residual.0.push((key, ResidualValue::Object(rest)));
    }
    Ok((known > 0).then_some(value))
}

fn decode_user<'a>(
    parent: &'static str,
    with_extra: bool,
) -> impl Fn(&mut User<'a>, &str, &'a RawValue) -> Result<bool, Invalid> {
    move |user, key, raw| {
        let path = |field| Dotted(parent, field);
        match key {
            "username" => user.name = Some(string(path("username"), raw)?),
            "uid" => user.uid = Some(string(path("uid"), raw)?),
            "groups" => user.groups = Some(string_list(path("groups"), raw)?),
            "extra" if with_extra => {
                let Some(entries) = entries_of(raw) else {
                    return Err(format!("field `{}`: expected an object", path("extra")));
                };
                let mut extra = Vec::with_capacity(entries.0.len());
                for (name, values) in entries.0 {
                    let values = string_list(format_args!("{parent}.extra.{name}"), values)?;
                    extra.push((name, values));
                }
                user.extra = Some(extra);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

fn decode_object_ref<'a>(
    object: &mut Object<'a>,
    key: &str,
    raw: &'a RawValue,
) -> Result<bool, Invalid> {
    let slot = match key {
        "resource" => &mut object.resource,
        "subresource" => &mut object.subresource,
        "namespace" => &mut object.namespace,
        "name" => &mut object.name,
        "uid" => &mut object.uid,
        "apiGroup" => &mut object.api_group,
        "apiVersion" => &mut object.api_version,
        "resourceVersion" => &mut object.resource_version,
        _ => return Ok(false),
    };
    *slot = Some(string(Dotted("objectRef", key), raw)?);
    Ok(true)
}

fn decode_response<'a>(
    response: &mut Response<'a>,
    key: &str,
    raw: &'a RawValue,
) -> Result<bool, Invalid> {
    let slot = match key {
        "code" => {
            let code = serde_json::from_str::<i32>(raw.get())
                .map_err(|_| "field `responseStatus.code`: expected an integer".to_string())?;
            response.code = Some(code);
            return Ok(true);
        }
        "status" => &mut response.status,
        "reason" => &mut response.reason,
        "message" => &mut response.message,
        _ => return Ok(false),
    };
    *slot = Some(string(Dotted("responseStatus", key), raw)?);
    Ok(true)
}

/// Decodes one audit event from its JSON text, the row borrowing its text from `raw` wherever it
/// needs no unescaping. `Err` holds the quarantine reason.
pub fn decode_borrowed<'a>(
    raw: &'a str,
    source: &'a str,
    received_at: i64,
) -> Result<Event<'a>, Invalid> {
    let entries: Entries<'_> = match serde_json::from_str(raw) {
        Ok(entries) => entries,
        Err(error) if error.is_syntax() || error.is_eof() => {
            return Err(format!("event is not valid JSON: {error}"))
        }
        Err(_) => return Err("event is not a JSON object".to_string()),
    };
    let mut row = Event {
        source: Cow::Borrowed(source),
        received_at,
        ..Event::default()
    };
    let mut residual = Residual::default();
    let (mut audit_id, mut stage, mut verb) = (None, None, None);
    for (key, value) in entries.0 {
        if is_null(value) {
            residual.raw(key, value);
            continue;
        }
        match key.as_ref() {
            "kind" => row.kind = Some(string("kind", value)?),
            "apiVersion" => row.api_version = Some(string("apiVersion", value)?),
            "level" => row.level = Some(string("level", value)?),
            "auditID" => audit_id = Some(string("auditID", value)?),
            "stage" => stage = Some(string("stage", value)?),
            "verb" => verb = Some(string("verb", value)?),
            "requestURI" => row.request_uri = Some(string("requestURI", value)?),
            "userAgent" => row.user_agent = Some(string("userAgent", value)?),
            "sourceIPs" => row.source_ips = Some(string_list("sourceIPs", value)?),
            "user" => row.user = nested(&mut residual, key, value, decode_user("user", true))?,
            "impersonatedUser" => {
                row.impersonated_user = nested(
                    &mut residual,
                    key,
                    value,
                    decode_user("impersonatedUser", false),
                )?
            }
            "objectRef" => row.object = nested(&mut residual, key, value, decode_object_ref)?,
            "responseStatus" => row.response = nested(&mut residual, key, value, decode_response)?,
            "requestObject" => row.request_object = Some(Cow::Borrowed(value.get())),
            "responseObject" => row.response_object = Some(Cow::Borrowed(value.get())),
            "annotations" => {
                let Some(entries) = entries_of(value) else {
                    return Err("field `annotations`: expected an object".to_string());
                };
                let mut annotations = Vec::with_capacity(entries.0.len());
                for (name, text) in entries.0 {
                    let value = string(Dotted("annotations", &name), text)?;
                    annotations.push((name, value));
                }
                row.annotations = Some(annotations);
            }
            "requestReceivedTimestamp" | "stageTimestamp" => {
                let (micros, canonical) = timestamp(&key, value)?;
                if key == "stageTimestamp" {
                    row.stage_at = Some(micros);
                } else {
                    row.request_received_at = Some(micros);
                }
                if !canonical {
                    // Another layout than kube-apiserver's: keep the text as it came.
                    residual.raw(key, value);
                }
            }
            _ => residual.raw(key, value),
        }
    }
    // Tools other than kube-apiserver may leave out even required fields; an object with none
    // of the fields that identify a request is not an audit event.
    let identified = audit_id.is_some()
        || verb.is_some()
        || row.request_uri.is_some()
        || row.object.is_some()
        || row.user.is_some();
    if !identified {
        return Err(
            "not an audit event: none of `auditID`, `verb`, `requestURI`, `objectRef`, `user`"
                .to_string(),
        );
    }
    (row.audit_id, row.stage, row.verb) = (audit_id, stage, verb);
    if !residual.0.is_empty() {
        let mut extra = String::new();
        residual.write(&mut extra);
        row.extra = Some(Cow::Owned(extra));
    }
    Ok(row)
}

/// The outcome of decoding a batch of inputs.
#[derive(Debug, Default)]
pub struct Decoded<'a> {
    /// Accepted events (borrowing from the input) with the JSON text each was decoded from.
    pub events: Vec<(Event<'a>, &'a str)>,
    pub quarantined: Vec<QuarantineRow>,
}

impl<'a> Decoded<'a> {
    /// Decodes one input; `location` names it for the quarantine.
    pub fn push(
        &mut self,
        raw: &'a str,
        source: &'static str,
        received_at: i64,
        location: impl FnOnce() -> String,
    ) {
        match decode_borrowed(raw, source, received_at) {
            Ok(row) => self.events.push((row, raw)),
            Err(reason) => self.quarantined.push(QuarantineRow {
                source: source.to_string(),
                received_at,
                location: location(),
                reason,
                raw: raw.to_string(),
            }),
        }
    }
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "apiVersion")]
    api_version: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    items: Option<Vec<&'a RawValue>>,
}

/// What a body or a line holds: the raw events in it.
#[derive(Debug)]
pub enum Contents<'a> {
    /// An `EventList`'s items.
    List(Vec<&'a RawValue>),
    /// A single event.
    Single(&'a str),
}

/// Reads the envelope of a webhook body: an `EventList` (as kube-apiserver sends) or one `Event`.
pub fn parse_body(body: &[u8]) -> Result<Contents<'_>, BodyError> {
    let envelope: Envelope<'_> =
        serde_json::from_slice(body).map_err(|error| BodyError::from_json(&error, body))?;
    // Serde also reads a struct from a JSON array; an envelope must be an object.
    let start = body.len() - body.trim_ascii_start().len();
    if body.get(start) != Some(&b'{') {
        let line = 1 + body[..start].iter().filter(|&&b| b == b'\n').count();
        let column = start
            - body[..start]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1)
            + 1;
        return Err(BodyError::NotEventList {
            message: "expected a JSON object".to_string(),
            offset: start,
            line,
            column,
        });
    }
    let api_version = envelope.api_version.as_deref().unwrap_or_default();
    if !ACCEPTED_API_VERSIONS.contains(&api_version) {
        let shown = envelope
            .api_version
            .map_or("missing".to_string(), |v| format!("`{v}`"));
        return Err(BodyError::WrongApiVersion(shown));
    }
    match envelope.kind.as_deref() {
        Some("EventList") => envelope.items.map(Contents::List).ok_or(BodyError::NoItems),
        // The body was parsed as JSON above, so it is valid UTF-8.
        Some("Event") => Ok(Contents::Single(
            std::str::from_utf8(body).unwrap_or_default(),
        )),
        Some(other) => Err(BodyError::WrongKind(format!("`{other}`"))),
        None => Err(BodyError::WrongKind("missing".to_string())),
    }
}

/// Decodes a whole webhook body. Bad events are quarantined, located by their item index.
pub fn decode_body<'a>(
    body: &'a [u8],
    source: &'static str,
    received_at: i64,
) -> Result<Decoded<'a>, BodyError> {
    let mut decoded = Decoded::default();
    match parse_body(body)? {
        Contents::List(items) => {
            decoded.events.reserve(items.len());
            for (index, item) in items.into_iter().enumerate() {
                decoded.push(item.get(), source, received_at, || format!("item {index}"));
            }
        }
        Contents::Single(raw) => decoded.push(raw, source, received_at, || "body".to_string()),
    }
    Ok(decoded)
}

#[cfg(test)]
mod tests;
