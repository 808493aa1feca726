//! The Lambda Runtime API client: one function per endpoint over one keep-alive HTTP/1.1
//! connection (as awslambdaric's libcurl handle does, `awslambdaric-behaviour.md` 2.1), with the
//! failure policy documented in `docs/RELIABILITY.md`.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::diagnostics::{self, Level};
use crate::errors::RuntimeError;
use crate::headers;
use crate::http::{self, Connection, Response};

const API_VERSION_PATH: &str = "/2018-06-01/runtime";
/// libcurl's `CURLOPT_CONNECTTIMEOUT 1` in awslambdaric.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Sleeps between attempts: 6 attempts in all, about 1.55 s of back-off.
const RETRY_DELAYS_MS: [u64; 5] = [50, 100, 200, 400, 800];
/// awslambdaric drops the X-Ray cause header at `len(cause.encode()) >= 1024 * 1024`.
const MAX_XRAY_CAUSE_BYTES: usize = 1024 * 1024;
/// A `Lambda-Runtime-Deadline-Ms` below this is a duration relative to now (cargo-lambda sends
/// `600000`), not epoch ms (real epoch ms have been above 10^12 since 2001).
const RELATIVE_DEADLINE_LIMIT: i64 = 1_000_000_000_000;

/// One invocation as delivered by `GET /runtime/invocation/next`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::struct_field_names)] // `invocation_id` is the Runtime API's own name.
pub(crate) struct Invocation {
    /// `Lambda-Runtime-Aws-Request-Id` (required, non-empty).
    pub request_id: String,
    /// `Lambda-Runtime-Deadline-Ms`, Unix epoch ms; 0 when absent or unparsable; a value in
    /// `1..10^12` is taken as relative to now.
    pub deadline_ms: i64,
    /// `Lambda-Runtime-Invoked-Function-Arn`, `""` when absent (as awslambdaric).
    pub invoked_function_arn: String,
    /// `Lambda-Runtime-Trace-Id`; `None` when absent or empty.
    pub trace_id: Option<String>,
    /// `Lambda-Runtime-Client-Context` (base64 JSON decoded); `None` when absent or empty.
    pub client_context: Option<String>,
    /// `Lambda-Runtime-Cognito-Identity`; `None` when absent or empty.
    pub cognito_identity: Option<String>,
    /// `Lambda-Runtime-Aws-Tenant-Id`; `None` when absent or empty.
    pub tenant_id: Option<String>,
    /// `Lambda-Runtime-Invocation-Id`, echoed on `/response` and `/error`; `None` when absent or empty.
    pub invocation_id: Option<String>,
    /// `Content-Type` of the event; `None` when absent.
    pub content_type: Option<String>,
    /// The event bytes.
    pub body: Vec<u8>,
}

/// Where the Runtime API lives, parsed from an `AWS_LAMBDA_RUNTIME_API`-style address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// `host:port` as sent in `Host` (brackets kept for IPv6).
    authority: String,
    /// Host name or IP literal without brackets.
    host: String,
    port: u16,
    /// Path prefix without trailing slash, e.g. `/.rt`, or empty.
    prefix: String,
}

impl Target {
    /// Parses `host:port`, `[v6]:port`, `host` (port 80), each optionally preceded by `http://`
    /// and followed by a path prefix (`127.0.0.1:9001/fn-a`).
    pub(crate) fn parse(address: &str) -> Result<Target, RuntimeError> {
        let bad = |why: &str| RuntimeError::InvalidAddress(format!("{address:?}: {why}"));
        let mut rest = address.trim();
        if let Some(pos) = rest.find("://") {
            if !rest[..pos].eq_ignore_ascii_case("http") {
                return Err(bad("only the http:// scheme is supported"));
            }
            rest = &rest[pos + 3..];
        }
        if rest.bytes().any(|b| b.is_ascii_control() || b == b' ' || !b.is_ascii()) {
            return Err(bad("contains whitespace, control or non-ASCII characters"));
        }
        let (authority, path) = match rest.find('/') {
            Some(pos) => (&rest[..pos], &rest[pos..]),
            None => (rest, ""),
        };
        if path.contains(['?', '#']) {
            return Err(bad("a query or fragment is not allowed"));
        }
        if authority.contains('@') {
            return Err(bad("user information is not allowed"));
        }
        let (host, port_text) = if let Some(inner) = authority.strip_prefix('[') {
            let Some((v6, after)) = inner.split_once(']') else {
                return Err(bad("unclosed '[' in IPv6 address"));
            };
            if v6.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(bad("invalid IPv6 address"));
            }
            match after {
                "" => (v6, None),
                _ => match after.strip_prefix(':') {
                    Some(port) => (v6, Some(port)),
                    None => return Err(bad("expected ':port' after ']'")),
                },
            }
        } else {
            match authority.rsplit_once(':') {
                Some((host, _)) if host.contains(':') => {
                    return Err(bad("IPv6 addresses must be written in brackets, e.g. [::1]:9001"));
                }
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(bad("missing host"));
        }
        if !authority.starts_with('[') && !host.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b)) {
            return Err(bad("invalid host name"));
        }
        let port = match port_text {
            None => 80,
            Some(text) => match text.parse::<u16>() {
                Ok(port) if port != 0 && text.bytes().all(|b| b.is_ascii_digit()) => port,
                _ => return Err(bad("the port must be a number from 1 to 65535")),
            },
        };
        Ok(Target {
            authority: authority.to_owned(),
            host: host.to_owned(),
            port,
            prefix: path.trim_end_matches('/').to_owned(),
        })
    }

    fn resolve(&self) -> std::io::Result<Vec<SocketAddr>> {
        if let Ok(ip) = self.host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, self.port)]);
        }
        Ok((self.host.as_str(), self.port).to_socket_addrs()?.collect())
    }
}

/// One attempt's failure, with what the retry policy needs to know.
struct AttemptError {
    error: RuntimeError,
    /// Request bytes may have reached the server.
    maybe_sent: bool,
    /// The attempt used a kept-alive connection and got no response byte (and, when the write
    /// itself failed, wrote none): typically the peer dropped it while the environment was frozen.
    /// The `/next` free-reconnect rule.
    stale_reuse: bool,
    /// The attempt used a kept-alive connection and failed (reset, EOF, EPIPE) before any byte of
    /// an answer arrived, whatever was written. The POST re-send rule ([`post_may_be_resent`]).
    dead_reuse: bool,
}

/// The one place that decides whether a failed POST is written again (docs/RELIABILITY.md, POST
/// section). Every POST that reaches it has its whole body in memory (`/response`, `/error`,
/// `/init/error`, `/restore/error`); a streamed response never does (`begin_streamed_response` hands
/// the connection out, and the stream is never sent again). Yes only once per call, and only when
/// the failed attempt used a reused keep-alive connection and no byte of an answer arrived (reset,
/// EOF, EPIPE): the server then either never read the request (it had closed the idle connection)
/// or read it and dropped the connection unanswered. The Runtime API accepts one result per request
/// id and refuses a second (400/403/410), so a re-send cannot deliver two results. Never after an
/// answer byte (the server answered: what it said stands) and never after a failure on a fresh
/// connection.
fn post_may_be_resent(failure: &AttemptError, resent_already: bool) -> bool {
    !resent_already && failure.dead_reuse
}

/// The error for a connection that [`RuntimeApi::connection`] just made sure of and that is gone.
fn vanished() -> RuntimeError {
    RuntimeError::Internal("connection vanished".to_owned())
}

/// Statuses that answer a re-sent POST when the first copy was delivered after all: the Runtime
/// API's refusals of a second result for one request id (`runtime-api-and-emulator.md` §1.4).
fn already_delivered(status: u16) -> bool {
    matches!(status, 400 | 403 | 410)
}

/// The Runtime API client. Not thread-safe by itself (`&mut self`); the pyclass wraps it in a Mutex.
pub(crate) struct RuntimeApi {
    target: Target,
    user_agent: String,
    conn: Option<Connection>,
    head: Vec<u8>,
    retry_delays: Vec<Duration>,
    /// The `/next` request target (built once: it is requested on every invocation).
    next_path: String,
}

