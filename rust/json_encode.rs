//! Python objects → the exact bytes of awslambdaric's `Encoder().encode(obj)` (UTF-8).
//!
//! awslambdaric 4.2.2 (`lambda_runtime_marshaller.Encoder`) is a simplejson 4.3.0 `JSONEncoder` with
//! `use_decimal=False, allow_nan=True`, `ensure_ascii` switched off only for the 3.12–3.15
//! `AWS_EXECUTION_ENV` values, separators `", "` / `": "`, `namedtuple_as_object=True`, and a
//! `default()` that writes a `Decimal` as raw `str(d)` (NaN decimals as `NaN`). The check order
//! below is simplejson's C encoder's, observed by experiment:
//! str → bytes (UTF-8 text) → None → True → False → int (`int(o)` for subclasses) →
//! float (`float(o)` for subclasses) → `_asdict()` → list → tuple → dict → `default()`.
//!
//! Raw `pyo3::ffi` in [`write_py_str`] (reading a `str`'s code units in place) and [`Encoder::int`]
//! (an overflow check without an exception); each block carries a SAFETY comment.
//!
//! Deliberate difference: with `ensure_ascii=False`, a lone surrogate is escaped as `\udXXX`
//! (simplejson would return a `str` that cannot be encoded to UTF-8 at all).

#![allow(unsafe_code)]

use std::sync::{Mutex, TryLockError};

use pyo3::exceptions::{PyRecursionError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType};

use crate::json_float::write_float_repr;
use crate::json_scan::scan_plain;

/// Nesting depth after which the encoder asks `sys.getrecursionlimit()` (once per call).
const DEPTH_CHECK_FROM: usize = 200;
/// Hard cap on nesting regardless of the Python recursion limit: keeps the Rust stack bounded
/// (measured in release: about 250 bytes of stack per level, so 2,000 levels fit a 1 MiB thread).
const DEPTH_HARD_CAP: usize = 2_000;
/// Python frames assumed to sit below the encoder (module, handler loop, …). simplejson's C encoder
/// shares the interpreter's recursion counter, so its depth limit is the recursion limit minus them.
const FRAMES_BELOW: usize = 4;

/// Appends the JSON bytes of `obj` to `out`, exactly as awslambdaric's `Encoder().encode(obj)`
/// followed by `.encode("utf-8")` would produce them.
///
/// `ensure_ascii`: `true` escapes everything outside printable ASCII as lowercase `\uXXXX`
/// (astral characters as surrogate pairs, 0x7f too); `false` writes raw UTF-8 and escapes only
/// `"`, `\` and control characters below 0x20.
///
/// Errors (simplejson's types and messages, which awslambdaric wraps as
/// `Unable to marshal response: <message>`): `TypeError("Object of type set is not JSON
/// serializable")`, `TypeError("keys must be str, int, float, bool or None, not tuple")`,
/// `TypeError("_asdict() must return a dict, not list")`, `ValueError("Circular reference
/// detected")`, `UnicodeDecodeError` for nested `bytes` that are not UTF-8,
/// `RecursionError("maximum recursion depth exceeded while encoding a JSON object")`, and any
/// exception raised by user code it calls (`_asdict()`, `__int__`, `__float__`, `str(Decimal)`).
/// On error `out` holds a partial document.
pub(crate) fn encode(obj: &Bound<'_, PyAny>, ensure_ascii: bool, out: &mut Vec<u8>) -> PyResult<()> {
    let mut encoder = Encoder {
        py: obj.py(),
        out,
        ensure_ascii,
        markers: Vec::new(),
        depth: 0,
        depth_limit: None,
        keys: match KEY_CACHE.try_lock() {
            Ok(guard) => Some(guard),
            Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            // Re-entered from user code called while encoding (`_asdict`, `__int__`, ...).
            Err(TryLockError::WouldBlock) => None,
        },
        raw_json: RawJsonType::NotLookedUp,
    };
    encoder.value(obj)
}

/// Slots of the encoded-key cache.
const KEY_CACHE_SLOTS: usize = 512;
/// Longest encoded key (quotes included) kept in the cache, bytes.
const KEY_CACHE_MAX: usize = 62;

/// The encoded form (`"key"`, quotes included) of an exact `str` dict key seen before, found by the
/// key object's address. Each slot holds a strong reference to its key, so the address cannot be
/// reused by another object while the entry exists. Events repeat the same key objects on every
/// record (the decoder hands out one `str` per distinct short key) and handlers build dicts from
/// interned literals, so most keys skip the UTF-8 lookup and the escape scan.
struct KeySlot {
    key: Option<Py<PyString>>,
    ensure_ascii: bool,
    len: u8,
    encoded: [u8; KEY_CACHE_MAX],
}

