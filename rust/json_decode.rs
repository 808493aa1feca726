//! JSON bytes → Python objects with `simplejson.loads(bytes)` semantics (awslambdaric 4.2.2 decodes
//! every `application/json` event that way), fast path only.
//!
//! The fast path accepts exactly the documents simplejson 4.3.0 accepts and returns equal values:
//! objects → `dict` (duplicate keys: last value wins, first position kept), arrays → `list`,
//! integers → `int` (any size), numbers with a fraction or exponent → `float` (correctly rounded,
//! `1e400` → `inf`), `true`/`false`/`null`, strings with every JSON escape, joined surrogate
//! pairs and lone surrogate escapes (kept as lone surrogates, as simplejson does), whitespace
//! `' \t\n\r'`, an optional UTF-8 BOM. It *declines* (returns `None`) on anything else — invalid
//! UTF-8, syntax errors, `NaN`/`Infinity` (simplejson 4.3 rejects them), control characters in
//! strings, nesting deeper than [`MAX_DEPTH`], integers Python refuses to parse — and the caller
//! then runs `fastric._json_compat.loads`, which produces simplejson's value or message.

// Raw `pyo3::ffi` only where strings are built: ASCII strings copied without CPython's UTF-8
// decoder (`new_str`, measured ~5% of decoding a 1 MB event), other text through the decoder in
// one pass (`decode_utf8`), text with lone surrogates from UCS-4 (`str_with_surrogates`). Each block
// carries a SAFETY comment.
#![allow(unsafe_code)]

use std::sync::{Mutex, TryLockError};

use pyo3::ffi;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyFloat, PyInt, PyList, PyString};

use crate::json_scan::scan_plain;

/// Deeper documents go to the Python slow path, whose recursion limit matches simplejson's.
const MAX_DEPTH: usize = 512;
/// Object keys up to this many bytes are looked up in / stored into the string cache.
const CACHED_KEY_MAX: usize = 64;
/// String values up to this many bytes are too (type tags, regions, event names, versions: the
/// values that repeat on every record); longer ones are mostly unique ids and payloads.
const CACHED_VALUE_MAX: usize = 24;
const KEY_CACHE_SLOTS: usize = 1024;
/// Values get slots of their own, after the keys', so unique values never evict keys.
const VALUE_CACHE_SLOTS: usize = 512;

/// `json_loads`: the fast path, else `fastric._json_compat.loads(data)` (which raises
/// simplejson's exception and message for invalid documents).
pub(crate) fn loads<'py>(py: Python<'py>, data: &Bound<'py, PyBytes>) -> PyResult<Bound<'py, PyAny>> {
    if let Some(value) = decode(py, data.as_bytes())? {
        return Ok(value);
    }
    py.import(intern!(py, "fastric._json_compat"))?
        .getattr(intern!(py, "loads"))?
        .call1((data,))
}

/// Documents from this size (bytes) are decoded with the cyclic GC paused.
const GC_PAUSE_FROM: usize = 64 * 1024;

/// Runs `f` with Python's cyclic garbage collector disabled (if it was enabled), re-enabling it
/// afterwards. A decoded document cannot contain cycles, yet every list and nested dict it
/// creates counts towards the GC thresholds: on a 1 MB event the collections triggered while
/// building it (including full ones) cost about a fifth of the decode time. They are only
/// deferred: the next collection sees the new objects once.
fn with_gc_paused<T>(py: Python<'_>, f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    let gc = py.import(intern!(py, "gc"))?;
    let was_enabled = gc.call_method0(intern!(py, "isenabled"))?.is_truthy()?;
    if was_enabled {
        gc.call_method0(intern!(py, "disable"))?;
    }
    let result = f();
    if was_enabled {
        gc.call_method0(intern!(py, "enable"))?;
    }
    result
}

/// Parses `data` (the raw event body) into Python objects.
///
/// Returns `Ok(None)` when the document is not one the fast path handles (see the module doc);
/// the caller must then use the slow path, which raises simplejson's exact error if the document
/// is invalid. `Err` only for failures of Python itself (e.g. `MemoryError`). Documents of
/// [`GC_PAUSE_FROM`] bytes or more are decoded with the cyclic GC paused.
pub(crate) fn decode<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Option<Bound<'py, PyAny>>> {
    if data.len() >= GC_PAUSE_FROM {
        with_gc_paused(py, || decode_unpaused(py, data))
    } else {
        decode_unpaused(py, data)
    }
}

