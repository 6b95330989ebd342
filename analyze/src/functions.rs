//! SQL functions for audit work, registered in every session: JSONPath over the JSON text
//! columns, request-URI query parameters, IP ranges and image names (see `docs/rules.md`), plus
//! the `json_get_*` family and `->`/`->>` from `datafusion-functions-json`.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::IpAddr;
use std::rc::Rc;
use std::str::FromStr;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, BooleanBuilder, ListBuilder, StringArray, StringBuilder,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::{exec_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;
use ipnet::IpNet;
use serde_json_path::JsonPath;

use crate::json_scan::{self, Selector};

/// Registers the functions of this module and of `datafusion-functions-json` in `ctx`.
pub fn register(ctx: &mut SessionContext) -> Result<()> {
    datafusion_functions_json::register_all(ctx)?;
    crate::json_get::register(ctx)?;
    for function in [
        Function::JsonValues,
        Function::JsonValue,
        Function::UrlQueryValues,
        Function::CidrMatch,
        Function::IsPublicIp,
        Function::ImageRepository,
        Function::IsSystemIdentity,
    ] {
        ctx.register_udf(ScalarUDF::from(StringFunction::new(function)));
    }
    Ok(())
}

/// The functions; each takes string arguments only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Function {
    JsonValues,
    JsonValue,
    UrlQueryValues,
    CidrMatch,
    IsPublicIp,
    ImageRepository,
    IsSystemIdentity,
}

impl Function {
    fn name(self) -> &'static str {
        match self {
            Function::JsonValues => "json_values",
            Function::JsonValue => "json_value",
            Function::UrlQueryValues => "url_query_values",
            Function::CidrMatch => "cidr_match",
            Function::IsPublicIp => "is_public_ip",
            Function::ImageRepository => "image_repository",
            Function::IsSystemIdentity => "is_system_identity",
        }
    }

    fn arity(self) -> usize {
        match self {
            Function::IsPublicIp | Function::ImageRepository | Function::IsSystemIdentity => 1,
            _ => 2,
        }
    }

    fn return_type(self) -> DataType {
        match self {
            Function::JsonValues | Function::UrlQueryValues => {
                DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)))
            }
            Function::JsonValue | Function::ImageRepository => DataType::Utf8,
            Function::CidrMatch | Function::IsPublicIp | Function::IsSystemIdentity => {
                DataType::Boolean
            }
        }
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct StringFunction {
    function: Function,
    signature: Signature,
}

