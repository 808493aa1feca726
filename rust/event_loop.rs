//! The invoke loop: `/next` → context → event → handler → result → `/response` or `/error`.
//!
//! Runs on the thread that called `fastric._fastric.run_invoke_loop` (the main thread), attached to
//! the interpreter except while it waits on the Runtime API. The per-invocation work is the same as
//! awslambdaric 4.2.2's `bootstrap.handle_event_request` (see `awslambdaric-behaviour.md`, section 4),
//! with the slow and rare paths (context headers, error documents, logging) delegated to the Python
//! `hooks` object built by `fastric.bootstrap`.
//!
//! Patch points: once `fastric.bootstrap.handle_event_request` is not the original function any
//! more (an APM agent such as sentry-sdk replaced it), or `hooks.force_python` is set, each
//! invocation is served by `hooks.invoke` (which calls the current `handle_event_request`). And once
//! the client class's `post_invocation_result` / `post_invocation_error` is replaced, the native
//! path posts through `hooks.runtime_client`'s method instead of its own transport call. Both checks
//! are a dict or type-attribute lookup and a pointer comparison per invocation.

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::exceptions::PyException;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString, PyTuple, PyType};

use crate::context::ContextBuilder;
use crate::diagnostics::{self, Level};
use crate::environ::Environ;
use crate::errors::RuntimeError;
use crate::json_decode;
use crate::json_encode;
use crate::py_client::{PyInvocation, PyRuntimeApiClient};
use crate::response_stream::{self, Streaming};
use crate::runtime_api::Invocation;

/// The JSON content type; `/next` bodies with it (or with no content type at all) are decoded.
const APPLICATION_JSON: &str = "application/json";
/// The content type awslambdaric gives a `bytes` result.
const APPLICATION_UNKNOWN: &str = "application/unknown";
/// The environment variable awslambdaric sets from `Lambda-Runtime-Trace-Id` on every invocation.
const TRACE_ID_ENV: &str = "_X_AMZN_TRACE_ID";
/// Encode buffers larger than this are released after the invocation instead of kept for reuse
/// (bytes; a little above the 6 MB synchronous response limit, so every regular response reuses it).
const KEEP_BUFFER_BYTES: usize = 8 << 20;

/// What one invocation produced, as plain bytes, ready to be posted without the GIL.
enum Outcome<'py> {
    Response {
        content_type: &'static str,
        body: Vec<u8>,
    },
    Error {
        body: Vec<u8>,
        xray_cause: Option<String>,
    },
    /// A `@fastric.response_stream` handler's `ResponseStream`, streamed by `response_stream::deliver`.
    Stream(Bound<'py, PyAny>),
}

/// The `hooks` attributes, looked up once before the loop starts.
struct Hooks<'py> {
    make_context: Bound<'py, PyAny>,
    context_class: Bound<'py, PyAny>,
    unmarshal_fallback: Bound<'py, PyAny>,
    handle_error: Bound<'py, PyAny>,
    marshal_error: Bound<'py, PyAny>,
    state: Bound<'py, PyDict>,
    /// Builds `context_class` instances without its Python `__init__` (None: not applicable).
    context_builder: RefCell<Option<ContextBuilder<'py>>>,
    /// `os.environ` written without Python code (None: it is not a plain `os._Environ`).
    fast_environ: Option<Environ<'py>>,
    /// The hooks object itself: its `environ` is read again on every slow-path update, so a handler
    /// that replaced `os.environ` has the trace id written to (or removed from) its replacement.
    object: Bound<'py, PyAny>,
    ensure_ascii: bool,
    streaming: Streaming<'py>,
    /// Serve every invocation through `invoke` (`FASTRIC_PURE_PYTHON=1`).
    force_python: bool,
    /// `hooks.invoke(invocation, handler)`: the Python path of one invocation.
    invoke: Bound<'py, PyAny>,
    /// The `LambdaRuntimeClient` instance and its class (whose post methods may be replaced).
    runtime_client: Bound<'py, PyAny>,
    client_class: Bound<'py, PyType>,
    /// `hooks.originals`: the unpatched `handle_event_request`, `post_invocation_result`,
    /// `post_invocation_error`.
    original_handle_event_request: Bound<'py, PyAny>,
    original_post_result: Bound<'py, PyAny>,
    original_post_error: Bound<'py, PyAny>,
}

