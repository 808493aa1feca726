//! A strict JSON (RFC 8259) validator for invoke payloads and client contexts: the Invoke API
//! refuses a body that is not JSON with 400 `InvalidRequestContentException` before any
//! invocation. Nothing is built; nesting is tracked with an explicit stack, so depth costs one
//! byte of heap per level and never the call stack.

/// The kind of the top-level value of a valid document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Object,
    Array,
    String,
    Number,
    Literal,
}

impl Kind {
    /// `an object`, `an array`, … for messages.
    pub(crate) fn article_name(self) -> &'static str {
        match self {
            Kind::Object => "an object",
            Kind::Array => "an array",
            Kind::String => "a string",
            Kind::Number => "a number",
            Kind::Literal => "a literal (true, false or null)",
        }
    }
}

struct Parser<'a> {
    bytes: &'a [u8],
    at: usize,
}

fn describe_byte(byte: u8) -> String {
    if byte.is_ascii_graphic() {
        format!("'{}'", byte as char)
    } else {
        format!("byte 0x{byte:02x}")
    }
}

impl Parser<'_> {
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    fn unexpected(&self, expected: &str) -> String {
        match self.bytes.get(self.at) {
            None => format!("unexpected end of input at offset {}, expected {expected}", self.at),
            Some(&b) => format!(
                "unexpected {} at offset {}, expected {expected}",
                describe_byte(b),
                self.at
            ),
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), String> {
        if self.bytes[self.at..].starts_with(word) {
            self.at += word.len();
            Ok(())
        } else {
            Err(self.unexpected("a JSON value"))
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while self.bytes.get(self.at).is_some_and(u8::is_ascii_digit) {
            self.at += 1;
        }
        self.at - start
    }

    fn number(&mut self) -> Result<(), String> {
        if self.bytes.get(self.at) == Some(&b'-') {
            self.at += 1;
        }
        match self.bytes.get(self.at) {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.unexpected("a digit")),
        }
        if self.bytes.get(self.at) == Some(&b'.') {
            self.at += 1;
            if self.digits() == 0 {
                return Err(self.unexpected("a digit after the decimal point"));
            }
        }
        if let Some(b'e' | b'E') = self.bytes.get(self.at) {
            self.at += 1;
            if let Some(b'+' | b'-') = self.bytes.get(self.at) {
                self.at += 1;
            }
            if self.digits() == 0 {
                return Err(self.unexpected("a digit in the exponent"));
            }
        }
        Ok(())
    }

    /// A string whose opening quote is at `self.at`.
    fn string(&mut self) -> Result<(), String> {
        let start = self.at;
        self.at += 1;
        loop {
            let Some(&b) = self.bytes.get(self.at) else {
                return Err(format!("unterminated string starting at offset {start}"));
            };
            match b {
                b'"' => {
                    self.at += 1;
                    return Ok(());
                }
                b'\\' => {
                    self.at += 1;
                    match self.bytes.get(self.at) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.at += 1,
                        Some(b'u') => {
                            let hex = self.bytes.get(self.at + 1..self.at + 5);
                            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                                return Err(format!(
                                    "invalid \\u escape at offset {}, expected 4 hex digits",
                                    self.at - 1
                                ));
                            }
                            self.at += 5;
                        }
                        _ => return Err(format!("invalid escape sequence at offset {}", self.at - 1)),
                    }
                }
                0..=0x1f => {
                    return Err(format!(
                        "unescaped control character 0x{b:02x} in a string at offset {}",
                        self.at
                    ))
                }
                0x20..=0x7f => self.at += 1,
                _ => {
                    let len = match b {
                        0xc2..=0xdf => 2,
                        0xe0..=0xef => 3,
                        0xf0..=0xf4 => 4,
                        _ => 0,
                    };
                    let valid = len > 0
                        && self
                            .bytes
                            .get(self.at..self.at + len)
                            .is_some_and(|seq| std::str::from_utf8(seq).is_ok());
                    if !valid {
                        return Err(format!("invalid UTF-8 in a string at offset {}", self.at));
                    }
                    self.at += len;
                }
            }
        }
    }

    /// An object key (its opening quote at `self.at`) and the `:` after it.
    fn key(&mut self) -> Result<(), String> {
        self.string()?;
        self.skip_whitespace();
        if self.bytes.get(self.at) != Some(&b':') {
            return Err(self.unexpected("':'"));
        }
        self.at += 1;
        Ok(())
    }

    /// One value that is not a container (containers are opened by the caller).
    fn scalar(&mut self) -> Result<Kind, String> {
        match self.bytes.get(self.at) {
            Some(b'"') => self.string().map(|()| Kind::String),
            Some(b't') => self.literal(b"true").map(|()| Kind::Literal),
            Some(b'f') => self.literal(b"false").map(|()| Kind::Literal),
            Some(b'n') => self.literal(b"null").map(|()| Kind::Literal),
            Some(b'-' | b'0'..=b'9') => self.number().map(|()| Kind::Number),
            _ => Err(self.unexpected("a JSON value")),
        }
    }
}

