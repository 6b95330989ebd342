//! A minimal streaming JSON object writer: appends JSON text to a `Vec<u8>` without building values.

use std::io::Write as _;

/// Writes one JSON object's members, inserting commas; strings are escaped by serde_json.
pub(super) struct Obj<'a> {
    out: &'a mut Vec<u8>,
    empty: bool,
}

impl<'a> Obj<'a> {
    /// Opens an object at the end of `out`; `finish` closes it.
    pub fn open(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Obj { out, empty: true }
    }

    pub fn finish(self) {
        self.out.push(b'}');
    }

    fn key(&mut self, key: &str) {
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
        string(self.out, key);
        self.out.push(b':');
    }

    pub fn str(&mut self, key: &str, value: &str) {
        self.key(key);
        string(self.out, value);
    }

    pub fn uint(&mut self, key: &str, value: u64) {
        self.key(key);
        // unwrap: writing into a Vec<u8> cannot fail.
        write!(self.out, "{value}").unwrap();
    }

    /// A member whose value is JSON text the caller already wrote correctly.
    pub fn raw(&mut self, key: &str, json: &[u8]) {
        self.key(key);
        self.out.extend_from_slice(json);
    }

    pub fn str_array<S: AsRef<str>>(&mut self, key: &str, values: &[S]) {
        self.key(key);
        string_array(self.out, values);
    }

    /// A member whose value `write` appends as JSON text.
    pub fn with(&mut self, key: &str, write: impl FnOnce(&mut Vec<u8>)) {
        self.key(key);
        write(self.out);
    }

    /// A nested object filled by `fill`.
    pub fn object(&mut self, key: &str, fill: impl FnOnce(&mut Obj<'_>)) {
        self.key(key);
        let mut inner = Obj::open(self.out);
        fill(&mut inner);
        inner.finish();
    }
}

/// Appends `value` as a JSON string literal.
pub(super) fn string(out: &mut Vec<u8>, value: &str) {
    // unwrap: serializing a &str into a Vec<u8> cannot fail (no I/O, no non-string keys).
    serde_json::to_writer(&mut *out, value).unwrap();
}

/// Appends `values` as a JSON array of strings.
pub(super) fn string_array<S: AsRef<str>>(out: &mut Vec<u8>, values: &[S]) {
    out.push(b'[');
    for (index, value) in values.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        string(out, value.as_ref());
    }
    out.push(b']');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_nested_objects_with_escaping() {
        let mut out = Vec::new();
        let mut obj = Obj::open(&mut out);
        obj.str("a", "say \"hi\"");
        obj.uint("n", 7);
        obj.object("o", |inner| inner.str_array("l", &["x", "y"]));
        obj.object("e", |_| {});
        obj.raw("r", b"[1]");
        obj.finish();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            r#"{"a":"say \"hi\"","n":7,"o":{"l":["x","y"]},"e":{},"r":[1]}"#
        );
    }
}