type KeyCache = Option<Box<[KeySlot]>>;
static KEY_CACHE: Mutex<KeyCache> = Mutex::new(None);

/// Output buffer kept between `json_dumps` calls, so large responses do not fault in fresh pages
/// and regrow a `Vec` on every invocation. Capacity above [`KEPT_CAPACITY`] is released.
static DUMPS_BUFFER: Mutex<Vec<u8>> = Mutex::new(Vec::new());
const KEPT_CAPACITY: usize = 8 << 20;

/// `json_dumps`: [`encode`] into a reused buffer, returned as a new `bytes` object.
pub(crate) fn dumps<'py>(
    py: Python<'py>,
    obj: &Bound<'py, PyAny>,
    ensure_ascii: bool,
) -> PyResult<Bound<'py, PyBytes>> {
    let mut guard = match DUMPS_BUFFER.try_lock() {
        Ok(guard) => Some(guard),
        Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
        // Re-entered from user code called while encoding (`_asdict`, `__int__`, ...).
        Err(TryLockError::WouldBlock) => None,
    };
    let mut local = Vec::new();
    let out: &mut Vec<u8> = match guard.as_mut() {
        Some(buffer) => buffer,
        None => &mut local,
    };
    out.clear();
    let result = encode(obj, ensure_ascii, out).map(|()| PyBytes::new(py, out));
    out.clear();
    if out.capacity() > KEPT_CAPACITY {
        out.shrink_to(KEPT_CAPACITY);
    }
    result
}

/// Whether `simplejson.RawJSON` exists (simplejson imported by the user), looked up lazily.
enum RawJsonType {
    NotLookedUp,
    Absent,
    Found(Py<PyType>),
}

struct Encoder<'a, 'py> {
    py: Python<'py>,
    out: &'a mut Vec<u8>,
    ensure_ascii: bool,
    /// Addresses of the containers being encoded (simplejson's `markers`).
    markers: Vec<usize>,
    depth: usize,
    depth_limit: Option<usize>,
    /// The encoded-key cache, when this call could lock it.
    keys: Option<std::sync::MutexGuard<'static, KeyCache>>,
    /// `simplejson.RawJSON`, once looked up in this call.
    raw_json: RawJsonType,
}