impl<'py> Hooks<'py> {
    fn from_object(hooks: &Bound<'py, PyAny>) -> PyResult<Self> {
        let py = hooks.py();
        let environ = hooks.getattr("environ")?;
        let context_class = hooks.getattr("context_class")?;
        let runtime_client = hooks.getattr("runtime_client")?;
        let originals = hooks.getattr("originals")?;
        let fast_environ = Environ::new(py)?.filter(|e| e.object().is(&environ));
        Ok(Hooks {
            make_context: hooks.getattr("make_context")?,
            context_builder: RefCell::new(ContextBuilder::new(py, &context_class, fast_environ.as_ref())?),
            context_class,
            fast_environ,
            unmarshal_fallback: hooks.getattr("unmarshal_fallback")?,
            handle_error: hooks.getattr("handle_error")?,
            marshal_error: hooks.getattr("marshal_error")?,
            state: hooks.getattr("state")?.cast_into::<PyDict>()?,
            object: hooks.clone(),
            ensure_ascii: hooks.getattr("ensure_ascii")?.is_truthy()?,
            streaming: Streaming::new(py)?,
            force_python: hooks.getattr("force_python")?.is_truthy()?,
            invoke: hooks.getattr("invoke")?,
            client_class: runtime_client.get_type(),
            runtime_client,
            original_handle_event_request: originals.get_item(0)?,
            original_post_result: originals.get_item(1)?,
            original_post_error: originals.get_item(2)?,
        })
    }

    /// Whether this invocation goes through `hooks.invoke`: forced, or `handle_event_request` in
    /// the bootstrap module's globals is no longer the original.
    fn python_path(&self, py: Python<'py>) -> PyResult<bool> {
        if self.force_python {
            return Ok(true);
        }
        let current = self.state.get_item(intern!(py, "handle_event_request"))?;
        Ok(!current.is_some_and(|f| f.is(&self.original_handle_event_request)))
    }

    /// Whether the client class's `name` method differs from `original` (it was replaced).
    fn post_replaced(&self, name: &Bound<'py, PyString>, original: &Bound<'py, PyAny>) -> PyResult<bool> {
        Ok(!self.client_class.getattr(name)?.is(original))
    }

    /// The mapping `_X_AMZN_TRACE_ID` is written to now: `hooks.environ`, i.e. the current
    /// `os.environ`, as awslambdaric looks `os.environ` up on every invocation.
    fn environ(&self) -> PyResult<Bound<'py, PyAny>> {
        self.object.getattr(intern!(self.object.py(), "environ"))
    }
}

/// Serves invocations until the process should end.
///
/// `client` is a `RuntimeApiClient`, `handler` the user's callable, `hooks` the object described in
/// `docs/ARCHITECTURE.md`. Never returns `Ok`: it ends by raising the `BaseException` a handler or a
/// signal handler raised (`SystemExit`, `KeyboardInterrupt`), or `RuntimeApiError` when the Runtime
/// API failed in a way Lambda defines as fatal (a 500, or `/next` unreachable after retries).
#[pyfunction]
pub(crate) fn run_invoke_loop(
    py: Python<'_>,
    client: &Bound<'_, PyRuntimeApiClient>,
    handler: &Bound<'_, PyAny>,
    hooks: &Bound<'_, PyAny>,
) -> PyResult<()> {
    let hooks = Hooks::from_object(hooks)?;
    crate::arena_cache::install(crate::arena_cache::limit_from_env());
    let client = client.get();
    let mut encode_buffer: Vec<u8> = Vec::new();
    // The event, context and result of the current invocation: released only after the post, so
    // freeing a large event does not delay the response (awslambdaric also frees them after it).
    let mut keep_until_posted: Vec<Bound<'_, PyAny>> = Vec::with_capacity(3);
    let mut spare_body: Vec<u8> = Vec::new();
    loop {
        let recycled = std::mem::take(&mut spare_body);
        let mut invocation = client.call_waiting(py, |api, on_idle| {
            api.recycle_body(recycled);
            api.next_invocation(on_idle)
        })?;
        if hooks.python_path(py)? {
            // A patched handle_event_request (or FASTRIC_PURE_PYTHON=1): it posts by itself.
            let served = serve_in_python(py, &hooks, handler, &invocation);
            spare_body = std::mem::take(&mut invocation.body);
            served?;
            continue;
        }
        let processed = catch_unwind(AssertUnwindSafe(|| {
            process_invocation(
                py,
                &hooks,
                handler,
                &invocation,
                &mut encode_buffer,
                &mut keep_until_posted,
            )
        }));
        let outcome = match processed {
            Ok(Ok(outcome)) => outcome,
            // A BaseException (SystemExit, KeyboardInterrupt, …): nothing is posted, as in awslambdaric.
            Ok(Err(err)) => return Err(err),
            Err(panic) => internal_error_outcome(&invocation, &panic_message(panic.as_ref())),
        };
        let posted = post_outcome(py, &hooks, client, &invocation, outcome, &mut encode_buffer);
        keep_until_posted.clear();
        spare_body = std::mem::take(&mut invocation.body);
        if let Err(err) = posted? {
            if err.is_fatal() {
                return Err(err.into());
            }
            // 400/403/410/413: the Runtime API refused this post; the invocation is lost either way,
            // and the environment is still usable, so carry on (awslambdaric exits here instead).
            diagnostics::log(
                Level::Error,
                &format!(
                    "posting the result of invocation {} failed: {err}; continuing",
                    invocation.request_id
                ),
            );
        }
    }
}

