//! A local Function URL: `fastric-rie --function-url-address ADDR [--invoke-mode BUFFERED|RESPONSE_STREAM]`.
//!
//! Any method and path on ADDR becomes one invocation with the Function URL event (payload format
//! 2.0, AWS docs urls-invocation.html "Request payload format"): `version`, `routeKey`, `rawPath`,
//! `rawQueryString`, `cookies`, `headers` (lower-case names, repeated values joined with `,`),
//! `queryStringParameters` (decoded, repeated values joined with `,`), `requestContext` (with
//! `http.method`/`path`/`protocol`/`sourceIp`/`userAgent`), `body` and `isBase64Encoded` (binary
//! bodies, i.e. a content type that is not text, JSON, XML, JavaScript or a form, are base64).
//!
//! The result is mapped back as Function URLs do ("Response payload format", same page): a JSON object
//! with `statusCode` gives the status, `headers`, `cookies` (one `Set-Cookie` each) and `body`
//! (base64-decoded when `isBase64Encoded`); any other valid JSON result is the body of a 200
//! `application/json` answer (a JSON string: its text). A function error or timeout is a 502
//! `Internal Server Error`. In `RESPONSE_STREAM` mode the runtime's chunks are written as they arrive;
//! an `application/vnd.awslambda.http-integration-response` stream's JSON prelude (up to the eight NUL
//! bytes) gives the status, headers and cookies.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::fmt::Write as _;
use std::sync::Arc;
use std::task::{Context, Poll};

use http_body_util::Full;
use hyper::body::{Bytes, Frame, Incoming};
use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE, SET_COOKIE};
use hyper::{Request, Response, StatusCode};
use tokio::sync::mpsc;

use super::pool::Pool;
use super::report;
use super::sandbox::InvokeRequest;
use super::streaming::{done_event, InvokeBody, StreamEvent};
use super::{json_string, read_body, MAX_REQUEST_PAYLOAD};

/// The content type of an HTTP integration stream and the separator after its prelude.
const HTTP_INTEGRATION: &[u8] = b"application/vnd.awslambda.http-integration-response";
const PRELUDE_SEPARATOR: &[u8] = &[0; 8];
/// Largest prelude read before the separator must have appeared, bytes.
const MAX_PRELUDE_BYTES: usize = 1024 * 1024;

/// Starts serving the Function URL on `listener` (inside the emulator's `LocalSet`) and prints
/// `[fastric-rie] function-url: http://ADDR/ invoke-mode=MODE` on stderr (tests read the port there).
pub(crate) fn spawn(listener: std::net::TcpListener, pool: &Arc<Pool>) -> Result<(), String> {
    let address = listener
        .local_addr()
        .map_err(|e| format!("the Function URL address: {e}"))?;
    let listener =
        tokio::net::TcpListener::from_std(listener).map_err(|e| format!("the Function URL listener: {e}"))?;
    let streaming = pool.envs[0].cfg.function_url_streaming;
    let e = pool.clone();
    tokio::task::spawn_local(super::serve(listener, move |request| {
        let e = e.clone();
        async move { handle(&e, request, streaming).await }
    }));
    let mode = if streaming { "RESPONSE_STREAM" } else { "BUFFERED" };
    eprintln!("[fastric-rie] function-url: http://{address}/ invoke-mode={mode}");
    Ok(())
}

