//! A detection rule file: its comment header parsed and checked, and its SQL. The format is
//! documented in `docs/rules.md`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use schemas::Priority;

use super::bodies::Bodies;

/// How often a window rule runs when its header does not say.
pub const DEFAULT_EVERY: Duration = Duration::from_secs(60);
/// How long an alert suppresses others with the same dedup key when the header does not say.
pub const DEFAULT_SUPPRESS: Duration = Duration::from_secs(600);

/// When a rule runs and what its `events` table holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// On every batch; `events` is the batch.
    Event,
    /// Every `every`; `events` is the window, `new_events` what arrived since the last run.
    Window,
    /// On every batch that added to the window; tables as for `Window`.
    Sequence,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Event => "event",
            Mode::Window => "window",
            Mode::Sequence => "sequence",
        }
    }
}

/// The lowest audit policy level a rule needs to see what it looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PolicyLevel {
    Metadata,
    Request,
    RequestResponse,
}

impl PolicyLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyLevel::Metadata => "Metadata",
            PolicyLevel::Request => "Request",
            PolicyLevel::RequestResponse => "RequestResponse",
        }
    }
}

/// What a window or sequence rule keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowSpec {
    pub length: Duration,
    pub every: Duration,
    /// SQL condition over `events` choosing the events the window keeps.
    pub filter: String,
    /// SQL expressions over `events` (a `SELECT` list): when set, the window keeps only the
    /// earliest and the latest of the rows sharing their values, within each stretch of a
    /// thirtieth of the window's length.
    pub compact: Option<String>,
    /// The parts of the request and response bodies the window keeps (all of them: `None`).
    pub bodies: Option<Bodies>,
}

/// One parsed rule file.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub title: String,
    pub priority: Priority,
    pub mitre: Vec<String>,
    pub tags: Vec<String>,
    pub behaviours: Vec<u32>,
    pub equivalents: Vec<String>,
    pub level: PolicyLevel,
    pub mode: Mode,
    /// Set for window and sequence rules.
    pub window: Option<WindowSpec>,
    pub dedup: Vec<String>,
    pub suppress: Duration,
    pub output: String,
    pub description: String,
    pub disabled: bool,
    pub sql: String,
    pub path: PathBuf,
    /// Line of the file where the SQL starts, for error messages.
    pub sql_line: usize,
}

/// A rule file that could not be read or parsed, with where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct RuleError {
    pub path: PathBuf,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.path.display(), self.message)
        } else {
            write!(f, "{}:{}: {}", self.path.display(), self.line, self.message)
        }
    }
}

const KEYS: [&str; 19] = [
    "id",
    "title",
    "severity",
    "mitre",
    "tags",
    "behaviours",
    "equivalents",
    "level",
    "mode",
    "window",
    "every",
    "filter",
    "compact",
    "bodies",
    "dedup",
    "suppress",
    "output",
    "description",
    "disabled",
];
const REQUIRED: [&str; 8] = [
    "id",
    "title",
    "severity",
    "mitre",
    "level",
    "mode",
    "output",
    "description",
];

/// Reads every `*.sql` file of `dir`, sorted by name. Each file parses on its own: one broken
/// file is one error, and the other rules load.
pub fn load_dir(dir: &Path) -> Result<(Vec<Rule>, Vec<RuleError>), std::io::Error> {
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "sql") {
            paths.push(path);
        }
    }
    paths.sort();
    let (mut rules, mut errors) = (Vec::new(), Vec::new());
    for path in paths {
        match std::fs::read_to_string(&path) {
            Ok(text) => match parse_rule(&path, &text) {
                Ok(rule) => rules.push(rule),
                Err(error) => errors.push(error),
            },
            Err(error) => errors.push(RuleError {
                path: path.clone(),
                line: 0,
                message: format!("cannot read: {error}"),
            }),
        }
    }
    let mut seen = BTreeMap::new();
    for rule in &rules {
        if let Some(first) = seen.insert(rule.id.clone(), rule.path.clone()) {
            errors.push(RuleError {
                path: rule.path.clone(),
                line: 1,
                message: format!("rule id `{}` is also used by {}", rule.id, first.display()),
            });
        }
    }
    Ok((rules, errors))
}

