//! Python face of the Runtime API client: `fastric._fastric.RuntimeApiClient`, `Invocation`
//! and `set_diagnostic_fd`. Every network call runs detached from the interpreter (`py.detach`);
//! the waits on `/next` and `/restore/next` re-attach every 50 ms to run Python signal handlers.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Mutex, MutexGuard};

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::diagnostics;
use crate::errors::RuntimeError;
use crate::runtime_api::{Invocation, RuntimeApi};

/// `RuntimeApiClient(address: str, user_agent: str)`: a client of the Lambda Runtime API at
/// `address` (`AWS_LAMBDA_RUNTIME_API` syntax: `host:port`, `[::1]:port`, optional `http://`,
/// optional path prefix). Raises `ValueError` for a bad address. Thread-safe: calls are serialised.
#[pyclass(frozen, name = "RuntimeApiClient", module = "fastric._fastric")]
pub(crate) struct PyRuntimeApiClient {
    inner: Mutex<RuntimeApi>,
}

impl PyRuntimeApiClient {
    /// Locks the inner client for Rust callers (the invoke loop). Lock it only while detached
    /// (another thread may hold it during a long `/next`). A lock poisoned by a panic is
    /// recovered and its connection discarded.
    pub(crate) fn lock(&self) -> MutexGuard<'_, RuntimeApi> {
        self.inner.lock().unwrap_or_else(|poisoned| {
            let mut guard = poisoned.into_inner();
            guard.discard_connection();
            guard
        })
    }

    /// Runs `op` on the inner client detached from Python, turning a panic into `Internal`.
    pub(crate) fn call<T: Send>(
        &self,
        py: Python<'_>,
        op: impl FnOnce(&mut RuntimeApi) -> Result<T, RuntimeError> + Send,
    ) -> Result<T, RuntimeError> {
        py.detach(|| self.guarded(op))
    }

    /// Runs `op` on the locked inner client (the caller is detached), turning a panic into `Internal`.
    fn guarded<T>(&self, op: impl FnOnce(&mut RuntimeApi) -> Result<T, RuntimeError>) -> Result<T, RuntimeError> {
        catch_unwind(AssertUnwindSafe(|| op(&mut self.lock()))).unwrap_or_else(|payload| {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            Err(RuntimeError::Internal(message))
        })
    }

    /// Like [`Self::call`] for the long waits: passes an `on_idle` that re-attaches and runs
    /// `py.check_signals()`; an exception raised by a signal handler is re-raised as is.
    pub(crate) fn call_waiting<T: Send>(
        &self,
        py: Python<'_>,
        op: impl FnOnce(&mut RuntimeApi, &mut dyn FnMut() -> bool) -> Result<T, RuntimeError> + Send,
    ) -> PyResult<T> {
        let (result, signal_error) = detach_checking_signals(py, |on_idle| self.guarded(|api| op(api, on_idle)));
        match (result, signal_error) {
            (Err(RuntimeError::Interrupted), Some(err)) => Err(err),
            (result, _) => result.map_err(PyErr::from),
        }
    }
}

/// Runs `op` detached from Python with an `on_idle` that re-attaches and runs `py.check_signals()`
/// (returning false once a signal handler raised). Returns `op`'s result and that exception, if any.
pub(crate) fn detach_checking_signals<T: Send>(
    py: Python<'_>,
    op: impl FnOnce(&mut dyn FnMut() -> bool) -> T + Send,
) -> (T, Option<PyErr>) {
    let mut signal_error: Option<PyErr> = None;
    let result = py.detach(|| {
        let mut on_idle = || {
            Python::attach(|py| match py.check_signals() {
                Ok(()) => true,
                Err(err) => {
                    signal_error = Some(err);
                    false
                }
            })
        };
        op(&mut on_idle)
    });
    (result, signal_error)
}

#[pymethods]
impl PyRuntimeApiClient {
    #[new]
    fn py_new(address: &str, user_agent: &str) -> PyResult<Self> {
        Ok(PyRuntimeApiClient {
            inner: Mutex::new(RuntimeApi::new(address, user_agent)?),
        })
    }

    /// `GET /2018-06-01/runtime/invocation/next`: waits (no timeout) for the next invocation and
    /// returns an `Invocation`. Signal handlers run while waiting; their exception propagates.
    /// Raises `RuntimeApiError` when retries are exhausted or on HTTP 500 (both fatal).
    fn next_invocation(&self, py: Python<'_>) -> PyResult<PyInvocation> {
        let invocation = self.call_waiting(py, |api, on_idle| api.next_invocation(on_idle))?;
        Ok(PyInvocation::from_ref(py, &invocation))
    }

