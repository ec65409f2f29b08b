//! JSON as MyInvois signs it: the document's own key order and number text
//! kept, insignificant whitespace removed, strings written as
//! `serde_json` (and Python's `json.dumps(…, ensure_ascii=False)`) write
//! them. serde_json's `Value` would sort keys and re-print numbers, so this
//! small parser keeps what LHDN's digests are computed over. Pure.

/// A JSON value with its keys in document order and numbers as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// `{…}`, members in order.
    Object(Vec<(String, Node)>),
    /// `[…]`.
    Array(Vec<Node>),
    /// A string's value.
    Text(String),
    /// A number, `true`, `false` or `null`, as written.
    Literal(String),
}

/// Why text is not JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not JSON at byte {0}")]
pub struct JsonError(pub usize);

struct Parser<'a> {
    text: &'a [u8],
    at: usize,
}

/// Deepest nesting accepted (documents are a few levels deep; this keeps a
/// hostile input from exhausting the stack).
const DEPTH_MAX: usize = 64;

impl Parser<'_> {
    fn skip_space(&mut self) {
        while self.text.get(self.at).is_some_and(|b| matches!(b, b' ' | b'\n' | b'\r' | b'\t')) {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), JsonError> {
        self.skip_space();
        if self.text.get(self.at) == Some(&byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(JsonError(self.at))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node, JsonError> {
        if depth > DEPTH_MAX {
            return Err(JsonError(self.at));
        }
        self.skip_space();
        match self.text.get(self.at) {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string().map(Node::Text),
            Some(_) => self.literal(),
            None => Err(JsonError(self.at)),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Node, JsonError> {
        self.at += 1;
        let mut members = Vec::new();
        self.skip_space();
        if self.text.get(self.at) == Some(&b'}') {
            self.at += 1;
            return Ok(Node::Object(members));
        }
        loop {
            self.skip_space();
            let key = self.string()?;
            self.expect(b':')?;
            members.push((key, self.value(depth + 1)?));
            self.skip_space();
            match self.text.get(self.at) {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(Node::Object(members));
                }
                _ => return Err(JsonError(self.at)),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Node, JsonError> {
        self.at += 1;
        let mut items = Vec::new();
        self.skip_space();
        if self.text.get(self.at) == Some(&b']') {
            self.at += 1;
            return Ok(Node::Array(items));
        }
        loop {
            items.push(self.value(depth + 1)?);
            self.skip_space();
            match self.text.get(self.at) {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(Node::Array(items));
                }
                _ => return Err(JsonError(self.at)),
            }
        }
    }

    /// A string token, decoded (serde_json checks its escapes).
    fn string(&mut self) -> Result<String, JsonError> {
        let start = self.at;
        if self.text.get(self.at) != Some(&b'"') {
            return Err(JsonError(start));
        }
        self.at += 1;
        loop {
            match self.text.get(self.at) {
                Some(b'\\') => self.at += 2,
                Some(b'"') => break,
                Some(_) => self.at += 1,
                None => return Err(JsonError(start)),
            }
        }
        self.at += 1;
        let raw = self.text.get(start..self.at).ok_or(JsonError(start))?;
        serde_json::from_slice(raw).map_err(|_| JsonError(start))
    }

    /// A number, `true`, `false` or `null`, kept as written once checked.
    fn literal(&mut self) -> Result<Node, JsonError> {
        let start = self.at;
        while self.text.get(self.at).is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.')) {
            self.at += 1;
        }
        let raw = std::str::from_utf8(self.text.get(start..self.at).ok_or(JsonError(start))?)
            .map_err(|_| JsonError(start))?;
        match serde_json::from_str::<serde_json::Value>(raw) {
            Ok(serde_json::Value::Number(_) | serde_json::Value::Bool(_) | serde_json::Value::Null) => {
                Ok(Node::Literal(raw.to_owned()))
            }
            _ => Err(JsonError(start)),
        }
    }
}

/// Parses a JSON document (one value, nothing after it but whitespace).
///
/// # Errors
/// Text that is not JSON, or nested deeper than 64 levels.
pub fn parse(text: &str) -> Result<Node, JsonError> {
    let mut parser = Parser { text: text.as_bytes(), at: 0 };
    let value = parser.value(0)?;
    parser.skip_space();
    if parser.at == parser.text.len() { Ok(value) } else { Err(JsonError(parser.at)) }
}

impl Node {
    /// The value minified: no whitespace, keys and numbers as they are.
    #[must_use]
    pub fn minified(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        match self {
            Self::Object(members) => {
                out.push('{');
                for (index, (key, value)) in members.iter().enumerate() {
                    if index > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::Value::from(key.as_str()).to_string());
                    out.push(':');
                    value.write(out);
                }
                out.push('}');
            }
            Self::Array(items) => {
                out.push('[');
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Self::Text(text) => out.push_str(&serde_json::Value::from(text.as_str()).to_string()),
            Self::Literal(raw) => out.push_str(raw),
        }
    }

    /// The member `key` of an object.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Self> {
        match self {
            Self::Object(members) => members.iter().find(|(name, _)| name == key).map(|(_, value)| value),
            _ => None,
        }
    }

    /// The member `key` of an object, to change.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Self> {
        match self {
            Self::Object(members) => members.iter_mut().find(|(name, _)| name == key).map(|(_, value)| value),
            _ => None,
        }
    }

    /// The first item of an array.
    #[must_use]
    pub fn first(&self) -> Option<&Self> {
        match self {
            Self::Array(items) => items.first(),
            _ => None,
        }
    }

    /// The first item of an array, to change.
    pub fn first_mut(&mut self) -> Option<&mut Self> {
        match self {
            Self::Array(items) => items.first_mut(),
            _ => None,
        }
    }

    /// Removes the members with these keys from an object.
    pub fn remove(&mut self, keys: &[&str]) {
        if let Self::Object(members) = self {
            members.retain(|(name, _)| !keys.contains(&name.as_str()));
        }
    }

    /// Appends a member to an object (after the others, as LHDN's steps do).
    pub fn push(&mut self, key: &str, value: Self) {
        if let Self::Object(members) = self {
            members.push((key.to_owned(), value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_stay_in_order_and_numbers_as_written() -> Result<(), JsonError> {
        let node = parse(" { \"b\" : [ 1436.50 , 1e3, true, null ], \"a\": \"Bayar \\u00e9 \\\"x\\\"\\n\" } ")?;
        assert_eq!(node.minified(), r#"{"b":[1436.50,1e3,true,null],"a":"Bayar é \"x\"\n"}"#);
        Ok(())
    }

    #[test]
    fn broken_or_trailing_text_is_refused() {
        for bad in ["{", "[1,]", "{\"a\" 1}", "tru", "\"x", "{} x", "01x", &"[".repeat(100)] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