/// Parses one rule file's text.
pub fn parse_rule(path: &Path, text: &str) -> Result<Rule, RuleError> {
    let error = |line: usize, message: String| RuleError {
        path: path.to_path_buf(),
        line,
        message,
    };
    let mut header: BTreeMap<&str, (usize, String)> = BTreeMap::new();
    let mut last_key: Option<&str> = None;
    let mut sql_start = None;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let trimmed = line.trim_end();
        let Some(comment) = trimmed.strip_prefix("--") else {
            if trimmed.trim().is_empty() && header.is_empty() {
                continue;
            }
            sql_start = Some(index);
            break;
        };
        if comment.trim().is_empty() {
            last_key = None;
            continue;
        }
        if comment.starts_with("  ") {
            let Some(key) = last_key else {
                return Err(error(
                    number,
                    "continuation line without a key before it".into(),
                ));
            };
            let entry = header.get_mut(key).expect("last_key is in the header");
            entry.1.push(' ');
            entry.1.push_str(comment.trim());
            continue;
        }
        let Some((key, value)) = comment.trim().split_once(':') else {
            return Err(error(
                number,
                format!("expected `-- key: value` in the header, found `{trimmed}`"),
            ));
        };
        let key = key.trim();
        let Some(known) = KEYS.iter().find(|k| **k == key) else {
            return Err(error(
                number,
                format!(
                    "unknown header key `{key}`: expected one of {}",
                    KEYS.join(", ")
                ),
            ));
        };
        if header
            .insert(known, (number, value.trim().to_string()))
            .is_some()
        {
            return Err(error(number, format!("header key `{key}` given twice")));
        }
        last_key = Some(known);
    }
    let lines: Vec<&str> = text.lines().collect();
    let Some(sql_start) = sql_start else {
        return Err(error(lines.len(), "no SQL after the header".into()));
    };
    for key in REQUIRED {
        if !header.contains_key(key) {
            return Err(error(1, format!("missing header key `{key}`")));
        }
    }
    let get = |key: &str| header.get(key).map(|(_, value)| value.as_str());
    let line_of = |key: &str| header.get(key).map_or(1, |(line, _)| *line);
    let list = |key: &str, separator: char| -> Vec<String> {
        get(key)
            .unwrap_or("")
            .split(separator)
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::to_string)
            .collect()
    };
    let duration = |key: &str| -> Result<Option<Duration>, RuleError> {
        get(key)
            .map(|text| {
                humantime::parse_duration(text).map_err(|e| {
                    error(
                        line_of(key),
                        format!("`{key}`: invalid duration `{text}`: {e} (write e.g. `30s`, `10m`, `2h`, `30d`)"),
                    )
                })
            })
            .transpose()
    };

    let id = get("id").unwrap_or_default().to_string();
    let id_ok = !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !id_ok {
        return Err(error(
            line_of("id"),
            format!("`id` `{id}`: use lower-case letters, digits and `-`"),
        ));
    }
    let stem = path.file_stem().and_then(|stem| stem.to_str());
    if stem.is_some_and(|stem| stem != id) {
        return Err(error(
            line_of("id"),
            format!("`id` `{id}` differs from the file name: name the file `{id}.sql`"),
        ));
    }
    let priority = get("severity")
        .unwrap_or_default()
        .parse::<Priority>()
        .map_err(|message| error(line_of("severity"), format!("`severity`: {message}")))?;
    let level = match get("level").unwrap_or_default() {
        "Metadata" => PolicyLevel::Metadata,
        "Request" => PolicyLevel::Request,
        "RequestResponse" => PolicyLevel::RequestResponse,
        other => {
            return Err(error(
                line_of("level"),
                format!("`level` `{other}`: expected Metadata, Request or RequestResponse"),
            ))
        }
    };
    let mode = match get("mode").unwrap_or_default() {
        "event" => Mode::Event,
        "window" => Mode::Window,
        "sequence" => Mode::Sequence,
        other => {
            return Err(error(
                line_of("mode"),
                format!("`mode` `{other}`: expected event, window or sequence"),
            ))
        }
    };
    let window = match mode {
        Mode::Event => {
            for key in ["window", "every", "filter", "compact", "bodies"] {
                if header.contains_key(key) {
                    return Err(error(
                        line_of(key),
                        format!("`{key}` applies to window and sequence rules only"),
                    ));
                }
            }
            None
        }
        Mode::Window | Mode::Sequence => {
            let Some(length) = duration("window")? else {
                return Err(error(line_of("mode"), "missing header key `window`".into()));
            };
            let Some(filter) = get("filter") else {
                return Err(error(line_of("mode"), "missing header key `filter`".into()));
            };
            let every = duration("every")?.unwrap_or(DEFAULT_EVERY);
            if length.is_zero() || every.is_zero() {
                return Err(error(
                    line_of("window"),
                    "`window` and `every` must be longer than 0s".into(),
                ));
            }
            Some(WindowSpec {
                length,
                every,
                filter: filter.to_string(),
                compact: get("compact").map(str::to_string),
                bodies: get("bodies")
                    .map(Bodies::parse)
                    .transpose()
                    .map_err(|message| error(line_of("bodies"), format!("`bodies`: {message}")))?,
            })
        }
    };
    let mut behaviours = Vec::new();
    for item in list("behaviours", ',') {
        let number = item.parse::<u32>().map_err(|_| {
            error(
                line_of("behaviours"),
                format!("`behaviours`: `{item}` is not a number"),
            )
        })?;
        behaviours.push(number);
    }
    let disabled = match get("disabled") {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(error(
                line_of("disabled"),
                format!("`disabled` `{other}`: expected true or false"),
            ))
        }
    };
    let sql = lines[sql_start..].join("\n");
    if sql.trim().is_empty() {
        return Err(error(sql_start + 1, "no SQL after the header".into()));
    }
    Ok(Rule {
        title: get("title").unwrap_or_default().to_string(),
        priority,
        mitre: list("mitre", ','),
        tags: list("tags", ','),
        behaviours,
        equivalents: list("equivalents", '|'),
        level,
        mode,
        window,
        dedup: list("dedup", ','),
        suppress: duration("suppress")?.unwrap_or(DEFAULT_SUPPRESS),
        output: get("output").unwrap_or_default().to_string(),
        description: get("description").unwrap_or_default().to_string(),
        disabled,
        sql,
        path: path.to_path_buf(),
        sql_line: sql_start + 1,
        id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: &str = "-- id: pod-exec
-- title: Exec into a pod
-- severity: Notice
-- mitre: T1609
-- tags: execution
-- behaviours: 20, 21
-- equivalents: Attach/Exec Pod | Kubernetes.Pod.Exec
-- level: Metadata
-- mode: event
-- dedup: cluster, user_name
-- output: {user_name} exec'd into {object_name}
-- description: Someone opened a shell
--   in a pod.
SELECT cluster, audit_id FROM events
WHERE object_subresource = 'exec'
";

    #[test]
    fn a_rule_parses() {
        let rule = parse_rule(Path::new("q/pod-exec.sql"), RULE).unwrap();
        assert_eq!(rule.id, "pod-exec");
        assert_eq!(rule.priority, Priority::Notice);
        assert_eq!(rule.behaviours, [20, 21]);
        assert_eq!(rule.equivalents, ["Attach/Exec Pod", "Kubernetes.Pod.Exec"]);
        assert_eq!(rule.dedup, ["cluster", "user_name"]);
        assert_eq!(rule.description, "Someone opened a shell in a pod.");
        assert_eq!(rule.suppress, DEFAULT_SUPPRESS);
        assert_eq!(rule.sql_line, 14);
        assert!(rule.sql.starts_with("SELECT cluster"));
    }

    #[test]
    fn errors_name_file_and_line() {
        let broken = RULE.replace("-- severity: Notice", "-- severity: Loud");
        let error = parse_rule(Path::new("q/pod-exec.sql"), &broken).unwrap_err();
        assert_eq!(error.line, 3);
        assert!(
            error
                .to_string()
                .starts_with("q/pod-exec.sql:3: `severity`"),
            "{error}"
        );

        let unknown = RULE.replace("-- tags:", "-- tag:");
        let error = parse_rule(Path::new("q/pod-exec.sql"), &unknown).unwrap_err();
        assert!(
            error.to_string().contains("unknown header key `tag`"),
            "{error}"
        );

        let window = RULE.replace("-- mode: event", "-- mode: window");
        let error = parse_rule(Path::new("q/pod-exec.sql"), &window).unwrap_err();
        assert!(
            error.message.contains("missing header key `window`"),
            "{error}"
        );

        let renamed = parse_rule(Path::new("q/other.sql"), RULE).unwrap_err();
        assert!(renamed.message.contains("name the file `pod-exec.sql`"));

        let compacting_event_rule =
            RULE.replace("-- dedup:", "-- compact: cluster, user_name\n-- dedup:");
        let error = parse_rule(Path::new("q/pod-exec.sql"), &compacting_event_rule).unwrap_err();
        assert_eq!(error.line, 10);
        assert!(
            error
                .message
                .contains("`compact` applies to window and sequence rules only"),
            "{error}"
        );
    }

    #[test]
    fn a_window_rule_names_the_parts_of_the_bodies_it_keeps() {
        let sequence = RULE.replace(
            "-- mode: event",
            "-- mode: sequence\n-- window: 30d\n-- filter: verb = 'create'",
        );
        let cutting = sequence.replace(
            "-- dedup:",
            "-- bodies: request_object($.spec.serviceAccountName),\n--   response_object($.metadata.name)\n-- dedup:",
        );
        let rule = parse_rule(Path::new("q/pod-exec.sql"), &cutting).unwrap();
        let bodies = rule.window.unwrap().bodies.unwrap();
        assert_eq!(
            bodies
                .columns
                .iter()
                .map(|(c, _)| c.as_str())
                .collect::<Vec<_>>(),
            ["request_object", "response_object"]
        );
        let wrong = sequence.replace("-- dedup:", "-- bodies: user_agent($.a)\n-- dedup:");
        let error = parse_rule(Path::new("q/pod-exec.sql"), &wrong).unwrap_err();
        assert_eq!(error.line, 12);
        assert!(
            error
                .message
                .contains("`bodies`: `user_agent` is not a body column"),
            "{error}"
        );
        let event_rule = RULE.replace("-- dedup:", "-- bodies: request_object($.spec)\n-- dedup:");
        let error = parse_rule(Path::new("q/pod-exec.sql"), &event_rule).unwrap_err();
        assert!(
            error
                .message
                .contains("`bodies` applies to window and sequence rules only"),
            "{error}"
        );
    }

    #[test]
    fn a_window_rule_names_its_compaction_keys() {
        let baseline = RULE
            .replace(
                "-- mode: event",
                "-- mode: sequence\n-- window: 30d\n-- filter: verb = 'create'",
            )
            .replace(
                "-- dedup:",
                "-- compact: cluster,\n--   lower(user_name)\n-- dedup:",
            );
        let rule = parse_rule(Path::new("q/pod-exec.sql"), &baseline).unwrap();
        let window = rule.window.unwrap();
        assert_eq!(window.compact.as_deref(), Some("cluster, lower(user_name)"));
        let plain = RULE.replace(
            "-- mode: event",
            "-- mode: window\n-- window: 1h\n-- filter: true",
        );
        let rule = parse_rule(Path::new("q/pod-exec.sql"), &plain).unwrap();
        assert_eq!(rule.window.unwrap().compact, None);
    }
}
