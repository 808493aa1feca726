//! Response streaming: sends the result of a `@fastric.response_stream` handler as a streamed
//! `POST /runtime/invocation/{id}/response`, the wire format of AWS's "Building a custom runtime"
//! page (docs.aws.amazon.com/lambda/latest/dg/runtimes-custom.html, section "Response streaming";
//! `runtime-api-and-emulator.md` 1.8):
//!
//! - headers `Lambda-Runtime-Function-Response-Mode: streaming`, `Transfer-Encoding: chunked`,
//!   `Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body`, then the
//!   handler's `Content-Type`;
//! - each item of the handler's iterable is one HTTP/1.1 chunk, written as soon as Python produced
//!   it, with the GIL released while the socket blocks (a slow reader is backpressure on the
//!   generator; at most one item is held);
//! - an exception before the first byte is posted to `/error` as for a buffered handler; after it,
//!   the stream ends with real HTTP trailers: the error document's `errorType`, and the document
//!   itself base64-encoded;
//! - the connection is closed after the stream; a streamed response is never sent again.
//!
//! The Python side (`fastric/streaming.py`) turns the handler's result into a content type and an
//! iterator (`open_stream`); nothing here runs unless that module was imported.

use std::cell::RefCell;
use std::io::Write as _;

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyIterator, PyString};

use crate::diagnostics::{self, Level};
use crate::errors::RuntimeError;
use crate::headers;
use crate::http::Connection;
use crate::json_decode;
use crate::py_client::{detach_checking_signals, PyRuntimeApiClient};
use crate::runtime_api::Invocation;

/// The Python module holding `ResponseStream` and `open_stream`.
const STREAMING_MODULE: &str = "fastric.streaming";
/// The `Trailer` header value declared at the start of every streamed response.
const TRAILER_VALUE: &[u8] = b"Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body";
/// Error type in the trailer when the error document has no readable `errorType`.
const FALLBACK_ERROR_TYPE: &str = "Runtime.StreamError";

/// The error document and X-Ray cause for an exception, as `hooks.handle_error` builds them.
pub(crate) type ErrorReport = (Vec<u8>, Option<String>);

/// The `fastric.streaming` names, looked up once the module has been imported (by a decorated
/// handler module); until then no result can be a `ResponseStream`, and the check is one dict lookup.
pub(crate) struct Streaming<'py> {
    modules: Bound<'py, PyDict>,
    found: RefCell<Option<StreamingNames<'py>>>,
}

/// `ResponseStream`, `open_stream` and `item_error` of `fastric.streaming`.
type StreamingNames<'py> = (Bound<'py, PyAny>, Bound<'py, PyAny>, Bound<'py, PyAny>);

impl<'py> Streaming<'py> {
    pub(crate) fn new(py: Python<'py>) -> PyResult<Self> {
        Ok(Streaming {
            modules: py.import("sys")?.getattr("modules")?.cast_into::<PyDict>()?,
            found: RefCell::new(None),
        })
    }

    /// Whether `result` is a `fastric.streaming.ResponseStream` (what a decorated handler returns).
    pub(crate) fn is_stream(&self, result: &Bound<'py, PyAny>) -> PyResult<bool> {
        if self.found.borrow().is_none() {
            let Some(module) = self.modules.get_item(intern!(result.py(), STREAMING_MODULE))? else {
                return Ok(false);
            };
            *self.found.borrow_mut() = Some((
                module.getattr("ResponseStream")?,
                module.getattr("open_stream")?,
                module.getattr("item_error")?,
            ));
        }
        match self.found.borrow().as_ref() {
            Some((class, _, _)) => result.is_instance(class),
            None => Ok(false),
        }
    }

    fn open_stream(&self) -> Bound<'py, PyAny> {
        self.found
            .borrow()
            .as_ref()
            .map(|f| f.1.clone())
            .expect("is_stream checked first")
    }

    fn item_error(&self) -> Bound<'py, PyAny> {
        self.found
            .borrow()
            .as_ref()
            .map(|f| f.2.clone())
            .expect("is_stream checked first")
    }
}

/// One streamed response on its own connection: the head goes out with the first chunk.
struct ChunkWriter {
    conn: Connection,
    head: Option<Vec<u8>>,
    scratch: Vec<u8>,
}

impl ChunkWriter {
    /// Writes `data` (non-empty) as one chunk, preceded by the head the first time.
    fn chunk(&mut self, data: &[u8], on_idle: &mut dyn FnMut() -> bool) -> std::io::Result<()> {
        self.scratch.clear();
        if let Some(head) = self.head.take() {
            self.scratch.extend_from_slice(&head);
        }
        // The chunk-size line goes into the reused scratch buffer (no allocation per chunk).
        write!(self.scratch, "{:x}\r\n", data.len())?;
        let scratch = std::mem::take(&mut self.scratch);
        let sent = self.conn.send_parts(&[&scratch, data, b"\r\n"], on_idle);
        self.scratch = scratch;
        sent.map_err(|e| e.error)
    }