impl<'py> Encoder<'_, 'py> {
    fn value(&mut self, obj: &Bound<'py, PyAny>) -> PyResult<()> {
        if let Ok(s) = obj.cast_exact::<PyString>() {
            return self.string(s);
        }
        if let Ok(d) = obj.cast_exact::<PyDict>() {
            return self.dict(obj, d);
        }
        if let Ok(l) = obj.cast_exact::<PyList>() {
            return self.list(obj, l);
        }
        if obj.is_exact_instance_of::<PyInt>() {
            return self.int(obj);
        }
        if let Ok(f) = obj.cast_exact::<PyFloat>() {
            write_float_repr(f.value(), self.out);
            return Ok(());
        }
        if obj.is_none() {
            self.out.extend_from_slice(b"null");
            return Ok(());
        }
        if let Ok(b) = obj.cast_exact::<PyBool>() {
            self.out.extend_from_slice(if b.is_true() { b"true" } else { b"false" });
            return Ok(());
        }
        if let Ok(t) = obj.cast_exact::<PyTuple>() {
            return self.tuple(obj, t);
        }
        self.other(obj)
    }

    /// Everything that is not an exact builtin type, in simplejson's order.
    fn other(&mut self, obj: &Bound<'py, PyAny>) -> PyResult<()> {
        let py = self.py;
        // An exact Decimal is none of the kinds simplejson tries before `default()` (it has no
        // `_asdict` and no instance attributes): straight to awslambdaric's Decimal branch.
        if let Some(ty) = DECIMAL_TYPE.get(py) {
            if obj.get_type().is(ty.bind(py)) {
                return self.exact_decimal(obj);
            }
        }
        if let Ok(s) = obj.cast::<PyString>() {
            return self.string(s);
        }
        if let Ok(b) = obj.cast::<PyBytes>() {
            let text = bytes_as_utf8(b)?;
            write_str(text, self.ensure_ascii, self.out);
            return Ok(());
        }
        if self.is_raw_json(obj)? {
            let raw = obj.getattr(intern!(py, "encoded_json"))?;
            let raw = raw.cast::<PyString>()?;
            self.out.extend_from_slice(raw.to_str()?.as_bytes());
            return Ok(());
        }
        if obj.is_instance_of::<PyInt>() {
            return self.int(&int_of(obj)?);
        }
        if obj.is_instance_of::<PyFloat>() {
            write_float_repr(float_of(obj)?, self.out);
            return Ok(());
        }
        if let Some(result) = call_asdict(obj)? {
            let Ok(dict) = result.cast::<PyDict>() else {
                return Err(PyTypeError::new_err(format!(
                    "_asdict() must return a dict, not {}",
                    result.get_type().name()?
                )));
            };
            self.enter(obj)?;
            self.dict(&result, dict)?;
            self.leave();
            return Ok(());
        }
        if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
            return self.iterable(obj);
        }
        if obj.is_instance_of::<PyDict>() {
            return self.dict_items(obj);
        }
        // simplejson's default(): awslambdaric handles Decimal, everything else is a TypeError.
        if is_decimal(obj)? {
            if obj.call_method0(intern!(py, "is_nan"))?.is_truthy()? {
                self.out.extend_from_slice(b"NaN");
            } else {
                let text = obj.str()?;
                self.out.extend_from_slice(text.to_str()?.as_bytes());
            }
            return Ok(());
        }
        Err(PyTypeError::new_err(format!(
            "Object of type {} is not JSON serializable",
            class_name(obj)?
        )))
    }

    /// awslambdaric's `default()` for an exact `Decimal`: `NaN` when `is_nan()`, else `str(d)`
    /// verbatim. `str()` of an exact Decimal spells a NaN as `NaN`, `-NaN`, `sNaN` or `-sNaN`
    /// (with any payload digits) and nothing else with an `N` or `s`, so the text decides.
    fn exact_decimal(&mut self, obj: &Bound<'py, PyAny>) -> PyResult<()> {
        let text = obj.str()?;
        let text = text.to_str()?.as_bytes();
        let body = text.strip_prefix(b"-").unwrap_or(text);
        if matches!(body.first(), Some(b'N' | b's')) {
            self.out.extend_from_slice(b"NaN");
        } else {
            self.out.extend_from_slice(text);
        }
        Ok(())
    }

    /// `isinstance(obj, simplejson.RawJSON)`, the type looked up once per encode call.
    fn is_raw_json(&mut self, obj: &Bound<'py, PyAny>) -> PyResult<bool> {
        if matches!(self.raw_json, RawJsonType::NotLookedUp) {
            self.raw_json = match raw_json_type(self.py)? {
                Some(ty) => RawJsonType::Found(ty),
                None => RawJsonType::Absent,
            };
        }
        match &self.raw_json {
            RawJsonType::Found(ty) => obj.is_instance(ty.bind(self.py)),
            _ => Ok(false),
        }
    }

    fn int(&mut self, obj: &Bound<'py, PyAny>) -> PyResult<()> {
        let mut overflow: std::os::raw::c_int = 0;
        // SAFETY: `obj` is a live `int` (exact or converted by `int()`) and we hold the GIL;
        // PyLong_AsLongLongAndOverflow sets no exception when it reports an overflow.
        let v = unsafe { ffi::PyLong_AsLongLongAndOverflow(obj.as_ptr(), &raw mut overflow) };
        if overflow == 0 {
            if v == -1 {
                if let Some(err) = PyErr::take(self.py) {
                    return Err(err);
                }
            }
            write_i64(v, self.out);
            return Ok(());
        }
        if let Ok(v) = obj.extract::<i128>() {
            if v < 0 {
                self.out.push(b'-');
            }
            write_u128(v.unsigned_abs(), self.out);
            return Ok(());
        }
        // Beyond i128: Python's str(); raises ValueError past sys.get_int_max_str_digits().
        let text = obj.str()?;
        self.out.extend_from_slice(text.to_str()?.as_bytes());
        Ok(())
    }

    fn string(&mut self, s: &Bound<'py, PyString>) -> PyResult<()> {
        write_py_str(s, self.ensure_ascii, self.out)
    }

    fn enter(&mut self, obj: &Bound<'py, PyAny>) -> PyResult<()> {
        let id = obj.as_ptr() as usize;
        if self.markers.contains(&id) {
            return Err(PyValueError::new_err("Circular reference detected"));
        }
        self.depth += 1;
        if self.depth > DEPTH_CHECK_FROM {
            let limit = if let Some(limit) = self.depth_limit {
                limit
            } else {
                let sys = self.py.import(intern!(self.py, "sys"))?;
                let limit: usize = sys.call_method0(intern!(self.py, "getrecursionlimit"))?.extract()?;
                let limit = limit.saturating_sub(FRAMES_BELOW).min(DEPTH_HARD_CAP);
                self.depth_limit = Some(limit);
                limit
            };
            if self.depth >= limit {
                self.depth -= 1;
                return Err(PyRecursionError::new_err(
                    "maximum recursion depth exceeded while encoding a JSON object",
                ));
            }
        }
        self.markers.push(id);
        Ok(())
    }

    fn leave(&mut self) {
        self.markers.pop();
        self.depth -= 1;
    }

    fn list(&mut self, obj: &Bound<'py, PyAny>, list: &Bound<'py, PyList>) -> PyResult<()> {
        if list.is_empty() {
            self.out.extend_from_slice(b"[]");
            return Ok(());
        }
        self.enter(obj)?;
        self.out.push(b'[');
        // Index-based with the length re-read each step: user code (`_asdict`, `__int__`) may
        // shrink the list while we walk it, as simplejson tolerates.
        let mut i = 0;
        while i < list.len() {
            let item = list.get_item(i)?;
            if i > 0 {
                self.out.extend_from_slice(b", ");
            }
            self.value(&item)?;
            i += 1;
        }
        self.out.push(b']');
        self.leave();
        Ok(())
    }

    fn tuple(&mut self, obj: &Bound<'py, PyAny>, tuple: &Bound<'py, PyTuple>) -> PyResult<()> {
        if tuple.is_empty() {
            self.out.extend_from_slice(b"[]");
            return Ok(());
        }
        self.enter(obj)?;
        self.out.push(b'[');
        for (i, item) in tuple.iter().enumerate() {
            if i > 0 {
                self.out.extend_from_slice(b", ");
            }
            self.value(&item)?;
        }
        self.out.push(b']');
        self.leave();
        Ok(())
    }

    /// list and tuple subclasses: simplejson iterates them (`__iter__` is honoured).
    fn iterable(&mut self, obj: &Bound<'py, PyAny>) -> PyResult<()> {
        if !obj.is_truthy()? {
            self.out.extend_from_slice(b"[]");
            return Ok(());
        }
        self.enter(obj)?;
        self.out.push(b'[');
        for (i, item) in obj.try_iter()?.enumerate() {
            if i > 0 {
                self.out.extend_from_slice(b", ");
            }
            self.value(&item?)?;
        }
        self.out.push(b']');
        self.leave();
        Ok(())
    }

    fn dict(&mut self, obj: &Bound<'py, PyAny>, dict: &Bound<'py, PyDict>) -> PyResult<()> {
        if dict.is_empty() {
            self.out.extend_from_slice(b"{}");
            return Ok(());
        }
        self.enter(obj)?;
        self.out.push(b'{');
        let mut first = true;
        // User code run while encoding a value (`__int__`, `_asdict`, ...) may mutate the dict:
        // raise CPython's dict-iterator errors, as simplejson does, before PyO3's iterator would
        // panic (it checks the size on the next step and yields one extra entry before its
        // "keys changed" check).
        let len = dict.len();
        let mut iter = dict.iter();
        for seen in 0.. {
            if dict.len() != len {
                return Err(PyRuntimeError::new_err("dictionary changed size during iteration"));
            }
            let Some((key, value)) = iter.next() else {
                break;
            };
            if seen == len {
                return Err(PyRuntimeError::new_err("dictionary keys changed during iteration"));
            }
            self.member(&key, &value, &mut first)?;
        }
        self.out.push(b'}');
        self.leave();
        Ok(())
    }

    /// dict subclasses: simplejson walks `obj.items()` (an `OrderedDict`'s order is honoured).
    fn dict_items(&mut self, obj: &Bound<'py, PyAny>) -> PyResult<()> {
        if !obj.is_truthy()? {
            self.out.extend_from_slice(b"{}");
            return Ok(());
        }
        self.enter(obj)?;
        self.out.push(b'{');
        let mut first = true;
        let items = obj.call_method0(intern!(self.py, "items"))?;
        for pair in items.try_iter()? {
            let pair = pair?;
            let (key, value): (Bound<'py, PyAny>, Bound<'py, PyAny>) = pair.extract()?;
            self.member(&key, &value, &mut first)?;
        }
        self.out.push(b'}');
        self.leave();
        Ok(())
    }

    fn member(&mut self, key: &Bound<'py, PyAny>, value: &Bound<'py, PyAny>, first: &mut bool) -> PyResult<()> {
        if *first {
            *first = false;
        } else {
            self.out.extend_from_slice(b", ");
        }
        if let Ok(s) = key.cast_exact::<PyString>() {
            self.cached_key(s)?;
        } else {
            self.key(key)?;
        }
        self.out.extend_from_slice(b": ");
        self.value(value)
    }

    /// An exact `str` key, from the encoded-key cache when it holds this very object.
    fn cached_key(&mut self, key: &Bound<'py, PyString>) -> PyResult<()> {
        let ensure_ascii = self.ensure_ascii;
        let address = key.as_ptr() as usize;
        // Objects are at least 16-byte aligned: drop the low bits before picking a slot.
        let index = (address >> 4) % KEY_CACHE_SLOTS;
        {
            let Some(cache) = self.keys.as_mut() else {
                return self.string(key);
            };
            let slots = cache.get_or_insert_with(|| {
                (0..KEY_CACHE_SLOTS)
                    .map(|_| KeySlot {
                        key: None,
                        ensure_ascii: false,
                        len: 0,
                        encoded: [0; KEY_CACHE_MAX],
                    })
                    .collect()
            });
            let slot = &slots[index];
            if slot.ensure_ascii == ensure_ascii && slot.key.as_ref().is_some_and(|k| k.as_ptr() as usize == address) {
                self.out.extend_from_slice(&slot.encoded[..usize::from(slot.len)]);
                return Ok(());
            }
        }
        let start = self.out.len();
        self.string(key)?;
        let encoded = &self.out[start..];
        if let (Ok(len), Some(Some(slots))) = (u8::try_from(encoded.len()), self.keys.as_mut().map(|c| c.as_mut())) {
            if encoded.len() <= KEY_CACHE_MAX {
                let slot = &mut slots[index];
                slot.encoded[..encoded.len()].copy_from_slice(encoded);
                slot.len = len;
                slot.ensure_ascii = ensure_ascii;
                slot.key = Some(key.clone().unbind());
            }
        }
        Ok(())
    }

    /// A non-`str` dict key, in simplejson's `_stringify_key` order.
    fn key(&mut self, key: &Bound<'py, PyAny>) -> PyResult<()> {
        if let Ok(s) = key.cast::<PyString>() {
            return self.string(s);
        }
        if let Ok(b) = key.cast::<PyBytes>() {
            let text = bytes_as_utf8(b)?;
            write_str(text, self.ensure_ascii, self.out);
            return Ok(());
        }
        self.out.push(b'"');
        if let Ok(f) = key.cast::<PyFloat>() {
            let value = if f.is_exact_instance_of::<PyFloat>() {
                f.value()
            } else {
                float_of(key)?
            };
            write_float_repr(value, self.out);
        } else if let Ok(b) = key.cast_exact::<PyBool>() {
            self.out.extend_from_slice(if b.is_true() { b"true" } else { b"false" });
        } else if key.is_none() {
            self.out.extend_from_slice(b"null");
        } else if key.is_instance_of::<PyInt>() {
            if key.is_exact_instance_of::<PyInt>() {
                self.int(key)?;
            } else {
                self.int(&int_of(key)?)?;
            }
        } else {
            return Err(PyTypeError::new_err(format!(
                "keys must be str, int, float, bool or None, not {}",
                class_name(key)?
            )));
        }
        self.out.push(b'"');
        Ok(())
    }
}

