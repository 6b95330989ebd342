//! Finding one value in JSON text without decoding the rest: the members and elements passed
//! over are skipped by their brackets and quotes only. The text columns rules read (request and
//! response bodies, pod specs cut from them) were checked as JSON when the event was decoded,
//! so nothing here validates what it skips; text that is not JSON gives [`Malformed`] where its
//! structure breaks (an unclosed string or bracket, a missing `:` or `,`), never a panic, and
//! the callers then fall back on a validating parser.

use std::borrow::Cow;
use std::ops::Range;

/// The text is not JSON where it was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Malformed;

pub(crate) type Scan<T> = Result<T, Malformed>;

/// One step of a path: a member of an object or an element of an array (negative: from the
/// end).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Step<'p> {
    Member(Cow<'p, str>),
    Index(isize),
}

/// How a path is followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// As `datafusion-functions-json` does: the first of several members of the same name; a
    /// member name that spells a number picks that element of an array.
    FunctionsJson,
    /// As JSONPath over a parsed document: the last of several members of the same name (as
    /// the API server, decoding a request, has it); names pick members only.
    JsonPath,
}

/// Nesting deeper than this is not followed (brackets are matched on a 128-bit stack).
const MAX_DEPTH: u32 = 128;

fn skip_whitespace(text: &[u8], mut at: usize) -> usize {
    while at < text.len() && matches!(text[at], b' ' | b'\n' | b'\r' | b'\t') {
        at += 1;
    }
    at
}

/// The end (one past the closing quote) of the string whose opening quote is at `at`.
fn string_end(text: &[u8], at: usize) -> Scan<usize> {
    let mut from = at + 1;
    loop {
        let found = from
            + memchr::memchr2(b'"', b'\\', text.get(from..).ok_or(Malformed)?).ok_or(Malformed)?;
        if text[found] == b'"' {
            return Ok(found + 1);
        }
        // The escaped character cannot end the string (`\"`, `\\`, `\uXXXX`).
        from = found + 2;
    }
}

/// The end of the object or array whose opening bracket is at `at`.
fn container_end(text: &[u8], at: usize) -> Scan<usize> {
    // One bit per open bracket: 1 for an object, 0 for an array.
    let mut open: u128 = 0;
    let mut depth = 0u32;
    let mut index = at;
    while index < text.len() {
        match text[index] {
            b'"' => {
                index = string_end(text, index)?;
                continue;
            }
            bracket @ (b'{' | b'[') => {
                if depth == MAX_DEPTH {
                    return Err(Malformed);
                }
                open = (open << 1) | u128::from(bracket == b'{');
                depth += 1;
            }
            bracket @ (b'}' | b']') => {
                if depth == 0 || (open & 1 == 1) != (bracket == b'}') {
                    return Err(Malformed);
                }
                open >>= 1;
                depth -= 1;
                if depth == 0 {
                    return Ok(index + 1);
                }
            }
            _ => {}
        }
        index += 1;
    }
    Err(Malformed)
}

