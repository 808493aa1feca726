//! Direct access to `os.environ` for the invoke loop's per-invocation reads and writes.
//!
//! `os.environ` is an `os._Environ`: a mapping over `os.environ._data` (encoded bytes keys → encoded
//! bytes values) whose writes also call `putenv`. Going through its Python methods costs about
//! 0.2 µs per read and 0.4 µs per write; this module does the same steps from Rust: a read is a
//! lookup in `_data` plus `decodevalue`, a write installs the C variable plus the `_data` store
//! (what `_Environ.__setitem__` does: `putenv(key, value)` then `self._data[key] = value`).
//!
//! The C variable is installed with `putenv` from buffers this module owns ([`install`]), not with
//! `setenv`: glibc's `setenv` copies every value into a string it never frees (another thread may
//! still hold a `getenv` pointer to it), so one `_X_AMZN_TRACE_ID` per invocation, each unique as
//! Lambda sends them, grew the process by ~144 bytes per invocation, without end.
//!
//! Valid only while `os.environ` is still the `os._Environ` seen at start ([`Environ::current_data`]);
//! callers fall back to the Python methods otherwise (a replaced or patched `os.environ`).

use std::sync::Mutex;

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};

/// How many `NAME=value` buffers [`install`] rotates through. A buffer is written again only
/// after this many later installs (one per invocation): the grace period during which a pointer
/// another thread got from `getenv` keeps reading the value it got.
const INSTALL_SLOTS: usize = 8;
/// Smallest buffer capacity, bytes (a Lambda trace id with `Lineage` is about 120 bytes).
const MIN_SLOT_BYTES: usize = 256;

/// The buffers behind the C environment entries [`install`] made (see there), per variable name.
struct Installed {
    name: Vec<u8>,
    slots: [Vec<u8>; INSTALL_SLOTS],
    next: usize,
    /// Buffers a longer value outgrew: kept (never freed, never written) for the process's life.
    retired: Vec<Vec<u8>>,
}

static INSTALLED: Mutex<Vec<Installed>> = Mutex::new(Vec::new());

/// Sets the C environment variable `name` to `value` (what `setenv(name, value, 1)` does) without
/// glibc's per-value allocation that is never freed, so a new value per invocation costs no memory.
///
/// The entry `name=value` is written into one of [`INSTALL_SLOTS`] buffers owned here, used in
/// turn, and handed to `putenv`, which stores the pointer itself in `environ`. A buffer is only
/// rewritten when [`INSTALL_SLOTS`] - 1 later values have replaced it in `environ`, and it is never
/// freed: when a value outgrows it, a new buffer (capacity doubled, at least [`MIN_SLOT_BYTES`]) is
/// installed and the old one is kept, never freed, so a `getenv` result held by another thread
/// (X-Ray agents read `_X_AMZN_TRACE_ID` from their own threads) always points at live memory.
/// The leak is bounded: each slot grows at most log2(largest value) times.
///
/// Remaining races, as with `setenv`: a thread still reading a pointer it got [`INSTALL_SLOTS`]
/// values ago can see the bytes of a newer value (never freed memory); and glibc reallocates the
/// `environ` array itself when a variable is added that was absent (e.g. set again after an
/// invocation without a trace id removed it), which a concurrent `getenv` can race in any program.
///
/// `name` must be non-empty without `=` or NUL; `value` without NUL (checked by the caller).
pub(crate) fn install(name: &str, value: &str) {
    let mut installed = INSTALLED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let position = installed
        .iter()
        .position(|i| i.name == name.as_bytes())
        .unwrap_or_else(|| {
            installed.push(Installed {
                name: name.as_bytes().to_vec(),
                slots: Default::default(),
                next: 0,
                retired: Vec::new(),
            });
            installed.len() - 1
        });
    let entry = &mut installed[position];
    let slot = &mut entry.slots[entry.next];
    entry.next = (entry.next + 1) % INSTALL_SLOTS;
    let needed = name.len() + 1 + value.len() + 1;
    if slot.capacity() < needed {
        let grown = Vec::with_capacity(needed.next_power_of_two().max(MIN_SLOT_BYTES));
        // Never freed: a thread may still read the value it got from `getenv` (see above).
        entry.retired.push(std::mem::replace(slot, grown));
    }
    slot.clear();
    slot.extend_from_slice(name.as_bytes());
    slot.push(b'=');
    slot.extend_from_slice(value.as_bytes());
    slot.push(0);
    put_entry(slot);
}