/// `int(obj)` for an `int` subclass (`PyNumber_Long`, which is what `int(x)` runs: `__int__` honoured).
fn int_of<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    // SAFETY: we hold the GIL; PyNumber_Long returns a new reference or NULL with an exception.
    unsafe { Bound::from_owned_ptr_or_err(obj.py(), ffi::PyNumber_Long(obj.as_ptr())) }
}

/// `float(obj)` for a `float` subclass (`PyNumber_Float`, what `float(x)` runs: `__float__` honoured).
fn float_of(obj: &Bound<'_, PyAny>) -> PyResult<f64> {
    // SAFETY: as in `int_of`.
    let value = unsafe { Bound::from_owned_ptr_or_err(obj.py(), ffi::PyNumber_Float(obj.as_ptr()))? };
    Ok(value.cast::<PyFloat>()?.value())
}

/// `o.__class__.__name__`, as simplejson's messages use it.
fn class_name(obj: &Bound<'_, PyAny>) -> PyResult<String> {
    let py = obj.py();
    let class = obj.getattr(intern!(py, "__class__"))?;
    class.getattr(intern!(py, "__name__"))?.extract()
}

/// Decodes nested `bytes` as UTF-8; invalid input raises Python's own `UnicodeDecodeError`
/// (`'utf-8' codec can't decode byte 0xff in position 0: invalid start byte`).
fn bytes_as_utf8<'a>(b: &'a Bound<'_, PyBytes>) -> PyResult<&'a str> {
    if let Ok(text) = std::str::from_utf8(b.as_bytes()) {
        return Ok(text);
    }
    let py = b.py();
    // Let Python build the exact exception; it cannot succeed where Rust failed.
    b.call_method1(intern!(py, "decode"), (intern!(py, "utf-8"),))?;
    Err(PyValueError::new_err("invalid UTF-8"))
}