impl RuntimeApi {
    /// Parses `address` (`AWS_LAMBDA_RUNTIME_API` syntax, see [`Target::parse`]); connects lazily.
    /// `user_agent` is sent on every request (empty: no header). Errors: `InvalidAddress`,
    /// `InvalidArgument` (CR/LF in the user agent).
    pub(crate) fn new(address: &str, user_agent: &str) -> Result<Self, RuntimeError> {
        check_header("User-Agent", user_agent)?;
        let target = Target::parse(address)?;
        Ok(RuntimeApi {
            next_path: format!("{}{API_VERSION_PATH}/invocation/next", target.prefix),
            target,
            user_agent: user_agent.to_owned(),
            conn: None,
            head: Vec::with_capacity(512),
            retry_delays: RETRY_DELAYS_MS.iter().map(|ms| Duration::from_millis(*ms)).collect(),
        })
    }

    /// Replaces the back-off schedule (one sleep per retry; attempts = len + 1). For tests.
    #[cfg(test)]
    pub(crate) fn set_retry_delays(&mut self, delays: Vec<Duration>) {
        self.retry_delays = delays;
    }

    /// Hands an event body back for reuse by the next `/next` (see `Connection::recycle_body`).
    pub(crate) fn recycle_body(&mut self, body: Vec<u8>) {
        if let Some(conn) = self.conn.as_mut() {
            conn.recycle_body(body);
        }
    }

    /// Drops the connection (the next request reconnects). Used after a caught panic.
    pub(crate) fn discard_connection(&mut self) {
        self.conn = None;
    }

    // GET /2018-06-01/runtime/invocation/next
    /// Waits (without limit) for the next invocation. `on_idle` runs at least every 50 ms while
    /// waiting and at once on EINTR; returning false aborts with `Interrupted` (the connection is
    /// discarded). Failures are retried with back-off; then `Exhausted` (fatal). A 500 is fatal at once.
    pub(crate) fn next_invocation(&mut self, on_idle: &mut dyn FnMut() -> bool) -> Result<Invocation, RuntimeError> {
        let path = std::mem::take(&mut self.next_path);
        let result = self.get_with_retry("GET /runtime/invocation/next", &path, on_idle, |response| {
            parse_invocation(response, now_ms())
        });
        self.next_path = path;
        result
    }

    // POST /2018-06-01/runtime/invocation/{AwsRequestId}/response
    /// Posts a handler result. `content_type` is sent as given (empty: no header); `invocation_id`
    /// is echoed in `Lambda-Runtime-Invocation-Id`. Non-2xx → `Protocol` (fatal only for 500).
    pub(crate) fn post_invocation_response(
        &mut self,
        request_id: &str,
        invocation_id: Option<&str>,
        content_type: &str,
        body: &[u8],
    ) -> Result<(), RuntimeError> {
        check_header("content type", content_type)?;
        let mut extra: Vec<(&str, &[u8])> = Vec::with_capacity(2);
        if !content_type.is_empty() {
            extra.push((headers::CONTENT_TYPE, content_type.as_bytes()));
        }
        push_invocation_id(&mut extra, invocation_id)?;
        let path = self.invocation_path(request_id, "response");
        self.post("POST /runtime/invocation/{id}/response", &path, &extra, body)
    }

    // POST /2018-06-01/runtime/invocation/{AwsRequestId}/error
    /// Posts an error document with `Content-Type: application/json` and no error-type header
    /// (as awslambdaric). The X-Ray cause header is sent only when non-empty, below 1 MiB and
    /// free of CR/LF.
    pub(crate) fn post_invocation_error(
        &mut self,
        request_id: &str,
        invocation_id: Option<&str>,
        body: &[u8],
        xray_cause: Option<&str>,
    ) -> Result<(), RuntimeError> {
        let mut extra: Vec<(&str, &[u8])> = vec![(headers::CONTENT_TYPE, b"application/json")];
        if let Some(cause) = xray_cause.filter(|c| !c.is_empty() && c.len() < MAX_XRAY_CAUSE_BYTES) {
            if http::valid_header_value(cause.as_bytes()) {
                extra.push((headers::LAMBDA_RUNTIME_FUNCTION_XRAY_ERROR_CAUSE, cause.as_bytes()));
            } else {
                diagnostics::log(Level::Warning, "X-Ray error cause contains CR/LF/NUL; header dropped");
            }
        }
        push_invocation_id(&mut extra, invocation_id)?;
        let path = self.invocation_path(request_id, "error");
        self.post("POST /runtime/invocation/{id}/error", &path, &extra, body)
    }

    // POST /2018-06-01/runtime/invocation/{AwsRequestId}/response, streamed
    /// Hands out a connection for a streamed response (`rust/response_stream.rs`) and the request
    /// head to write first. The connection leaves this client (it is closed after the stream, as
    /// the custom-runtime page asks); connecting is retried while nothing was sent, as for any POST.
    pub(crate) fn begin_streamed_response(
        &mut self,
        request_id: &str,
        invocation_id: Option<&str>,
        extra: &[(&str, &[u8])],
    ) -> Result<(Connection, Vec<u8>), RuntimeError> {
        let mut extra = extra.to_vec();
        push_invocation_id(&mut extra, invocation_id)?;
        let path = self.invocation_path(request_id, "response");
        let mut head = Vec::with_capacity(512);
        http::write_head(
            &mut head,
            "POST",
            &path,
            &self.target.authority,
            &self.user_agent,
            &extra,
            None,
        );
        let mut attempt = 0;
        loop {
            match self.connection(false) {
                Ok(_) => {
                    let conn = self.conn.take().ok_or_else(vanished)?;
                    return Ok((conn, head));
                }
                Err(err) if attempt >= self.retry_delays.len() => return Err(RuntimeError::Transport(err)),
                Err(_) => {
                    std::thread::sleep(self.retry_delays[attempt]);
                    attempt += 1;
                }
            }
        }
    }

    // POST /2018-06-01/runtime/init/error
    /// Posts an init error with `Lambda-Runtime-Function-Error-Type: <error_type>` and no Content-Type.
    pub(crate) fn post_init_error(&mut self, error_type: &str, body: &[u8]) -> Result<(), RuntimeError> {
        check_header("error type", error_type)?;
        let path = format!("{}{API_VERSION_PATH}/init/error", self.target.prefix).into_bytes();
        let extra = [(headers::LAMBDA_RUNTIME_FUNCTION_ERROR_TYPE, error_type.as_bytes())];
        self.post("POST /runtime/init/error", &path, &extra, body)
    }

    // GET /2018-06-01/runtime/restore/next
    /// `SnapStart`: waits until the snapshot is restored (any 2xx; body ignored). Same waiting and
    /// retry policy as [`RuntimeApi::next_invocation`].
    pub(crate) fn restore_next(&mut self, on_idle: &mut dyn FnMut() -> bool) -> Result<(), RuntimeError> {
        let path = format!("{}{API_VERSION_PATH}/restore/next", self.target.prefix);
        self.get_with_retry("GET /runtime/restore/next", &path, on_idle, |_| Ok(()))
    }

    // POST /2018-06-01/runtime/restore/error
    /// `SnapStart`: posts an after-restore error with `Lambda-Runtime-Function-Error-Type` and no Content-Type.
    pub(crate) fn post_restore_error(&mut self, error_type: &str, body: &[u8]) -> Result<(), RuntimeError> {
        check_header("error type", error_type)?;
        let path = format!("{}{API_VERSION_PATH}/restore/error", self.target.prefix).into_bytes();
        let extra = [(headers::LAMBDA_RUNTIME_FUNCTION_ERROR_TYPE, error_type.as_bytes())];
        self.post("POST /runtime/restore/error", &path, &extra, body)
    }

    fn invocation_path(&self, request_id: &str, leaf: &str) -> Vec<u8> {
        let mut path = Vec::with_capacity(self.target.prefix.len() + request_id.len() * 3 + 48);
        path.extend_from_slice(self.target.prefix.as_bytes());
        path.extend_from_slice(API_VERSION_PATH.as_bytes());
        path.extend_from_slice(b"/invocation/");
        push_percent_encoded(&mut path, request_id.as_bytes());
        path.push(b'/');
        path.extend_from_slice(leaf.as_bytes());
        path
    }

    /// Makes sure `self.conn` holds a live connection: the kept-alive one unless it is found dead
    /// ([`Connection::is_stale`], `resendable` as there), else a new one. `Ok(true)` when the
    /// kept-alive connection is reused.
    fn connection(&mut self, resendable: bool) -> std::io::Result<bool> {
        if self.conn.as_mut().is_some_and(|conn| conn.is_stale(resendable)) {
            self.conn = None;
        }
        if self.conn.is_some() {
            return Ok(true);
        }
        let addrs = self.target.resolve()?;
        self.conn = Some(Connection::connect(&addrs, CONNECT_TIMEOUT)?);
        Ok(false)
    }