/// `putenv(entry)`; `entry` is a NUL-terminated `NAME=value` that stays alive and unchanged while
/// it is in `environ` ([`install`] guarantees it).
#[allow(unsafe_code)] // the one `putenv` call: std has no way to install a caller-owned entry.
fn put_entry(entry: &mut [u8]) {
    debug_assert_eq!(entry.last(), Some(&0));
    // SAFETY: `entry` is NUL-terminated and holds `=`; its memory is never freed (see `install`),
    // so the pointer glibc keeps in `environ` stays valid. The GIL serialises fastric's own
    // environment writes; Python's `os.putenv`/`os.unsetenv` also run with the GIL held.
    let rc = unsafe { libc::putenv(entry.as_mut_ptr().cast::<libc::c_char>()) };
    debug_assert_eq!(rc, 0);
}

/// The methods whose replacement (on the class, or `get` on the instance) turns the fast paths off.
const GUARDED_METHODS: [&str; 3] = ["get", "__getitem__", "__setitem__"];
/// The codec functions `os._Environ.__init__` stores on the instance; the fast paths do what they
/// do (ASCII writes as their own bytes, reads through `decodevalue`), so a replacement turns them off.
const GUARDED_CODECS: [&str; 3] = ["encodekey", "encodevalue", "decodevalue"];
/// Index of `decodevalue` in [`GUARDED_CODECS`].
const DECODEVALUE: usize = 2;

/// The process's `os.environ`, checked to be a plain `os._Environ`.
pub(crate) struct Environ<'py> {
    os: Bound<'py, PyModule>,
    mapping: Bound<'py, PyAny>,
    class: Bound<'py, PyAny>,
    /// (interned name, `type(os.environ).<name>` as found at start) for each guarded method.
    /// Interned names matter: `CPython`'s type-attribute cache only serves interned names.
    methods: Vec<(Bound<'py, PyString>, Bound<'py, PyAny>)>,
    /// (interned name, `os.environ.<name>` as found at start) for each guarded codec function.
    codecs: Vec<(Bound<'py, PyString>, Bound<'py, PyAny>)>,
}