/// Serves one Function URL request. `streaming` is `--invoke-mode RESPONSE_STREAM`.
pub(crate) async fn handle(pool: &Arc<Pool>, request: Request<Incoming>, streaming: bool) -> Response<InvokeBody> {
    let (parts, body) = request.into_parts();
    let read = match read_body(body, MAX_REQUEST_PAYLOAD).await {
        Ok(read) if !read.too_large => read,
        Ok(_) => return plain(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large"),
        // A body cut short (the client half-closed early) or malformed chunking: not a size problem.
        Err(_) => return plain(StatusCode::BAD_REQUEST, "Bad Request"),
    };
    let request_id = report::uuid_v4();
    let event = build_event(&parts, &read.bytes, &request_id);
    let (tx, mut rx) = mpsc::channel(16);
    let invoke = InvokeRequest {
        request_id: request_id.clone(),
        body: Bytes::from(event),
        trace_id: HeaderValue::from_str(&report::new_trace_id()).unwrap_or(HeaderValue::from_static("")),
        client_context: None,
        cognito_identity: None,
        tenant_id: None,
        stream: streaming.then(|| tx.clone()),
        tail: false,
    };
    let task_pool = pool.clone();
    tokio::task::spawn_local(async move {
        let lease = task_pool.acquire().await;
        let task_emu = lease.env();
        let finished = task_emu.invoke(invoke).await;
        let done = done_event(&task_emu, &request_id, &finished.completion.outcome);
        let _ = tx.send(StreamEvent::Done(done)).await;
        task_emu.finish(request_id, finished).await;
        drop(lease);
    });
    match rx.recv().await {
        Some(StreamEvent::Start(content_type)) => streamed_response(content_type, rx).await,
        Some(StreamEvent::Done(done)) if done.error.is_none() => buffered_response(&done.body),
        _ => plain(StatusCode::BAD_GATEWAY, "Internal Server Error"),
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response<InvokeBody> {
    let mut response = Response::new(InvokeBody::Full(Full::new(Bytes::from_static(text.as_bytes()))));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Whether a request body of this content type is sent as text (else base64).
fn is_text(content_type: Option<&HeaderValue>) -> bool {
    let Some(value) = content_type.and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let value = value.to_ascii_lowercase();
    value.starts_with("text/")
        || ["json", "xml", "javascript", "x-www-form-urlencoded"]
            .iter()
            .any(|t| value.contains(t))
}

/// The payload format 2.0 event for this request.
fn build_event(parts: &hyper::http::request::Parts, body: &[u8], request_id: &str) -> String {
    let path = parts.uri.path();
    let query = parts.uri.query().unwrap_or("");
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut cookies: Vec<String> = Vec::new();
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if name == hyper::header::COOKIE {
            cookies.extend(value.split(';').map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()));
            continue;
        }
        match headers.iter_mut().find(|(n, _)| n == name.as_str()) {
            Some((_, joined)) => {
                joined.push(',');
                joined.push_str(&value);
            }
            None => headers.push((name.as_str().to_owned(), value)),
        }
    }
    let host = parts
        .headers
        .get("host")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    let user_agent = parts
        .headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut params: Vec<(String, String)> = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (percent_decode(k), percent_decode(v));
        match params.iter_mut().find(|(n, _)| *n == k) {
            Some((_, joined)) => {
                joined.push(',');
                joined.push_str(&v);
            }
            None => params.push((k, v)),
        }
    }
    let object = |pairs: &[(String, String)]| {
        let fields: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{}:{}", json_string(k), json_string(v)))
            .collect();
        format!("{{{}}}", fields.join(","))
    };
    let ms = report::epoch_ms();
    let mut event = String::with_capacity(1024 + body.len() * 4 / 3);
    let _ = write!(
        event,
        r#"{{"version":"2.0","routeKey":"$default","rawPath":{},"rawQueryString":{},"#,
        json_string(path),
        json_string(query)
    );
    if !cookies.is_empty() {
        let list: Vec<String> = cookies.iter().map(|c| json_string(c)).collect();
        let _ = write!(event, r#""cookies":[{}],"#, list.join(","));
    }
    let _ = write!(event, r#""headers":{},"#, object(&headers));
    if !params.is_empty() {
        let _ = write!(event, r#""queryStringParameters":{},"#, object(&params));
    }
    let domain_prefix = host.split('.').next().unwrap_or(host);
    let _ = write!(
        event,
        r#""requestContext":{{"accountId":"anonymous","apiId":{prefix},"domainName":{host},"domainPrefix":{prefix},"http":{{"method":{method},"path":{path},"protocol":"HTTP/1.1","sourceIp":"127.0.0.1","userAgent":{agent}}},"requestId":{rid},"routeKey":"$default","stage":"$default","time":{time},"timeEpoch":{ms}}},"#,
        prefix = json_string(domain_prefix),
        host = json_string(host),
        method = json_string(parts.method.as_str()),
        path = json_string(path),
        agent = json_string(user_agent),
        rid = json_string(request_id),
        time = json_string(&clf_timestamp()),
    );
    if body.is_empty() {
        event.push_str(r#""isBase64Encoded":false}"#);
    } else if is_text(parts.headers.get(CONTENT_TYPE)) && std::str::from_utf8(body).is_ok() {
        let _ = write!(
            event,
            r#""body":{},"isBase64Encoded":false}}"#,
            json_string(&String::from_utf8_lossy(body))
        );
    } else {
        let _ = write!(
            event,
            r#""body":"{}","isBase64Encoded":true}}"#,
            crate::b64::encode_standard(body)
        );
    }
    event
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                    .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
                if let Some(b) = hex {
                    out.push(b);
                    i += 2;
                } else {
                    out.push(b'%');
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Now as `03/Dec/2026:06:50:00 +0000`, the `requestContext.time` layout.
fn clf_timestamp() -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let iso = report::utc_timestamp(); // YYYY-MM-DDTHH:MM:SS.mmmZ
    let month = iso[5..7].parse::<usize>().unwrap_or(1).clamp(1, 12);
    format!(
        "{}/{}/{}:{} +0000",
        &iso[8..10],
        MONTHS[month - 1],
        &iso[0..4],
        &iso[11..19]
    )
}

/// Maps a buffered result to the HTTP answer (see the module docs).
fn buffered_response(body: &[u8]) -> Response<InvokeBody> {
    let parsed = json::parse(body);
    let Some(value) = parsed else {
        return plain(StatusCode::BAD_GATEWAY, "Internal Server Error");
    };
    let shaped = match &value {
        json::Value::Object(fields) => fields.iter().any(|(k, _)| k == "statusCode"),
        _ => false,
    };
    if !shaped {
        let text = match &value {
            json::Value::Str(s) => Bytes::from(s.clone().into_bytes()),
            _ => Bytes::copy_from_slice(body),
        };
        let mut response = Response::new(InvokeBody::Full(Full::new(text)));
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        return response;
    }
    let (status, headers, cookies) = metadata(&value);
    let text = value.get("body").and_then(json::Value::as_str).unwrap_or("");
    let encoded = matches!(value.get("isBase64Encoded"), Some(json::Value::Bool(true)));
    let bytes = if encoded {
        crate::b64::decode_standard(text.as_bytes()).unwrap_or_default()
    } else {
        text.as_bytes().to_vec()
    };
    let mut response = Response::new(InvokeBody::Full(Full::new(Bytes::from(bytes))));
    apply_metadata(&mut response, status, &headers, &cookies, true);
    response
}

/// `statusCode` (default 200), `headers` (string values), `cookies` of a result or prelude object.
fn metadata(value: &json::Value) -> (u16, Vec<(String, String)>, Vec<String>) {
    let status = value
        .get("statusCode")
        .and_then(json::Value::as_number)
        .and_then(|n| n.parse::<u16>().ok())
        .unwrap_or(200);
    let headers = match value.get("headers") {
        Some(json::Value::Object(fields)) => fields
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_text(), str::to_owned)))
            .collect(),
        _ => Vec::new(),
    };
    let cookies = match value.get("cookies") {
        Some(json::Value::Array(items)) => items.iter().filter_map(|c| c.as_str().map(str::to_owned)).collect(),
        _ => Vec::new(),
    };
    (status, headers, cookies)
}

fn apply_metadata(
    response: &mut Response<InvokeBody>,
    status: u16,
    headers: &[(String, String)],
    cookies: &[String],
    default_json: bool,
) {
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let map = response.headers_mut();
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
            map.insert(name, value);
        }
    }
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            map.append(SET_COOKIE, value);
        }
    }
    if default_json && !map.contains_key(CONTENT_TYPE) {
        map.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
}