    /// `POST /2018-06-01/runtime/invocation/{request_id}/response` with `Content-Type: content_type`
    /// and, when given, `Lambda-Runtime-Invocation-Id`. Raises `RuntimeApiError` (`status` set for
    /// an HTTP answer such as 413; `None` when the connection failed after sending — never resent).
    #[pyo3(signature = (request_id, body, content_type, invocation_id = None))]
    fn post_invocation_response(
        &self,
        py: Python<'_>,
        request_id: &str,
        body: &[u8],
        content_type: &str,
        invocation_id: Option<&str>,
    ) -> PyResult<()> {
        Ok(self.call(py, |api| {
            api.post_invocation_response(request_id, invocation_id, content_type, body)
        })?)
    }

    /// `POST /2018-06-01/runtime/invocation/{request_id}/error` with `Content-Type: application/json`,
    /// `Lambda-Runtime-Function-XRay-Error-Cause` when `xray_cause` is non-empty and under 1 MiB,
    /// and `Lambda-Runtime-Invocation-Id` when given. Raises `RuntimeApiError`.
    #[pyo3(signature = (request_id, body, xray_cause = None, invocation_id = None))]
    fn post_invocation_error(
        &self,
        py: Python<'_>,
        request_id: &str,
        body: &[u8],
        xray_cause: Option<&str>,
        invocation_id: Option<&str>,
    ) -> PyResult<()> {
        Ok(self.call(py, |api| {
            api.post_invocation_error(request_id, invocation_id, body, xray_cause)
        })?)
    }

    /// `POST /2018-06-01/runtime/init/error` with `Lambda-Runtime-Function-Error-Type: error_type`
    /// and no Content-Type. Raises `RuntimeApiError`.
    fn post_init_error(&self, py: Python<'_>, body: &[u8], error_type: &str) -> PyResult<()> {
        Ok(self.call(py, |api| api.post_init_error(error_type, body))?)
    }

    /// `GET /2018-06-01/runtime/restore/next` (SnapStart): waits until restored. Raises
    /// `RuntimeApiError`; signal handler exceptions propagate.
    fn restore_next(&self, py: Python<'_>) -> PyResult<()> {
        self.call_waiting(py, |api, on_idle| api.restore_next(on_idle))
    }

    /// `POST /2018-06-01/runtime/restore/error` with `Lambda-Runtime-Function-Error-Type: error_type`
    /// and no Content-Type. Raises `RuntimeApiError`.
    fn post_restore_error(&self, py: Python<'_>, body: &[u8], error_type: &str) -> PyResult<()> {
        Ok(self.call(py, |api| api.post_restore_error(error_type, body))?)
    }
}

/// One invocation from `/next`. Attributes (read-only): `request_id: str`, `deadline_ms: int`
/// (epoch ms, 0 when unknown), `invoked_function_arn: str` ("" when absent), `trace_id`,
/// `client_context`, `cognito_identity`, `tenant_id`, `invocation_id`, `content_type`
/// (`str | None`), `body: bytes`.
#[pyclass(frozen, name = "Invocation", module = "fastric._fastric")]
pub(crate) struct PyInvocation {
    #[pyo3(get)]
    request_id: String,
    #[pyo3(get)]
    deadline_ms: i64,
    #[pyo3(get)]
    invoked_function_arn: String,
    #[pyo3(get)]
    trace_id: Option<String>,
    #[pyo3(get)]
    client_context: Option<String>,
    #[pyo3(get)]
    cognito_identity: Option<String>,
    #[pyo3(get)]
    tenant_id: Option<String>,
    #[pyo3(get)]
    invocation_id: Option<String>,
    #[pyo3(get)]
    content_type: Option<String>,
    #[pyo3(get)]
    body: Py<PyBytes>,
}

impl PyInvocation {
    /// A copy of `inv` for Python (the invoke loop keeps `inv` and recycles its body buffer; the
    /// `next_invocation` method drops it).
    pub(crate) fn from_ref(py: Python<'_>, inv: &Invocation) -> Self {
        PyInvocation {
            body: PyBytes::new(py, &inv.body).unbind(),
            request_id: inv.request_id.clone(),
            deadline_ms: inv.deadline_ms,
            invoked_function_arn: inv.invoked_function_arn.clone(),
            trace_id: inv.trace_id.clone(),
            client_context: inv.client_context.clone(),
            cognito_identity: inv.cognito_identity.clone(),
            tenant_id: inv.tenant_id.clone(),
            invocation_id: inv.invocation_id.clone(),
            content_type: inv.content_type.clone(),
        }
    }
}

#[pymethods]
impl PyInvocation {
    fn __repr__(&self) -> String {
        format!(
            "<Invocation request_id={:?} deadline_ms={}>",
            self.request_id, self.deadline_ms
        )
    }
}

/// `set_diagnostic_fd(fd: int | None) -> None`: send fastric's own `[fastric] ...` diagnostic
/// lines as TEXT frames to the Lambda telemetry fd (`_LAMBDA_TELEMETRY_LOG_FD`), or back to
/// stderr with `None`. The caller keeps ownership of the fd and must reset it before closing it.
#[pyfunction]
#[pyo3(signature = (fd))]
pub(crate) fn set_diagnostic_fd(fd: Option<i32>) {
    diagnostics::set_fd(fd);
}
