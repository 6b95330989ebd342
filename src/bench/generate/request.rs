//! One simulated API request before serialization: who did what to which object, and the answer.

use fastrand::Rng;

use super::actors::Actor;

/// Audit level (`audit.k8s.io/v1` Level) of a generated event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Level {
    Metadata,
    Request,
    RequestResponse,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Metadata => "Metadata",
            Level::Request => "Request",
            Level::RequestResponse => "RequestResponse",
        }
    }
}

/// Audit stage of a generated event (RequestReceived is omitted, as most policies do).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stage {
    ResponseStarted,
    ResponseComplete,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::ResponseStarted => "ResponseStarted",
            Stage::ResponseComplete => "ResponseComplete",
        }
    }
}

/// Kubernetes request verbs the generator uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verb {
    Get,
    List,
    Watch,
    Create,
    Update,
    Patch,
    Delete,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Watch => "watch",
            Verb::Create => "create",
            Verb::Update => "update",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
        }
    }
}

/// `objectRef`: the resource a request targets.
#[derive(Debug, Clone, Default)]
pub(super) struct ObjectRef {
    pub resource: &'static str,
    pub namespace: Option<&'static str>,
    pub name: Option<String>,
    /// Empty for the core group.
    pub api_group: &'static str,
    pub api_version: &'static str,
    pub subresource: Option<&'static str>,
    pub uid: Option<String>,
    pub resource_version: Option<String>,
}

impl ObjectRef {
    pub fn new(api_group: &'static str, resource: &'static str) -> Self {
        let api_version = if api_group == "autoscaling" {
            "v2"
        } else {
            "v1"
        };
        ObjectRef {
            resource,
            api_group,
            api_version,
            ..ObjectRef::default()
        }
    }

    pub fn namespaced(mut self, namespace: &'static str) -> Self {
        self.namespace = Some(namespace);
        self
    }

    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    pub fn sub(mut self, subresource: &'static str) -> Self {
        self.subresource = Some(subresource);
        self
    }

    /// The request path, e.g. `/apis/apps/v1/namespaces/shop/deployments/web/scale`.
    pub fn path(&self) -> String {
        let mut path = if self.api_group.is_empty() {
            format!("/api/{}", self.api_version)
        } else {
            format!("/apis/{}/{}", self.api_group, self.api_version)
        };
        if let Some(namespace) = self.namespace {
            path.push_str("/namespaces/");
            path.push_str(namespace);
        }
        path.push('/');
        path.push_str(self.resource);
        if let Some(name) = &self.name {
            path.push('/');
            path.push_str(name);
        }
        if let Some(subresource) = self.subresource {
            path.push('/');
            path.push_str(subresource);
        }
        path
    }
}

/// The answer in `responseStatus`.
#[derive(Debug, Clone)]
pub(super) enum Outcome {
    Success(u16),
    Failure {
        code: u16,
        reason: &'static str,
        message: String,
    },
}

impl Outcome {
    pub fn code(&self) -> u16 {
        match self {
            Outcome::Success(code) | Outcome::Failure { code, .. } => *code,
        }
    }
}

/// Everything one audit event says about a request, except its auditID and timestamps.
pub(super) struct Request<'c> {
    pub actor: &'c Actor,
    pub level: Level,
    pub stage: Stage,
    pub verb: Verb,
    pub request_uri: String,
    pub object: Option<ObjectRef>,
    pub outcome: Outcome,
    /// JSON text of `requestObject` (level Request and above).
    pub request_object: Option<Vec<u8>>,
    /// JSON text of `responseObject` (level RequestResponse).
    pub response_object: Option<Vec<u8>>,
    /// From requestReceivedTimestamp to stageTimestamp.
    pub latency_us: i64,
    /// Annotations beyond `authorization.k8s.io/decision` and `/reason`.
    pub annotations: Vec<(&'static str, String)>,
}

impl<'c> Request<'c> {
    /// A successful Metadata-level request on `object`; `query` (without `?`) may be empty.
    pub fn new(actor: &'c Actor, verb: Verb, object: ObjectRef, query: &str) -> Self {
        let mut request_uri = object.path();
        if !query.is_empty() {
            request_uri.push('?');
            request_uri.push_str(query);
        }
        let code = if verb == Verb::Create { 201 } else { 200 };
        Request {
            actor,
            level: Level::Metadata,
            stage: Stage::ResponseComplete,
            verb,
            request_uri,
            object: Some(object),
            outcome: Outcome::Success(code),
            request_object: None,
            response_object: None,
            latency_us: 2_000,
            annotations: Vec::new(),
        }
    }

    /// A successful request to a non-resource path such as `/healthz` (no objectRef).
    pub fn non_resource(actor: &'c Actor, path: &str) -> Self {
        let mut request = Request::new(actor, Verb::Get, ObjectRef::default(), "");
        request.request_uri = path.to_owned();
        request.object = None;
        request
    }

    /// Sets a random latency in `[min_us, max_us)`.
    pub fn latency(mut self, rng: &mut Rng, min_us: i64, max_us: i64) -> Self {
        self.latency_us = rng.i64(min_us..max_us);
        self
    }
}

/// Characters Kubernetes uses in generated name suffixes (`SafeEncodeString`).
const NAME_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// A random generated-name suffix such as `x7kqz`.
pub(super) fn suffix(rng: &mut Rng, len: usize) -> String {
    (0..len)
        .map(|_| char::from(NAME_ALPHABET[rng.usize(..NAME_ALPHABET.len())]))
        .collect()
}