/// Checks that `bytes` is one JSON value (surrounding whitespace allowed); returns its kind, or a
/// one-line description of the first error with its byte offset.
pub(crate) fn check(bytes: &[u8]) -> Result<Kind, String> {
    let mut p = Parser { bytes, at: 0 };
    // b'{' or b'[' per open container.
    let mut stack: Vec<u8> = Vec::new();
    let mut top: Option<Kind> = None;
    p.skip_whitespace();
    'value: loop {
        // Expecting a value.
        p.skip_whitespace();
        let kind = match p.bytes.get(p.at) {
            Some(&open @ (b'{' | b'[')) => {
                p.at += 1;
                stack.push(open);
                top.get_or_insert(if open == b'{' { Kind::Object } else { Kind::Array });
                p.skip_whitespace();
                if open == b'{' {
                    match p.bytes.get(p.at) {
                        Some(b'}') => {
                            p.at += 1;
                            stack.pop();
                        }
                        Some(b'"') => {
                            p.key()?;
                            continue 'value;
                        }
                        _ => return Err(p.unexpected("a string key or '}'")),
                    }
                } else if p.bytes.get(p.at) == Some(&b']') {
                    p.at += 1;
                    stack.pop();
                } else {
                    continue 'value;
                }
                None
            }
            _ => Some(p.scalar()?),
        };
        if top.is_none() {
            top = kind;
        }
        // After a value: close containers or move to the next member.
        loop {
            p.skip_whitespace();
            let Some(&open) = stack.last() else {
                if p.at < p.bytes.len() {
                    return Err(p.unexpected("the end of input after the JSON value"));
                }
                return top.ok_or_else(|| p.unexpected("a JSON value"));
            };
            let close = if open == b'{' { b'}' } else { b']' };
            match p.bytes.get(p.at) {
                Some(&b) if b == close => {
                    p.at += 1;
                    stack.pop();
                }
                Some(b',') => {
                    p.at += 1;
                    if open == b'{' {
                        p.skip_whitespace();
                        if p.bytes.get(p.at) != Some(&b'"') {
                            return Err(p.unexpected("a string key"));
                        }
                        p.key()?;
                    }
                    continue 'value;
                }
                _ => {
                    return Err(p.unexpected(if open == b'{' { "',' or '}'" } else { "',' or ']'" }));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_documents() {
        for (text, kind) in [
            (&b"{}"[..], Kind::Object),
            (
                b" {\"a\": [1, -2.5e+3, true, null, \"x\\u00e9\\n\"], \"b\": {}} ",
                Kind::Object,
            ),
            (b"[]", Kind::Array),
            (b"[[[]]]", Kind::Array),
            (b"\"caf\xc3\xa9\"", Kind::String),
            (b"0", Kind::Number),
            (b"null", Kind::Literal),
        ] {
            assert_eq!(check(text), Ok(kind), "{}", String::from_utf8_lossy(text));
        }
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(check(deep.as_bytes()), Ok(Kind::Array));
    }

    #[test]
    fn errors_name_the_offset() {
        for (text, message) in [
            (&b"hello"[..], "unexpected 'h' at offset 0, expected a JSON value"),
            (b"", "unexpected end of input at offset 0, expected a JSON value"),
            (b"{\"a\":1,}", "unexpected '}' at offset 7, expected a string key"),
            (b"[1 2]", "unexpected '2' at offset 3, expected ',' or ']'"),
            (
                b"{} x",
                "unexpected 'x' at offset 3, expected the end of input after the JSON value",
            ),
            (b"\"\xff\"", "invalid UTF-8 in a string at offset 1"),
            (
                b"01",
                "unexpected '1' at offset 1, expected the end of input after the JSON value",
            ),
            (
                b"[1.",
                "unexpected end of input at offset 3, expected a digit after the decimal point",
            ),
        ] {
            assert_eq!(
                check(text),
                Err(message.to_owned()),
                "{}",
                String::from_utf8_lossy(text)
            );
        }
        assert!(check(b"[").is_err());
        assert!(check(b"{\"a\"").is_err());
    }
}
