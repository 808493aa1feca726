//! JSON bytes → Python objects with `simplejson.loads(bytes)` semantics (awslambdaric 4.2.2 decodes
//! every `application/json` event that way), fast path only.
//!
//! The fast path accepts exactly the documents simplejson 4.3.0 accepts and returns equal values:
//! objects → `dict` (duplicate keys: last value wins, first position kept), arrays → `list`,
//! integers → `int` (any size), numbers with a fraction or exponent → `float` (correctly rounded,
//! `1e400` → `inf`), `true`/`false`/`null`, strings with every JSON escape and joined surrogate
//! pairs, whitespace `' \t\n\r'`, an optional UTF-8 BOM. It *declines* (returns `None`) on anything
//! else — invalid UTF-8, syntax errors, `NaN`/`Infinity`, control characters in strings, lone
//! surrogate escapes, nesting deeper than [`MAX_DEPTH`], integers Python refuses to parse — and the
//! caller then runs `fastric._json_compat.loads`, which produces simplejson's value or message.

use std::sync::{Mutex, TryLockError};

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFloat, PyInt, PyList, PyString};

/// Deeper documents go to the Python slow path, whose recursion limit matches simplejson's.
const MAX_DEPTH: usize = 512;
/// Object keys up to this many bytes are looked up in / stored into the key cache.
const CACHED_KEY_MAX: usize = 64;
const KEY_CACHE_SLOTS: usize = 1024;

/// Parses `data` (the raw event body) into Python objects.
///
/// Returns `Ok(None)` when the document is not one the fast path handles (see the module doc);
/// the caller must then use the slow path, which raises simplejson's exact error if the document
/// is invalid. `Err` only for failures of Python itself (e.g. `MemoryError`).
pub(crate) fn decode<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Option<Bound<'py, PyAny>>> {
    let Ok(text) = std::str::from_utf8(data) else {
        return Ok(None);
    };
    let bytes = text.as_bytes();
    let start = if bytes.starts_with(b"\xef\xbb\xbf") { 3 } else { 0 };
    let mut parser = Parser {
        py,
        text,
        bytes,
        pos: start,
        depth: 0,
        stack: Vec::new(),
        scratch: String::new(),
        cache: match KEY_CACHE.try_lock() {
            Ok(guard) => Some(guard),
            Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            // Held by an outer decode on this thread (a finaliser re-entering) or another thread.
            Err(TryLockError::WouldBlock) => None,
        },
    };
    parser.skip_ws();
    let value = match parser.value() {
        Ok(v) => v,
        Err(Fail::Decline) => return Ok(None),
        Err(Fail::Python(err)) => return Err(err),
    };
    parser.skip_ws();
    if parser.pos != bytes.len() {
        return Ok(None);
    }
    Ok(Some(value))
}

enum Fail {
    Decline,
    Python(PyErr),
}

impl From<PyErr> for Fail {
    fn from(err: PyErr) -> Self {
        Fail::Python(err)
    }
}

type Parsed<T> = Result<T, Fail>;

/// Interned dict keys shared across calls (events repeat the same keys on every invocation).
/// One entry per slot, chosen by a hash of the key bytes; a collision simply replaces the entry.
type KeyCache = Option<Box<[Option<(Box<[u8]>, Py<PyString>)>]>>;
static KEY_CACHE: Mutex<KeyCache> = Mutex::new(None);

struct Parser<'a, 'py> {
    py: Python<'py>,
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
    /// Elements of the arrays being parsed, innermost last (one buffer for all levels).
    stack: Vec<Bound<'py, PyAny>>,
    /// Unescaped string being built when the literal has backslashes.
    scratch: String,
    cache: Option<std::sync::MutexGuard<'static, KeyCache>>,
}