/// `RESPONSE_STREAM`: the answer whose body is the runtime's chunks as they arrive.
async fn streamed_response(
    content_type: Option<HeaderValue>,
    mut rx: mpsc::Receiver<StreamEvent>,
) -> Response<InvokeBody> {
    let integration = content_type.as_ref().is_some_and(|c| c.as_bytes() == HTTP_INTEGRATION);
    let mut first = VecDeque::new();
    let mut meta = (200, Vec::new(), Vec::new());
    if integration {
        let mut prelude: Vec<u8> = Vec::new();
        loop {
            match rx.recv().await {
                Some(StreamEvent::Chunk(data)) => prelude.extend_from_slice(&data),
                _ => break,
            }
            if let Some(at) = prelude
                .windows(PRELUDE_SEPARATOR.len())
                .position(|w| w == PRELUDE_SEPARATOR)
            {
                if let Some(value) = json::parse(&prelude[..at]) {
                    meta = metadata(&value);
                }
                let rest = prelude.split_off(at + PRELUDE_SEPARATOR.len());
                if !rest.is_empty() {
                    first.push_back(Bytes::from(rest));
                }
                break;
            }
            if prelude.len() > MAX_PRELUDE_BYTES {
                return plain(StatusCode::BAD_GATEWAY, "Internal Server Error");
            }
        }
    }
    let mut response = Response::new(InvokeBody::Chunks(ChunkBody {
        rx,
        queued: first,
        done: false,
        yielded: true,
    }));
    if integration {
        apply_metadata(&mut response, meta.0, &meta.1, &meta.2, false);
    } else if let Some(content_type) = content_type {
        response.headers_mut().insert(CONTENT_TYPE, content_type);
    }
    response
}