/// simplejson's `call_method(obj, "_asdict")`: a callable `_asdict` attribute is called; a
/// `TypeError` from the call means "not a namedtuple" and is swallowed, as simplejson does.
fn call_asdict<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyAny>>> {
    let py = obj.py();
    let Some(method) = obj.getattr_opt(intern!(py, "_asdict"))? else {
        return Ok(None);
    };
    if !method.is_callable() {
        return Ok(None);
    }
    match method.call0() {
        Ok(result) => Ok(Some(result)),
        Err(err) if err.is_instance_of::<PyTypeError>(py) => Ok(None),
        Err(err) => Err(err),
    }
}

static DECIMAL_TYPE: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// True for `decimal.Decimal` instances. Never imports `decimal`: if it is not in `sys.modules`
/// no object can be a Decimal.
fn is_decimal(obj: &Bound<'_, PyAny>) -> PyResult<bool> {
    let py = obj.py();
    if let Some(ty) = DECIMAL_TYPE.get(py) {
        return obj.is_instance(ty.bind(py));
    }
    let Some(module) = sys_module(py, "decimal")? else {
        return Ok(false);
    };
    let Some(ty) = module.getattr_opt(intern!(py, "Decimal"))? else {
        return Ok(false);
    };
    let Ok(ty) = ty.cast_into::<PyType>() else {
        return Ok(false);
    };
    let result = obj.is_instance(&ty)?;
    let _ = DECIMAL_TYPE.set(py, ty.unbind());
    Ok(result)
}