fn decode_unpaused<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Option<Bound<'py, PyAny>>> {
    // UTF-8 is checked per string (only strings holding bytes >= 0x80 need it): outside strings
    // the grammar admits ASCII only, so any other byte there already makes the parse decline.
    let bytes = data;
    let start = if bytes.starts_with(b"\xef\xbb\xbf") { 3 } else { 0 };
    let mut parser = Parser {
        py,
        bytes,
        pos: start,
        depth: 0,
        stack: Vec::new(),
        scratch: Vec::new(),
        lone_surrogate: false,
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

/// Interned dict keys and short string values shared across calls (events repeat the same keys, and
/// many short values, on every record and invocation): equal strings come back as one `str` object
/// (unobservable but through `is`/`id()`, as with `CPython`'s own interning), so they are neither
/// allocated nor freed again. One entry per slot, chosen by a hash of the bytes; a collision simply
/// replaces the entry. Slots `0..KEY_CACHE_SLOTS` hold keys, the rest values.
type KeyCache = Option<Box<[KeySlot]>>;

/// One cache entry; the key bytes are stored inline so a lookup touches one cache line or two.
struct KeySlot {
    len: usize,
    bytes: [u8; CACHED_KEY_MAX],
    key: Option<Py<PyString>>,
}
static KEY_CACHE: Mutex<KeyCache> = Mutex::new(None);

struct Parser<'a, 'py> {
    py: Python<'py>,
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
    /// Elements of the arrays being parsed, innermost last (one buffer for all levels).
    stack: Vec<Bound<'py, PyAny>>,
    /// Unescaped string being built when the literal has backslashes (UTF-8 checked at the end).
    scratch: Vec<u8>,
    /// The string in `scratch` holds a lone surrogate from a `\\udXXX` escape.
    lone_surrogate: bool,
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
        // The plain run up to the first quote, backslash or control character.
        let (i, ascii) = scan_string(bytes, start);
        match bytes.get(i) {
            Some(b'"') => {
                self.pos = i + 1;
                let raw = &bytes[start..i];
                if raw.len() <= (if is_key { CACHED_KEY_MAX } else { CACHED_VALUE_MAX }) {
                    return self.cached_str(raw, ascii, is_key);
                }
                new_str(self.py, raw, ascii)
            }
            Some(b'\\') => {
                self.pos = i;
                let mut scratch = std::mem::take(&mut self.scratch);
                scratch.clear();
                scratch.extend_from_slice(&bytes[start..i]);
                self.lone_surrogate = false;
                let result = self.escaped_string(&mut scratch);
                let out = result.and_then(|all_ascii| {
                    if self.lone_surrogate {
                        // `surrogatepass` would also let raw surrogate bytes of the document
                        // through: those are invalid input, so check the literal's own bytes.
                        std::str::from_utf8(&bytes[start..self.pos]).map_err(|_| Fail::Decline)?;
                        str_with_surrogates(self.py, &scratch)
                    } else {
                        new_str(self.py, &scratch, ascii && all_ascii)
                    }
                });
                self.scratch = scratch;
                out
            }
            _ => Err(Fail::Decline),
        }
    }

    /// The rest of a string literal that has escapes; `self.pos` is at a backslash. Returns whether
    /// everything appended to `out` was ASCII. `out` is not checked for UTF-8 here: runs are split
    /// at ASCII backslashes and escapes append whole characters, so `out` is valid UTF-8 exactly
    /// when every raw run is.
    fn escaped_string(&mut self, out: &mut Vec<u8>) -> Parsed<bool> {
        let bytes = self.bytes;
        let mut all_ascii = true;
        loop {
            let run_start = self.pos;
            // Escapes often follow each other (`\u00e9\u00e8`, all of a CJK string under
            // `ensure_ascii`): skip the scan when the next byte is already a backslash.
            let i = if bytes.get(run_start) == Some(&b'\\') {
                run_start
            } else {
                let (i, ascii) = scan_string(bytes, run_start);
                all_ascii &= ascii;
                out.extend_from_slice(&bytes[run_start..i]);
                i
            };
            match bytes.get(i) {
                Some(b'"') => {
                    self.pos = i + 1;
                    return Ok(all_ascii);
                }
                Some(b'\\') => {
                    let esc = *bytes.get(i + 1).ok_or(Fail::Decline)?;
                    self.pos = i + 2;
                    match esc {
                        b'"' => out.push(b'"'),
                        b'\\' => out.push(b'\\'),
                        b'/' => out.push(b'/'),
                        b'b' => out.push(0x08),
                        b'f' => out.push(0x0c),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let unit = self.hex4(self.pos)?;
                            self.pos += 4;
                            // The common cases first, written directly (`ensure_ascii` documents
                            // carry every non-ASCII character this way).
                            if unit < 0x80 {
                                out.push(unit as u8);
                                continue;
                            }
                            if unit < 0x800 {
                                all_ascii = false;
                                out.extend_from_slice(&[0xc0 | (unit >> 6) as u8, 0x80 | (unit & 0x3f) as u8]);
                                continue;
                            }
                            if !(0xd800..0xe000).contains(&unit) {
                                all_ascii = false;
                                out.extend_from_slice(&[
                                    0xe0 | (unit >> 12) as u8,
                                    0x80 | ((unit >> 6) & 0x3f) as u8,
                                    0x80 | (unit & 0x3f) as u8,
                                ]);
                                continue;
                            }
                            let mut cp = unit;
                            if (0xd800..0xdc00).contains(&unit)
                                && bytes.get(self.pos) == Some(&b'\\')
                                && bytes.get(self.pos + 1) == Some(&b'u')
                            {
                                // A high surrogate joins an escaped low surrogate after it; any
                                // other escape after it is left for the next round (simplejson).
                                if let Ok(low) = self.hex4(self.pos + 2) {
                                    if (0xdc00..0xe000).contains(&low) {
                                        self.pos += 6;
                                        cp = 0x10000 + (((unit - 0xd800) << 10) | (low - 0xdc00));
                                    }
                                }
                            }
                            if let Some(c) = char::from_u32(cp) {
                                all_ascii &= c.is_ascii();
                                out.extend_from_slice(c.encode_utf8(&mut [0u8; 4]).as_bytes());
                            } else {
                                // A lone surrogate: its generalized UTF-8 (ED A0..BF xx), let
                                // through by `surrogatepass` when the string is built.
                                all_ascii = false;
                                self.lone_surrogate = true;
                                out.extend_from_slice(&[
                                    0xe0 | (cp >> 12) as u8,
                                    0x80 | ((cp >> 6) & 0x3f) as u8,
                                    0x80 | (cp & 0x3f) as u8,
                                ]);
                            }
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
        let mut v = 0u32;
        let mut seen = 0u8;
        for &d in digits {
            let nibble = HEX_VALUE[usize::from(d)];
            seen |= nibble;
            v = (v << 4) | u32::from(nibble & 0x0f);
        }
        // Every invalid digit maps to 0xff: any high bit seen means one was there.
        if seen > 0x0f {
            return Err(Fail::Decline);
        }
        Ok(v)
    }

    /// A dict key of up to [`CACHED_KEY_MAX`] bytes. Only valid keys are ever stored, so a hit on
    /// the same bytes needs no UTF-8 check.
    fn cached_str(&mut self, raw_bytes: &[u8], ascii: bool, is_key: bool) -> Parsed<Bound<'py, PyString>> {
        let py = self.py;
        let Some(cache) = self.cache.as_mut() else {
            return new_str(py, raw_bytes, ascii);
        };
        let slots = cache.get_or_insert_with(|| {
            (0..KEY_CACHE_SLOTS + VALUE_CACHE_SLOTS)
                .map(|_| KeySlot {
                    len: 0,
                    bytes: [0; CACHED_KEY_MAX],
                    key: None,
                })
                .collect()
        });
        let index = if is_key {
            key_hash(raw_bytes) % KEY_CACHE_SLOTS
        } else {
            KEY_CACHE_SLOTS + key_hash(raw_bytes) % VALUE_CACHE_SLOTS
        };
        let slot = &mut slots[index];
        if let Some(key) = &slot.key {
            if slot.len == raw_bytes.len() && slot.bytes[..raw_bytes.len()] == *raw_bytes {
                return Ok(key.bind(py).clone());
            }
        }
        let s = new_str(py, raw_bytes, ascii)?;
        slot.len = raw_bytes.len();
        slot.bytes[..raw_bytes.len()].copy_from_slice(raw_bytes);
        slot.key = Some(s.clone().unbind());
        Ok(s)
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
        // Only ASCII digits, signs, '.', 'e' and 'E' were accepted above.
        let text = std::str::from_utf8(&bytes[start..i]).map_err(|_| Fail::Decline)?;
        let py = self.py;
        if is_float {
            let value: f64 = text.parse().map_err(|_| Fail::Decline)?;
            return Ok(PyFloat::new(py, value).into_any());
        }
        if int_end - start <= 18 {
            let value: i64 = text.parse().map_err(|_| Fail::Decline)?;
            return Ok(PyInt::new(py, value).into_any());
        }
        if int_end - start <= 38 {
            // Up to 38 digits fit an i128, which PyO3 hands to CPython as bytes (no digit string).
            let value: i128 = text.parse().map_err(|_| Fail::Decline)?;
            let Ok(int) = value.into_pyobject(py);
            return Ok(int.into_any());
        }
        // Beyond i64: Python's int(); past sys.get_int_max_str_digits() let the slow path raise.
        match py.get_type::<PyInt>().call1((text,)) {
            Ok(v) => Ok(v),
            Err(_) => Err(Fail::Decline),
        }
    }
}

/// Hex digit values; 0xff for every byte that is not one.
static HEX_VALUE: [u8; 256] = {
    let mut table = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        table[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

/// A cheap hash of a short key: its length and its first and last (up to) eight bytes.
/// Keys that share those only evict each other from the cache; lookups compare all bytes.
fn key_hash(bytes: &[u8]) -> usize {
    let n = bytes.len();
    let (head, tail) = if n >= 8 {
        (load_u64(&bytes[..8]), load_u64(&bytes[n - 8..]))
    } else {
        let mut word = 0u64;
        for &b in bytes {
            word = (word << 8) | u64::from(b);
        }
        (word, 0)
    };
    let h = (head ^ tail.rotate_left(29) ^ (n as u64)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (h >> 32) as usize
}

#[inline]
fn load_u64(bytes: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[..8]);
    u64::from_le_bytes(word)
}

/// End of the plain run of a string body from `i` (see [`scan_plain`]), and whether it was all
/// ASCII: one pass, so [`new_str`] need not look at the bytes again. DEL (0x7f) is ASCII; the first
/// byte >= 0x80 switches to the scan that only stops at `"`, `\\` and control characters.
#[inline]
fn scan_string(bytes: &[u8], mut i: usize) -> (usize, bool) {
    loop {
        i = scan_plain(bytes, i, true);
        match bytes.get(i) {
            Some(0x7f) => i += 1,
            Some(&b) if b >= 0x80 => return (scan_plain(bytes, i, false), false),
            _ => return (i, true),
        }
    }
}

/// A new `str` from UTF-8 `raw` by `CPython`'s own decoder (one pass: it validates while it
/// builds the string, so Rust does not check the bytes first). Invalid UTF-8 declines (the slow
/// path raises simplejson's message).
fn decode_utf8<'py>(py: Python<'py>, raw: &[u8]) -> Parsed<Bound<'py, PyString>> {
    let len = ffi::Py_ssize_t::try_from(raw.len()).map_err(|_| Fail::Decline)?;
    let errors: &std::ffi::CStr = c"strict";
    // SAFETY: we hold the GIL; `raw` is valid for `len` bytes and `errors` is NUL-terminated.
    // The result is a new reference to a `str`, or NULL with an exception set.
    unsafe {
        let ptr = ffi::PyUnicode_DecodeUTF8(raw.as_ptr().cast(), len, errors.as_ptr());
        if ptr.is_null() {
            let err = PyErr::fetch(py);
            return if err.is_instance_of::<pyo3::exceptions::PyUnicodeDecodeError>(py) {
                Err(Fail::Decline)
            } else {
                Err(Fail::Python(err))
            };
        }
        Ok(Bound::from_owned_ptr(py, ptr).cast_into_unchecked())
    }
}

/// A new `str` from `wtf8`: well-formed UTF-8 in which lone surrogates (U+D800..U+DFFF, from
/// `\\udXXX` escapes) appear as their three-byte generalized UTF-8 form, as `escaped_string`
/// writes them. Decoded here to code points and handed to `CPython` as UCS-4 (its UTF-8 decoder
/// would only take surrogates through the much slower `surrogatepass` error handler).
fn str_with_surrogates<'py>(py: Python<'py>, wtf8: &[u8]) -> Parsed<Bound<'py, PyString>> {
    let mut units: Vec<u32> = Vec::with_capacity(wtf8.len());
    let mut i = 0;
    while let Some(&b) = wtf8.get(i) {
        let (cp, n) = match b {
            0x00..=0x7f => (u32::from(b), 1),
            0xc0..=0xdf => ((u32::from(b & 0x1f) << 6) | cont(wtf8, i + 1), 2),
            0xe0..=0xef => (
                (u32::from(b & 0x0f) << 12) | (cont(wtf8, i + 1) << 6) | cont(wtf8, i + 2),
                3,
            ),
            _ => (
                (u32::from(b & 0x07) << 18) | (cont(wtf8, i + 1) << 12) | (cont(wtf8, i + 2) << 6) | cont(wtf8, i + 3),
                4,
            ),
        };
        units.push(cp);
        i += n;
    }
    let len = ffi::Py_ssize_t::try_from(units.len()).map_err(|_| Fail::Decline)?;
    // SAFETY: we hold the GIL; `units` holds `len` UCS-4 code units (all ≤ 0x10FFFF: they come
    // from well-formed sequences). CPython copies them into a new compact string of the narrowest
    // kind, or returns NULL with an exception set.
    unsafe {
        let ptr = ffi::PyUnicode_FromKindAndData(ffi::PyUnicode_4BYTE_KIND as _, units.as_ptr().cast(), len);
        if ptr.is_null() {
            return Err(Fail::Python(PyErr::fetch(py)));
        }
        Ok(Bound::from_owned_ptr(py, ptr).cast_into_unchecked())
    }
}

/// The six payload bits of the continuation byte at `at` (0 past the end).
#[inline]
fn cont(bytes: &[u8], at: usize) -> u32 {
    bytes.get(at).map_or(0, |&b| u32::from(b & 0x3f))
}

/// A new `str` from the UTF-8 bytes `raw` of a string body; `ascii` says (from [`scan_string`])
/// that every byte is below 0x80. ASCII text is copied straight into a fresh compact ASCII string,
/// skipping `CPython`'s UTF-8 decoder (measured: ~5% of decoding a 1 MB event); other text must be
/// valid UTF-8 or the parse declines (the slow path raises simplejson's message).
fn new_str<'py>(py: Python<'py>, raw: &[u8], ascii: bool) -> Parsed<Bound<'py, PyString>> {
    if !ascii {
        return decode_utf8(py, raw);
    }
    debug_assert!(raw.is_ascii());
    let len = ffi::Py_ssize_t::try_from(raw.len()).map_err(|_| pyo3::exceptions::PyMemoryError::new_err(()))?;
    // SAFETY: we hold the GIL (`py`). `PyUnicode_New(len, 127)` returns a new reference to a
    // compact ASCII string with room for exactly `len` one-byte characters (plus the NUL it
    // already wrote), or NULL with an exception set. Every byte of `raw` is ASCII (< 128): callers
    // pass `ascii` only as computed by `scan_string` over exactly these bytes (or `char::is_ascii`
    // for escapes), whose scan is checked against a byte-by-byte reference in json_scan's tests.
    // So copying its `len` bytes into the data area yields a valid, fully initialised `str` before
    // any other code can see it; its hash is computed lazily by CPython as for any new string.
    unsafe {
        let ptr = ffi::PyUnicode_New(len, 127);
        if ptr.is_null() {
            return Err(Fail::Python(PyErr::fetch(py)));
        }
        std::ptr::copy_nonoverlapping(raw.as_ptr(), ffi::PyUnicode_DATA(ptr).cast::<u8>(), raw.len());
        Ok(Bound::from_owned_ptr(py, ptr).cast_into_unchecked())
    }
}