/// A body made of the runtime's chunks, forwarded as they arrive; ends with the stream.
pub(crate) struct ChunkBody {
    rx: mpsc::Receiver<StreamEvent>,
    queued: VecDeque<Bytes>,
    done: bool,
    yielded: bool,
}

impl ChunkBody {
    pub(crate) fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if super::streaming::yield_after_frame(&mut self.yielded, cx) {
            return Poll::Pending;
        }
        loop {
            if let Some(data) = self.queued.pop_front() {
                self.yielded = false;
                return Poll::Ready(Some(Ok(Frame::data(data))));
            }
            if self.done {
                return Poll::Ready(None);
            }
            match self.rx.poll_recv(cx) {
                Poll::Ready(Some(StreamEvent::Chunk(data))) => self.queued.push_back(data),
                Poll::Ready(Some(StreamEvent::Trailers(_) | StreamEvent::Start(_))) => {}
                Poll::Ready(Some(_) | None) => self.done = true,
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    pub(crate) fn is_done(&self) -> bool {
        self.done && self.queued.is_empty()
    }
}

/// Just enough JSON to read a handler's result or an HTTP prelude.
mod json {
    /// A parsed JSON value; numbers keep their text.
    pub(super) enum Value {
        Null,
        Bool(bool),
        Number(String),
        Str(String),
        Array(Vec<Value>),
        Object(Vec<(String, Value)>),
    }

    impl Value {
        pub(super) fn get(&self, key: &str) -> Option<&Value> {
            match self {
                Value::Object(fields) => fields.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
                _ => None,
            }
        }

        pub(super) fn as_str(&self) -> Option<&str> {
            match self {
                Value::Str(s) => Some(s),
                _ => None,
            }
        }

        pub(super) fn as_number(&self) -> Option<&str> {
            match self {
                Value::Number(n) => Some(n),
                _ => None,
            }
        }

        /// A scalar as header text (`true`, `12`); containers as empty text.
        pub(super) fn to_text(&self) -> String {
            match self {
                Value::Bool(b) => b.to_string(),
                Value::Number(n) => n.clone(),
                Value::Str(s) => s.clone(),
                Value::Null | Value::Array(_) | Value::Object(_) => String::new(),
            }
        }
    }

    /// Parses a whole document; `None` when it is not valid JSON.
    pub(super) fn parse(text: &[u8]) -> Option<Value> {
        let text = std::str::from_utf8(text).ok()?;
        let mut parser = Parser {
            s: text.as_bytes(),
            i: 0,
            depth: 0,
        };
        let value = parser.value()?;
        parser.ws();
        (parser.i == parser.s.len()).then_some(value)
    }

    struct Parser<'a> {
        s: &'a [u8],
        i: usize,
        depth: usize,
    }

    impl Parser<'_> {
        fn ws(&mut self) {
            while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
                self.i += 1;
            }
        }

        fn eat(&mut self, literal: &str) -> Option<()> {
            self.s[self.i..]
                .starts_with(literal.as_bytes())
                .then(|| self.i += literal.len())
        }

