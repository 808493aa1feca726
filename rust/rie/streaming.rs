//! Response streaming in fastric-rie: the `InvokeWithResponseStream` endpoint
//! (`POST /2021-11-15/functions/{name}/response-streaming-invocations`) and the forwarding of a
//! runtime's streamed `/response` (`Lambda-Runtime-Function-Response-Mode: streaming`, HTTP/1.1
//! chunks, error trailers) to it chunk by chunk.
//!
//! The answer is what the Lambda API sends (botocore's `lambda` service model, operation
//! `InvokeWithResponseStream`): status 200, the function's content type in `Content-Type`
//! (`ResponseStreamContentType`), `X-Amz-Executed-Version`, and a body of
//! `application/vnd.amazon.eventstream` messages: one `PayloadChunk` event per runtime chunk as it
//! arrives, then one `InvokeComplete` event with `ErrorCode` / `ErrorDetails` when the function
//! failed (a mid-stream error's trailers, an `/error` post, a timeout, a crash).
//!
//! Limits: a streamed response may be up to 200 MB ("Response streaming ... maximum response payload
//! size of 200 MB", AWS Lambda docs, configuration-response-streaming.html; older pages said 20 MB);
//! bytes beyond [`MAX_STREAMED_BYTES`] end the invocation with `Function.ResponseSizeTooLarge`. The
//! service's bandwidth shaping (the first 6 MB uncapped, then at most 2 MB/s, same page; aws-lambda-rie
//! models it as `ResponseBandwidthBurstSize` 6 MiB / `ResponseBandwidthRate` 2 MiB/s) is applied only
//! with `FASTRIC_RIE_STREAM_SHAPING=1`; it is off by default.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt as _, Full};
use hyper::body::{Body as HttpBody, Bytes, Frame, Incoming, SizeHint};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use tokio::sync::mpsc;

use super::invoke_api::{self, service_error, EXECUTED_VERSION, REQUEST_ID};
use super::pool::Pool;
use super::report;
use super::sandbox::{error_detail, Emulator, InvokeRequest, Outcome, PostBody, RapiError};
use super::{json_string, read_body, MAX_REQUEST_PAYLOAD};

/// Largest streamed response, bytes: 200 MiB (see the module docs for the source).
pub(crate) const MAX_STREAMED_BYTES: usize = 200 * 1024 * 1024;
/// Shaping: bytes sent before the rate cap applies, and the cap in bytes per second.
const SHAPING_BURST_BYTES: usize = 6 * 1024 * 1024;
const SHAPING_RATE_BYTES_PER_S: f64 = 2.0 * 1024.0 * 1024.0;
/// The environment variable that turns shaping on (`1`).
const SHAPING_ENV: &str = "FASTRIC_RIE_STREAM_SHAPING";
/// Events queued between the runtime's connection and the invoker's (bounded: backpressure).
const QUEUE_EVENTS: usize = 2;

/// What the runtime side tells the streaming invoker, in order.
pub(crate) enum StreamEvent {
    /// The runtime began a streamed `/response` with this content type.
    Start(Option<HeaderValue>),
    /// One chunk of the body, as it arrived.
    Chunk(Bytes),
    /// The stream ended; the mid-stream error from the trailers, if any (type, decoded body).
    Trailers(Option<(String, String)>),
    /// The invocation finished (after `Trailers` for a streamed response).
    Done(Done),
}

/// The end of a streaming invocation as the `InvokeComplete` event reports it.
pub(crate) struct Done {
    /// A buffered `/response` body (a function that did not stream), sent as one `PayloadChunk`.
    pub(crate) body: Bytes,
    pub(crate) content_type: Option<HeaderValue>,
    /// `ErrorCode` and `ErrorDetails` when the invocation failed.
    pub(crate) error: Option<(String, String)>,
}

/// The sending end held by the sandbox for the running streaming invocation.
pub(crate) type StreamSink = mpsc::Sender<StreamEvent>;

/// The response body of the invoke listener: a whole body, or an event stream.
pub(crate) enum InvokeBody {
    Full(Full<Bytes>),
    Events(EventBody),
    /// The Function URL front's streamed body (`function_url.rs`).
    Chunks(super::function_url::ChunkBody),
}

impl HttpBody for InvokeBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            InvokeBody::Full(full) => Pin::new(full).poll_frame(cx),
            InvokeBody::Events(events) => events.poll_event(cx),
            InvokeBody::Chunks(chunks) => chunks.poll_chunk(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            InvokeBody::Full(full) => full.is_end_stream(),
            InvokeBody::Events(events) => events.finished && events.queued.is_empty(),
            InvokeBody::Chunks(chunks) => chunks.is_done(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            InvokeBody::Full(full) => full.size_hint(),
            InvokeBody::Events(_) | InvokeBody::Chunks(_) => SizeHint::default(),
        }
    }
}

