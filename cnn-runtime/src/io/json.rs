//! The little JSON a safetensors header needs: a strict reader (RFC 8259, no extensions, duplicate
//! keys refused, nesting bounded) that never panics, and string quoting for the writer.

use std::fmt;

/// Nesting deeper than this is refused (a safetensors header nests three levels).
const MAX_DEPTH: usize = 64;

/// A parsed JSON value. Objects keep their keys in file order.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    /// The number's text, already checked against the JSON grammar.
    Number(String),
    String(String),
    Array(Vec<Value>),
    Object(Vec<(String, Value)>),
}

impl Value {
    /// The number as a non-negative integer, if it is one written without fraction or exponent
    /// and fits in a `u64`.
    pub(crate) fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Number(text) if text.bytes().all(|b| b.is_ascii_digit()) => text.parse().ok(),
            _ => None,
        }
    }

    /// What kind of value this is, for error messages.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        }
    }
}

/// Why a text is not JSON: the byte offset where reading stopped and what was wrong there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct JsonError {
    /// Byte offset in the text.
    pub(crate) offset: usize,
    /// What was wrong.
    pub(crate) message: String,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.message, self.offset)
    }
}

/// Parses `text` as exactly one JSON value, with only whitespace around it.
pub(crate) fn parse(text: &str) -> Result<Value, JsonError> {
    let mut p = Parser { s: text.as_bytes(), pos: 0 };
    p.skip_ws();
    let value = p.value(0)?;
    p.skip_ws();
    if p.pos < p.s.len() {
        return Err(p.err("unexpected text after the end of the JSON value"));
    }
    Ok(value)
}