/// The end of the value starting at `at` (no whitespace before it).
pub(crate) fn value_end(text: &[u8], at: usize) -> Scan<usize> {
    match text.get(at).ok_or(Malformed)? {
        b'"' => string_end(text, at),
        b'{' | b'[' => container_end(text, at),
        b',' | b':' | b'}' | b']' => Err(Malformed),
        _ => {
            let mut end = at;
            while end < text.len()
                && !matches!(text[end], b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t')
            {
                end += 1;
            }
            Ok(end)
        }
    }
}

/// The key of the member whose opening quote is at `at`, decoded, and the end of its text.
fn key(text: &str, at: usize) -> Scan<(Cow<'_, str>, usize)> {
    let end = string_end(text.as_bytes(), at)?;
    let raw = text.get(at + 1..end - 1).ok_or(Malformed)?;
    if !raw.contains('\\') {
        return Ok((Cow::Borrowed(raw), end));
    }
    let decoded: String = serde_json::from_str(&text[at..end]).map_err(|_| Malformed)?;
    Ok((Cow::Owned(decoded), end))
}

/// Where the value of member `name` of the object at `at` starts, if it has one.
fn member(text: &str, at: usize, name: &str, dialect: Dialect) -> Scan<Option<usize>> {
    let mut found = None;
    members(text, at, |current, value| {
        if current == name {
            found = Some(value.start);
            // The first counts: what follows is not read.
            return Ok(dialect != Dialect::FunctionsJson);
        }
        Ok(true)
    })?;
    Ok(found)
}

/// Calls `visit` with each member of the object at `at`, in order: its name (decoded) and the
/// text range of its value; stops when `visit` answers `false`.
pub(crate) fn members<'t>(
    text: &'t str,
    at: usize,
    mut visit: impl FnMut(Cow<'t, str>, Range<usize>) -> Scan<bool>,
) -> Scan<()> {
    let bytes = text.as_bytes();
    if bytes.get(at) != Some(&b'{') {
        return Err(Malformed);
    }
    let mut index = skip_whitespace(bytes, at + 1);
    if bytes.get(index) == Some(&b'}') {
        return Ok(());
    }
    loop {
        if bytes.get(index) != Some(&b'"') {
            return Err(Malformed);
        }
        let (name, after_key) = key(text, index)?;
        index = skip_whitespace(bytes, after_key);
        if bytes.get(index) != Some(&b':') {
            return Err(Malformed);
        }
        let start = skip_whitespace(bytes, index + 1);
        let end = value_end(bytes, start)?;
        if !visit(name, start..end)? {
            return Ok(());
        }
        index = skip_whitespace(bytes, end);
        match bytes.get(index) {
            Some(b',') => index = skip_whitespace(bytes, index + 1),
            Some(b'}') => return Ok(()),
            _ => return Err(Malformed),
        }
    }
}

/// The text ranges of the elements of the array at `at`.
pub(crate) fn elements(text: &[u8], at: usize, into: &mut Vec<Range<usize>>) -> Scan<()> {
    into.clear();
    let mut index = skip_whitespace(text, at + 1);
    if text.get(index) == Some(&b']') {
        return Ok(());
    }
    loop {
        let end = value_end(text, index)?;
        into.push(index..end);
        index = skip_whitespace(text, end);
        match text.get(index) {
            Some(b',') => index = skip_whitespace(text, index + 1),
            Some(b']') => return Ok(()),
            _ => return Err(Malformed),
        }
    }
}

/// Where element `index` of the array at `at` starts (a negative index counts from the end).
fn element(text: &[u8], at: usize, index: isize) -> Scan<Option<usize>> {
    if index < 0 {
        let mut all = Vec::new();
        elements(text, at, &mut all)?;
        return Ok(all
            .len()
            .checked_add_signed(index)
            .map(|position| all[position].start));
    }
    let mut current = skip_whitespace(text, at + 1);
    if text.get(current) == Some(&b']') {
        return Ok(None);
    }
    for _ in 0..index {
        current = skip_whitespace(text, value_end(text, current)?);
        match text.get(current) {
            Some(b',') => current = skip_whitespace(text, current + 1),
            Some(b']') => return Ok(None),
            _ => return Err(Malformed),
        }
    }
    value_end(text, current)?;
    Ok(Some(current))
}

/// The text range of the value at `path` in `text`, or `None` when the path leads nowhere (a
/// member that is not there, an element past the end, a step into a value of another kind).
pub(crate) fn find(text: &str, path: &[Step<'_>], dialect: Dialect) -> Scan<Option<Range<usize>>> {
    let bytes = text.as_bytes();
    let mut at = skip_whitespace(bytes, 0);
    for step in path {
        let next = match (step, bytes.get(at)) {
            (Step::Member(name), Some(b'{')) => member(text, at, name, dialect)?,
            (Step::Index(index), Some(b'[')) => element(bytes, at, *index)?,
            (Step::Member(name), Some(b'[')) if dialect == Dialect::FunctionsJson => {
                match name.parse::<isize>() {
                    Ok(index) => element(bytes, at, index)?,
                    Err(_) => None,
                }
            }
            (_, None) => return Err(Malformed),
            _ => None,
        };
        match next {
            Some(start) => at = start,
            None => return Ok(None),
        }
    }
    let end = value_end(bytes, at)?;
    Ok(Some(at..end))
}

/// One selector of a path that may select several values, as JSONPath has them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Selector<'p> {
    /// Members of an object by name, in this order (`.a`, `['a','b']`).
    Names(Vec<Cow<'p, str>>),
    /// One element of an array (`[2]`).
    Index(isize),
    /// Every element of an array (`[*]`, `.*`).
    Elements,
}

/// The text ranges of every value `path` selects in `text`, in the order JSONPath gives them
/// over a parsed document (the last of several members of the same name counts). `None` when
/// only a parsed document answers the same way: a wildcard over an object, whose members a
/// parsed document yields in its own order, duplicates merged.
pub(crate) fn find_all(text: &str, path: &[Selector<'_>]) -> Scan<Option<Vec<Range<usize>>>> {
    let bytes = text.as_bytes();
    let mut current = vec![skip_whitespace(bytes, 0)];
    let mut next = Vec::new();
    let mut items = Vec::new();
    for selector in path {
        next.clear();
        for &at in &current {
            match (selector, bytes.get(at)) {
                (_, None) => return Err(Malformed),
                (Selector::Names(names), Some(b'{')) => {
                    for name in names {
                        next.extend(member(text, at, name, Dialect::JsonPath)?);
                    }
                }
                (Selector::Index(index), Some(b'[')) => next.extend(element(bytes, at, *index)?),
                (Selector::Elements, Some(b'[')) => {
                    elements(bytes, at, &mut items)?;
                    next.extend(items.iter().map(|item| item.start));
                }
                (Selector::Elements, Some(b'{')) => return Ok(None),
                _ => {}
            }
        }
        std::mem::swap(&mut current, &mut next);
    }
    current
        .into_iter()
        .map(|at| value_end(bytes, at).map(|end| at..end))
        .collect::<Scan<Vec<_>>>()
        .map(Some)
}

/// Whether the value at the start of `text` has an object, at any depth, in which two members
/// may have the same name. A name written with an escape counts as a possible duplicate (it
/// could spell another name), so `false` is certain and `true` means "decode to know".
pub(crate) fn may_repeat_members(text: &[u8]) -> Scan<bool> {
    const MAX_NAMES_COMPARED: usize = 64;
    // The names of each object being read, innermost last, as their raw text.
    let mut open: Vec<Option<Vec<&[u8]>>> = Vec::new();
    let mut index = skip_whitespace(text, 0);
    // Whether the string about to be read is a member's name.
    let mut expect_name = false;
    while index < text.len() {
        match text[index] {
            b'"' => {
                let end = string_end(text, index)?;
                if expect_name {
                    let name = &text[index + 1..end - 1];
                    if name.contains(&b'\\') {
                        return Ok(true);
                    }
                    if let Some(Some(names)) = open.last_mut() {
                        // Past this many names, comparing each with all is not worth it.
                        if names.len() == MAX_NAMES_COMPARED || names.contains(&name) {
                            return Ok(true);
                        }
                        names.push(name);
                    }
                    expect_name = false;
                }
                index = end;
                continue;
            }
            b'{' => {
                if open.len() == MAX_DEPTH as usize {
                    return Err(Malformed);
                }
                open.push(Some(Vec::new()));
                expect_name = true;
            }
            b'[' => {
                if open.len() == MAX_DEPTH as usize {
                    return Err(Malformed);
                }
                open.push(None);
            }
            bracket @ (b'}' | b']') => {
                match open.pop() {
                    Some(names) if names.is_some() == (bracket == b'}') => {}
                    _ => return Err(Malformed),
                }
                expect_name = false;
                if open.is_empty() {
                    return Ok(false);
                }
            }
            b',' => expect_name = matches!(open.last(), Some(Some(_))),
            _ => {}
        }
        index += 1;
    }
    // A scalar at the top, or text cut short.
    if open.is_empty() {
        Ok(false)
    } else {
        Err(Malformed)
    }
}

/// The string value whose text (quotes included) is `raw`, unescaped; `None` if `raw` is not a
/// string.
pub(crate) fn string_value(raw: &str) -> Option<Cow<'_, str>> {
    let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
    if !inner.contains('\\') {
        return Some(Cow::Borrowed(inner));
    }
    serde_json::from_str::<String>(raw).ok().map(Cow::Owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at<'t>(text: &'t str, path: &[Step<'_>], dialect: Dialect) -> Option<&'t str> {
        find(text, path, dialect).unwrap().map(|range| &text[range])
    }

    fn member_step(name: &str) -> Step<'_> {
        Step::Member(Cow::Borrowed(name))
    }

    #[test]
    fn values_are_found_past_everything_else() {
        let text = r#" {"a": {"x": "}]\"{", "y": [1, {"z": []}]}, "b" : [true, null, -1.5e3, "s"], "c": "d\u00e9"} "#;
        assert_eq!(
            at(
                text,
                &[member_step("a"), member_step("y"), Step::Index(1)],
                Dialect::FunctionsJson
            ),
            Some(r#"{"z": []}"#)
        );
        assert_eq!(
            at(
                text,
                &[member_step("b"), Step::Index(2)],
                Dialect::FunctionsJson
            ),
            Some("-1.5e3")
        );
        assert_eq!(
            at(
                text,
                &[member_step("b"), Step::Index(-1)],
                Dialect::FunctionsJson
            ),
            Some(r#""s""#)
        );
        assert_eq!(
            at(
                text,
                &[member_step("b"), member_step("0")],
                Dialect::FunctionsJson
            ),
            Some("true")
        );
        assert_eq!(
            at(
                text,
                &[member_step("b"), member_step("0")],
                Dialect::JsonPath
            ),
            None
        );
        assert_eq!(
            at(
                text,
                &[member_step("b"), Step::Index(4)],
                Dialect::FunctionsJson
            ),
            None
        );
        assert_eq!(
            at(
                text,
                &[member_step("b"), Step::Index(-5)],
                Dialect::FunctionsJson
            ),
            None
        );
        assert_eq!(
            at(text, &[member_step("c")], Dialect::FunctionsJson),
            Some(r#""d\u00e9""#)
        );
        assert_eq!(string_value(r#""d\u00e9""#).as_deref(), Some("dé"));
        assert_eq!(
            at(text, &[member_step("missing")], Dialect::FunctionsJson),
            None
        );
        assert_eq!(
            at(
                text,
                &[member_step("c"), member_step("x")],
                Dialect::FunctionsJson
            ),
            None
        );
        assert_eq!(
            at(text, &[], Dialect::FunctionsJson),
            Some(&text[1..text.len() - 1])
        );
    }

    #[test]
    fn duplicate_members_give_the_first_or_the_last() {
        let text = r#"{"privileged": false, "other": 1, "privileged": true}"#;
        let path = [member_step("privileged")];
        assert_eq!(at(text, &path, Dialect::FunctionsJson), Some("false"));
        assert_eq!(at(text, &path, Dialect::JsonPath), Some("true"));
        // An escaped key is the same member.
        let escaped = r#"{"priv\u0069leged": true}"#;
        assert_eq!(at(escaped, &path, Dialect::FunctionsJson), Some("true"));
    }

    #[test]
    fn repeated_member_names_are_found_at_any_depth() {
        for (text, repeats) in [
            (r#"{"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]}"#, false),
            (r#"[1, "x", {"k": "v"}, [], {}]"#, false),
            (r#"{"a":"a","b":"a"}"#, false),
            (r#"{"a":1,"b":2,"a":3}"#, true),
            (r#"{"s":{"containers":[{"name":"x","name":"y"}]}}"#, true),
            // an escape may spell a name already seen
            (r#"{"a":1,"\u0061":2}"#, true),
            // the same name in two sibling objects is no repeat
            (r#"[{"a":1},{"a":2}]"#, false),
            ("7", false),
        ] {
            assert_eq!(may_repeat_members(text.as_bytes()), Ok(repeats), "{text}");
        }
        let many: Vec<String> = (0..100).map(|i| format!("\"m{i}\":{i}")).collect();
        let many = format!("{{{}}}", many.join(","));
        assert_eq!(may_repeat_members(many.as_bytes()), Ok(true));
        for text in [r#"{"a":1"#, r#"{"a":[1}"#, r#"{"a":"x}"#, "]"] {
            assert_eq!(
                may_repeat_members(text.as_bytes()),
                Err(Malformed),
                "{text}"
            );
        }
    }

    #[test]
    fn text_that_is_not_json_is_malformed_not_a_panic() {
        for text in [
            "",
            "{",
            r#"{"a""#,
            r#"{"a": [1, 2}"#,
            r#"{"a" 1}"#,
            r#"{"a": 1 "b": 2}"#,
            r#"{"a": "unclosed}"#,
            r#"{"a": ]}"#,
        ] {
            assert_eq!(
                find(text, &[member_step("b")], Dialect::JsonPath),
                Err(Malformed),
                "{text:?}"
            );
        }
        assert_eq!(
            find("[", &[Step::Index(0)], Dialect::JsonPath),
            Err(Malformed)
        );
        assert_eq!(find("\"\\", &[], Dialect::JsonPath), Err(Malformed));
        // What the path does not reach is not read.
        assert_eq!(find("[", &[member_step("b")], Dialect::JsonPath), Ok(None));
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert_eq!(find(&deep, &[], Dialect::FunctionsJson), Err(Malformed));
    }

    #[test]
    fn array_elements_are_their_text() {
        let text = r#"[ {"a": [1]}, "x,y", 3 ,[] ]"#;
        let mut ranges = Vec::new();
        elements(text.as_bytes(), 0, &mut ranges).unwrap();
        let items: Vec<&str> = ranges.iter().map(|r| &text[r.clone()]).collect();
        assert_eq!(items, [r#"{"a": [1]}"#, r#""x,y""#, "3", "[]"]);
        elements(b"[]", 0, &mut ranges).unwrap();
        assert!(ranges.is_empty());
    }
}