/// Serves one invocation through `hooks.invoke` (the current `handle_event_request`), after setting
/// the request ids and `_X_AMZN_TRACE_ID` as the native path does. `Err` ends the process.
fn serve_in_python<'py>(
    py: Python<'py>,
    hooks: &Hooks<'py>,
    handler: &Bound<'py, PyAny>,
    invocation: &Invocation,
) -> PyResult<()> {
    let request_id = PyString::new(py, &invocation.request_id);
    let environ_data = match hooks.fast_environ.as_ref() {
        Some(environ) => environ.current_data()?,
        None => None,
    };
    set_invocation_state(py, hooks, invocation, &request_id, environ_data.as_ref())?;
    drop(environ_data);
    let py_invocation = Bound::new(py, PyInvocation::from_ref(py, invocation))?;
    hooks.invoke.call1((py_invocation, handler))?;
    Ok(())
}

/// Posts what the native path produced: through the transport, or, once the client class's post
/// method was replaced, through `hooks.runtime_client`'s method (looked up now). The outer `Err` is a
/// Python exception from a replaced method (it ends the process); the inner one the transport's.
fn post_outcome<'py>(
    py: Python<'py>,
    hooks: &Hooks<'py>,
    client: &PyRuntimeApiClient,
    invocation: &Invocation,
    outcome: Outcome<'py>,
    encode_buffer: &mut Vec<u8>,
) -> PyResult<Result<(), RuntimeError>> {
    let invocation_id = invocation.invocation_id.as_deref();
    match outcome {
        Outcome::Response { content_type, body } => {
            let name = intern!(py, "post_invocation_result");
            if hooks.post_replaced(name, &hooks.original_post_result)? {
                // awslambdaric hands its post method the JSON text (its encoder returns str).
                let result = match (content_type, std::str::from_utf8(&body)) {
                    (APPLICATION_JSON, Ok(text)) => PyString::new(py, text).into_any(),
                    _ => PyBytes::new(py, &body).into_any(),
                };
                let args = (invocation.request_id.as_str(), result, content_type, invocation_id);
                recycle(encode_buffer, body);
                hooks.runtime_client.call_method1(name, args)?;
                return Ok(Ok(()));
            }
            let result = client.call(py, |api| {
                api.post_invocation_response(&invocation.request_id, invocation_id, content_type, &body)
            });
            recycle(encode_buffer, body);
            Ok(result)
        }
        Outcome::Stream(stream) => deliver_stream(py, hooks, client, invocation, &stream),
        Outcome::Error { body, xray_cause } => {
            let name = intern!(py, "post_invocation_error");
            if hooks.post_replaced(name, &hooks.original_post_error)? {
                // awslambdaric passes the error document and the X-Ray cause as JSON text.
                let document = match std::str::from_utf8(&body) {
                    Ok(text) => PyString::new(py, text).into_any(),
                    Err(_) => PyBytes::new(py, &body).into_any(),
                };
                let args = (
                    invocation.request_id.as_str(),
                    document,
                    xray_cause.as_deref().unwrap_or(""),
                    invocation_id,
                );
                hooks.runtime_client.call_method1(name, args)?;
                return Ok(Ok(()));
            }
            Ok(client.call(py, |api| {
                api.post_invocation_error(&invocation.request_id, invocation_id, &body, xray_cause.as_deref())
            }))
        }
    }
}

