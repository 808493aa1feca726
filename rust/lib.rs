//! fastric's native core: the Lambda Runtime API client, the invoke loop, the JSON codec that
//! reproduces awslambdaric's bytes, and the built-in Runtime Interface Emulator.
//!
//! Python imports this as `fastric._fastric`; only modules inside the `fastric` package use it.

use pyo3::prelude::*;

mod arena_cache;
mod b64;
mod context;
mod diagnostics;
mod environ;
mod errors;
mod event_loop;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod headers;
mod http;
mod json_decode;
mod json_encode;
mod json_float;
mod json_scan;
mod py_client;
mod response_stream;
mod rie;
mod runtime_api;
mod stdio;

/// The native module `fastric._fastric`.
#[pymodule]
mod _fastric {
    use pyo3::prelude::*;
    use pyo3::types::PyBytes;

    #[pymodule_export]
    const VERSION: &str = env!("CARGO_PKG_VERSION");

    #[pymodule_export]
    use crate::errors::{FastricError, RuntimeApiError};
    #[pymodule_export]
    use crate::event_loop::run_invoke_loop;
    #[pymodule_export]
    use crate::py_client::{set_diagnostic_fd, PyInvocation, PyRuntimeApiClient};
    #[pymodule_export]
    use crate::response_stream::stream_invocation_response;
    #[pymodule_export]
    use crate::stdio::WriteThroughStream;

    /// Runs `fastric-rie` with `argv` (`argv[0]` is the program name) and returns its exit code.
    ///
    /// `python_executable` is the interpreter for the `python -m fastric HANDLER` fallback
    /// (default: `sys.executable`). Serves until SIGTERM or SIGINT (see `crate::rie::run`). The
    /// GIL is released while serving.
    #[pyfunction]
    #[pyo3(signature = (argv, python_executable=None))]
    fn rie_main(py: Python<'_>, argv: Vec<String>, python_executable: Option<String>) -> PyResult<i32> {
        let python = match python_executable {
            Some(p) => p,
            None => py.import("sys")?.getattr("executable")?.extract::<String>()?,
        };
        Ok(py.detach(move || crate::rie::run(&argv, &python)))
    }

    /// `json_loads(data: bytes) -> Any`: decodes a JSON document with `simplejson.loads(bytes)`
    /// semantics (awslambdaric 4.2.2's event decoding). Invalid documents raise `ValueError`
    /// (a `JSONDecodeError`, `UnicodeDecodeError` or `RecursionError` as simplejson would) whose
    /// `str()` is simplejson 4.3.0's message. Uses the Rust fast path, else
    /// `fastric._json_compat.loads`.
    #[pyfunction]
    fn json_loads<'py>(py: Python<'py>, data: &Bound<'py, PyBytes>) -> PyResult<Bound<'py, PyAny>> {
        crate::json_decode::loads(py, data)
    }

    /// `json_dumps(obj, ensure_ascii: bool) -> bytes`: the UTF-8 bytes of awslambdaric 4.2.2's
    /// `Encoder().encode(obj)` (simplejson 4.3.0; `ensure_ascii` is `False` only for the
    /// 3.12–3.15 `AWS_EXECUTION_ENV` values). Raises `TypeError` / `ValueError` /
    /// `RecursionError` with simplejson's messages.
    #[pyfunction]
    fn json_dumps<'py>(py: Python<'py>, obj: &Bound<'py, PyAny>, ensure_ascii: bool) -> PyResult<Bound<'py, PyBytes>> {
        crate::json_encode::dumps(py, obj, ensure_ascii)
    }
}