    /// Writes the last chunk (with the error trailers when `error` is given), reads the answer and
    /// drops the connection. Non-2xx answers are `Protocol` errors.
    fn finish(mut self, error: Option<(&str, &str)>, on_idle: &mut dyn FnMut() -> bool) -> Result<(), RuntimeError> {
        let mut end = self.head.take().unwrap_or_default();
        end.extend_from_slice(b"0\r\n");
        if let Some((error_type, body)) = error {
            for (name, value) in [
                (headers::LAMBDA_RUNTIME_FUNCTION_ERROR_TYPE, error_type),
                (headers::LAMBDA_RUNTIME_FUNCTION_ERROR_BODY, body),
            ] {
                end.extend_from_slice(name.as_bytes());
                end.extend_from_slice(b": ");
                end.extend_from_slice(value.as_bytes());
                end.extend_from_slice(b"\r\n");
            }
        }
        end.extend_from_slice(b"\r\n");
        self.conn
            .send_parts(&[&end], on_idle)
            .map_err(|e| RuntimeError::Transport(e.error))?;
        let response = self.conn.read_response(on_idle)?;
        if (200..300).contains(&response.status) {
            Ok(())
        } else {
            Err(RuntimeError::Protocol {
                status: response.status,
                body: response.body,
            })
        }
    }
}

/// What the Python side produced next: an item's bytes (kept alive by `item`), the end, or an error.
enum Next<'py> {
    Item(Bound<'py, PyAny>),
    End,
    Failed(PyErr),
}

fn next_item<'py>(iterator: &Bound<'py, PyIterator>, streaming: &Streaming<'py>) -> Next<'py> {
    loop {
        let item = match iterator.clone().next() {
            None => return Next::End,
            Some(Err(err)) => return Next::Failed(err),
            Some(Ok(item)) => item,
        };
        match item_bytes(&item) {
            Ok([]) => {}
            Ok(_) => return Next::Item(item),
            Err(Some(err)) => return Next::Failed(err),
            Err(None) => {
                return Next::Failed(match streaming.item_error().call1((item,)) {
                    Ok(fault) => PyErr::from_value(fault),
                    Err(err) => err,
                })
            }
        }
    }
}

/// The bytes of a `bytes` item or the UTF-8 of a `str` item; `Err(None)` for any other type,
/// `Err(Some(_))` for a `str` that is not encodable (lone surrogates).
fn item_bytes<'a>(item: &'a Bound<'_, PyAny>) -> Result<&'a [u8], Option<PyErr>> {
    if let Ok(bytes) = item.cast::<PyBytes>() {
        return Ok(bytes.as_bytes());
    }
    if let Ok(text) = item.cast::<PyString>() {
        return text.to_str().map(str::as_bytes).map_err(Some);
    }
    Err(None)
}