impl StringFunction {
    fn new(function: Function) -> Self {
        StringFunction {
            function,
            signature: Signature::string(function.arity(), Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for StringFunction {
    fn name(&self) -> &str {
        self.function.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.function.return_type())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let mut strings = Vec::with_capacity(arrays.len());
        for array in &arrays {
            strings.push(as_strings(array)?);
        }
        let rows = args.number_rows;
        let result: ArrayRef = match self.function {
            Function::JsonValues => Arc::new(lists(rows, |row| {
                json_matches(value(&strings[0], row), value(&strings[1], row))
            })?),
            Function::JsonValue => Arc::new(strings_of(rows, |row| {
                Ok(
                    json_matches(value(&strings[0], row), value(&strings[1], row))?
                        .into_iter()
                        .next(),
                )
            })?),
            Function::UrlQueryValues => Arc::new(lists(rows, |row| {
                Ok(query_values(
                    value(&strings[0], row),
                    value(&strings[1], row),
                ))
            })?),
            Function::CidrMatch => Arc::new(booleans(rows, |row| {
                cidr_match(value(&strings[0], row), value(&strings[1], row))
            })),
            Function::IsPublicIp => Arc::new(booleans(rows, |row| {
                value(&strings[0], row)
                    .and_then(|ip| IpAddr::from_str(ip.trim()).ok())
                    .map(|ip| is_public(&ip))
            })),
            Function::ImageRepository => Arc::new(strings_of(rows, |row| {
                Ok(value(&strings[0], row).map(image_repository))
            })?),
            Function::IsSystemIdentity => Arc::new(booleans(rows, |row| {
                value(&strings[0], row).map(is_system_identity)
            })),
        };
        Ok(ColumnarValue::Array(result))
    }
}

/// Whether `user` is the cluster acting on itself rather than a person or an application: the
/// `system:` identities (control plane, nodes, kube-system service accounts) except
/// `system:anonymous` and the service accounts of other namespaces, and the managed-cloud
/// operators (`eks:*`, AKS's `aksService` and `masterclient`). As `is_system_principal` of the
/// rules' `events_with_principal` view, without its `known_controllers` list.
fn is_system_identity(user: &str) -> bool {
    if user == "system:anonymous" {
        return false;
    }
    if let Some(account) = user.strip_prefix("system:serviceaccount:") {
        return account.starts_with("kube-system:");
    }
    user.starts_with("system:")
        || user.starts_with("eks:")
        || user == "aksService"
        || user == "masterclient"
}

fn as_strings(array: &ArrayRef) -> Result<StringArray> {
    let utf8 = cast(array, &DataType::Utf8)?;
    match utf8.as_any().downcast_ref::<StringArray>() {
        Some(strings) => Ok(strings.clone()),
        None => exec_err!("expected a string argument, got {}", array.data_type()),
    }
}

fn value(array: &StringArray, row: usize) -> Option<&str> {
    (!array.is_null(row)).then(|| array.value(row))
}

fn lists(
    rows: usize,
    mut each: impl FnMut(usize) -> Result<Vec<String>>,
) -> Result<datafusion::arrow::array::ListArray> {
    let mut builder = ListBuilder::new(StringBuilder::new());
    for row in 0..rows {
        for item in each(row)? {
            builder.values().append_value(item);
        }
        builder.append(true);
    }
    Ok(builder.finish())
}

fn strings_of(
    rows: usize,
    mut each: impl FnMut(usize) -> Result<Option<String>>,
) -> Result<StringArray> {
    let mut builder = StringBuilder::new();
    for row in 0..rows {
        builder.append_option(each(row)?);
    }
    Ok(builder.finish())
}

fn booleans(
    rows: usize,
    mut each: impl FnMut(usize) -> Option<bool>,
) -> datafusion::arrow::array::BooleanArray {
    let mut builder = BooleanBuilder::with_capacity(rows);
    for row in 0..rows {
        builder.append_option(each(row));
    }
    builder.finish()
}

/// Every value at `path` in the JSON `text`: strings unquoted, everything else as JSON text.
/// Text that is not JSON has no values; a path that is not JSONPath is an error.
fn json_matches(text: Option<&str>, path: Option<&str>) -> Result<Vec<String>> {
    let (Some(text), Some(path)) = (text, path) else {
        return Ok(Vec::new());
    };
    if let Some(found) = selector_path(path).and_then(|selectors| values_at(text, &selectors)) {
        return Ok(found);
    }
    parsed_matches(text, path)
}

/// [`json_matches`] by parsing the document and evaluating the JSONPath over it.
fn parsed_matches(text: &str, path: &str) -> Result<Vec<String>> {
    let path = match parsed_path(path) {
        Ok(path) => path,
        Err(error) => return exec_err!("invalid JSONPath `{path}`: {error}"),
    };
    let Some(document) = parsed_document(text) else {
        return Ok(Vec::new());
    };
    let found = path
        .query(&document)
        .all()
        .into_iter()
        .map(|value| match value {
            serde_json::Value::String(text) => text.clone(),
            other => other.to_string(),
        })
        .collect();
    Ok(found)
}

/// The selectors of a JSONPath made of names (`.name`, `['name']`, lists of names such as
/// `["containers","initContainers"]`), indexes (`[2]`) and wildcards (`[*]`, `.*`), or `None`
/// for any other path (filters, slices, negative indexes, descendants, escapes).
fn selector_path(path: &str) -> Option<Vec<Selector<'_>>> {
    let mut rest = path.strip_prefix('$')?;
    let mut selectors = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix(".*") {
            selectors.push(Selector::Elements);
            rest = after;
        } else if let Some(after) = rest.strip_prefix('.') {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            let name = &after[..end];
            if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
                return None;
            }
            selectors.push(Selector::Names(vec![Cow::Borrowed(name)]));
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let close = after.find(']')?;
            let inside = after[..close].trim();
            if inside == "*" {
                selectors.push(Selector::Elements);
            } else if !inside.is_empty() && inside.bytes().all(|b| b.is_ascii_digit()) {
                selectors.push(Selector::Index(inside.parse().ok()?));
            } else {
                let names = inside
                    .split(',')
                    .map(|name| {
                        let name = name.trim();
                        name.strip_prefix('"')
                            .and_then(|n| n.strip_suffix('"'))
                            .or_else(|| name.strip_prefix('\'').and_then(|n| n.strip_suffix('\'')))
                            .filter(|n| !n.contains(['\\', '"', '\'', ',', ']']))
                            .map(Cow::Borrowed)
                    })
                    .collect::<Option<Vec<_>>>()?;
                selectors.push(Selector::Names(names));
            }
            rest = &after[close + 1..];
        } else {
            return None;
        }
    }
    Some(selectors)
}