/// Streams a `@fastric.response_stream` result (`rust/response_stream.rs`); errors are reported
/// through `hooks.handle_error` as for a buffered handler. The outer `Err` ends the process (a
/// `BaseException`), the inner one is the Runtime API's; a panic is reported as `Internal`.
fn deliver_stream<'py>(
    py: Python<'py>,
    hooks: &Hooks<'py>,
    client: &PyRuntimeApiClient,
    invocation: &Invocation,
    stream: &Bound<'py, PyAny>,
) -> PyResult<Result<(), RuntimeError>> {
    let request_id = PyString::new(py, &invocation.request_id);
    let mut report = |err| match error_outcome(py, hooks, err, &request_id)? {
        Outcome::Error { body, xray_cause } => Ok((body, xray_cause)),
        _ => Ok((Vec::new(), None)),
    };
    catch_unwind(AssertUnwindSafe(|| {
        response_stream::deliver(
            py,
            client,
            &hooks.streaming,
            invocation,
            stream,
            hooks.ensure_ascii,
            &mut report,
        )
    }))
    .unwrap_or_else(|panic| Ok(Err(RuntimeError::Internal(panic_message(panic.as_ref())))))
}

/// Runs one invocation with the GIL held. `Err` only for exceptions that must end the process.
fn process_invocation<'py>(
    py: Python<'py>,
    hooks: &Hooks<'py>,
    handler: &Bound<'py, PyAny>,
    invocation: &Invocation,
    encode_buffer: &mut Vec<u8>,
    keep: &mut Vec<Bound<'py, PyAny>>,
) -> PyResult<Outcome<'py>> {
    let request_id = PyString::new(py, &invocation.request_id);
    // `os.environ._data` for the direct paths, checked once: no Python code runs before the handler.
    let environ_data = match hooks.fast_environ.as_ref() {
        Some(environ) => environ.current_data()?,
        None => None,
    };
    set_invocation_state(py, hooks, invocation, &request_id, environ_data.as_ref())?;
    let result = match call_handler(py, hooks, handler, invocation, &request_id, environ_data.as_ref(), keep) {
        Ok(result) => result,
        Err(err) => return error_outcome(py, hooks, err, &request_id),
    };
    keep.push(result.clone());
    if hooks.streaming.is_stream(&result)? {
        return Ok(Outcome::Stream(result));
    }
    if let Ok(bytes) = result.cast::<PyBytes>() {
        return Ok(Outcome::Response {
            content_type: APPLICATION_UNKNOWN,
            body: bytes.as_bytes().to_vec(),
        });
    }
    let mut body = std::mem::take(encode_buffer);
    body.clear();
    match json_encode::encode(&result, hooks.ensure_ascii, &mut body) {
        Ok(()) => Ok(Outcome::Response {
            content_type: APPLICATION_JSON,
            body,
        }),
        Err(err) => {
            *encode_buffer = body;
            let fault = hooks.marshal_error.call1((err.into_value(py),))?;
            error_outcome(py, hooks, PyErr::from_value(fault), &request_id)
        }
    }
}