/// `s` as a JSON string literal, quotes included.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn err(&self, message: impl Into<String>) -> JsonError {
        JsonError { offset: self.pos, message: message.into() }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), JsonError> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected(&format!("`{}`", byte as char)))
        }
    }

    fn unexpected(&self, wanted: &str) -> JsonError {
        match self.peek() {
            None => self.err(format!("the text ends where {wanted} was expected")),
            Some(b) if b.is_ascii_graphic() => self.err(format!("found `{}` where {wanted} was expected", b as char)),
            Some(b) => self.err(format!("found byte 0x{b:02x} where {wanted} was expected")),
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, JsonError> {
        if depth > MAX_DEPTH {
            return Err(self.err(format!("values nested more than {MAX_DEPTH} deep")));
        }
        match self.peek() {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string().map(Value::String),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.unexpected("a value")),
        }
    }

    fn literal(&mut self, word: &str, value: Value) -> Result<Value, JsonError> {
        if self.s.get(self.pos..self.pos + word.len()) == Some(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.unexpected(&format!("`{word}`")))
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, JsonError> {
        self.expect(b'{')?;
        let mut entries: Vec<(String, Value)> = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Value::Object(entries));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(self.unexpected("a key in double quotes"));
            }
            let key_at = self.pos;
            let key = self.string()?;
            if entries.iter().any(|(k, _)| *k == key) {
                return Err(JsonError { offset: key_at, message: format!("the key {} appears twice", quote(&key)) });
            }
            self.skip_ws();
            self.expect(b':')?;
            self.skip_ws();
            let value = self.value(depth + 1)?;
            entries.push((key, value));
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Object(entries));
                }
                _ => return Err(self.unexpected("`,` or `}`")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, JsonError> {
        self.expect(b'[')?;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Value::Array(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.unexpected("`,` or `]`")),
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<Value, JsonError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return Err(self.err("a number with a leading zero"));
                }
            }
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.unexpected("a digit")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.unexpected("a digit after the decimal point"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.unexpected("a digit in the exponent"));
            }
        }
        // Only ASCII bytes were consumed, so this slice is valid UTF-8.
        let text = String::from_utf8_lossy(self.s.get(start..self.pos).unwrap_or_default()).into_owned();
        Ok(Value::Number(text))
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let mut v = 0u32;
        for _ in 0..4 {
            let d = match self.peek() {
                Some(b @ b'0'..=b'9') => b - b'0',
                Some(b @ b'a'..=b'f') => b - b'a' + 10,
                Some(b @ b'A'..=b'F') => b - b'A' + 10,
                _ => return Err(self.unexpected("a hexadecimal digit of a `\\u` escape")),
            };
            v = v * 16 + u32::from(d);
            self.pos += 1;
        }
        Ok(v)
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.expect(b'"')?;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(b) = self.peek() else {
                return Err(self.err("the text ends inside a string"));
            };
            match b {
                b'"' => {
                    self.pos += 1;
                    break;
                }
                b'\\' => {
                    self.pos += 1;
                    let c = match self.peek() {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.pos += 1;
                            let at = self.pos;
                            let unit = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&unit) {
                                if self.s.get(self.pos..self.pos + 2) != Some(b"\\u") {
                                    return Err(JsonError { offset: at, message: "a lone UTF-16 surrogate".into() });
                                }
                                self.pos += 2;
                                let low = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&low) {
                                    return Err(JsonError { offset: at, message: "a lone UTF-16 surrogate".into() });
                                }
                                0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                            } else {
                                unit
                            };
                            let Some(c) = char::from_u32(code) else {
                                return Err(JsonError { offset: at, message: "a lone UTF-16 surrogate".into() });
                            };
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                            continue;
                        }
                        _ => return Err(self.unexpected("an escape (`\\\"`, `\\\\`, `\\n`, `\\u0041`, …)")),
                    };
                    self.pos += 1;
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                0..=0x1f => return Err(self.err(format!("control character 0x{b:02x} inside a string"))),
                _ => {
                    out.push(b);
                    self.pos += 1;
                }
            }
        }
        // The input is a `&str` and escapes were encoded as UTF-8, so this never fails; if it did,
        // it would be reported, not panic.
        String::from_utf8(out).map_err(|_| self.err("a string that is not valid UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(entries: &[(&str, Value)]) -> Value {
        Value::Object(entries.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
    }

    #[test]
    fn io_json_reads_a_safetensors_header() {
        let text = r#" {"__metadata__": {"format": "pt"}, "0.weight": {"dtype": "F32", "shape": [6, 1, 5, 5],
            "data_offsets": [0, 600]}}   "#;
        let num = |s: &str| Value::Number(s.into());
        let want = obj(&[
            ("__metadata__", obj(&[("format", Value::String("pt".into()))])),
            (
                "0.weight",
                obj(&[
                    ("dtype", Value::String("F32".into())),
                    ("shape", Value::Array(vec![num("6"), num("1"), num("5"), num("5")])),
                    ("data_offsets", Value::Array(vec![num("0"), num("600")])),
                ]),
            ),
        ]);
        assert_eq!(parse(text), Ok(want));
    }

    #[test]
    fn io_json_reads_every_kind_of_value() {
        let v = parse(r#"[null, true, false, -0.5e+3, 0, 12, "a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00", {}, []]"#).unwrap();
        let Value::Array(items) = v else { panic!("not an array") };
        assert_eq!(items.len(), 9);
        assert_eq!(items[3], Value::Number("-0.5e+3".into()));
        assert_eq!(items[3].as_u64(), None);
        assert_eq!(items[5].as_u64(), Some(12));
        assert_eq!(items[6], Value::String("a\"\\/\u{8}\u{c}\n\r\t\u{e9}\u{1F600}".into()));
    }

    #[test]
    fn io_json_refuses_what_is_not_strict_json() {
        let bad = [
            ("", "ends where a value"),
            ("{", "ends where a key"),
            ("{\"a\":1,}", "where a key in double quotes"),
            ("[1,]", "where a value"),
            ("[1 2]", "`,` or `]`"),
            ("{\"a\" 1}", "where `:`"),
            ("{'a':1}", "key in double quotes"),
            ("01", "leading zero"),
            ("1.", "after the decimal point"),
            ("1e", "in the exponent"),
            ("-", "a digit"),
            ("+1", "a value"),
            ("tru", "`true`"),
            ("nul", "`null`"),
            ("\"abc", "ends inside a string"),
            ("\"a\tb\"", "control character 0x09"),
            ("\"\\x\"", "an escape"),
            ("\"\\u12\"", "hexadecimal digit"),
            ("\"\\ud800\"", "lone UTF-16 surrogate"),
            ("\"\\ud800\\u0041\"", "lone UTF-16 surrogate"),
            ("\"\\udc00\"", "lone UTF-16 surrogate"),
            ("{\"a\":1,\"a\":2}", "appears twice"),
            ("{} {}", "after the end"),
            ("NaN", "a value"),
        ];
        for (text, want) in bad {
            let err = parse(text).expect_err(text);
            assert!(err.to_string().contains(want), "{text:?}: {err}");
        }
        let deep = "[".repeat(10_000);
        assert!(parse(&deep).unwrap_err().message.contains("nested"));
    }

    #[test]
    fn io_json_as_u64_takes_only_plain_integers_that_fit() {
        assert_eq!(Value::Number("18446744073709551615".into()).as_u64(), Some(u64::MAX));
        assert_eq!(Value::Number("18446744073709551616".into()).as_u64(), None);
        assert_eq!(Value::Number("-1".into()).as_u64(), None);
        assert_eq!(Value::Number("1e3".into()).as_u64(), None);
        assert_eq!(Value::String("1".into()).as_u64(), None);
    }

    #[test]
    fn io_json_quote_round_trips() {
        for s in ["", "plain", "quote \" and \\ backslash", "new\nline\ttab\u{1}", "é 😀", "input 1@28x28, Dense 10"]
        {
            assert_eq!(parse(&quote(s)), Ok(Value::String(s.into())), "{s:?}");
        }
        assert_eq!(quote("\u{1f}"), "\"\\u001f\"");
    }
}