/// The `simplejson.RawJSON` type if `simplejson.raw_json` is imported (only then can an object be
/// one): its instances' `encoded_json` text is written verbatim, as simplejson does.
fn raw_json_type(py: Python<'_>) -> PyResult<Option<Py<PyType>>> {
    let Some(module) = sys_module(py, "simplejson.raw_json")? else {
        return Ok(None);
    };
    let Some(ty) = module.getattr_opt(intern!(py, "RawJSON"))? else {
        return Ok(None);
    };
    Ok(ty.cast_into::<PyType>().ok().map(Bound::unbind))
}

/// `sys.modules.get(name)`, without importing anything.
fn sys_module<'py>(py: Python<'py>, name: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
    let modules = py.import(intern!(py, "sys"))?.getattr(intern!(py, "modules"))?;
    match modules.cast::<PyDict>() {
        Ok(modules) => modules.get_item(name),
        Err(_) => Ok(None),
    }
}

/// Decimal digits of `value`.
pub(crate) fn write_u64(mut value: u64, out: &mut Vec<u8>) {
    let mut buf = [0u8; 20];
    let mut pos = buf.len();
    loop {
        pos -= 1;
        buf[pos] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[pos..]);
}

/// Decimal digits of `value`, 19 at a time.
fn write_u128(value: u128, out: &mut Vec<u8>) {
    const CHUNK: u128 = 10_000_000_000_000_000_000;
    if value <= u128::from(u64::MAX) {
        write_u64(value as u64, out);
        return;
    }
    let (high, low) = (value / CHUNK, (value % CHUNK) as u64);
    write_u128(high, out);
    let mut buf = [b'0'; 19];
    let mut rest = low;
    for d in buf.iter_mut().rev() {
        *d = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    out.extend_from_slice(&buf);
}

fn write_i64(value: i64, out: &mut Vec<u8>) {
    if value < 0 {
        out.push(b'-');
    }
    write_u64(value.unsigned_abs(), out);
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Writes the `str` object `s` as a JSON string literal (with quotes), reading its code units in
/// place (Latin-1, UCS-2 or UCS-4, as `CPython` stores it) instead of asking for its UTF-8 form,
/// which `CPython` would build and keep beside every non-ASCII string. Lone surrogates are escaped
/// as `\udXXX` in both modes (see the module doc).
fn write_py_str(s: &Bound<'_, PyString>, ensure_ascii: bool, out: &mut Vec<u8>) -> PyResult<()> {
    let ptr = s.as_ptr();
    // SAFETY: `ptr` is a live `str` and we hold the GIL. After `PyUnicode_READY` succeeds (a no-op
    // from 3.12) `PyUnicode_DATA` points at `PyUnicode_GET_LENGTH` code units of
    // `PyUnicode_KIND` bytes each, which stay valid and unchanged while we hold a reference
    // (strings are immutable) and the GIL (nothing below runs Python code).
    unsafe {
        if ffi::PyUnicode_READY(ptr) != 0 {
            return Err(PyErr::fetch(s.py()));
        }
        let len = usize::try_from(ffi::PyUnicode_GET_LENGTH(ptr)).unwrap_or(0);
        let data = ffi::PyUnicode_DATA(ptr);
        out.reserve(len + 2);
        out.push(b'"');
        match ffi::PyUnicode_KIND(ptr) {
            ffi::PyUnicode_1BYTE_KIND => {
                write_latin1_body(std::slice::from_raw_parts(data.cast::<u8>(), len), ensure_ascii, out);
            }
            ffi::PyUnicode_2BYTE_KIND => {
                write_units(std::slice::from_raw_parts(data.cast::<u16>(), len), ensure_ascii, out);
            }
            _ => write_units(std::slice::from_raw_parts(data.cast::<u32>(), len), ensure_ascii, out),
        }
        out.push(b'"');
    }
    Ok(())
}

/// The escape of an ASCII code unit `b` that cannot be written as is (`"`, `\\`, controls, DEL).
#[inline]
fn write_ascii_escape(b: u8, out: &mut Vec<u8>) {
    let mut buf = [0u8; 6];
    let n = ascii_escape(b, &mut buf);
    out.extend_from_slice(&buf[..n]);
}

/// The letter of the two-character escape of `b` (`n` for a newline, `"` for a quote…), 0 if it has none.
const fn short_escape(b: u8) -> u8 {
    match b {
        b'"' => b'"',
        b'\\' => b'\\',
        b'\n' => b'n',
        b'\r' => b'r',
        b'\t' => b't',
        0x08 => b'b',
        0x0c => b'f',
        _ => 0,
    }
}

/// Writes the escape of ASCII `b` at the start of `buf`; returns its length (2 or 6).
#[inline]
fn ascii_escape(b: u8, buf: &mut [u8]) -> usize {
    let short = short_escape(b);
    if short == 0 {
        return u_escape(u32::from(b), buf);
    }
    buf[0] = b'\\';
    buf[1] = short;
    2
}

/// `\\uXXXX` (lowercase hex) of the code unit `unit` at the start of `buf`; returns 6.
#[inline]
fn u_escape(unit: u32, buf: &mut [u8]) -> usize {
    buf[..6].copy_from_slice(&[
        b'\\',
        b'u',
        HEX[((unit >> 12) & 0xf) as usize],
        HEX[((unit >> 8) & 0xf) as usize],
        HEX[((unit >> 4) & 0xf) as usize],
        HEX[(unit & 0xf) as usize],
    ]);
    6
}

/// The JSON form of one code point `cp` at the start of `buf` (at least 12 bytes); returns its
/// length. Printable ASCII as is; `"`, `\\` and controls escaped; from DEL up: `\\uXXXX` (a
/// surrogate pair above the BMP) with `ensure_ascii`, else UTF-8 (DEL as is), lone surrogates
/// escaped.
#[inline]
fn encode_code_point(cp: u32, ensure_ascii: bool, buf: &mut [u8]) -> usize {
    if cp < 0x7f {
        let b = cp as u8;
        if b >= 0x20 && b != b'"' && b != b'\\' {
            buf[0] = b;
            return 1;
        }
        return ascii_escape(b, buf);
    }
    if ensure_ascii {
        if cp >= 0x10000 {
            let v = cp - 0x10000;
            u_escape(0xd800 | (v >> 10), buf);
            u_escape(0xdc00 | (v & 0x3ff), &mut buf[6..]);
            return 12;
        }
        return u_escape(cp, buf);
    }
    match char::from_u32(cp) {
        Some(c) => c.encode_utf8(buf).len(),
        None => u_escape(cp, buf),
    }
}

/// Code points per stack chunk in [`write_units`]: 12 output bytes each at most.
const CHUNK_UNITS: usize = 64;

/// Two lowercase hex digits of each byte value, first digit in the low byte.
static HEX_PAIRS: [u16; 256] = {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = (HEX[i >> 4] as u16) | ((HEX[i & 0xf] as u16) << 8);
        i += 1;
    }
    table
};

/// `\\uXXXX` of the code unit `unit` (< 0x10000) as the low six bytes of a little-endian word.
#[inline]
fn u_escape_word(unit: u32) -> u64 {
    u64::from(b'\\')
        | (u64::from(b'u') << 8)
        | (u64::from(HEX_PAIRS[((unit >> 8) & 0xff) as usize]) << 16)
        | (u64::from(HEX_PAIRS[(unit & 0xff) as usize]) << 32)
}

/// The JSON form of each ASCII byte as a little-endian word and its length: the byte itself,
/// or its escape (`\\"`, `\\n`, `\\u001f`, and `\\u007f`, used only with `ensure_ascii`).
static ASCII_FORMS: [(u64, u8); 128] = {
    let mut table = [(0u64, 1u8); 128];
    let mut b = 0;
    while b < 128 {
        let short = short_escape(b as u8);
        table[b] = if short != 0 {
            ((b'\\' as u64) | ((short as u64) << 8), 2)
        } else if b < 0x20 || b == 0x7f {
            let word = (b'\\' as u64)
                | ((b'u' as u64) << 8)
                | ((b'0' as u64) << 16)
                | ((b'0' as u64) << 24)
                | ((HEX[b >> 4] as u64) << 32)
                | ((HEX[b & 0xf] as u64) << 40);
            (word, 6)
        } else {
            (b as u64, 1)
        };
        b += 1;
    }
    table
};

/// The raw UTF-8 form (`ensure_ascii=False`) of a code point ≥ 0x7f as a little-endian word and
/// its length; lone surrogates as `\\udXXX` (see the module doc).
#[inline]
fn utf8_form(cp: u32) -> (u64, usize) {
    if cp < 0x80 {
        (u64::from(cp), 1)
    } else if cp < 0x800 {
        (u64::from(0xc0 | (cp >> 6)) | (u64::from(0x80 | (cp & 0x3f)) << 8), 2)
    } else if (0xd800..0xe000).contains(&cp) {
        (u_escape_word(cp), 6)
    } else if cp < 0x10000 {
        (
            u64::from(0xe0 | (cp >> 12))
                | (u64::from(0x80 | ((cp >> 6) & 0x3f)) << 8)
                | (u64::from(0x80 | (cp & 0x3f)) << 16),
            3,
        )
    } else {
        (
            u64::from(0xf0 | (cp >> 18))
                | (u64::from(0x80 | ((cp >> 12) & 0x3f)) << 8)
                | (u64::from(0x80 | ((cp >> 6) & 0x3f)) << 16)
                | (u64::from(0x80 | (cp & 0x3f)) << 24),
            4,
        )
    }
}

/// Code units (Latin-1, UCS-2 or UCS-4) of a string body, encoded a chunk at a time into a stack
/// buffer: one capacity check per chunk, and every form written as one 8-byte store (the buffer
/// has slack; the cursor advances by the form's real length).
fn write_units<T: Copy + Into<u32>>(units: &[T], ensure_ascii: bool, out: &mut Vec<u8>) {
    let mut buf = [0u8; CHUNK_UNITS * 12 + 8];
    for chunk in units.chunks(CHUNK_UNITS) {
        let mut n = 0;
        for &unit in chunk {
            let cp: u32 = unit.into();
            let (word, len) = if cp < 0x7f {
                let (word, len) = ASCII_FORMS[cp as usize];
                (word, usize::from(len))
            } else if !ensure_ascii {
                utf8_form(cp)
            } else if cp < 0x10000 {
                (u_escape_word(cp), 6)
            } else {
                let v = cp - 0x10000;
                buf[n..n + 8].copy_from_slice(&u_escape_word(0xd800 | (v >> 10)).to_le_bytes());
                n += 6;
                (u_escape_word(0xdc00 | (v & 0x3ff)), 6)
            };
            buf[n..n + 8].copy_from_slice(&word.to_le_bytes());
            n += len;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

/// A Latin-1 (one byte per code point) string body: the vector scan over plain ASCII runs, and
/// [`write_units`] for the next 32 code points from each byte it stops at (escapes and non-ASCII
/// text come in clusters; short runs are cheaper one by one than by another scan).
fn write_latin1_body(units: &[u8], ensure_ascii: bool, out: &mut Vec<u8>) {
    let mut start = 0;
    loop {
        let i = scan_plain(units, start, true);
        out.extend_from_slice(&units[start..i]);
        if i >= units.len() {
            return;
        }
        let end = (i + 32).min(units.len());
        write_units(&units[i..end], ensure_ascii, out);
        start = end;
    }
}

/// Writes `text` as a JSON string literal (with quotes).
pub(crate) fn write_str(text: &str, ensure_ascii: bool, out: &mut Vec<u8>) {
    out.reserve(text.len() + 2);
    out.push(b'"');
    write_str_body(text, ensure_ascii, out);
    out.push(b'"');
}

fn write_str_body(text: &str, ensure_ascii: bool, out: &mut Vec<u8>) {
    let bytes = text.as_bytes();
    let mut start = 0;
    loop {
        let i = scan_plain(bytes, start, ensure_ascii);
        out.extend_from_slice(&bytes[start..i]);
        let Some(&b) = bytes.get(i) else {
            return;
        };
        if b < 0x7f {
            write_ascii_escape(b, out);
            start = i + 1;
        } else {
            // Non-ASCII (or DEL) with ensure_ascii: one code point as \uXXXX or a surrogate pair.
            let c = text[i..].chars().next().unwrap_or('\u{fffd}');
            let mut buf = [0u8; 12];
            let n = encode_code_point(u32::from(c), true, &mut buf);
            out.extend_from_slice(&buf[..n]);
            start = i + c.len_utf8();
        }
    }
}