/// Sets the request id and tenant id seen by the logging filter, and `_X_AMZN_TRACE_ID`.
fn set_invocation_state<'py>(
    py: Python<'py>,
    hooks: &Hooks<'py>,
    invocation: &Invocation,
    request_id: &Bound<'py, PyString>,
    environ_data: Option<&Bound<'py, PyDict>>,
) -> PyResult<()> {
    hooks
        .state
        .set_item(intern!(py, "_GLOBAL_AWS_REQUEST_ID"), request_id)?;
    hooks
        .state
        .set_item(intern!(py, "_GLOBAL_TENANT_ID"), invocation.tenant_id.as_deref())?;
    if let Some(trace_id) = invocation.trace_id.as_deref() {
        let fast = match (hooks.fast_environ.as_ref(), environ_data) {
            (Some(environ), Some(data)) => environ.set(data, TRACE_ID_ENV, trace_id)?,
            _ => false,
        };
        if fast {
            return Ok(());
        }
        if let Err(err) = hooks
            .environ()
            .and_then(|environ| environ.set_item(intern!(py, TRACE_ID_ENV), trace_id))
        {
            // A value the environment cannot hold (a NUL byte from the header), or an
            // `os.environ` patched by user code: the invocation still runs, without the variable.
            ok_or_warn(py, Err(err), invocation, "could not set")?;
            unset_trace_id(py, hooks, invocation)?;
        }
    } else {
        // Skip the Python-level `pop` when `os.environ` has no entry (awslambdaric deletes only when
        // `"_X_AMZN_TRACE_ID" in os.environ`). Not decided by `getenv`: a handler's `os.unsetenv`
        // removes the C variable but leaves the `os.environ` entry, which must still go.
        let present = match (hooks.fast_environ.as_ref(), environ_data) {
            (Some(environ), Some(data)) => environ.contains(data, TRACE_ID_ENV)?,
            _ => None,
        };
        if present != Some(false) {
            unset_trace_id(py, hooks, invocation)?;
        }
    }
    Ok(())
}

fn unset_trace_id(py: Python<'_>, hooks: &Hooks<'_>, invocation: &Invocation) -> PyResult<()> {
    let popped = hooks
        .environ()
        .and_then(|environ| environ.call_method1(intern!(py, "pop"), (intern!(py, TRACE_ID_ENV), py.None())));
    ok_or_warn(py, popped.map(drop), invocation, "could not unset")
}

/// Turns an `Exception` from updating `_X_AMZN_TRACE_ID` into a diagnostic line (the invocation must
/// not be lost over it); other `BaseException`s (`KeyboardInterrupt` from a signal) propagate.
fn ok_or_warn(py: Python<'_>, result: PyResult<()>, invocation: &Invocation, what: &str) -> PyResult<()> {
    match result {
        Err(err) if err.is_instance_of::<PyException>(py) => {
            diagnostics::log(
                Level::Warning,
                &format!("{what} {TRACE_ID_ENV} for invocation {}: {err}", invocation.request_id),
            );
            Ok(())
        }
        other => other,
    }
}

/// Builds the context, decodes the event and calls `handler(event, context)`.
fn call_handler<'py>(
    py: Python<'py>,
    hooks: &Hooks<'py>,
    handler: &Bound<'py, PyAny>,
    invocation: &Invocation,
    request_id: &Bound<'py, PyString>,
    environ_data: Option<&Bound<'py, PyDict>>,
    keep: &mut Vec<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let fast = if invocation.client_context.is_none() && invocation.cognito_identity.is_none() {
        match (hooks.context_builder.borrow_mut().as_mut(), hooks.fast_environ.as_ref()) {
            (Some(builder), Some(environ)) => builder.build(
                environ,
                environ_data,
                request_id.as_any(),
                invocation.deadline_ms,
                &invocation.invoked_function_arn,
                invocation.tenant_id.as_deref(),
            )?,
            _ => None,
        }
    } else {
        None
    };
    let context = if let Some(context) = fast {
        context
    } else if invocation.client_context.is_none() && invocation.cognito_identity.is_none() {
        // No JSON headers to parse, so build the context directly.
        hooks.context_class.call1((
            request_id,
            py.None(),
            py.None(),
            invocation.deadline_ms,
            invocation.invoked_function_arn.as_str(),
            invocation.tenant_id.as_deref(),
        ))?
    } else {
        hooks.make_context.call1((
            request_id,
            invocation.deadline_ms,
            invocation.invoked_function_arn.as_str(),
            invocation.client_context.as_deref(),
            invocation.cognito_identity.as_deref(),
            invocation.tenant_id.as_deref(),
        ))?
    };
    let event = decode_event(py, hooks, invocation)?;
    keep.push(event.clone());
    keep.push(context.clone());
    handler.call1(PyTuple::new(py, [event, context])?)
}