impl<'py> Parser<'_, 'py> {
    #[inline]
    fn skip_ws(&mut self) {
        while let Some(&b) = self.bytes.get(self.pos) {
            if b == b' ' || b == b'\n' || b == b'\r' || b == b'\t' {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    fn value(&mut self) -> Parsed<Bound<'py, PyAny>> {
        let py = self.py;
        match self.bytes.get(self.pos) {
            Some(b'"') => {
                self.pos += 1;
                let s = self.string(false)?;
                Ok(s.into_any())
            }
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b't') => self.literal(b"true", || pyo3::types::PyBool::new(py, true).to_owned().into_any()),
            Some(b'f') => self.literal(b"false", || pyo3::types::PyBool::new(py, false).to_owned().into_any()),
            Some(b'n') => self.literal(b"null", || py.None().into_bound(py)),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(Fail::Decline),
        }
    }

    fn literal(&mut self, word: &[u8], make: impl FnOnce() -> Bound<'py, PyAny>) -> Parsed<Bound<'py, PyAny>> {
        if self.bytes[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(make())
        } else {
            Err(Fail::Decline)
        }
    }

    fn enter(&mut self) -> Parsed<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Fail::Decline);
        }
        Ok(())
    }

    fn array(&mut self) -> Parsed<Bound<'py, PyAny>> {
        self.enter()?;
        self.pos += 1;
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b']') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(PyList::empty(self.py).into_any());
        }
        let base = self.stack.len();
        loop {
            let item = self.value()?;
            self.stack.push(item);
            self.skip_ws();
            match self.bytes.get(self.pos) {
                Some(b',') => {
                    self.pos += 1;
                    self.skip_ws();
                }
                Some(b']') => {
                    self.pos += 1;
                    break;
                }
                _ => return Err(Fail::Decline),
            }
        }
        let list = PyList::new(self.py, self.stack.drain(base..))?;
        self.depth -= 1;
        Ok(list.into_any())
    }

    fn object(&mut self) -> Parsed<Bound<'py, PyAny>> {
        self.enter()?;
        self.pos += 1;
        self.skip_ws();
        let dict = PyDict::new(self.py);
        if self.bytes.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(dict.into_any());
        }
        loop {
            if self.bytes.get(self.pos) != Some(&b'"') {
                return Err(Fail::Decline);
            }
            self.pos += 1;
            let key = self.string(true)?;
            self.skip_ws();
            if self.bytes.get(self.pos) != Some(&b':') {
                return Err(Fail::Decline);
            }
            self.pos += 1;
            self.skip_ws();
            let value = self.value()?;
            dict.set_item(key, value)?;
            self.skip_ws();
            match self.bytes.get(self.pos) {
                Some(b',') => {
                    self.pos += 1;
                    self.skip_ws();
                }
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                _ => return Err(Fail::Decline),
            }
        }
        self.depth -= 1;
        Ok(dict.into_any())
    }

    /// Parses a string literal; `self.pos` is just past the opening quote.
    fn string(&mut self, is_key: bool) -> Parsed<Bound<'py, PyString>> {
        let start = self.pos;
        let bytes = self.bytes;
        let mut i = start;
        // Scan the plain run up to the first quote, backslash or control character.
        loop {
            match bytes.get(i) {
                Some(&b) if b != b'"' && b != b'\\' && b >= 0x20 => i += 1,
                _ => break,
            }
        }
        match bytes.get(i) {
            Some(b'"') => {
                self.pos = i + 1;
                let raw = &self.text[start..i];
                if is_key && raw.len() <= CACHED_KEY_MAX {
                    return Ok(self.cached_key(raw));
                }
                Ok(PyString::new(self.py, raw))
            }
            Some(b'\\') => {
                self.pos = i;
                let mut scratch = std::mem::take(&mut self.scratch);
                scratch.clear();
                scratch.push_str(&self.text[start..i]);
                let result = self.escaped_string(&mut scratch);
                let out = result.map(|()| PyString::new(self.py, &scratch));
                self.scratch = scratch;
                out
            }
            _ => Err(Fail::Decline),
        }
    }

    /// The rest of a string literal that has escapes; `self.pos` is at a backslash.
    fn escaped_string(&mut self, out: &mut String) -> Parsed<()> {
        let bytes = self.bytes;
        loop {
            let run_start = self.pos;
            let mut i = run_start;
            while let Some(&b) = bytes.get(i) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                i += 1;
            }
            out.push_str(&self.text[run_start..i]);
            match bytes.get(i) {
                Some(b'"') => {
                    self.pos = i + 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    let esc = *bytes.get(i + 1).ok_or(Fail::Decline)?;
                    self.pos = i + 2;
                    match esc {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let unit = self.hex4(self.pos)?;
                            self.pos += 4;
                            let cp = if (0xd800..0xdc00).contains(&unit) {
                                // A high surrogate must be followed by an escaped low surrogate;
                                // anything else leaves a lone surrogate: slow path.
                                if bytes.get(self.pos) != Some(&b'\\') || bytes.get(self.pos + 1) != Some(&b'u') {
                                    return Err(Fail::Decline);
                                }
                                let low = self.hex4(self.pos + 2)?;
                                if !(0xdc00..0xe000).contains(&low) {
                                    return Err(Fail::Decline);
                                }
                                self.pos += 6;
                                0x10000 + (((unit - 0xd800) << 10) | (low - 0xdc00))
                            } else {
                                unit
                            };
                            out.push(char::from_u32(cp).ok_or(Fail::Decline)?);
                        }
                        _ => return Err(Fail::Decline),
                    }
                }
                _ => return Err(Fail::Decline),
            }
        }
    }

    fn hex4(&self, at: usize) -> Parsed<u32> {
        let digits = self.bytes.get(at..at + 4).ok_or(Fail::Decline)?;
        let mut value = 0u32;
        for &d in digits {
            let nibble = match d {
                b'0'..=b'9' => d - b'0',
                b'a'..=b'f' => d - b'a' + 10,
                b'A'..=b'F' => d - b'A' + 10,
                _ => return Err(Fail::Decline),
            };
            value = (value << 4) | u32::from(nibble);
        }
        Ok(value)
    }

    fn cached_key(&mut self, raw: &str) -> Bound<'py, PyString> {
        let py = self.py;
        let Some(cache) = self.cache.as_mut() else {
            return PyString::new(py, raw);
        };
        let slots = cache.get_or_insert_with(|| (0..KEY_CACHE_SLOTS).map(|_| None).collect());
        let slot = &mut slots[key_hash(raw.as_bytes()) % KEY_CACHE_SLOTS];
        if let Some((bytes, s)) = slot {
            if **bytes == *raw.as_bytes() {
                return s.bind(py).clone();
            }
        }
        let s = PyString::new(py, raw);
        *slot = Some((raw.as_bytes().into(), s.clone().unbind()));
        s
    }

    /// simplejson's number grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?`.
    fn number(&mut self) -> Parsed<Bound<'py, PyAny>> {
        let bytes = self.bytes;
        let start = self.pos;
        let mut i = start;
        if bytes[i] == b'-' {
            i += 1;
        }
        match bytes.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                while matches!(bytes.get(i), Some(b'0'..=b'9')) {
                    i += 1;
                }
            }
            _ => return Err(Fail::Decline),
        }
        let int_end = i;
        let mut is_float = false;
        if bytes.get(i) == Some(&b'.') && matches!(bytes.get(i + 1), Some(b'0'..=b'9')) {
            i += 2;
            while matches!(bytes.get(i), Some(b'0'..=b'9')) {
                i += 1;
            }
            is_float = true;
        }
        if matches!(bytes.get(i), Some(b'e' | b'E')) {
            let mut j = i + 1;
            if matches!(bytes.get(j), Some(b'+' | b'-')) {
                j += 1;
            }
            if matches!(bytes.get(j), Some(b'0'..=b'9')) {
                while matches!(bytes.get(j), Some(b'0'..=b'9')) {
                    j += 1;
                }
                i = j;
                is_float = true;
            }
        }
        self.pos = i;
        let text = &self.text[start..i];
        let py = self.py;
        if is_float {
            let value: f64 = text.parse().map_err(|_| Fail::Decline)?;
            return Ok(PyFloat::new(py, value).into_any());
        }
        if int_end - start <= 18 {
            let value: i64 = text.parse().map_err(|_| Fail::Decline)?;
            return Ok(PyInt::new(py, value).into_any());
        }
        // Beyond i64: Python's int(); past sys.get_int_max_str_digits() let the slow path raise.
        match py.get_type::<PyInt>().call1((text,)) {
            Ok(v) => Ok(v),
            Err(_) => Err(Fail::Decline),
        }
    }
}

/// FNV-1a over the key bytes (keys are short; this is cheaper than SipHash).
fn key_hash(bytes: &[u8]) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as usize
}