/// The event-stream body: encodes events from the runtime side as they come.
pub(crate) struct EventBody {
    rx: mpsc::Receiver<StreamEvent>,
    queued: VecDeque<Bytes>,
    trailer_error: Option<(String, String)>,
    finished: bool,
    /// See [`yield_after_frame`].
    yielded: bool,
}

impl EventBody {
    fn push(&mut self, event: StreamEvent) {
        match event {
            StreamEvent::Start(_) => {}
            StreamEvent::Chunk(data) => self.queued.push_back(payload_chunk(&data)),
            StreamEvent::Trailers(error) => self.trailer_error = error,
            StreamEvent::Done(done) => {
                if !done.body.is_empty() {
                    self.queued.push_back(payload_chunk(&done.body));
                }
                let error = done.error.or_else(|| self.trailer_error.take());
                self.queued.push_back(invoke_complete(error.as_ref()));
                self.finished = true;
            }
        }
    }

    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if yield_after_frame(&mut self.yielded, cx) {
            return Poll::Pending;
        }
        loop {
            if let Some(message) = self.queued.pop_front() {
                self.yielded = false;
                return Poll::Ready(Some(Ok(Frame::data(message))));
            }
            if self.finished {
                return Poll::Ready(None);
            }
            match self.rx.poll_recv(cx) {
                Poll::Ready(Some(event)) => self.push(event),
                Poll::Ready(None) => {
                    let lost = (
                        "Sandbox.Failure".to_owned(),
                        "invocation lost by the emulator".to_owned(),
                    );
                    self.queued.push_back(invoke_complete(Some(&lost)));
                    self.finished = true;
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// hyper's HTTP/1 dispatcher keeps polling a body that is always ready and writes the frames out
/// only when it stops (up to 16 frames: a megabyte of 64 KiB chunks would wait). Answering `Pending`
/// once after each frame (with an immediate wake-up) makes it flush every chunk as it comes.
/// Returns true when this poll must be that `Pending`.
pub(crate) fn yield_after_frame(yielded: &mut bool, cx: &mut Context<'_>) -> bool {
    if *yielded {
        return false;
    }
    *yielded = true;
    cx.waker().wake_by_ref();
    true
}

/// Routes a request to the invoke listener: the streaming invoke, or the classic endpoints.
pub(crate) async fn route(pool: &Arc<Pool>, request: Request<Incoming>) -> Response<InvokeBody> {
    if parse_path(request.uri().path()).is_some() {
        return invoke_streaming(pool, request).await;
    }
    invoke_api::handle(pool, request).await.map(InvokeBody::Full)
}

/// The function name in `/2021-11-15/functions/{name}/response-streaming-invocations` (any name).
fn parse_path(path: &str) -> Option<&str> {
    let name = path
        .strip_prefix("/2021-11-15/functions/")?
        .strip_suffix("/response-streaming-invocations")?;
    (!name.is_empty() && !name.contains('/')).then_some(name)
}

async fn invoke_streaming(pool: &Arc<Pool>, request: Request<Incoming>) -> Response<InvokeBody> {
    let emu = &pool.envs[0];
    if request.method() != Method::POST {
        let mut response = Response::new(InvokeBody::Full(Full::new(Bytes::new())));
        *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        return response;
    }
    let (parts, body) = request.into_parts();
    let trace_id = parts
        .headers
        .get("x-amzn-trace-id")
        .cloned()
        .unwrap_or_else(|| HeaderValue::from_str(&report::new_trace_id()).unwrap_or(HeaderValue::from_static("")));
    let read = match read_body(body, MAX_REQUEST_PAYLOAD).await {
        Ok(read) if !read.too_large => read,
        Ok(_) => {
            return service_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLargeException",
                &format!(
                "Request must be smaller than {MAX_REQUEST_PAYLOAD} bytes for the InvokeWithResponseStream operation"
            ),
            )
            .map(InvokeBody::Full)
        }
        Err(_) => {
            return service_error(
                StatusCode::BAD_REQUEST,
                "InvalidRequestContentException",
                "Could not read the request body",
            )
            .map(InvokeBody::Full)
        }
    };
    let request_id = report::uuid_v4();
    let (tx, mut rx) = mpsc::channel(QUEUE_EVENTS);
    let invoke = InvokeRequest {
        request_id: request_id.clone(),
        body: read.bytes,
        trace_id,
        client_context: None,
        cognito_identity: parts.headers.get("x-amz-cognito-identity").cloned(),
        tenant_id: parts.headers.get("x-amz-tenant-id").cloned(),
        stream: Some(tx.clone()),
        tail: false,
    };
    let task_pool = pool.clone();
    let task_id = request_id.clone();
    tokio::task::spawn_local(async move {
        let lease = task_pool.acquire().await;
        let task_emu = lease.env();
        let finished = task_emu.invoke(invoke).await;
        let done = done_event(&task_emu, &task_id, &finished.completion.outcome);
        let _ = tx.send(StreamEvent::Done(done)).await;
        task_emu.finish(task_id, finished).await;
        drop(lease);
    });
    // The answer's head waits for the runtime's: it carries the function's content type.
    let mut events = EventBody {
        rx: mpsc::channel(1).1,
        queued: VecDeque::new(),
        trailer_error: None,
        finished: false,
        yielded: true,
    };
    let content_type = match rx.recv().await {
        Some(StreamEvent::Start(content_type)) => content_type,
        Some(StreamEvent::Done(done)) => {
            let content_type = done.content_type.clone();
            events.push(StreamEvent::Done(done));
            content_type
        }
        Some(other) => {
            events.push(other);
            None
        }
        None => None,
    };
    events.rx = rx;
    let mut response = Response::new(InvokeBody::Events(events));
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        content_type.unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        headers.insert(REQUEST_ID, v);
    }
    if let Ok(v) = HeaderValue::from_str(&emu.cfg.function_version) {
        headers.insert(EXECUTED_VERSION, v);
    }
    response
}

/// The `InvokeComplete` contents for a finished invocation.
pub(crate) fn done_event(emu: &Emulator, request_id: &str, outcome: &Outcome) -> Done {
    let text = |body: &Bytes| String::from_utf8_lossy(body).into_owned();
    match outcome {
        Outcome::Response { body, content_type } => Done {
            body: body.clone(),
            content_type: content_type.clone(),
            error: None,
        },
        Outcome::FunctionError { body } | Outcome::InitError { body } => Done {
            body: Bytes::new(),
            content_type: None,
            error: Some(("Unhandled".to_owned(), text(body))),
        },
        Outcome::ResponseTooLarge => Done {
            body: Bytes::new(),
            content_type: None,
            error: Some((
                "Function.ResponseSizeTooLarge".to_owned(),
                format!("Response payload size exceeded maximum allowed payload size ({MAX_STREAMED_BYTES} bytes)."),
            )),
        },
        Outcome::Timeout => Done {
            body: Bytes::new(),
            content_type: None,
            error: Some((
                "Sandbox.Timedout".to_owned(),
                format!(
                    "RequestId: {request_id} Error: Task timed out after {} seconds",
                    emu.cfg.timeout_text()
                ),
            )),
        },
        Outcome::Exited { .. } | Outcome::Failure { .. } => Done {
            body: Bytes::new(),
            content_type: None,
            error: Some((
                outcome.error_type().unwrap_or_default().to_owned(),
                format!("RequestId: {request_id} Error: {}", error_detail(outcome)),
            )),
        },
    }
}

/// Forwards a streamed `/response` for `request_id` to `sink`, chunk by chunk, then completes the
/// invocation; `Err(RapiError::Internal)`, with nothing posted, when the body breaks off before its
/// last chunk. Called by the Runtime API server when the post carries
/// `Lambda-Runtime-Function-Response-Mode: streaming` and the invoker streams.
pub(crate) async fn forward(
    emu: &Emulator,
    request_id: &str,
    invocation_id: Option<&[u8]>,
    content_type: Option<HeaderValue>,
    mut body: Incoming,
    sink: StreamSink,
) -> Result<(), RapiError> {
    let shaping = std::env::var(SHAPING_ENV).is_ok_and(|v| v == "1");
    let started = Instant::now();
    let mut total = 0usize;
    let mut too_large = false;
    let mut error = None;
    let mut listening = sink.send(StreamEvent::Start(content_type.clone())).await.is_ok();
    while let Some(frame) = body.frame().await {
        // A body that breaks off (the runtime died or reset the connection before the last chunk)
        // is no response: the invocation stays open until the runtime's exit or the timeout ends it,
        // as for a buffered `/response` whose body could not be read.
        let Ok(frame) = frame else {
            return Err(RapiError::Internal);
        };
        let frame = match frame.into_data() {
            Ok(data) => {
                total += data.len();
                if total > MAX_STREAMED_BYTES {
                    too_large = true;
                    break;
                }
                if shaping {
                    shape(started, total).await;
                }
                if listening {
                    listening = sink.send(StreamEvent::Chunk(data)).await.is_ok();
                    // One thread serves both connections: let the invoker's write this chunk now.
                    tokio::task::yield_now().await;
                }
                continue;
            }
            Err(frame) => frame,
        };
        if let Ok(trailers) = frame.into_trailers() {
            let error_type = trailers.get("lambda-runtime-function-error-type");
            let error_body = trailers.get("lambda-runtime-function-error-body");
            if let Some(error_type) = error_type {
                let details = error_body
                    .and_then(|b| crate::b64::decode_standard(b.as_bytes()))
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                error = Some((String::from_utf8_lossy(error_type.as_bytes()).into_owned(), details));
            }
        }
    }
    if listening {
        let _ = sink.send(StreamEvent::Trailers(error)).await;
    }
    drop(sink);
    let post = if too_large {
        PostBody::TooLarge
    } else {
        PostBody::Response {
            body: Bytes::new(),
            content_type,
        }
    };
    emu.post_result(request_id, invocation_id, post)
}

/// Sleeps so that bytes beyond the burst leave at no more than the shaping rate.
async fn shape(started: Instant, total: usize) {
    if total <= SHAPING_BURST_BYTES {
        return;
    }
    #[allow(clippy::cast_precision_loss)] // byte counts far below 2^52
    let due = Duration::from_secs_f64((total - SHAPING_BURST_BYTES) as f64 / SHAPING_RATE_BYTES_PER_S);
    if let Some(wait) = due.checked_sub(started.elapsed()) {
        tokio::time::sleep(wait).await;
    }
}

/// A `PayloadChunk` event carrying `data`.
fn payload_chunk(data: &[u8]) -> Bytes {
    event_message("PayloadChunk", "application/octet-stream", data)
}

/// The `InvokeComplete` event: `{}` on success, else `ErrorCode` and `ErrorDetails`.
fn invoke_complete(error: Option<&(String, String)>) -> Bytes {
    let payload = match error {
        None => "{}".to_owned(),
        Some((code, details)) => format!(
            r#"{{"ErrorCode":{},"ErrorDetails":{}}}"#,
            json_string(code),
            json_string(details)
        ),
    };
    event_message("InvokeComplete", "application/json", payload.as_bytes())
}

/// One `application/vnd.amazon.eventstream` message: prelude (total length, headers length, CRC),
/// string headers `:event-type`, `:content-type`, `:message-type`, the payload, the message CRC
/// (CRC-32, big-endian integers), as AWS's event stream encoding defines it.
fn event_message(event_type: &str, content_type: &str, payload: &[u8]) -> Bytes {
    let mut headers = Vec::with_capacity(96);
    for (name, value) in [
        (":event-type", event_type),
        (":content-type", content_type),
        (":message-type", "event"),
    ] {
        headers.push(u8::try_from(name.len()).unwrap_or(u8::MAX));
        headers.extend_from_slice(name.as_bytes());
        headers.push(7); // string
        headers.extend_from_slice(&u16::try_from(value.len()).unwrap_or(u16::MAX).to_be_bytes());
        headers.extend_from_slice(value.as_bytes());
    }
    let total = 12 + headers.len() + payload.len() + 4;
    let mut message = Vec::with_capacity(total);
    message.extend_from_slice(&u32::try_from(total).unwrap_or(u32::MAX).to_be_bytes());
    message.extend_from_slice(&u32::try_from(headers.len()).unwrap_or(u32::MAX).to_be_bytes());
    let prelude_crc = crc32(&message);
    message.extend_from_slice(&prelude_crc.to_be_bytes());
    message.extend_from_slice(&headers);
    message.extend_from_slice(payload);
    let message_crc = crc32(&message);
    message.extend_from_slice(&message_crc.to_be_bytes());
    Bytes::from(message)
}

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), as the event stream encoding uses.
fn crc32(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 == 1 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
                k += 1;
            }
            table[i] = c;
            i += 1;
        }
        table
    };
    let mut crc = !0u32;
    for &b in data {
        crc = TABLE[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn streaming_paths() {
        assert_eq!(
            parse_path("/2021-11-15/functions/function/response-streaming-invocations"),
            Some("function")
        );
        assert_eq!(
            parse_path("/2021-11-15/functions//response-streaming-invocations"),
            None
        );
        assert_eq!(parse_path("/2015-03-31/functions/function/invocations"), None);
    }

    #[test]
    fn event_message_layout() {
        let message = event_message("PayloadChunk", "application/octet-stream", b"hi");
        let total = u32::from_be_bytes(message[0..4].try_into().unwrap()) as usize;
        assert_eq!(total, message.len());
        let headers_len = u32::from_be_bytes(message[4..8].try_into().unwrap()) as usize;
        assert_eq!(&message[12 + headers_len..total - 4], b"hi");
        assert_eq!(
            u32::from_be_bytes(message[8..12].try_into().unwrap()),
            crc32(&message[0..8])
        );
    }
}
