//! Direct access to `os.environ` for the invoke loop's per-invocation reads and writes.
//!
//! `os.environ` is an `os._Environ`: a mapping over `os.environ._data` (encoded bytes keys → encoded
//! bytes values) whose writes also call `putenv`. Going through its Python methods costs about
//! 0.2 µs per read and 0.4 µs per write; this module does the same steps from Rust: a read is a
//! lookup in `_data` plus `decodevalue`, a write is `setenv` plus the `_data` store (what
//! `_Environ.__setitem__` does: `putenv(key, value)` then `self._data[key] = value`).
//!
//! Valid only while `os.environ` is still the `os._Environ` seen at start ([`Environ::current_data`]);
//! callers fall back to the Python methods otherwise (a replaced or patched `os.environ`).

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};

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
        // What `os.putenv` does (`setenv(name, value, 1)`); `os.environ` writes go through it too,
        // with the same caveat about C code reading the environment from other threads.
        std::env::set_var(name, value);
        // `encodekey`/`encodevalue` use the file-system encoding, ASCII-compatible on POSIX: ASCII
        // text encodes to its own bytes.
        data.set_item(PyBytes::new(py, name.as_bytes()), PyBytes::new(py, value.as_bytes()))?;
        Ok(true)
    }
}