    /// One request/response exchange on the kept-alive connection (reconnecting first when the
    /// idle connection is found dead). The head must already be in `self.head`.
    fn attempt(
        &mut self,
        body: &[u8],
        resendable: bool,
        on_idle: &mut dyn FnMut() -> bool,
    ) -> Result<Response, AttemptError> {
        let not_sent = |error| AttemptError {
            error,
            maybe_sent: false,
            stale_reuse: false,
            dead_reuse: false,
        };
        let reused = self
            .connection(resendable)
            .map_err(|e| not_sent(RuntimeError::Transport(e)))?;
        let Some(conn) = self.conn.as_mut() else {
            return Err(not_sent(vanished()));
        };
        if let Err(err) = conn.send(&self.head, body) {
            self.conn = None;
            return Err(AttemptError {
                error: RuntimeError::Transport(err.error),
                maybe_sent: err.wrote_any,
                stale_reuse: reused && !err.wrote_any,
                dead_reuse: reused,
            });
        }
        match conn.read_response(on_idle) {
            Ok(response) => {
                if !response.keep_alive {
                    self.conn = None;
                }
                Ok(response)
            }
            Err(error) => {
                let got_bytes = conn.received_any();
                self.conn = None;
                let interrupted = matches!(error, RuntimeError::Interrupted);
                Err(AttemptError {
                    error,
                    maybe_sent: true,
                    stale_reuse: reused && !got_bytes,
                    dead_reuse: reused && !got_bytes && !interrupted,
                })
            }
        }
    }

    /// GET with retries (idempotent: safe to resend). `accept` turns a 2xx into the result or a
    /// retryable error (e.g. a missing request id).
    fn get_with_retry<T>(
        &mut self,
        what: &'static str,
        path: &str,
        on_idle: &mut dyn FnMut() -> bool,
        mut accept: impl FnMut(Response) -> Result<T, RuntimeError>,
    ) -> Result<T, RuntimeError> {
        http::write_head(
            &mut self.head,
            "GET",
            path.as_bytes(),
            &self.target.authority,
            &self.user_agent,
            &[],
            None,
        );
        let attempts = self.retry_delays.len() as u32 + 1;
        let mut attempt = 1;
        let mut free_reconnect = true;
        loop {
            let error = match self.attempt(&[], true, on_idle) {
                Ok(response) if (200..300).contains(&response.status) => match accept(response) {
                    Ok(value) => return Ok(value),
                    Err(error) => {
                        self.conn = None;
                        error
                    }
                },
                Ok(response) if response.status == 500 => {
                    diagnostics::log(Level::Error, &format!("{what}: HTTP 500; the runtime must exit"));
                    return Err(RuntimeError::Protocol {
                        status: 500,
                        body: response.body,
                    });
                }
                Ok(response) => RuntimeError::Protocol {
                    status: response.status,
                    body: response.body,
                },
                Err(AttemptError {
                    error: RuntimeError::Interrupted,
                    ..
                }) => return Err(RuntimeError::Interrupted),
                Err(failure) if failure.stale_reuse && free_reconnect => {
                    // The kept-alive connection died while idle (e.g. across a freeze): reconnect
                    // at once, once per call, without using up an attempt.
                    free_reconnect = false;
                    diagnostics::log(
                        Level::Info,
                        &format!(
                            "{what}: kept-alive connection was dropped ({}); reconnecting",
                            failure.error
                        ),
                    );
                    continue;
                }
                Err(failure) => failure.error,
            };
            if attempt >= attempts {
                diagnostics::log(
                    Level::Error,
                    &format!("{what} failed {attempt} times, giving up: {error}"),
                );
                return Err(RuntimeError::Exhausted {
                    what,
                    attempts: attempt,
                    last: Box::new(error),
                });
            }
            let delay = self.retry_delays[(attempt - 1) as usize];
            diagnostics::log(
                Level::Warning,
                &format!(
                    "{what} failed (attempt {attempt} of {attempts}): {error}; retrying in {} ms",
                    delay.as_millis()
                ),
            );
            if !sleep_interruptibly(delay, on_idle) {
                return Err(RuntimeError::Interrupted);
            }
            attempt += 1;
        }
    }

    /// POST: retried with back-off while no request byte can have reached the server (connect
    /// failures); re-sent at once, once, on a fresh connection when a reused keep-alive connection
    /// failed before any answer byte ([`post_may_be_resent`]). Non-2xx → `Protocol`, except that
    /// 400/403/410 answering a re-send of a POST whose first copy may have arrived mean "already
    /// delivered": one INFO line and `Ok`.
    fn post(
        &mut self,
        what: &'static str,
        path: &[u8],
        extra: &[(&str, &[u8])],
        body: &[u8],
    ) -> Result<(), RuntimeError> {
        http::write_head(
            &mut self.head,
            "POST",
            path,
            &self.target.authority,
            &self.user_agent,
            extra,
            Some(body.len()),
        );
        let body = if http::coalesce(body) {
            self.head.extend_from_slice(body);
            &[][..]
        } else {
            body
        };
        let attempts = self.retry_delays.len() as u32 + 1;
        let mut attempt = 1;
        // Set once the POST was re-sent after a dead reused connection: whether the first copy
        // may have reached the server.
        let mut resent: Option<bool> = None;
        loop {
            match self.attempt(body, false, &mut || true) {
                Ok(response) if (200..300).contains(&response.status) => return Ok(()),
                Ok(response) if resent == Some(true) && already_delivered(response.status) => {
                    diagnostics::log(
                        Level::Info,
                        &format!(
                            "{what}: the re-sent request was refused with HTTP {}: the first copy had arrived",
                            response.status
                        ),
                    );
                    return Ok(());
                }
                Ok(response) => {
                    return Err(RuntimeError::Protocol {
                        status: response.status,
                        body: response.body,
                    })
                }
                Err(failure) if post_may_be_resent(&failure, resent.is_some()) => {
                    resent = Some(failure.maybe_sent);
                    diagnostics::log(
                        Level::Info,
                        &format!(
                            "{what}: kept-alive connection was dropped before an answer ({}); \
                             sending again on a new connection",
                            failure.error
                        ),
                    );
                }
                Err(failure) if failure.maybe_sent => return Err(failure.error),
                Err(failure) => {
                    if attempt >= attempts {
                        diagnostics::log(
                            Level::Error,
                            &format!("{what} could not be sent after {attempt} attempts: {}", failure.error),
                        );
                        return Err(RuntimeError::Exhausted {
                            what,
                            attempts: attempt,
                            last: Box::new(failure.error),
                        });
                    }
                    let delay = self.retry_delays[(attempt - 1) as usize];
                    diagnostics::log(
                        Level::Warning,
                        &format!(
                            "{what} not sent (attempt {attempt} of {attempts}): {}; retrying in {} ms",
                            failure.error,
                            delay.as_millis()
                        ),
                    );
                    std::thread::sleep(delay);
                    attempt += 1;
                }
            }
        }
    }
}

fn check_header(what: &str, value: &str) -> Result<(), RuntimeError> {
    if http::valid_header_value(value.as_bytes()) {
        Ok(())
    } else {
        Err(RuntimeError::InvalidArgument(format!(
            "{what} {value:?} contains CR, LF or NUL"
        )))
    }
}

fn push_invocation_id<'a>(
    extra: &mut Vec<(&str, &'a [u8])>,
    invocation_id: Option<&'a str>,
) -> Result<(), RuntimeError> {
    if let Some(id) = invocation_id.filter(|id| !id.is_empty()) {
        check_header("invocation id", id)?;
        extra.push((headers::LAMBDA_RUNTIME_INVOCATION_ID, id.as_bytes()));
    }
    Ok(())
}

/// Sleeps `total`, calling `on_idle` every 50 ms; false when `on_idle` asked to stop.
fn sleep_interruptibly(total: Duration, on_idle: &mut dyn FnMut() -> bool) -> bool {
    let end = Instant::now() + total;
    loop {
        let now = Instant::now();
        if now >= end {
            return true;
        }
        std::thread::sleep((end - now).min(http::IDLE_SLICE));
        if !on_idle() {
            return false;
        }
    }
}

