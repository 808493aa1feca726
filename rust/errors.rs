//! The Runtime API client's error enum and its single conversion into a Python exception.
//!
//! Python hierarchy (declared once, public path `fastric.errors`):
//! `FastricError(Exception)` → `RuntimeApiError(FastricError)`, the latter with attributes
//! `status: int | None` (the HTTP status, `None` for transport failures), `body: bytes` and
//! `fatal: bool` ([`RuntimeError::is_fatal`]).

use std::fmt;
use std::io;

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

create_exception!(
    fastric.errors,
    FastricError,
    PyException,
    "Base class of fastric's own errors (also raised for an internal panic)."
);
create_exception!(
    fastric.errors,
    RuntimeApiError,
    FastricError,
    "The Lambda Runtime API failed. Attributes: `status` (int HTTP status, or None when the failure was a \
connection/transport failure or an unparsable answer), `body` (bytes, the response body or b\"\") and \
`fatal` (bool: HTTP 500 or retries exhausted, the runtime must exit). \
For transport failures `__cause__` is the underlying `OSError` (e.g. `ConnectionRefusedError`)."
);

/// Failures of the Runtime API client. Converted to a Python exception only at the API edge.
#[derive(Debug)]
pub(crate) enum RuntimeError {
    /// `AWS_LAMBDA_RUNTIME_API` could not be parsed (message says why). Raised as `ValueError`.
    InvalidAddress(String),
    /// A caller-supplied header value contains CR, LF or NUL. Raised as `ValueError`.
    InvalidArgument(String),
    /// Connect, read or write failed (refused, reset, EOF, connect timeout).
    Transport(io::Error),
    /// The answer was not parsable HTTP, or `/next` lacked `Lambda-Runtime-Aws-Request-Id`.
    BadResponse(String),
    /// A complete answer with an unexpected (non-2xx) status.
    Protocol { status: u16, body: Vec<u8> },
    /// Every attempt failed; `last` is the last failure. Always fatal.
    Exhausted {
        what: &'static str,
        attempts: u32,
        last: Box<RuntimeError>,
    },
    /// The `on_idle` callback asked to stop waiting (a Python signal handler raised).
    Interrupted,
    /// A Rust panic was caught at the Python boundary. Raised as `FastricError`.
    Internal(String),
}

impl RuntimeError {
    /// Whether the runtime must stop: a 500 from any endpoint ("Container error. Non-recoverable
    /// state. Runtime should exit promptly.", Runtime API spec) or retries exhausted.
    pub(crate) fn is_fatal(&self) -> bool {
        match self {
            RuntimeError::Protocol { status, .. } => *status == 500,
            RuntimeError::Exhausted { .. } => true,
            _ => false,
        }
    }

    /// The HTTP status carried by this error (looking through `Exhausted`), if any.
    pub(crate) fn status(&self) -> Option<u16> {
        match self {
            RuntimeError::Protocol { status, .. } => Some(*status),
            RuntimeError::Exhausted { last, .. } => last.status(),
            _ => None,
        }
    }

    fn body(&self) -> &[u8] {
        match self {
            RuntimeError::Protocol { body, .. } => body,
            RuntimeError::Exhausted { last, .. } => last.body(),
            _ => b"",
        }
    }

    fn io_error(&self) -> Option<&io::Error> {
        match self {
            RuntimeError::Transport(err) => Some(err),
            RuntimeError::Exhausted { last, .. } => last.io_error(),
            _ => None,
        }
    }
}

impl fmt::Display for RuntimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuntimeError::InvalidAddress(msg) => write!(f, "invalid Runtime API address: {msg}"),
            RuntimeError::InvalidArgument(msg) => write!(f, "invalid argument: {msg}"),
            RuntimeError::Transport(err) => write!(f, "transport error: {err}"),
            RuntimeError::BadResponse(msg) => write!(f, "bad response: {msg}"),
            RuntimeError::Protocol { status, body } => {
                write!(
                    f,
                    "HTTP status {status}, response body: '{}'",
                    String::from_utf8_lossy(body)
                )
            }
            RuntimeError::Exhausted { what, attempts, last } => {
                write!(f, "{what} failed {attempts} times; last error: {last}")
            }
            RuntimeError::Interrupted => f.write_str("interrupted while waiting for the Runtime API"),
            RuntimeError::Internal(msg) => write!(f, "internal error (panic): {msg}"),
        }
    }
}

impl std::error::Error for RuntimeError {}

impl From<io::Error> for RuntimeError {
    fn from(err: io::Error) -> Self {
        RuntimeError::Transport(err)
    }
}

impl From<RuntimeError> for PyErr {
    fn from(err: RuntimeError) -> PyErr {
        match &err {
            RuntimeError::InvalidAddress(_) | RuntimeError::InvalidArgument(_) => {
                PyValueError::new_err(err.to_string())
            }
            RuntimeError::Internal(_) | RuntimeError::Interrupted => FastricError::new_err(err.to_string()),
            _ => Python::attach(|py| {
                let exc = RuntimeApiError::new_err(err.to_string());
                let value = exc.value(py);
                // Setting attributes on a fresh exception instance cannot fail short of MemoryError;
                // if it does, the exception is still raised without them.
                let _ = value.setattr(pyo3::intern!(py, "status"), err.status());
                let _ = value.setattr(pyo3::intern!(py, "body"), PyBytes::new(py, err.body()));
                let _ = value.setattr(pyo3::intern!(py, "fatal"), err.is_fatal());
                if let Some(io_err) = err.io_error() {
                    let copy = match io_err.raw_os_error() {
                        Some(code) => io::Error::from_raw_os_error(code),
                        None => io::Error::new(io_err.kind(), io_err.to_string()),
                    };
                    let cause = PyErr::from(copy);
                    exc.set_cause(py, Some(cause));
                }
                exc
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fatal_classification() {
        assert!(RuntimeError::Protocol {
            status: 500,
            body: vec![]
        }
        .is_fatal());
        for status in [400, 403, 410, 413, 404] {
            assert!(!RuntimeError::Protocol { status, body: vec![] }.is_fatal());
        }
        assert!(!RuntimeError::Transport(io::ErrorKind::ConnectionReset.into()).is_fatal());
        let exhausted = RuntimeError::Exhausted {
            what: "GET /next",
            attempts: 6,
            last: Box::new(RuntimeError::Protocol {
                status: 403,
                body: b"x".to_vec(),
            }),
        };
        assert!(exhausted.is_fatal());
        assert_eq!(exhausted.status(), Some(403));
        assert!(!RuntimeError::Interrupted.is_fatal());
    }
}