        fn value(&mut self) -> Option<Value> {
            self.ws();
            self.depth += 1;
            if self.depth > 512 {
                return None;
            }
            let value = match *self.s.get(self.i)? {
                b'n' => self.eat("null").map(|()| Value::Null),
                b't' => self.eat("true").map(|()| Value::Bool(true)),
                b'f' => self.eat("false").map(|()| Value::Bool(false)),
                b'"' => self.string().map(Value::Str),
                b'[' => {
                    self.i += 1;
                    let mut items = Vec::new();
                    self.ws();
                    if self.s.get(self.i) == Some(&b']') {
                        self.i += 1;
                    } else {
                        loop {
                            items.push(self.value()?);
                            self.ws();
                            match self.s.get(self.i)? {
                                b',' => self.i += 1,
                                b']' => {
                                    self.i += 1;
                                    break;
                                }
                                _ => return None,
                            }
                        }
                    }
                    Some(Value::Array(items))
                }
                b'{' => {
                    self.i += 1;
                    let mut fields = Vec::new();
                    self.ws();
                    if self.s.get(self.i) == Some(&b'}') {
                        self.i += 1;
                    } else {
                        loop {
                            self.ws();
                            let key = self.string()?;
                            self.ws();
                            self.eat(":")?;
                            fields.push((key, self.value()?));
                            self.ws();
                            match self.s.get(self.i)? {
                                b',' => self.i += 1,
                                b'}' => {
                                    self.i += 1;
                                    break;
                                }
                                _ => return None,
                            }
                        }
                    }
                    Some(Value::Object(fields))
                }
                b'-' | b'0'..=b'9' => {
                    let start = self.i;
                    while self.i < self.s.len()
                        && matches!(self.s[self.i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                    {
                        self.i += 1;
                    }
                    std::str::from_utf8(&self.s[start..self.i])
                        .ok()
                        .map(|n| Value::Number(n.to_owned()))
                }
                _ => None,
            };
            self.depth -= 1;
            value
        }

        fn string(&mut self) -> Option<String> {
            self.eat("\"")?;
            let mut out: Vec<u16> = Vec::new();
            let mut bytes: Vec<u8> = Vec::new();
            loop {
                let b = *self.s.get(self.i)?;
                self.i += 1;
                match b {
                    b'"' => break,
                    b'\\' => {
                        let e = *self.s.get(self.i)?;
                        self.i += 1;
                        let c = match e {
                            b'"' => '"',
                            b'\\' => '\\',
                            b'/' => '/',
                            b'b' => '\u{8}',
                            b'f' => '\u{c}',
                            b'n' => '\n',
                            b'r' => '\r',
                            b't' => '\t',
                            b'u' => {
                                let hex = std::str::from_utf8(self.s.get(self.i..self.i + 4)?).ok()?;
                                self.i += 4;
                                flush(&mut bytes, &mut out);
                                out.push(u16::from_str_radix(hex, 16).ok()?);
                                continue;
                            }
                            _ => return None,
                        };
                        flush(&mut bytes, &mut out);
                        let mut buf = [0u16; 2];
                        out.extend_from_slice(c.encode_utf16(&mut buf));
                    }
                    _ => bytes.push(b),
                }
            }
            flush(&mut bytes, &mut out);
            Some(String::from_utf16_lossy(&out))
        }
    }

    fn flush(bytes: &mut Vec<u8>, out: &mut Vec<u16>) {
        if !bytes.is_empty() {
            out.extend(String::from_utf8_lossy(bytes).encode_utf16());
            bytes.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_subset() {
        let v = json::parse(
            br#"{"statusCode": 201, "headers": {"a": "b", "n": 1}, "body": "h\u00e9\n", "x": [true, null]}"#,
        )
        .unwrap();
        assert_eq!(v.get("statusCode").and_then(json::Value::as_number), Some("201"));
        assert_eq!(v.get("body").and_then(json::Value::as_str), Some("h\u{e9}\n"));
        assert!(json::parse(b"{").is_none());
        assert!(json::parse(b"\"a\" x").is_none());
    }

    #[test]
    fn query_decoding() {
        assert_eq!(percent_decode("a%20b+c%zz%4"), "a b c%zz%4");
    }
}