/// Appends `bytes` with every byte outside `A-Z a-z 0-9 - _ ~` written as `%XX`.
fn push_percent_encoded(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'~' {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Builds an [`Invocation`] from a 2xx `/next` response. Missing or empty request id →
/// `BadResponse` (retried like a garbage answer).
pub(crate) fn parse_invocation(response: Response, now_ms: i64) -> Result<Invocation, RuntimeError> {
    // Header values are ASCII in practice: take the validating fast path, lossy only when needed.
    let text = |name: &str| {
        response.header(name).map(|v| match std::str::from_utf8(v) {
            Ok(valid) => valid.to_owned(),
            Err(_) => String::from_utf8_lossy(v).into_owned(),
        })
    };
    let non_empty = |name: &str| text(name).filter(|v| !v.is_empty());
    let Some(request_id) = non_empty(headers::LAMBDA_RUNTIME_AWS_REQUEST_ID) else {
        return Err(RuntimeError::BadResponse(format!(
            "/next answer without a {} header",
            headers::LAMBDA_RUNTIME_AWS_REQUEST_ID
        )));
    };
    Ok(Invocation {
        request_id,
        deadline_ms: parse_deadline(response.header(headers::LAMBDA_RUNTIME_DEADLINE_MS), now_ms),
        invoked_function_arn: text(headers::LAMBDA_RUNTIME_INVOKED_FUNCTION_ARN).unwrap_or_default(),
        trace_id: non_empty(headers::LAMBDA_RUNTIME_TRACE_ID),
        client_context: non_empty(headers::LAMBDA_RUNTIME_CLIENT_CONTEXT).map(decode_client_context),
        cognito_identity: non_empty(headers::LAMBDA_RUNTIME_COGNITO_IDENTITY),
        tenant_id: non_empty(headers::LAMBDA_RUNTIME_AWS_TENANT_ID),
        invocation_id: non_empty(headers::LAMBDA_RUNTIME_INVOCATION_ID).and_then(echoable_invocation_id),
        content_type: text(headers::CONTENT_TYPE),
        body: response.body,
    })
}

/// The invocation id when it can be echoed in a request header; an id holding CR or NUL (which
/// header parsing lets through) is dropped with a WARNING, so the result is still posted (without
/// the header) instead of being refused as an invalid argument.
fn echoable_invocation_id(id: String) -> Option<String> {
    if http::valid_header_value(id.as_bytes()) {
        return Some(id);
    }
    diagnostics::log(
        Level::Warning,
        &format!(
            "{} {id:?} contains CR, LF or NUL and cannot be echoed; posting without it",
            headers::LAMBDA_RUNTIME_INVOCATION_ID
        ),
    );
    None
}

/// Epoch ms from the header: absent/unparsable → 0; `1..10^12` → now + value; otherwise as is
/// (full i64 range, saturating, never overflowing).
fn parse_deadline(value: Option<&[u8]>, now_ms: i64) -> i64 {
    let Some(parsed) = value
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|s| s.trim().parse::<i64>().ok())
    else {
        return 0;
    };
    if parsed > 0 && parsed < RELATIVE_DEADLINE_LIMIT {
        now_ms.saturating_add(parsed)
    } else {
        parsed
    }
}

/// cargo-lambda sends the client context base64-encoded: use the decoded text when it is UTF-8
/// JSON-object text (`{` after whitespace); otherwise keep the header value unchanged.
fn decode_client_context(value: String) -> String {
    if let Some(decoded) =
        crate::b64::decode_any(value.trim().as_bytes()).and_then(|bytes| String::from_utf8(bytes).ok())
    {
        if decoded.trim_start_matches([' ', '\t', '\r', '\n']).starts_with('{') {
            return decoded;
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::{Arc, Mutex};
    use std::thread;

    /// What the fake server does with the next request it receives.
    enum Reply {
        /// Write these bytes, keep the connection.
        Send(Vec<u8>),
        /// Write these bytes one at a time with a 1 ms pause between them.
        Drip(Vec<u8>),
        /// Write these bytes, then close the connection.
        SendClose(Vec<u8>),
        /// Close the connection without answering.
        Close,
        /// Wait, then write these bytes.
        Delay(u64, Vec<u8>),
    }

    #[derive(Debug, Clone)]
    struct Seen {
        conn: usize,
        head: String,
        body: Vec<u8>,
    }

    struct Fake {
        address: String,
        seen: Arc<Mutex<Vec<Seen>>>,
        handle: Option<thread::JoinHandle<()>>,
    }

    impl Fake {
        fn start(script: Vec<Reply>) -> Fake {
            Fake::start_with_prefix(script, "")
        }

        fn start_with_prefix(script: Vec<Reply>, prefix: &str) -> Fake {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let address = format!("{}{prefix}", listener.local_addr().unwrap());
            let seen = Arc::new(Mutex::new(Vec::new()));
            let seen2 = Arc::clone(&seen);
            let handle = thread::spawn(move || serve(&listener, script.into(), &seen2));
            Fake {
                address,
                seen,
                handle: Some(handle),
            }
        }

        /// Waits for the server thread (the client must be dropped first) and returns what it saw.
        fn finish(mut self) -> Vec<Seen> {
            if let Some(handle) = self.handle.take() {
                handle.join().unwrap();
            }
            self.seen.lock().unwrap().clone()
        }
    }

    fn serve(listener: &TcpListener, mut script: VecDeque<Reply>, seen: &Mutex<Vec<Seen>>) {
        let mut conn_index = 0;
        while !script.is_empty() {
            let (mut sock, _) = listener.accept().unwrap();
            sock.set_nodelay(true).unwrap();
            let mut buf = Vec::new();
            while let Some((head, body)) = read_request(&mut sock, &mut buf) {
                seen.lock().unwrap().push(Seen {
                    conn: conn_index,
                    head,
                    body,
                });
                let Some(reply) = script.pop_front() else { break };
                let keep = match reply {
                    Reply::Send(bytes) => sock.write_all(&bytes).is_ok(),
                    Reply::Drip(bytes) => bytes.iter().all(|b| {
                        thread::sleep(Duration::from_millis(1));
                        sock.write_all(&[*b]).is_ok()
                    }),
                    Reply::SendClose(bytes) => {
                        let _ = sock.write_all(&bytes);
                        false
                    }
                    Reply::Close => false,
                    Reply::Delay(ms, bytes) => {
                        thread::sleep(Duration::from_millis(ms));
                        sock.write_all(&bytes).is_ok()
                    }
                };
                if !keep {
                    break;
                }
                if script.is_empty() {
                    // Drain until the client goes away so keep-alive use is not disturbed.
                    let mut sink = [0u8; 1024];
                    while matches!(sock.read(&mut sink), Ok(n) if n > 0) {}
                    break;
                }
            }
            conn_index += 1;
        }
    }

    fn read_request(sock: &mut TcpStream, buf: &mut Vec<u8>) -> Option<(String, Vec<u8>)> {
        let mut chunk = vec![0u8; 65536];
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end + 4]).into_owned();
                let length = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length: ")
                            .map(str::to_owned)
                    })
                    .map_or(0, |v| v.trim().parse::<usize>().unwrap());
                while buf.len() < end + 4 + length {
                    let n = sock.read(&mut chunk).ok().filter(|n| *n > 0)?;
                    buf.extend_from_slice(&chunk[..n]);
                }
                let body = buf[end + 4..end + 4 + length].to_vec();
                buf.drain(..end + 4 + length);
                return Some((head, body));
            }
            let n = sock.read(&mut chunk).ok().filter(|n| *n > 0)?;
            buf.extend_from_slice(&chunk[..n]);
        }
    }

    fn ok_next(request_id: &str, body: &str) -> Reply {
        Reply::Send(
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: {request_id}\r\n\
                 Lambda-Runtime-Deadline-Ms: 1700000000000\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_bytes(),
        )
    }

    fn status(code: u16, body: &str) -> Reply {
        Reply::Send(format!("HTTP/1.1 {code} X\r\nContent-Length: {}\r\n\r\n{body}", body.len()).into_bytes())
    }

    fn accepted() -> Reply {
        status(202, "{\"status\":\"OK\"}")
    }

    fn client(fake: &Fake) -> RuntimeApi {
        let mut api = RuntimeApi::new(&fake.address, "ua/1").unwrap();
        api.set_retry_delays(vec![Duration::from_millis(1); 5]);
        api
    }

    fn no_idle() -> impl FnMut() -> bool {
        || true
    }

    fn host(fake: &Fake) -> String {
        fake.address.split('/').next().unwrap().to_owned()
    }

    // ---- address parsing ----

    #[test]
    fn address_forms() {
        let t = Target::parse("127.0.0.1:9001").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.prefix.as_str(), t.authority.as_str()),
            ("127.0.0.1", 9001, "", "127.0.0.1:9001")
        );
        let t = Target::parse("[::1]:9001").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.authority.as_str()),
            ("::1", 9001, "[::1]:9001")
        );
        let t = Target::parse("http://127.0.0.1:9001/.rt/").unwrap();
        assert_eq!((t.port, t.prefix.as_str()), (9001, "/.rt"));
        let t = Target::parse("HTTP://localhost:80/fn-a").unwrap();
        assert_eq!((t.host.as_str(), t.prefix.as_str()), ("localhost", "/fn-a"));
        assert_eq!(Target::parse("example").unwrap().port, 80);
    }

    #[test]
    fn bad_addresses_are_clear_errors() {
        for bad in [
            "",
            "https://h:1",
            ":9001",
            "h:",
            "h:0",
            "h:70000",
            "h:x",
            "::1:9001",
            "[::1",
            "[zz]:1",
            "[::1]x",
            "u@h:1",
            "h:1/p?q",
            "h 1:2",
            "h\r\n:1",
            "hé:1",
        ] {
            match RuntimeApi::new(bad, "ua") {
                Err(RuntimeError::InvalidAddress(msg)) => assert!(msg.contains(&format!("{bad:?}")), "{msg}"),
                Err(other) => panic!("{bad:?}: {other:?}"),
                Ok(_) => panic!("{bad:?} accepted"),
            }
        }
        assert!(matches!(
            RuntimeApi::new("h:1", "ua\r\nX: y"),
            Err(RuntimeError::InvalidArgument(_))
        ));
    }

    fn serve_one_next(listener: &TcpListener) -> thread::JoinHandle<String> {
        let listener = listener.try_clone().unwrap();
        thread::spawn(move || {
            let (mut sock, _) = listener.accept().unwrap();
            let mut buf = Vec::new();
            let (head, _) = read_request(&mut sock, &mut buf).unwrap();
            sock.write_all(b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r\r\nContent-Length: 0\r\n\r\n")
                .unwrap();
            head
        })
    }

    #[test]
    fn ipv6_loopback_address() {
        let Ok(listener) = TcpListener::bind("[::1]:0") else {
            eprintln!("no IPv6 loopback here; skipped");
            return;
        };
        let port = listener.local_addr().unwrap().port();
        let server = serve_one_next(&listener);
        let mut api = RuntimeApi::new(&format!("[::1]:{port}"), "ua").unwrap();
        assert_eq!(api.next_invocation(&mut no_idle()).unwrap().request_id, "r");
        let head = server.join().unwrap();
        assert!(head.contains(&format!("\r\nHost: [::1]:{port}\r\n")), "{head}");
    }

    #[test]
    fn host_name_is_resolved() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = serve_one_next(&listener);
        let mut api = RuntimeApi::new(&format!("localhost:{port}"), "ua").unwrap();
        api.set_retry_delays(vec![Duration::from_millis(1); 2]);
        assert_eq!(api.next_invocation(&mut no_idle()).unwrap().request_id, "r");
        let head = server.join().unwrap();
        assert!(head.contains(&format!("\r\nHost: localhost:{port}\r\n")), "{head}");
    }

    // ---- exact request bytes per endpoint ----

    #[test]
    fn request_bytes_per_endpoint() {
        let fake = Fake::start(vec![
            ok_next("rid-1", "{}"),
            accepted(),
            accepted(),
            accepted(),
            accepted(),
            status(200, ""),
            accepted(),
        ]);
        let h = host(&fake);
        let mut api = client(&fake);
        api.next_invocation(&mut no_idle()).unwrap();
        api.post_invocation_response("rid-1", Some("inv-1"), "application/json", b"{\"a\": 1}")
            .unwrap();
        api.post_invocation_error("rid-1", Some("inv-1"), b"{\"e\": 1}", Some("{\"x\": 1}"))
            .unwrap();
        api.post_invocation_error("rid-2", None, b"{}", Some("")).unwrap();
        api.post_init_error("Runtime.ImportModuleError", b"{\"i\": 1}").unwrap();
        api.restore_next(&mut no_idle()).unwrap();
        api.post_restore_error("Runtime.AfterRestoreError", b"").unwrap();
        drop(api);
        let seen = fake.finish();
        let heads: Vec<&str> = seen.iter().map(|s| s.head.as_str()).collect();
        let base = format!("Host: {h}\r\nUser-Agent: ua/1\r\n");
        assert_eq!(
            heads[0],
            format!("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n{base}\r\n")
        );
        assert_eq!(
            heads[1],
            format!(
                "POST /2018-06-01/runtime/invocation/rid-1/response HTTP/1.1\r\n{base}Content-Type: application/json\r\n\
                 Lambda-Runtime-Invocation-Id: inv-1\r\nContent-Length: 8\r\n\r\n"
            )
        );
        assert_eq!(
            heads[2],
            format!(
                "POST /2018-06-01/runtime/invocation/rid-1/error HTTP/1.1\r\n{base}Content-Type: application/json\r\n\
                 Lambda-Runtime-Function-XRay-Error-Cause: {{\"x\": 1}}\r\nLambda-Runtime-Invocation-Id: inv-1\r\n\
                 Content-Length: 8\r\n\r\n"
            )
        );
        assert_eq!(
            heads[3],
            format!(
                "POST /2018-06-01/runtime/invocation/rid-2/error HTTP/1.1\r\n{base}Content-Type: application/json\r\n\
                 Content-Length: 2\r\n\r\n"
            )
        );
        assert_eq!(
            heads[4],
            format!(
                "POST /2018-06-01/runtime/init/error HTTP/1.1\r\n{base}\
                 Lambda-Runtime-Function-Error-Type: Runtime.ImportModuleError\r\nContent-Length: 8\r\n\r\n"
            )
        );
        assert_eq!(
            heads[5],
            format!("GET /2018-06-01/runtime/restore/next HTTP/1.1\r\n{base}\r\n")
        );
        assert_eq!(
            heads[6],
            format!(
                "POST /2018-06-01/runtime/restore/error HTTP/1.1\r\n{base}\
                 Lambda-Runtime-Function-Error-Type: Runtime.AfterRestoreError\r\nContent-Length: 0\r\n\r\n"
            )
        );
        let bodies: Vec<&[u8]> = seen.iter().map(|s| s.body.as_slice()).collect();
        assert_eq!(
            bodies,
            [&b""[..], b"{\"a\": 1}", b"{\"e\": 1}", b"{}", b"{\"i\": 1}", b"", b""]
        );
        // One keep-alive connection for everything.
        assert!(seen.iter().all(|s| s.conn == 0));
    }

    #[test]
    fn xray_cause_limit_is_one_mib() {
        let fake = Fake::start(vec![accepted(), accepted()]);
        let mut api = client(&fake);
        let just_below = "c".repeat(MAX_XRAY_CAUSE_BYTES - 1);
        let at_limit = "c".repeat(MAX_XRAY_CAUSE_BYTES);
        api.post_invocation_error("r", None, b"{}", Some(&just_below)).unwrap();
        api.post_invocation_error("r", None, b"{}", Some(&at_limit)).unwrap();
        drop(api);
        let seen = fake.finish();
        assert!(seen[0]
            .head
            .contains(&format!("Lambda-Runtime-Function-XRay-Error-Cause: {just_below}\r\n")));
        assert!(!seen[1].head.contains("XRay"));
    }

    #[test]
    fn large_body_is_sent_whole_with_content_length() {
        let fake = Fake::start(vec![accepted()]);
        let mut api = client(&fake);
        let body: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        api.post_invocation_response("r", None, "application/unknown", &body)
            .unwrap();
        drop(api);
        let seen = fake.finish();
        assert!(seen[0].head.contains("Content-Length: 3000000\r\n"));
        assert!(!seen[0].head.to_ascii_lowercase().contains("expect"));
        assert!(!seen[0].head.to_ascii_lowercase().contains("transfer-encoding"));
        assert_eq!(seen[0].body, body);
    }

    #[test]
    fn path_prefix_and_percent_encoding() {
        let fake = Fake::start_with_prefix(vec![ok_next("x", ""), accepted()], "/.rt");
        let mut api = client(&fake);
        api.next_invocation(&mut no_idle()).unwrap();
        api.post_invocation_response("a/../b é.~_-Z9", None, "application/json", b"{}")
            .unwrap();
        drop(api);
        let seen = fake.finish();
        assert!(seen[0]
            .head
            .starts_with("GET /.rt/2018-06-01/runtime/invocation/next HTTP/1.1\r\n"));
        assert!(seen[1].head.starts_with(
            "POST /.rt/2018-06-01/runtime/invocation/a%2F%2E%2E%2Fb%20%C3%A9%2E~_-Z9/response HTTP/1.1\r\n"
        ));
    }

    #[test]
    fn header_injection_is_refused() {
        let mut api = RuntimeApi::new("127.0.0.1:9", "ua").unwrap();
        let err = api
            .post_invocation_response("r", None, "text/plain\r\nX-Evil: 1", b"")
            .unwrap_err();
        assert!(matches!(err, RuntimeError::InvalidArgument(_)), "{err:?}");
        let err = api.post_init_error("Runtime.X\nY", b"").unwrap_err();
        assert!(matches!(err, RuntimeError::InvalidArgument(_)), "{err:?}");
        let err = api.post_invocation_error("r", Some("a\rb"), b"", None).unwrap_err();
        assert!(matches!(err, RuntimeError::InvalidArgument(_)), "{err:?}");
    }

    // ---- /next header parsing ----

    #[test]
    fn next_parses_all_headers_case_insensitively() {
        let body = "{\"k\": \"v\"}";
        let reply = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nLAMBDA-RUNTIME-AWS-REQUEST-ID: rid-9\r\n\
             lambda-runtime-deadline-ms: 9999999999999\r\nLambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:x\r\n\
             Lambda-Runtime-Trace-Id: Root=1-2-3\r\nLambda-Runtime-Client-Context: {{\"custom\": {{}}}}\r\n\
             Lambda-Runtime-Cognito-Identity: {{\"cognitoIdentityId\": \"i\"}}\r\nLambda-Runtime-Aws-Tenant-Id: t-1\r\n\
             Lambda-Runtime-Invocation-Id: inv-7\r\nX-Extra: ignored\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let fake = Fake::start(vec![Reply::Send(reply.into_bytes())]);
        let mut api = client(&fake);
        let inv = api.next_invocation(&mut no_idle()).unwrap();
        drop(api);
        fake.finish();
        assert_eq!(
            inv,
            Invocation {
                request_id: "rid-9".into(),
                deadline_ms: 9_999_999_999_999,
                invoked_function_arn: "arn:aws:lambda:x".into(),
                trace_id: Some("Root=1-2-3".into()),
                client_context: Some("{\"custom\": {}}".into()),
                cognito_identity: Some("{\"cognitoIdentityId\": \"i\"}".into()),
                tenant_id: Some("t-1".into()),
                invocation_id: Some("inv-7".into()),
                content_type: Some("application/json".into()),
                body: body.as_bytes().to_vec(),
            }
        );
    }

    #[test]
    fn next_defaults_when_optional_headers_are_missing_or_empty() {
        let reply = b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r\r\nLambda-Runtime-Trace-Id: \r\n\
            Lambda-Runtime-Client-Context:\r\nLambda-Runtime-Aws-Tenant-Id: \r\nContent-Length: 0\r\n\r\n";
        let fake = Fake::start(vec![Reply::Send(reply.to_vec())]);
        let mut api = client(&fake);
        let inv = api.next_invocation(&mut no_idle()).unwrap();
        drop(api);
        fake.finish();
        assert_eq!(inv.deadline_ms, 0);
        assert_eq!(inv.invoked_function_arn, "");
        assert_eq!(
            (
                inv.trace_id,
                inv.client_context,
                inv.cognito_identity,
                inv.tenant_id,
                inv.invocation_id,
                inv.content_type
            ),
            (None, None, None, None, None, None)
        );
        assert!(inv.body.is_empty());
    }

    #[test]
    fn non_utf8_header_values_are_decoded_lossily() {
        let mut reply =
            b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r\r\nLambda-Runtime-Client-Context: {\"t\": \""
                .to_vec();
        reply.extend_from_slice(b"caf\xe9\"}\r\nLambda-Runtime-Trace-Id: a\xffb\r\nContent-Length: 0\r\n\r\n");
        let fake = Fake::start(vec![Reply::Send(reply)]);
        let mut api = client(&fake);
        let inv = api.next_invocation(&mut no_idle()).unwrap();
        drop(api);
        fake.finish();
        assert_eq!(inv.client_context.as_deref(), Some("{\"t\": \"caf\u{FFFD}\"}"));
        assert_eq!(inv.trace_id.as_deref(), Some("a\u{FFFD}b"));
    }

    #[test]
    fn control_bytes_in_next_headers_reach_the_invocation_and_posts_still_go_out() {
        // RAPID (Go) may send control bytes in values; the invocation must not be lost over them.
        let reply =
            b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r\x01\x00\r\nLambda-Runtime-Trace-Id: T\x00\r\n\
Lambda-Runtime-Invocation-Id: i\x00d\r\nContent-Length: 2\r\n\r\n{}"
                .to_vec();
        let fake = Fake::start(vec![Reply::Send(reply), accepted()]);
        let mut api = client(&fake);
        let inv = api.next_invocation(&mut no_idle()).unwrap();
        assert_eq!(
            (
                inv.request_id.as_str(),
                inv.trace_id.as_deref(),
                inv.invocation_id.as_deref()
            ),
            ("r\u{1}\u{0}", Some("T\u{0}"), None)
        );
        api.post_invocation_response(&inv.request_id, inv.invocation_id.as_deref(), "application/json", b"1")
            .unwrap();
        drop(api);
        let seen = fake.finish();
        assert!(seen[1]
            .head
            .starts_with("POST /2018-06-01/runtime/invocation/r%01%00/response HTTP/1.1\r\n"));
        assert!(!seen[1].head.to_ascii_lowercase().contains("invocation-id"));
    }

    #[test]
    fn deadline_rules() {
        let now = 1_800_000_000_000;
        assert_eq!(parse_deadline(None, now), 0);
        assert_eq!(parse_deadline(Some(b"abc"), now), 0);
        assert_eq!(parse_deadline(Some(b""), now), 0);
        assert_eq!(parse_deadline(Some(b"99999999999999999999"), now), 0);
        assert_eq!(parse_deadline(Some(b"600000"), now), now + 600_000);
        assert_eq!(parse_deadline(Some(b"1700000000000"), now), 1_700_000_000_000);
        assert_eq!(parse_deadline(Some(b" 9999999999999 "), now), 9_999_999_999_999);
        assert_eq!(parse_deadline(Some(b"9223372036854775807"), now), i64::MAX);
        assert_eq!(parse_deadline(Some(b"999999999999"), i64::MAX - 5), i64::MAX);
        assert_eq!(parse_deadline(Some(b"0"), now), 0);
        assert_eq!(parse_deadline(Some(b"-5000"), now), -5000);
    }

    #[test]
    fn client_context_base64_is_decoded_only_to_json_objects() {
        // base64 of ` {"custom": {"k": "é"}}`
        let json = " {\"custom\": {\"k\": \"é\"}}";
        let encoded = b64(json.as_bytes());
        assert_eq!(decode_client_context(encoded.clone()), json);
        assert_eq!(decode_client_context(encoded.trim_end_matches('=').to_owned()), json);
        // Raw JSON stays raw; base64 of non-JSON stays encoded; garbage stays.
        assert_eq!(decode_client_context("{\"a\": 1}".into()), "{\"a\": 1}");
        assert_eq!(decode_client_context(b64(b"[1, 2]")), b64(b"[1, 2]"));
        assert_eq!(decode_client_context("not-json".into()), "not-json");
        assert_eq!(decode_client_context(b64(b"{\xff}")), b64(b"{\xff}"));
    }

    fn b64(data: &[u8]) -> String {
        const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in data.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    #[test]
    fn chunked_next_body_and_200_on_post() {
        let reply = b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r\r\nTransfer-Encoding: chunked\r\n\r\n\
            3\r\n{\"a\r\n4\r\n\": 1\r\n1\r\n}\r\n0\r\n\r\n";
        let fake = Fake::start(vec![Reply::Send(reply.to_vec()), status(200, "")]);
        let mut api = client(&fake);
        assert_eq!(api.next_invocation(&mut no_idle()).unwrap().body, b"{\"a\": 1}");
        api.post_invocation_response("r", None, "application/json", b"1")
            .unwrap();
        drop(api);
        fake.finish();
    }

    #[test]
    fn slow_drip_server_works() {
        let body = "{\"drip\": true}";
        let reply = format!(
            "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: rid-d\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let fake = Fake::start(vec![
            Reply::Drip(reply.into_bytes()),
            Reply::Drip(b"HTTP/1.1 202 A\r\nContent-Length: 2\r\n\r\nok".to_vec()),
        ]);
        let mut api = client(&fake);
        let inv = api.next_invocation(&mut no_idle()).unwrap();
        assert_eq!(
            (inv.request_id.as_str(), inv.body.as_slice()),
            ("rid-d", body.as_bytes())
        );
        api.post_invocation_response("rid-d", None, "application/json", b"{}")
            .unwrap();
        drop(api);
        fake.finish();
    }

    // ---- failures ----

    #[test]
    fn next_retries_after_garbage_missing_request_id_and_eof() {
        let fake = Fake::start(vec![
            Reply::SendClose(b"GARBAGE\r\n\r\n".to_vec()),
            Reply::SendClose(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec()),
            Reply::Close,
            Reply::SendClose(
                b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r\r\nContent-Length: 5\r\n\r\nab".to_vec(),
            ),
            ok_next("finally", "{}"),
        ]);
        let mut api = client(&fake);
        let inv = api.next_invocation(&mut no_idle()).unwrap();
        assert_eq!(inv.request_id, "finally");
        drop(api);
        let seen = fake.finish();
        assert_eq!(seen.len(), 5);
        assert_eq!(seen.iter().map(|s| s.conn).collect::<Vec<_>>(), [0, 1, 2, 3, 4]);
    }

    #[test]
    fn next_refused_exhausts_and_is_fatal() {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let mut api = RuntimeApi::new(&format!("127.0.0.1:{port}"), "ua").unwrap();
        api.set_retry_delays(vec![Duration::from_millis(1); 4]);
        let err = api.next_invocation(&mut no_idle()).unwrap_err();
        match &err {
            RuntimeError::Exhausted { attempts, last, .. } => {
                assert_eq!(*attempts, 5);
                assert!(
                    matches!(&**last, RuntimeError::Transport(e) if e.kind() == std::io::ErrorKind::ConnectionRefused)
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(err.is_fatal());
    }

    #[test]
    fn next_non_2xx_other_than_500_is_retried_then_fatal() {
        let fake = Fake::start(vec![
            status(403, "no"),
            status(404, "no"),
            status(403, "{\"errorType\":\"x\"}"),
        ]);
        let mut api = client(&fake);
        api.set_retry_delays(vec![Duration::from_millis(1); 2]);
        let err = api.next_invocation(&mut no_idle()).unwrap_err();
        drop(api);
        assert_eq!(fake.finish().len(), 3);
        assert!(err.is_fatal());
        assert_eq!(err.status(), Some(403));
    }

    #[test]
    fn status_500_on_next_is_fatal_without_retry() {
        let fake = Fake::start(vec![status(500, "{\"errorType\":\"InternalServerError\"}")]);
        let mut api = client(&fake);
        let err = api.next_invocation(&mut no_idle()).unwrap_err();
        drop(api);
        assert_eq!(fake.finish().len(), 1);
        assert!(err.is_fatal());
        assert!(
            matches!(&err, RuntimeError::Protocol { status: 500, body } if body == b"{\"errorType\":\"InternalServerError\"}")
        );
    }

    #[test]
    fn post_statuses_map_to_non_fatal_protocol_errors_and_500_to_fatal() {
        let fake = Fake::start(vec![
            status(400, "bad id"),
            status(403, "InvalidStateTransition"),
            status(410, "InvokeTimeout"),
            status(413, "too large"),
            status(500, "boom"),
            accepted(),
        ]);
        let mut api = client(&fake);
        let mut results = Vec::new();
        for _ in 0..5 {
            results.push(
                api.post_invocation_response("r", None, "application/json", b"{}")
                    .unwrap_err(),
            );
        }
        api.post_invocation_error("r", None, b"{}", None).unwrap();
        drop(api);
        assert_eq!(fake.finish().len(), 6, "no POST was resent");
        let summary: Vec<(Option<u16>, bool)> = results.iter().map(|e| (e.status(), e.is_fatal())).collect();
        assert_eq!(
            summary,
            [
                (Some(400), false),
                (Some(403), false),
                (Some(410), false),
                (Some(413), false),
                (Some(500), true)
            ]
        );
        assert!(matches!(&results[3], RuntimeError::Protocol { body, .. } if body == b"too large"));
    }

    fn post_heads(seen: &[Seen]) -> Vec<(usize, &str)> {
        seen.iter()
            .filter(|s| s.head.starts_with("POST"))
            .map(|s| (s.conn, s.head.split(' ').nth(1).unwrap_or_default()))
            .collect()
    }

    #[test]
    fn post_dropped_on_a_reused_connection_is_resent_once_on_a_fresh_one() {
        // The server reads the POST on the kept-alive connection and drops it without answering.
        let fake = Fake::start(vec![ok_next("r", "{}"), Reply::Close, accepted(), ok_next("r2", "{}")]);
        let mut api = client(&fake);
        api.set_retry_delays(vec![]); // the re-send must not depend on the retry budget
        api.next_invocation(&mut no_idle()).unwrap();
        api.post_invocation_response("r", None, "application/json", b"{\"x\": 1}")
            .unwrap();
        assert_eq!(api.next_invocation(&mut no_idle()).unwrap().request_id, "r2");
        drop(api);
        let seen = fake.finish();
        let path = "/2018-06-01/runtime/invocation/r/response";
        assert_eq!(post_heads(&seen), [(0, path), (1, path)]);
        assert_eq!(seen[1].body, seen[2].body, "the same bytes are sent again");
    }

    #[test]
    fn post_is_resent_at_most_once() {
        // Dropped on the reused connection, then dropped again on the fresh one: not sent a third time.
        let fake = Fake::start(vec![
            ok_next("r", "{}"),
            Reply::Close,
            Reply::Close,
            ok_next("r2", "{}"),
        ]);
        let mut api = client(&fake);
        api.next_invocation(&mut no_idle()).unwrap();
        let err = api.post_invocation_error("r", None, b"{}", None).unwrap_err();
        assert!(
            matches!(&err, RuntimeError::Transport(e) if e.kind() == std::io::ErrorKind::UnexpectedEof),
            "{err:?}"
        );
        assert!(!err.is_fatal());
        assert_eq!(api.next_invocation(&mut no_idle()).unwrap().request_id, "r2");
        drop(api);
        assert_eq!(post_heads(&fake.finish()).len(), 2);
    }

    #[test]
    fn post_dropped_on_a_fresh_connection_is_not_resent() {
        let fake = Fake::start(vec![Reply::Close, ok_next("r2", "{}")]);
        let mut api = client(&fake);
        let err = api.post_init_error("Runtime.X", b"{}").unwrap_err();
        assert!(matches!(&err, RuntimeError::Transport(_)), "{err:?}");
        assert_eq!(api.next_invocation(&mut no_idle()).unwrap().request_id, "r2");
        drop(api);
        assert_eq!(post_heads(&fake.finish()).len(), 1);
    }

    #[test]
    fn post_is_not_resent_once_an_answer_byte_arrived() {
        let fake = Fake::start(vec![
            ok_next("r", "{}"),
            Reply::SendClose(b"HTTP/1.1 202 Acc".to_vec()),
            ok_next("r2", "{}"),
        ]);
        let mut api = client(&fake);
        api.next_invocation(&mut no_idle()).unwrap();
        let err = api.post_restore_error("Runtime.X", b"{}").unwrap_err();
        assert!(!err.is_fatal(), "{err:?}");
        assert_eq!(api.next_invocation(&mut no_idle()).unwrap().request_id, "r2");
        drop(api);
        assert_eq!(post_heads(&fake.finish()).len(), 1);
    }

    #[test]
    fn refusal_of_a_resent_post_means_already_delivered() {
        // 400/403/410 to the re-send: the first copy had arrived; Ok. Another status stands.
        for (code, delivered) in [(400, true), (403, true), (410, true), (413, false), (404, false)] {
            let fake = Fake::start(vec![ok_next("r", "{}"), Reply::Close, status(code, "no")]);
            let mut api = client(&fake);
            api.next_invocation(&mut no_idle()).unwrap();
            let result = api.post_invocation_response("r", None, "application/json", b"{}");
            drop(api);
            assert_eq!(post_heads(&fake.finish()).len(), 2);
            if delivered {
                result.unwrap();
            } else {
                assert!(
                    matches!(&result, Err(RuntimeError::Protocol { status, .. }) if *status == code),
                    "{result:?}"
                );
            }
        }
    }

    #[test]
    fn stale_idle_connection_is_detected_before_writing_a_post() {
        // The server answers /next, then closes the idle connection (e.g. across a freeze).
        let fake = Fake::start(vec![
            Reply::SendClose(
                b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r\r\nContent-Length: 2\r\n\r\n{}".to_vec(),
            ),
            accepted(),
        ]);
        let mut api = client(&fake);
        api.next_invocation(&mut no_idle()).unwrap();
        thread::sleep(Duration::from_millis(50));
        api.post_invocation_response("r", None, "application/json", b"{}")
            .unwrap();
        drop(api);
        let seen = fake.finish();
        assert_eq!(seen.len(), 2);
        assert_eq!((seen[0].conn, seen[1].conn), (0, 1));
    }

    #[test]
    fn stale_keep_alive_during_next_reconnects_at_once() {
        // First /next + response on connection 0; the second /next finds it dropped (no answer).
        let fake = Fake::start(vec![ok_next("a", "{}"), accepted(), Reply::Close, ok_next("b", "{}")]);
        let mut api = client(&fake);
        api.set_retry_delays(vec![]); // no retry budget: only the free reconnect can save it
        api.next_invocation(&mut no_idle()).unwrap();
        api.post_invocation_response("a", None, "application/json", b"{}")
            .unwrap();
        assert_eq!(api.next_invocation(&mut no_idle()).unwrap().request_id, "b");
        drop(api);
        let seen = fake.finish();
        assert_eq!(seen.iter().map(|s| s.conn).collect::<Vec<_>>(), [0, 0, 0, 1]);
    }

    #[test]
    fn post_connect_refused_is_retried_then_exhausted() {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let mut api = RuntimeApi::new(&format!("127.0.0.1:{port}"), "ua").unwrap();
        api.set_retry_delays(vec![Duration::from_millis(1); 2]);
        let err = api.post_init_error("Runtime.X", b"{}").unwrap_err();
        assert!(matches!(&err, RuntimeError::Exhausted { attempts: 3, .. }), "{err:?}");
    }

    #[test]
    fn post_retries_connect_until_the_server_appears() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let server = thread::spawn(move || {
            thread::sleep(Duration::from_millis(30));
            let listener = TcpListener::bind(addr).unwrap();
            let (mut sock, _) = listener.accept().unwrap();
            let mut buf = Vec::new();
            let got = read_request(&mut sock, &mut buf);
            sock.write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
                .unwrap();
            got
        });
        let mut api = RuntimeApi::new(&addr.to_string(), "ua").unwrap();
        api.set_retry_delays(vec![Duration::from_millis(25); 5]);
        api.post_init_error("Runtime.X", b"{}").unwrap();
        let (head, body) = server.join().unwrap().unwrap();
        assert!(head.starts_with("POST /2018-06-01/runtime/init/error"));
        assert_eq!(body, b"{}");
    }

    #[test]
    fn on_idle_runs_while_waiting_and_can_interrupt() {
        let fake = Fake::start(vec![Reply::Delay(300, b"HTTP/1.1 200 OK\r\n\r\n".to_vec())]);
        let mut api = client(&fake);
        let mut calls = 0;
        let err = api
            .next_invocation(&mut || {
                calls += 1;
                calls < 2
            })
            .unwrap_err();
        assert!(matches!(err, RuntimeError::Interrupted));
        assert!(!err.is_fatal());
        assert_eq!(calls, 2);
        drop(api);
        fake.finish();
    }

    #[test]
    fn long_wait_on_next_is_not_a_timeout() {
        let fake = Fake::start(vec![Reply::Delay(
            250,
            b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: slow\r\nContent-Length: 0\r\n\r\n".to_vec(),
        )]);
        let mut api = client(&fake);
        let mut calls = 0;
        let inv = api
            .next_invocation(&mut || {
                calls += 1;
                true
            })
            .unwrap();
        assert_eq!(inv.request_id, "slow");
        assert!(calls >= 2, "on_idle ran {calls} times");
        drop(api);
        fake.finish();
    }

    /// Round-trip measurement: `cargo test --release --lib -- --ignored --nocapture measure_round_trip`.
    /// Compares the client with a raw-socket baseline that writes fixed request bytes and reads
    /// fixed-size answers from the same fake server; the difference is the transport's own cost.
    #[test]
    #[ignore = "measurement, run in release mode by hand"]
    fn measure_round_trip() {
        const N: u32 = 10_000;
        const M: u32 = 200_000;
        const NEXT: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: 8476a536-e9f4-11e8-9739-2dfe598c3fcd\r\nLambda-Runtime-Deadline-Ms: 1800000000000\r\nLambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:f\r\nLambda-Runtime-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1\r\nContent-Length: 2\r\n\r\n{}";
        const DONE: &[u8] = b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{\"status\":\"OK\"}\n";
        fn server() -> (SocketAddr, thread::JoinHandle<()>) {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let handle = thread::spawn(move || {
                let (mut sock, _) = listener.accept().unwrap();
                sock.set_nodelay(true).unwrap();
                let mut buf = Vec::new();
                for _ in 0..N {
                    read_request(&mut sock, &mut buf).unwrap();
                    sock.write_all(NEXT).unwrap();
                    read_request(&mut sock, &mut buf).unwrap();
                    sock.write_all(DONE).unwrap();
                }
            });
            (addr, handle)
        }

        // Baseline: the same exchanges with fixed bytes and no parsing.
        let (addr, handle) = server();
        let mut sock = TcpStream::connect(addr).unwrap();
        sock.set_nodelay(true).unwrap();
        let get = format!("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: ua\r\n\r\n");
        let post = format!("POST /2018-06-01/runtime/invocation/8476a536-e9f4-11e8-9739-2dfe598c3fcd/response HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: ua\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n{{\"ok\": true}}");
        let mut answer = vec![0u8; NEXT.len()];
        let start = Instant::now();
        for _ in 0..N {
            sock.write_all(get.as_bytes()).unwrap();
            sock.read_exact(&mut answer[..NEXT.len()]).unwrap();
            sock.write_all(post.as_bytes()).unwrap();
            sock.read_exact(&mut answer[..DONE.len()]).unwrap();
        }
        let baseline = start.elapsed();
        handle.join().unwrap();

        let (addr, handle) = server();
        let mut api = RuntimeApi::new(&addr.to_string(), "ua").unwrap();
        let start = Instant::now();
        for _ in 0..N {
            let inv = api.next_invocation(&mut no_idle()).unwrap();
            api.post_invocation_response(&inv.request_id, None, "application/json", b"{\"ok\": true}")
                .unwrap();
        }
        let client = start.elapsed();
        handle.join().unwrap();
        // CPU-only: everything the client does per pair except the syscalls.
        let mut head = Vec::new();
        let start = Instant::now();
        for _ in 0..M {
            http::write_head(
                &mut head,
                "GET",
                b"/2018-06-01/runtime/invocation/next",
                "127.0.0.1:9001",
                "ua",
                &[],
                None,
            );
            let head_len = NEXT.len() - 2;
            let (status, _, headers) = http::parse_response_head(&NEXT[..head_len]).unwrap();
            let response = Response {
                status,
                headers,
                body: NEXT[head_len..].to_vec(),
                keep_alive: true,
            };
            let inv = std::hint::black_box(parse_invocation(response, 0).unwrap());
            let mut path = Vec::new();
            push_percent_encoded(&mut path, inv.request_id.as_bytes());
            http::write_head(
                &mut head,
                "POST",
                &path,
                "127.0.0.1:9001",
                "ua",
                &[(headers::CONTENT_TYPE, b"application/json")],
                Some(12),
            );
            std::hint::black_box(http::parse_response_head(&DONE[..DONE.len() - 16]).unwrap());
        }
        let cpu = start.elapsed();
        println!(
            "CPU-only request building + response parsing: {:.2} µs/pair",
            cpu.as_secs_f64() * 1e6 / f64::from(M)
        );
        let per = |d: Duration| d.as_secs_f64() * 1e6 / f64::from(N);
        println!(
            "{N} next+response pairs: raw-socket baseline {:.1} µs/pair, RuntimeApi {:.1} µs/pair, transport overhead {:.1} µs/pair",
            per(baseline),
            per(client),
            per(client) - per(baseline)
        );
    }
}