/// Streams the `ResponseStream` `stream` for `invocation`. `report` turns an exception into the
/// error document (it logs the error record, as for a buffered handler; a `BaseException` that is
/// not an `Exception` comes back as `Err`, which ends the loop unposted).
///
/// Returns the Runtime API outcome (`Ok(Err(_))`: the post failed; the caller logs it), or a Python
/// exception that must end the process (`SystemExit`, `KeyboardInterrupt`, a signal handler's).
pub(crate) fn deliver<'py>(
    py: Python<'py>,
    client: &PyRuntimeApiClient,
    streaming: &Streaming<'py>,
    invocation: &Invocation,
    stream: &Bound<'py, PyAny>,
    ensure_ascii: bool,
    report: &mut dyn FnMut(PyErr) -> PyResult<ErrorReport>,
) -> PyResult<Result<(), RuntimeError>> {
    let post_error = |report: ErrorReport| {
        client.call(py, |api| {
            api.post_invocation_error(
                &invocation.request_id,
                invocation.invocation_id.as_deref(),
                &report.0,
                report.1.as_deref(),
            )
        })
    };
    let opened = streaming
        .open_stream()
        .call1((stream, ensure_ascii))
        .and_then(|opened| opened.extract::<(String, Bound<'py, PyAny>)>())
        .and_then(|(content_type, items)| Ok((content_type, items.cast_into::<PyIterator>()?)));
    let (content_type, iterator) = match opened {
        Ok(opened) => opened,
        Err(err) => return Ok(post_error(report(err)?)),
    };
    let first = match next_item(&iterator, streaming) {
        Next::Failed(err) => return Ok(post_error(report(err)?)),
        Next::End => None,
        Next::Item(item) => Some(item),
    };
    let extra: [(&str, &[u8]); 4] = [
        (headers::LAMBDA_RUNTIME_FUNCTION_RESPONSE_MODE, b"streaming"),
        (headers::TRANSFER_ENCODING, b"chunked"),
        (headers::TRAILER, TRAILER_VALUE),
        (headers::CONTENT_TYPE, content_type.as_bytes()),
    ];
    if !crate::http::valid_header_value(content_type.as_bytes()) {
        let err = PyErr::new::<pyo3::exceptions::PyValueError, _>(format!(
            "response_stream content type {content_type:?} contains CR, LF or NUL"
        ));
        return Ok(post_error(report(err)?));
    }
    let begun = client.call(py, |api| {
        api.begin_streamed_response(&invocation.request_id, invocation.invocation_id.as_deref(), &extra)
    });
    let (conn, head) = match begun.and_then(|(mut conn, head)| {
        conn.use_send_slices().map_err(RuntimeError::Transport)?;
        Ok((conn, head))
    }) {
        Ok(begun) => begun,
        Err(err) => {
            close_iterator(&iterator);
            return Ok(Err(err));
        }
    };
    let mut writer = ChunkWriter {
        conn,
        head: Some(head),
        scratch: Vec::with_capacity(64),
    };
    let mut item = first;
    loop {
        let Some(current) = item.take() else {
            let (finished, signal) = detach_checking_signals(py, |on_idle| writer.finish(None, on_idle));
            return signal.map_or(Ok(finished), Err);
        };
        let data = item_bytes(&current).unwrap_or_default();
        let (written, signal) = detach_checking_signals(py, |on_idle| writer.chunk(data, on_idle));
        drop(current);
        if let Some(err) = signal {
            close_iterator(&iterator);
            return Err(err);
        }
        if let Err(err) = written {
            close_iterator(&iterator);
            diagnostics::log(
                Level::Error,
                &format!(
                    "streaming the response of invocation {} failed: {err}; the rest of the stream is dropped",
                    invocation.request_id
                ),
            );
            return Ok(Err(RuntimeError::Transport(err)));
        }
        match next_item(&iterator, streaming) {
            Next::Item(next) => item = Some(next),
            Next::End => {}
            Next::Failed(err) => {
                let (body, _xray_cause) = report(err)?;
                let error_type = error_type_of(py, &body);
                let encoded = crate::b64::encode_standard(&body);
                let (finished, signal) =
                    detach_checking_signals(py, |on_idle| writer.finish(Some((&error_type, &encoded)), on_idle));
                return signal.map_or(Ok(finished), Err);
            }
        }
    }
}

/// `errorType` of an error document (awslambdaric's shape), for the trailer.
fn error_type_of(py: Python<'_>, body: &[u8]) -> String {
    let found = json_decode::decode(py, body)
        .ok()
        .flatten()
        .and_then(|doc| doc.get_item(intern!(py, "errorType")).ok())
        .and_then(|value| value.extract::<String>().ok())
        .filter(|value| !value.is_empty() && crate::http::valid_header_value(value.as_bytes()));
    found.unwrap_or_else(|| FALLBACK_ERROR_TYPE.to_owned())
}

/// Closes the handler's generator (runs its `finally` blocks) when the stream stops early.
fn close_iterator(iterator: &Bound<'_, PyIterator>) {
    let py = iterator.py();
    if let Ok(close) = iterator.getattr(intern!(py, "close")) {
        if let Err(err) = close.call0() {
            diagnostics::log(
                Level::Warning,
                &format!("closing the response stream's generator failed: {err}"),
            );
        }
    }
}

/// `stream_invocation_response(client, request_id, stream, ensure_ascii, handle_error,
/// invocation_id=None) -> None`: streams the `fastric.streaming.ResponseStream` `stream` as the
/// result of invocation `request_id`, exactly as the native loop does, for a Python-level invocation
/// path (one that replaced `handle_event_request`). `handle_error(exc, request_id)` returns
/// `(error document bytes, X-Ray cause or None)` and logs the error record, as `Hooks.handle_error`.
/// Raises `TypeError` when `stream` is not a `ResponseStream`, `RuntimeApiError` when the post failed
/// (never re-sent), and whatever `BaseException` the stream's generator or a signal handler raised.
#[pyfunction]
#[pyo3(signature = (client, request_id, stream, ensure_ascii, handle_error, invocation_id = None))]
pub(crate) fn stream_invocation_response(
    py: Python<'_>,
    client: &Bound<'_, PyRuntimeApiClient>,
    request_id: &str,
    stream: &Bound<'_, PyAny>,
    ensure_ascii: bool,
    handle_error: &Bound<'_, PyAny>,
    invocation_id: Option<&str>,
) -> PyResult<()> {
    let streaming = Streaming::new(py)?;
    if !streaming.is_stream(stream)? {
        return Err(pyo3::exceptions::PyTypeError::new_err(
            "stream must be a fastric.streaming.ResponseStream",
        ));
    }
    let invocation = Invocation {
        request_id: request_id.to_owned(),
        deadline_ms: 0,
        invoked_function_arn: String::new(),
        trace_id: None,
        client_context: None,
        cognito_identity: None,
        tenant_id: None,
        invocation_id: invocation_id.map(str::to_owned),
        content_type: None,
        body: Vec::new(),
    };
    let mut report = |err: PyErr| -> PyResult<ErrorReport> {
        if !err.is_instance_of::<pyo3::exceptions::PyException>(py) {
            return Err(err);
        }
        handle_error.call1((err.into_value(py), request_id))?.extract()
    };
    deliver(
        py,
        client.get(),
        &streaming,
        &invocation,
        stream,
        ensure_ascii,
        &mut report,
    )?
    .map_err(PyErr::from)
}