/// Every value `selectors` select in the JSON `text`, as [`json_matches`] gives them, found by
/// skipping over everything else rather than parsing the whole document (the last of duplicate
/// members counts, as in a parsed document); `None` when the document must be parsed to answer
/// the same (a wildcard over an object) or is not JSON where it was read.
fn values_at(text: &str, selectors: &[Selector<'_>]) -> Option<Vec<String>> {
    let ranges = json_scan::find_all(text, selectors).ok()??;
    ranges
        .into_iter()
        .map(|range| value_text(&text[range]))
        .collect()
}

/// A value's JSON text as [`json_matches`] gives it: a string unquoted; an object or array as
/// written when none of its objects repeats a member name (decoding and writing it again would
/// change only the order of members, spaces and how numbers are spelled, not what it says);
/// anything else written the way a parsed document writes it (the last of duplicate members
/// counts).
fn value_text(raw: &str) -> Option<String> {
    if raw.starts_with('"') {
        return json_scan::string_value(raw).map(Cow::into_owned);
    }
    if raw.starts_with(['{', '[']) && json_scan::may_repeat_members(raw.as_bytes()) == Ok(false) {
        return Some(raw.to_owned());
    }
    serde_json::from_str::<serde_json::Value>(raw)
        .ok()
        .map(|value| value.to_string())
}

/// Documents kept parsed per thread at most, and their text's total size: rules running one
/// after another on the same batch ask for the same request bodies again and again.
const PARSED_DOCUMENTS: usize = 16_384;
const PARSED_DOCUMENT_BYTES: usize = 256 * 1024 * 1024;

struct DocumentCache {
    entries: HashMap<u64, (Box<str>, Rc<serde_json::Value>)>,
    bytes: usize,
    hasher: std::collections::hash_map::RandomState,
}

thread_local! {
    static DOCUMENTS: RefCell<DocumentCache> = RefCell::new(DocumentCache {
        entries: HashMap::new(),
        bytes: 0,
        hasher: std::collections::hash_map::RandomState::new(),
    });
    static PATHS: RefCell<HashMap<String, Rc<JsonPath>>> = RefCell::new(HashMap::new());
}

/// `text` parsed, from the cache when the same text was parsed before on this thread. The key
/// hashes the length and both ends of the text; a hit is confirmed by comparing the whole text.
fn parsed_document(text: &str) -> Option<Rc<serde_json::Value>> {
    DOCUMENTS.with(|cache| {
        let mut cache = cache.borrow_mut();
        let bytes = text.as_bytes();
        let key = {
            let ends = 64.min(bytes.len());
            let mut hasher = cache.hasher.build_hasher();
            bytes.len().hash(&mut hasher);
            bytes[..ends].hash(&mut hasher);
            bytes[bytes.len() - ends..].hash(&mut hasher);
            hasher.finish()
        };
        if let Some((cached, value)) = cache.entries.get(&key) {
            if cached.as_ref() == text {
                return Some(value.clone());
            }
        }
        let value = Rc::new(serde_json::from_str::<serde_json::Value>(text).ok()?);
        if cache.entries.len() >= PARSED_DOCUMENTS
            || cache.bytes + text.len() > PARSED_DOCUMENT_BYTES
        {
            cache.entries.clear();
            cache.bytes = 0;
        }
        cache.bytes += text.len();
        if let Some((old, _)) = cache.entries.insert(key, (text.into(), value.clone())) {
            cache.bytes -= old.len();
        }
        Some(value)
    })
}

fn parsed_path(path: &str) -> std::result::Result<Rc<JsonPath>, String> {
    PATHS.with(|paths| {
        if let Some(parsed) = paths.borrow().get(path) {
            return Ok(parsed.clone());
        }
        let parsed = Rc::new(JsonPath::parse(path).map_err(|e| e.to_string())?);
        let mut paths = paths.borrow_mut();
        if paths.len() > 1024 {
            paths.clear();
        }
        paths.insert(path.to_string(), parsed.clone());
        Ok(parsed)
    })
}

/// The decoded values of query parameter `name` in `uri`.
fn query_values(uri: Option<&str>, name: Option<&str>) -> Vec<String> {
    let (Some(uri), Some(name)) = (uri, name) else {
        return Vec::new();
    };
    let Some((_, query)) = uri.split_once('?') else {
        return Vec::new();
    };
    form_urlencoded::parse(query.as_bytes())
        .filter(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
        .collect()
}

fn cidr_match(ip: Option<&str>, cidr: Option<&str>) -> Option<bool> {
    let ip = IpAddr::from_str(ip?.trim()).ok()?;
    let cidr = cidr?.trim();
    let net = match IpNet::from_str(cidr) {
        Ok(net) => net,
        // A bare address is a one-address range.
        Err(_) => IpNet::from(IpAddr::from_str(cidr).ok()?),
    };
    Some(net.contains(&ip))
}

/// Whether `ip` is a public, routable address.
fn is_public(ip: &IpAddr) -> bool {
    const NOT_PUBLIC: [&str; 17] = [
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/3",
        "::/127",
        "fc00::/7",
        "fe80::/10",
        "2001:db8::/32",
    ];
    if let IpAddr::V6(v6) = ip {
        if let Some(v4) = v6.to_ipv4_mapped() {
            return is_public(&IpAddr::V4(v4));
        }
        if v6.is_multicast() {
            return false;
        }
    }
    static RANGES: std::sync::OnceLock<Vec<IpNet>> = std::sync::OnceLock::new();
    let ranges = RANGES.get_or_init(|| {
        // The ranges above are constants that parse.
        NOT_PUBLIC
            .iter()
            .filter_map(|range| IpNet::from_str(range).ok())
            .collect()
    });
    !ranges.iter().any(|net| net.contains(ip))
}

/// `registry/repo:tag@digest` → `registry/repo`.
fn image_repository(image: &str) -> String {
    let image = image.trim();
    let without_digest = image.split_once('@').map_or(image, |(name, _)| name);
    // A tag is after the last `:` that follows the last `/` (a registry port is before it).
    let last_slash = without_digest.rfind('/').map_or(0, |at| at + 1);
    match without_digest[last_slash..].rfind(':') {
        Some(colon) => without_digest[..last_slash + colon].to_string(),
        None => without_digest.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_identities_are_the_cluster_acting_on_itself() {
        for user in [
            "system:kube-controller-manager",
            "system:node:node-a",
            "system:apiserver",
            "system:serviceaccount:kube-system:replicaset-controller",
            "eks:addon-manager",
            "aksService",
        ] {
            assert!(is_system_identity(user), "{user}");
        }
        for user in [
            "system:anonymous",
            "system:serviceaccount:ci:deployer",
            "alice@example.com",
            "kubernetes-admin",
        ] {
            assert!(!is_system_identity(user), "{user}");
        }
    }

    #[test]
    fn json_paths_reach_every_container() {
        let pod = r#"{"spec":{"containers":[{"image":"nginx","securityContext":{"privileged":true}},{"image":"busybox"}]}}"#;
        let images = json_matches(Some(pod), Some("$.spec.containers[*].image")).unwrap();
        assert_eq!(images, ["nginx", "busybox"]);
        let privileged = json_matches(
            Some(pod),
            Some("$.spec.containers[*].securityContext.privileged"),
        )
        .unwrap();
        assert_eq!(privileged, ["true"]);
        assert!(json_matches(Some("not json"), Some("$.a"))
            .unwrap()
            .is_empty());
        assert!(json_matches(Some(pod), Some("spec[")).is_err());
    }

    #[test]
    fn single_values_are_found_without_parsing_the_document() {
        assert_eq!(
            selector_path("$.a['b c'][2].d"),
            Some(vec![
                Selector::Names(vec![Cow::Borrowed("a")]),
                Selector::Names(vec![Cow::Borrowed("b c")]),
                Selector::Index(2),
                Selector::Names(vec![Cow::Borrowed("d")]),
            ])
        );
        let doc = r#"{"kind":"Pod","metadata":{"name":"web-1","labels":{"b":"2","a":"1"}},
            "spec":{"containers":[{"name":"a","image":"nginx"},{"name":"b","ports":[80, 1e2]}],
            "hostPID":false, "x":null,"esc":"a\"b", "hostPID" : true}}"#;
        // The same answers as the general JSONPath evaluation, duplicate members included
        // (the last one counts).
        for path in [
            "$.metadata.name",
            "$.metadata.labels",
            "$.spec.containers[1].name",
            "$.spec.containers[1].ports",
            "$.spec.containers[1].ports[1]",
            "$.spec.containers[5]",
            "$.spec.hostPID",
            "$.spec.x",
            "$.spec.esc",
            "$.spec.missing",
            "$.metadata.name.deeper",
            "$",
        ] {
            let general = parsed_path(path)
                .unwrap()
                .query(&serde_json::from_str(doc).unwrap())
                .all()
                .into_iter()
                .map(|value| match value {
                    serde_json::Value::String(text) => text.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>();
            let selectors = selector_path(path).unwrap();
            let found = values_at(doc, &selectors).unwrap();
            assert_eq!(decoded(&found), decoded(&general), "{path}");
        }
        // An object without repeated members comes as written; one with them, resolved.
        let doc = r#"{"m":{"b":1,"a":{"d":[1,{"x":2}],"c":null}},"r":{"b":1,"a":2,"b":3}}"#;
        assert_eq!(
            json_matches(Some(doc), Some("$.m")).unwrap(),
            [r#"{"b":1,"a":{"d":[1,{"x":2}],"c":null}}"#]
        );
        assert_eq!(
            json_matches(Some(doc), Some("$.r")).unwrap(),
            [r#"{"a":2,"b":3}"#]
        );
    }

    /// Values as JSON where they are JSON text, so that the order of members does not count.
    fn decoded(values: &[String]) -> Vec<serde_json::Value> {
        values
            .iter()
            .map(|value| {
                serde_json::from_str(value)
                    .unwrap_or_else(|_| serde_json::Value::String(value.clone()))
            })
            .collect()
    }

    #[test]
    fn wildcard_paths_are_followed_without_parsing_the_document() {
        assert_eq!(
            selector_path("$.spec['containers', \"initContainers\"][*].ports[0]"),
            Some(vec![
                Selector::Names(vec![Cow::Borrowed("spec")]),
                Selector::Names(vec![
                    Cow::Borrowed("containers"),
                    Cow::Borrowed("initContainers")
                ]),
                Selector::Elements,
                Selector::Names(vec![Cow::Borrowed("ports")]),
                Selector::Index(0),
            ])
        );
        for path in [
            "$..a",
            "$.a[?@.b]",
            "$.a[-1]",
            "$.a[1:2]",
            "$['a\\'b']",
            "a[*]",
            "a.b",
        ] {
            assert_eq!(selector_path(path), None, "{path}");
        }
        let docs = [
            r#"{"spec":{"containers":[{"name":"a","image":"nginx","securityContext":{"privileged":true,
                "capabilities":{"add":["NET_ADMIN","SYS_TIME"]}}},{"name":"b","image":"busy\"box",
                "ports":[{"containerPort":80},{"containerPort":1e2}]}],
                "initContainers":[{"image":"init"}],"volumes":[{"hostPath":{"path":"/"}},{"emptyDir":{}}],
                "containers":[{"image":"last-of-duplicates"}]},
              "rules":[{"verbs":["get","list"],"resources":["pods"]},{"verbs":["*"],"resources":[]}],
              "subjects":[{"kind":"User","name":"x","apiGroup":"rbac.authorization.k8s.io"},null,7]}"#,
            r#"{"spec":{"containers":null,"initContainers":"no","volumes":{"a":1}},"rules":[]}"#,
            r#"[{"a":1},{"a":[2,3]}]"#,
            "not json",
            r#"{"spec":{"containers":[{"image":"x"}"#,
        ];
        // The same answers as the general JSONPath evaluation, for the paths the rule pack uses
        // and a few it does not (a wildcard over an object is answered by parsing).
        for doc in docs {
            for path in [
                "$.spec.containers[*].image",
                "$.spec[\"containers\",\"initContainers\"][*].image",
                "$.spec.containers[*].securityContext.capabilities.add[*]",
                "$.spec.containers[*].securityContext.privileged",
                "$.spec.containers[*].ports[*].containerPort",
                "$.spec.containers[1].ports[*]",
                "$.spec.volumes[*].hostPath.path",
                "$.spec.volumes.*",
                "$.rules[*].verbs[*]",
                "$.rules[*].resources[*]",
                "$.subjects[*]",
                "$.subjects[*].name",
                "$[*].a",
                "$[*].a[*]",
                "$.*",
            ] {
                let general = parsed_matches(doc, path).unwrap();
                assert_eq!(
                    decoded(&json_matches(Some(doc), Some(path)).unwrap()),
                    decoded(&general),
                    "{path} of {doc}"
                );
            }
        }
        // Found by the scanner, not by parsing: a wildcard over an object is the only way back.
        let pod = docs[0];
        let path = selector_path("$.spec.containers[*].image").unwrap();
        assert_eq!(
            values_at(pod, &path),
            Some(vec!["last-of-duplicates".into()])
        );
        let path = selector_path("$.spec.volumes[*].hostPath.path").unwrap();
        assert_eq!(values_at(pod, &path), Some(vec!["/".into()]));
        assert_eq!(values_at(pod, &selector_path("$.spec.*").unwrap()), None);
    }

    #[test]
    fn exec_commands_are_decoded() {
        let uri = "/api/v1/namespaces/default/pods/web/exec?command=sh&command=-c&command=cat%20%2Fetc%2Fshadow&container=web&stdout=true";
        assert_eq!(
            query_values(Some(uri), Some("command")),
            ["sh", "-c", "cat /etc/shadow"]
        );
        assert!(query_values(Some("/api/v1/pods"), Some("command")).is_empty());
    }

    #[test]
    fn ranges_and_public_addresses() {
        assert_eq!(cidr_match(Some("10.1.2.3"), Some("10.0.0.0/8")), Some(true));
        assert_eq!(
            cidr_match(Some("11.1.2.3"), Some("10.0.0.0/8")),
            Some(false)
        );
        assert_eq!(cidr_match(Some("10.1.2.3"), Some("10.1.2.3")), Some(true));
        assert_eq!(cidr_match(Some("nonsense"), Some("10.0.0.0/8")), None);
        for private in [
            "10.0.0.1",
            "172.31.255.1",
            "192.168.1.1",
            "127.0.0.1",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(&IpAddr::from_str(private).unwrap()), "{private}");
        }
        for public in ["8.8.8.8", "52.94.10.1", "2600:1f18::1"] {
            assert!(is_public(&IpAddr::from_str(public).unwrap()), "{public}");
        }
    }

    #[test]
    fn image_repositories_drop_tag_and_digest() {
        assert_eq!(image_repository("nginx"), "nginx");
        assert_eq!(image_repository("nginx:1.25"), "nginx");
        assert_eq!(
            image_repository("registry:5000/team/app:v1"),
            "registry:5000/team/app"
        );
        assert_eq!(
            image_repository("docker.io/library/alpine@sha256:abc"),
            "docker.io/library/alpine"
        );
    }
}