impl<'py> Environ<'py> {
    /// `os.environ`, or `None` when it is not an `os._Environ` with a `_data` dict.
    pub(crate) fn new(py: Python<'py>) -> PyResult<Option<Self>> {
        let os = py.import("os")?;
        let environ = os.getattr("environ")?;
        if !environ.get_type().is(os.getattr("_Environ")?) || environ.getattr("_data")?.cast::<PyDict>().is_err() {
            return Ok(None);
        }
        let class = environ.get_type().into_any();
        let originals = |owner: &Bound<'py, PyAny>, names: &[&str]| {
            names
                .iter()
                .map(|name| {
                    let name = PyString::intern(py, name);
                    let value = owner.getattr(&name)?;
                    Ok((name, value))
                })
                .collect::<PyResult<Vec<_>>>()
        };
        let methods = originals(&class, &GUARDED_METHODS)?;
        let codecs = originals(&environ, &GUARDED_CODECS)?;
        Ok(Some(Environ {
            os,
            mapping: environ,
            class,
            methods,
            codecs,
        }))
    }

    /// The `os.environ` object itself.
    pub(crate) fn object(&self) -> &Bound<'py, PyAny> {
        &self.mapping
    }

    /// `os.environ.decodevalue` as found at start (still in place whenever [`Environ::current_data`]
    /// returned a dict).
    pub(crate) fn decodevalue(&self) -> &Bound<'py, PyAny> {
        &self.codecs[DECODEVALUE].1
    }

    /// `os.environ._data` when `os.environ` is still the object seen at start, of the same class,
    /// with `get`/`__getitem__`/`__setitem__` and its `encodekey`/`encodevalue`/`decodevalue` not
    /// replaced (user code wrapping or refusing environment access must keep seeing every access);
    /// else `None`.
    pub(crate) fn current_data(&self) -> PyResult<Option<Bound<'py, PyDict>>> {
        let py = self.mapping.py();
        if !self.os.getattr(intern!(py, "environ"))?.is(&self.mapping) || !self.mapping.get_type().is(&self.class) {
            return Ok(None);
        }
        for (name, original) in &self.methods {
            if !self.class.getattr(name)?.is(original) {
                return Ok(None);
            }
        }
        let instance = self.mapping.getattr(intern!(py, "__dict__"))?.cast_into::<PyDict>()?;
        if instance.contains(intern!(py, "get"))? {
            return Ok(None);
        }
        for (name, original) in &self.codecs {
            if !instance.get_item(name)?.is_some_and(|current| current.is(original)) {
                return Ok(None);
            }
        }
        Ok(instance
            .get_item(intern!(py, "_data"))?
            .and_then(|d| d.cast_into::<PyDict>().ok()))
    }

    /// Whether `name in os.environ`, read from `os.environ._data` (what `_Environ.__getitem__` looks
    /// up), for an ASCII name; `None` when the fast path does not apply (the caller asks `os.environ`).
    /// Not the C environment: `os.unsetenv`/`os.putenv` by user code change only one of the two.
    /// `data` is what [`Environ::current_data`] returned for this invocation.
    pub(crate) fn contains(&self, data: &Bound<'py, PyDict>, name: &str) -> PyResult<Option<bool>> {
        if !name.is_ascii() {
            return Ok(None);
        }
        Ok(Some(data.contains(PyBytes::new(self.mapping.py(), name.as_bytes()))?))
    }

    /// `os.environ[name] = value` without Python code, for an ASCII name and value (no NUL, no `=`
    /// in the name). Returns `false`, having changed nothing, when the fast path does not apply
    /// (`os.environ` replaced, non-ASCII text, a NUL or `=`); the caller then uses
    /// `os.environ.__setitem__`, which encodes with the file-system encoding and raises the right error.
    ///
    /// `data` is what [`Environ::current_data`] returned for this invocation (no Python code may
    /// have run since).
    pub(crate) fn set(&self, data: &Bound<'py, PyDict>, name: &str, value: &str) -> PyResult<bool> {
        if name.is_empty()
            || !name.is_ascii()
            || !value.is_ascii()
            || name.contains(['=', '\0'])
            || value.contains('\0')
        {
            return Ok(false);
        }
        let py = self.mapping.py();
        // What `os.putenv` does (`setenv(name, value, 1)`), without its per-value leak.
        install(name, value);
        // `encodekey`/`encodevalue` use the file-system encoding, ASCII-compatible on POSIX: ASCII
        // text encodes to its own bytes.
        data.set_item(PyBytes::new(py, name.as_bytes()), PyBytes::new(py, value.as_bytes()))?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::install;

    #[test]
    fn install_sets_the_c_variable_through_growing_values() {
        let name = "FASTRIC_TEST_INSTALL";
        let mut seen = Vec::new();
        for i in 0..100 {
            let value = format!("{i}:{}", "x".repeat(i * 13));
            install(name, &value);
            assert_eq!(std::env::var(name).unwrap(), value);
            seen.push(std::env::var_os(name).unwrap());
        }
        // A second variable gets its own buffers; the first keeps its value.
        install("FASTRIC_TEST_INSTALL_2", "b");
        assert_eq!(std::env::var("FASTRIC_TEST_INSTALL_2").unwrap(), "b");
        assert_eq!(std::env::var_os(name), seen.pop());
    }
}