/// The event as the handler sees it: decoded JSON, or the raw bytes for other content types.
///
/// A `/next` without `Content-Type` is decoded as JSON (awslambdaric segfaults there; cargo-lambda's
/// emulator sends none). Any other content type, `application/json; charset=utf-8` included, gives
/// `bytes`, as in awslambdaric (`lambda_runtime_marshaller.py`, `unmarshal_request`).
fn decode_event<'py>(py: Python<'py>, hooks: &Hooks<'py>, invocation: &Invocation) -> PyResult<Bound<'py, PyAny>> {
    match invocation.content_type.as_deref() {
        None | Some(APPLICATION_JSON) => match json_decode::decode(py, &invocation.body)? {
            Some(event) => Ok(event),
            None => hooks.unmarshal_fallback.call1((PyBytes::new(py, &invocation.body),)),
        },
        Some(_) => Ok(PyBytes::new(py, &invocation.body).into_any()),
    }
}

/// Turns an exception from the context, the decoder, the handler or the encoder into the error
/// document, through `hooks.handle_error`, which also writes the error log line.
fn error_outcome<'py>(
    py: Python<'py>,
    hooks: &Hooks<'py>,
    err: PyErr,
    request_id: &Bound<'py, PyString>,
) -> PyResult<Outcome<'py>> {
    if !err.is_instance_of::<PyException>(py) {
        return Err(err);
    }
    let reported = hooks.handle_error.call1((err.into_value(py), request_id));
    let reported = match reported {
        Ok(reported) => reported,
        Err(hook_err) if hook_err.is_instance_of::<PyException>(py) => {
            // The error reporter itself failed: still answer the invocation with something useful.
            let message = hook_err.to_string();
            diagnostics::log(Level::Error, &format!("building the error document failed: {message}"));
            return Ok(Outcome::Error {
                body: fallback_error_document(request_id.to_str()?, &message),
                xray_cause: None,
            });
        }
        Err(hook_err) => return Err(hook_err),
    };
    let (body, xray_cause): (Vec<u8>, Option<String>) = reported.extract()?;
    Ok(Outcome::Error { body, xray_cause })
}

/// The error posted when fastric itself failed (a Rust panic) during an invocation.
fn internal_error_outcome<'py>(invocation: &Invocation, message: &str) -> Outcome<'py> {
    diagnostics::log(
        Level::Error,
        &format!(
            "internal error while handling invocation {}: {message}",
            invocation.request_id
        ),
    );
    Outcome::Error {
        body: fallback_error_document(&invocation.request_id, message),
        xray_cause: None,
    }
}

/// A minimal error document in awslambdaric's shape, built without Python.
fn fallback_error_document(request_id: &str, message: &str) -> Vec<u8> {
    let mut body = Vec::with_capacity(128 + message.len());
    body.extend_from_slice(b"{\"errorMessage\": ");
    write_json_string(&mut body, message);
    body.extend_from_slice(b", \"errorType\": \"Runtime.FastricInternalError\", \"requestId\": ");
    write_json_string(&mut body, request_id);
    body.extend_from_slice(b", \"stackTrace\": []}");
    body
}

/// Appends `text` as an ASCII-only JSON string literal.
fn write_json_string(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    for unit in text.encode_utf16() {
        match unit {
            0x22 => out.extend_from_slice(b"\\\""),
            0x5c => out.extend_from_slice(b"\\\\"),
            0x20..=0x7e => out.push(unit as u8),
            _ => out.extend_from_slice(format!("\\u{unit:04x}").as_bytes()),
        }
    }
    out.push(b'"');
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "panic with a non-string payload".to_owned()
    }
}

/// Keeps the encode buffer for the next invocation unless it grew large.
fn recycle(buffer: &mut Vec<u8>, body: Vec<u8>) {
    if body.capacity() <= KEEP_BUFFER_BYTES && body.capacity() > buffer.capacity() {
        *buffer = body;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallback_document_is_awslambdaric_shaped_and_ascii() {
        let body = fallback_error_document("rid-1", "boom \"é\" \u{1F600}");
        assert_eq!(
            String::from_utf8(body).unwrap(),
            "{\"errorMessage\": \"boom \\\"\\u00e9\\\" \\ud83d\\ude00\", \"errorType\": \"Runtime.FastricInternalError\", \
             \"requestId\": \"rid-1\", \"stackTrace\": []}"
        );
    }
}
