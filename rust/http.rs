//! A minimal HTTP/1.1 client connection for the Runtime API: one persistent keep-alive TCP stream,
//! requests written with `Content-Length` (never chunked, never `Expect`), responses read with
//! `httparse` (heads) and by hand (`Content-Length`, chunked, or until EOF bodies).
//!
//! Reads wait in 50 ms `SO_RCVTIMEO` slices so a caller-supplied `on_idle` callback can run while a
//! `/next` long-poll waits (possibly for hours); the callback also runs at once on `EINTR`.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use crate::errors::RuntimeError;
use crate::headers;
use nix::errno::Errno;
use nix::sys::socket::{recv, MsgFlags};

/// How long one blocking read waits before `on_idle` is called.
pub(crate) const IDLE_SLICE: Duration = Duration::from_millis(50);
/// Largest accepted response head (status line + headers), bytes. A single header line may be
/// up to 1 MiB; the rest leaves room for the other headers.
pub(crate) const MAX_HEAD_BYTES: usize = 2 * 1024 * 1024;
/// A connection that answered more recently than this is not checked for staleness before a `GET`
/// (three system calls saved per `/next`): a `GET` that meets a dead connection is simply sent again.
/// A `POST` is always checked: a POST written into a dead connection is re-sent at most once, and
/// one whose first copy arrived costs the Runtime API a refused duplicate.
const STALE_CHECK_AFTER_IDLE: Duration = Duration::from_millis(10);
/// Largest accepted chunk-size line or trailer line of a chunked body, bytes.
const MAX_CHUNK_LINE_BYTES: usize = 64 * 1024;
/// Largest amount of body memory reserved ahead of the data actually arriving, bytes.
const MAX_BODY_STEP: usize = 8 * 1024 * 1024;
/// Largest recycled body buffer kept for the next response (capacity, bytes): above the 6 MB
/// synchronous payload limit, so every regular event reuses it.
const KEEP_SPARE_BODY_BYTES: usize = 8 << 20;
/// Bodies up to this size are copied behind the head so the request is one `write()`.
const COALESCE_BODY_BYTES: usize = 16 * 1024;
const HEADER_SLOTS: usize = 64;
const MAX_HEADER_SLOTS: usize = 8192;

/// A complete response. Header names keep their received spelling; look them up with [`Response::header`].
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, Vec<u8>)>,
    pub(crate) body: Vec<u8>,
    /// False when the server asked to close, spoke HTTP/1.0, or delimited the body by closing.
    pub(crate) keep_alive: bool,
}

impl Response {
    /// The raw value of the first header named `name` (ASCII case-insensitive), if present.
    pub(crate) fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }
}

/// A failed `send`: `wrote_any` says whether any request byte was accepted by the kernel, i.e.
/// whether the server may have seen (part of) the request.
#[derive(Debug)]
pub(crate) struct SendError {
    pub(crate) error: io::Error,
    pub(crate) wrote_any: bool,
}

/// One keep-alive connection to the Runtime API with its read buffer.
pub(crate) struct Connection {
    stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    received_any: bool,
    /// When the last complete response was read (or the connection was made).
    last_answer: Instant,
    /// A body buffer handed back by the caller ([`Connection::recycle_body`]), reused for the next
    /// `Content-Length` body; its initialised length is kept, so reuse writes over it without zeroing.
    spare_body: Vec<u8>,
}

impl Connection {
    /// Connects to the first address of `addrs` that accepts within `timeout` each; sets
    /// `TCP_NODELAY` and the 50 ms read slice.
    pub(crate) fn connect(addrs: &[SocketAddr], timeout: Duration) -> io::Result<Connection> {
        let mut last = None;
        for addr in addrs {
            match TcpStream::connect_timeout(addr, timeout) {
                Ok(stream) => {
                    stream.set_nodelay(true)?;
                    stream.set_read_timeout(Some(IDLE_SLICE))?;
                    return Ok(Connection {
                        stream,
                        buf: vec![0; 16 * 1024],
                        start: 0,
                        end: 0,
                        received_any: false,
                        last_answer: Instant::now(),
                        spare_body: Vec::new(),
                    });
                }
                Err(err) => last = Some(err),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "the address resolved to nothing")))
    }

    /// Whether this idle connection can no longer be used: the peer closed or reset it, or sent
    /// bytes nobody asked for. Checked with a non-blocking peek BEFORE writing a request, so a
    /// request is never written into a connection that is known to be dead.
    /// `skip_if_recent`: trust a connection that answered within the last few ms without asking
    /// the kernel (for requests that are safe to resend, i.e. `GET`s).
    pub(crate) fn is_stale(&mut self, skip_if_recent: bool) -> bool {
        if self.start != self.end {
            return true;
        }
        if skip_if_recent && self.last_answer.elapsed() < STALE_CHECK_AFTER_IDLE {
            return false;
        }
        // One non-blocking peek (a single system call, the socket itself stays blocking).
        let mut byte = [0u8; 1];
        let flags = MsgFlags::MSG_PEEK | MsgFlags::MSG_DONTWAIT;
        loop {
            return match recv(self.stream.as_raw_fd(), &mut byte, flags) {
                Err(Errno::EINTR) => continue,
                Err(err) => err != Errno::EAGAIN,
                // Ok(0) is EOF; Ok(1) is unsolicited data. Either way the connection is unusable.
                Ok(_) => true,
            };
        }
    }

    /// Whether any response byte arrived since the last `send`.
    pub(crate) fn received_any(&self) -> bool {
        self.received_any
    }

    /// Writes `head` then `body`. Plain `write` (std sends with `MSG_NOSIGNAL`, so a peer that
    /// closed yields `EPIPE`, never `SIGPIPE`); callers coalesce small bodies into `head`.
    pub(crate) fn send(&mut self, head: &[u8], body: &[u8]) -> Result<(), SendError> {
        self.send_parts(&[head, body], &mut || true)
    }

    /// Makes blocked writes return every 50 ms (`SO_SNDTIMEO`), as [`Connection::send_parts`] needs
    /// to run its `on_idle`. For a connection used only by `send_parts` from then on (a streamed response).
    pub(crate) fn use_send_slices(&mut self) -> io::Result<()> {
        self.stream.set_write_timeout(Some(IDLE_SLICE))
    }

    /// Writes `parts` back to back (one vectored write where the kernel takes it all), waiting on a
    /// full send buffer in 50 ms `SO_SNDTIMEO` slices (see [`Connection::use_send_slices`]) so that `on_idle` can run (returning false aborts
    /// with `Interrupted` as the error kind). Used by response streaming: a slow reader blocks here,
    /// which is the backpressure on the handler's generator.
    pub(crate) fn send_parts(&mut self, parts: &[&[u8]], on_idle: &mut dyn FnMut() -> bool) -> Result<(), SendError> {
        use std::io::IoSlice;
        self.received_any = false;
        let mut slices: Vec<IoSlice<'_>> = parts
            .iter()
            .filter(|p| !p.is_empty())
            .map(|p| IoSlice::new(p))
            .collect();
        let mut remaining: &mut [IoSlice<'_>] = &mut slices;
        let mut wrote_any = false;
        while !remaining.is_empty() {
            match self.stream.write_vectored(remaining) {
                Ok(0) => {
                    return Err(SendError {
                        error: io::ErrorKind::WriteZero.into(),
                        wrote_any,
                    })
                }
                Ok(n) => {
                    wrote_any = true;
                    IoSlice::advance_slices(&mut remaining, n);
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {
                    if !on_idle() {
                        return Err(SendError { error: err, wrote_any });
                    }
                }
                Err(err) if matches!(err.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    if !on_idle() {
                        return Err(SendError {
                            error: io::Error::new(io::ErrorKind::Interrupted, "interrupted by a signal handler"),
                            wrote_any,
                        });
                    }
                }
                Err(error) => return Err(SendError { error, wrote_any }),
            }
        }
        Ok(())
    }

    /// Reads one complete response (skipping `1xx` interim responses). `on_idle` runs every
    /// 50 ms while no data arrives and on `EINTR`; returning false yields `RuntimeError::Interrupted`.
    pub(crate) fn read_response(&mut self, on_idle: &mut dyn FnMut() -> bool) -> Result<Response, RuntimeError> {
        loop {
            let (status, version, headers) = self.read_head(on_idle)?;
            if (100..200).contains(&status) && status != 101 {
                continue;
            }
            let mut keep_alive = version == 1;
            if let Some((_, v)) = headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(headers::CONNECTION))
            {
                if v.split(|b| *b == b',')
                    .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"))
                {
                    keep_alive = false;
                }
            }
            let chunked = headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(headers::TRANSFER_ENCODING))
                .flat_map(|(_, v)| v.split(|b| *b == b','))
                .map(<[u8]>::trim_ascii)
                .rfind(|t| !t.is_empty())
                .is_some_and(|t| t.eq_ignore_ascii_case(b"chunked"));
            let body = if status == 204 || status == 304 {
                Vec::new()
            } else if chunked {
                self.read_chunked(on_idle)?
            } else if let Some(length) = content_length(&headers)? {
                self.read_exact_body(length, on_idle)?
            } else {
                keep_alive = false;
                self.read_to_eof(on_idle)?
            };
            if self.start == self.end {
                self.start = 0;
                self.end = 0;
            }
            self.last_answer = Instant::now();
            return Ok(Response {
                status,
                headers,
                body,
                keep_alive,
            });
        }
    }

    /// Reads and parses one response head.
    fn read_head(&mut self, on_idle: &mut dyn FnMut() -> bool) -> Result<ParsedHead, RuntimeError> {
        let mut scan_from = 0;
        loop {
            let data = &self.buf[self.start..self.end];
            if let Some(len) = find_head_end(data, scan_from) {
                return self.parse_head(len);
            }
            scan_from = data.len().saturating_sub(2);
            if data.len() >= MAX_HEAD_BYTES {
                return Err(RuntimeError::BadResponse(format!(
                    "response head larger than {MAX_HEAD_BYTES} bytes"
                )));
            }
            self.fill(on_idle)?;
        }
    }

    fn parse_head(&mut self, len: usize) -> Result<ParsedHead, RuntimeError> {
        let head = &self.buf[self.start..self.start + len];
        let parsed = parse_response_head(head).map_err(|err| {
            let shown = String::from_utf8_lossy(&head[..head.len().min(200)]).into_owned();
            RuntimeError::BadResponse(format!("unparsable response head ({err}): {shown:?}"))
        })?;
        self.start += len;
        Ok(parsed)
    }

    /// Makes room and reads more bytes into the buffer.
    fn fill(&mut self, on_idle: &mut dyn FnMut() -> bool) -> Result<(), RuntimeError> {
        if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            if self.end == self.buf.len() {
                let grown = (self.buf.len() * 2).max(16 * 1024);
                self.buf.resize(grown, 0);
            }
        }
        let n = read_some(&mut self.stream, &mut self.buf[self.end..], on_idle)?;
        self.received_any = true;
        self.end += n;
        Ok(())
    }

    /// Moves up to `n` buffered bytes into `out`; returns how many were moved.
    fn take_buffered(&mut self, out: &mut Vec<u8>, n: usize) -> usize {
        let take = n.min(self.end - self.start);
        out.extend_from_slice(&self.buf[self.start..self.start + take]);
        self.start += take;
        take
    }

    /// Appends exactly `n` body bytes to `out`, reading large remainders straight into `out`.
    fn append_exact(
        &mut self,
        out: &mut Vec<u8>,
        n: usize,
        on_idle: &mut dyn FnMut() -> bool,
    ) -> Result<(), RuntimeError> {
        let mut remaining = n - self.take_buffered(out, n);
        while remaining > 0 {
            let step = remaining.min(MAX_BODY_STEP);
            let filled = out.len();
            out.resize(filled + step, 0);
            self.read_exact_into(&mut out[filled..], on_idle)?;
            remaining -= step;
        }
        Ok(())
    }

    /// Keeps `body` (a body this connection returned earlier, no longer needed) to receive the
    /// next body into: a large event then costs no fresh allocation, page faults or zero-filling.
    /// Buffers above [`KEEP_SPARE_BODY_BYTES`] of capacity, or smaller than the one kept, are dropped.
    pub(crate) fn recycle_body(&mut self, body: Vec<u8>) {
        if body.capacity() <= KEEP_SPARE_BODY_BYTES && body.capacity() > self.spare_body.capacity() {
            self.spare_body = body;
        }
    }

    fn read_exact_body(&mut self, length: u64, on_idle: &mut dyn FnMut() -> bool) -> Result<Vec<u8>, RuntimeError> {
        let length = usize::try_from(length)
            .map_err(|_| RuntimeError::BadResponse(format!("Content-Length {length} too large")))?;
        // Reuse the recycled buffer's initialised bytes in place (none without one), then grow it
        // for the rest.
        let mut body = std::mem::take(&mut self.spare_body);
        body.truncate(length);
        let buffered = (self.end - self.start).min(length);
        if buffered > body.len() {
            body.clear();
            self.take_buffered(&mut body, buffered);
        } else {
            body[..buffered].copy_from_slice(&self.buf[self.start..self.start + buffered]);
            self.start += buffered;
        }
        self.read_exact_into(&mut body[buffered..], on_idle)?;
        let filled = body.len();
        self.append_exact(&mut body, length - filled, on_idle)?;
        Ok(body)
    }

    /// Reads from the socket until `dst` is full.
    fn read_exact_into(&mut self, dst: &mut [u8], on_idle: &mut dyn FnMut() -> bool) -> Result<(), RuntimeError> {
        let mut filled = 0;
        while filled < dst.len() {
            filled += read_some(&mut self.stream, &mut dst[filled..], on_idle)?;
            self.received_any = true;
        }
        Ok(())
    }

    fn read_to_eof(&mut self, on_idle: &mut dyn FnMut() -> bool) -> Result<Vec<u8>, RuntimeError> {
        let mut body = Vec::new();
        self.take_buffered(&mut body, usize::MAX);
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            match read_some(&mut self.stream, &mut chunk, on_idle) {
                Ok(n) => {
                    self.received_any = true;
                    body.extend_from_slice(&chunk[..n]);
                }
                Err(RuntimeError::Transport(err)) if err.kind() == io::ErrorKind::UnexpectedEof => return Ok(body),
                Err(err) => return Err(err),
            }
        }
    }

    /// Reads one line (up to `max` bytes) ending in LF; returns it without CR/LF.
    fn read_line(&mut self, max: usize, on_idle: &mut dyn FnMut() -> bool) -> Result<Vec<u8>, RuntimeError> {
        let mut scanned = 0;
        loop {
            let data = &self.buf[self.start..self.end];
            if let Some(pos) = data[scanned..].iter().position(|b| *b == b'\n') {
                let line_end = scanned + pos;
                let mut line = data[..line_end].to_vec();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                self.start += line_end + 1;
                return Ok(line);
            }
            scanned = data.len();
            if scanned > max {
                return Err(RuntimeError::BadResponse("chunked body line too long".to_owned()));
            }
            self.fill(on_idle)?;
        }
    }

    fn read_chunked(&mut self, on_idle: &mut dyn FnMut() -> bool) -> Result<Vec<u8>, RuntimeError> {
        let mut body = Vec::new();
        loop {
            let line = self.read_line(MAX_CHUNK_LINE_BYTES, on_idle)?;
            let size_text = line.split(|b| *b == b';').next().unwrap_or_default().trim_ascii();
            let size = std::str::from_utf8(size_text)
                .ok()
                .and_then(|s| usize::from_str_radix(s, 16).ok())
                .filter(|_| !size_text.is_empty() && size_text.iter().all(u8::is_ascii_hexdigit))
                .ok_or_else(|| {
                    RuntimeError::BadResponse(format!("bad chunk size line {:?}", String::from_utf8_lossy(&line)))
                })?;
            if size == 0 {
                // Trailer section: lines until an empty one; trailers are ignored.
                let mut trailer_bytes = 0;
                loop {
                    let trailer = self.read_line(MAX_CHUNK_LINE_BYTES, on_idle)?;
                    if trailer.is_empty() {
                        return Ok(body);
                    }
                    trailer_bytes += trailer.len();
                    if trailer_bytes > MAX_HEAD_BYTES {
                        return Err(RuntimeError::BadResponse("chunked trailers too long".to_owned()));
                    }
                }
            }
            self.append_exact(&mut body, size, on_idle)?;
            if !self.read_line(2, on_idle)?.is_empty() {
                return Err(RuntimeError::BadResponse("chunk data not followed by CRLF".to_owned()));
            }
        }
    }
}

/// (status, HTTP minor version, headers in received order).
pub(crate) type ParsedHead = (u16, u8, Vec<(String, Vec<u8>)>);

/// Parses a complete response head (through its blank line) into owned parts.
///
/// Strict `httparse` first. A head it refuses only because header values hold bytes that RFC 9110
/// forbids but servers do send (Go's `net/http`, which RAPID uses, writes every byte of a value but
/// CR and LF as is: C0 controls, DEL, a CR not followed by LF) is parsed again with those bytes
/// masked, and the values are then taken from the original bytes, unchanged. Without this, one
/// control character in, say, a trace id or client context would make the whole `/next` answer
/// unparsable and the invocation would be lost. Header names, the status line and the framing are
/// never relaxed.
pub(crate) fn parse_response_head(head: &[u8]) -> Result<ParsedHead, httparse::Error> {
    let strict = parse_growing(head, &mut <[u8]>::to_vec);
    let Err(httparse::Error::HeaderValue | httparse::Error::NewLine) = strict else {
        return strict;
    };
    let Some(masked) = mask_value_controls(head) else {
        return strict;
    };
    let base = masked.as_ptr() as usize;
    parse_growing(&masked, &mut |value: &[u8]| {
        let start = (value.as_ptr() as usize).wrapping_sub(base);
        head.get(start..start + value.len()).unwrap_or(value).to_vec()
    })
}

/// [`parse_with`] with 64 header slots, then 8192 when the head has more headers.
fn parse_growing(head: &[u8], value: &mut dyn FnMut(&[u8]) -> Vec<u8>) -> Result<ParsedHead, httparse::Error> {
    let mut slots = [httparse::EMPTY_HEADER; HEADER_SLOTS];
    match parse_with(head, &mut slots, value) {
        Err(httparse::Error::TooManyHeaders) => {
            let mut many = vec![httparse::EMPTY_HEADER; MAX_HEADER_SLOTS];
            parse_with(head, &mut many, value)
        }
        other => other,
    }
}

/// A copy of `head` with every C0 control but HTAB, every DEL and every CR not followed by LF after
/// the status line replaced by 0xFF (which `httparse` accepts in values); `None` when there is none.
fn mask_value_controls(head: &[u8]) -> Option<Vec<u8>> {
    let from = head.iter().position(|b| *b == b'\n')? + 1;
    let mut masked = head.to_vec();
    let mut changed = false;
    for i in from..masked.len() {
        let bad = match masked[i] {
            b'\r' => masked.get(i + 1) != Some(&b'\n'),
            b'\n' | b'\t' => false,
            0x00..=0x1f | 0x7f => true,
            _ => false,
        };
        if bad {
            masked[i] = 0xFF;
            changed = true;
        }
    }
    changed.then_some(masked)
}

/// Parses a complete response head with `httparse` into owned parts; `value` copies each header
/// value out of `head`.
pub(crate) fn parse_with<'b>(
    head: &'b [u8],
    slots: &mut [httparse::Header<'b>],
    value: &mut dyn FnMut(&[u8]) -> Vec<u8>,
) -> Result<ParsedHead, httparse::Error> {
    let mut response = httparse::Response::new(slots);
    match response.parse(head)? {
        httparse::Status::Complete(_) => {}
        // The caller only passes a head whose terminating blank line was found; httparse saying
        // "partial" means it disagrees about where the head ends, so the bytes are garbage.
        httparse::Status::Partial => return Err(httparse::Error::Status),
    }
    let status = response.code.ok_or(httparse::Error::Status)?;
    let version = response.version.unwrap_or(0);
    let headers = response
        .headers
        .iter()
        .map(|h| (h.name.to_owned(), value(h.value)))
        .collect();
    Ok((status, version, headers))
}

/// Length of the head in `data` (through the blank line), searching LFs from `from`.
fn find_head_end(data: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(pos) = data.get(i..)?.iter().position(|b| *b == b'\n') {
        let lf = i + pos;
        match data.get(lf + 1) {
            Some(b'\n') => return Some(lf + 2),
            Some(b'\r') if data.get(lf + 2) == Some(&b'\n') => return Some(lf + 3),
            _ => i = lf + 1,
        }
    }
    None
}

fn content_length(headers: &[(String, Vec<u8>)]) -> Result<Option<u64>, RuntimeError> {
    let mut found: Option<u64> = None;
    for (_, value) in headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(headers::CONTENT_LENGTH))
    {
        for part in value.split(|b| *b == b',') {
            let text = part.trim_ascii();
            let parsed = std::str::from_utf8(text)
                .ok()
                .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|t| t.parse::<u64>().ok())
                .ok_or_else(|| {
                    RuntimeError::BadResponse(format!("bad Content-Length {:?}", String::from_utf8_lossy(value)))
                })?;
            if found.is_some_and(|f| f != parsed) {
                return Err(RuntimeError::BadResponse(
                    "conflicting Content-Length headers".to_owned(),
                ));
            }
            found = Some(parsed);
        }
    }
    Ok(found)
}

/// One read into `dst` (non-empty), waiting in slices. EOF is `Transport(UnexpectedEof)`.
fn read_some(stream: &mut TcpStream, dst: &mut [u8], on_idle: &mut dyn FnMut() -> bool) -> Result<usize, RuntimeError> {
    loop {
        match stream.read(dst) {
            Ok(0) => {
                return Err(RuntimeError::Transport(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed by the Runtime API before a complete response",
                )));
            }
            Ok(n) => return Ok(n),
            Err(err)
                if matches!(
                    err.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
                ) =>
            {
                if !on_idle() {
                    return Err(RuntimeError::Interrupted);
                }
            }
            Err(err) => return Err(RuntimeError::Transport(err)),
        }
    }
}

/// Appends a request head to `out`: request line, `Host`, `User-Agent`, `extra` headers, and
/// `Content-Length` when `content_length` is given. Values must already be checked for CR/LF.
pub(crate) fn write_head(
    out: &mut Vec<u8>,
    method: &str,
    path: &[u8],
    host: &str,
    user_agent: &str,
    extra: &[(&str, &[u8])],
    content_length: Option<usize>,
) {
    out.clear();
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(path);
    out.extend_from_slice(b" HTTP/1.1\r\n");
    push_header(out, headers::HOST, host.as_bytes());
    if !user_agent.is_empty() {
        push_header(out, headers::USER_AGENT, user_agent.as_bytes());
    }
    for (name, value) in extra {
        push_header(out, name, value);
    }
    if let Some(length) = content_length {
        push_header(out, headers::CONTENT_LENGTH, length.to_string().as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

/// Whether `body` should be appended to the head buffer (one write) instead of sent separately.
pub(crate) fn coalesce(body: &[u8]) -> bool {
    body.len() <= COALESCE_BODY_BYTES
}

fn push_header(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Whether `value` may be sent as a header value (no CR, LF or NUL).
pub(crate) fn valid_header_value(value: &[u8]) -> bool {
    !value.iter().any(|b| matches!(b, b'\r' | b'\n' | 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::thread;

    /// Serves `reply` (in pieces of `chunk` bytes) to one connection after reading a little.
    fn serve(reply: Vec<u8>, chunk: usize) -> (SocketAddr, thread::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let handle = thread::spawn(move || {
            let (mut sock, _) = listener.accept().unwrap();
            sock.set_nodelay(true).unwrap();
            let mut buf = [0u8; 1024];
            let _ = sock.read(&mut buf);
            for piece in reply.chunks(chunk.max(1)) {
                if sock.write_all(piece).is_err() {
                    return;
                }
            }
            // Keep the socket open a moment, then close.
            thread::sleep(Duration::from_millis(20));
        });
        (addr, handle)
    }

    fn fetch(reply: &[u8], chunk: usize) -> Result<Response, RuntimeError> {
        let (addr, handle) = serve(reply.to_vec(), chunk);
        let mut conn = Connection::connect(&[addr], Duration::from_secs(1)).unwrap();
        conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"").unwrap();
        let result = conn.read_response(&mut || true);
        handle.join().unwrap();
        result
    }

    #[test]
    fn content_length_body() {
        let r = fetch(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello", 4096).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.body, b"hello");
        assert_eq!(r.header("x-a"), Some(&b"b"[..]));
        assert!(r.keep_alive);
    }

    #[test]
    fn chunked_body_with_extensions_and_trailers() {
        let reply = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n";
        let r = fetch(reply, 3).unwrap();
        assert_eq!(r.body, b"hello world");
        assert!(r.keep_alive);
    }

    #[test]
    fn body_until_eof_without_length() {
        let r = fetch(b"HTTP/1.1 200 OK\r\n\r\nall of it", 4096).unwrap();
        assert_eq!(r.body, b"all of it");
        assert!(!r.keep_alive);
    }

    #[test]
    fn slow_drip_one_byte_at_a_time() {
        let reply = b"HTTP/1.1 202 Accepted\r\nContent-Length: 15\r\n\r\n{\"status\":\"OK\"}";
        let r = fetch(reply, 1).unwrap();
        assert_eq!(r.status, 202);
        assert_eq!(r.body, b"{\"status\":\"OK\"}");
    }

    #[test]
    fn interim_100_continue_is_skipped_and_bare_lf_accepted() {
        let r = fetch(
            b"HTTP/1.1 100 Continue\n\nHTTP/1.1 200 OK\nContent-Length: 2\n\nok",
            4096,
        )
        .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.body, b"ok");
    }

    #[test]
    fn one_mib_header_line_is_accepted() {
        let big = "a".repeat(1024 * 1024);
        let reply = format!("HTTP/1.1 200 OK\r\nX-Big: {big}\r\nContent-Length: 0\r\n\r\n");
        let r = fetch(reply.as_bytes(), 64 * 1024).unwrap();
        assert_eq!(r.header("X-BIG").map(<[u8]>::len), Some(1024 * 1024));
    }

    #[test]
    fn control_bytes_in_header_values_are_kept_as_sent() {
        // Go's net/http (RAPID) writes every value byte but CR/LF as is; httparse alone refuses them.
        let reply = b"HTTP/1.1 200 OK\r\nX-Ctl: a\x01b\x7fc\x00d\r\nX-Cr: e\rf\r\nX-Empty:\r\nX-Plain: p\r\nContent-Length: 2\r\n\r\nok";
        let r = fetch(reply, 5).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-ctl"), Some(&b"a\x01b\x7fc\x00d"[..]));
        assert_eq!(r.header("x-cr"), Some(&b"e\rf"[..]));
        assert_eq!(r.header("x-empty"), Some(&b""[..]));
        assert_eq!(r.header("x-plain"), Some(&b"p"[..]));
        assert_eq!(r.body, b"ok");
        assert!(r.keep_alive);
    }

    #[test]
    fn control_bytes_outside_values_are_still_garbage() {
        for head in [
            &b"HTTP/1.1 200 OK\r\nX-\x01Name: v\r\n\r\n"[..],
            b"HTTP/1.1 2\x0100 OK\r\nX: v\r\n\r\n",
            b"HTTP/1.1 200 OK\r\n\x00\r\n\r\n",
        ] {
            assert!(parse_response_head(head).is_err(), "{head:?}");
        }
    }

    #[test]
    fn garbage_status_line_is_bad_response() {
        let err = fetch(b"SPDY/9 nonsense\r\n\r\n", 4096).unwrap_err();
        assert!(matches!(err, RuntimeError::BadResponse(_)), "{err:?}");
    }

    #[test]
    fn eof_mid_body_is_transport_error() {
        let err = fetch(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 4096).unwrap_err();
        assert!(
            matches!(&err, RuntimeError::Transport(e) if e.kind() == io::ErrorKind::UnexpectedEof),
            "{err:?}"
        );
    }

    #[test]
    fn conflicting_content_length_is_bad_response() {
        let err = fetch(
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            4096,
        )
        .unwrap_err();
        assert!(matches!(err, RuntimeError::BadResponse(_)), "{err:?}");
    }

    #[test]
    fn connection_close_disables_keep_alive() {
        let r = fetch(
            b"HTTP/1.1 202 Accepted\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            4096,
        )
        .unwrap();
        assert!(!r.keep_alive);
    }

    #[test]
    fn on_idle_false_interrupts_the_wait() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let handle = thread::spawn(move || {
            let (sock, _) = listener.accept().unwrap();
            thread::sleep(Duration::from_millis(400));
            drop(sock);
        });
        let mut conn = Connection::connect(&[addr], Duration::from_secs(1)).unwrap();
        conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"").unwrap();
        let mut calls = 0;
        let err = conn
            .read_response(&mut || {
                calls += 1;
                calls < 3
            })
            .unwrap_err();
        assert!(matches!(err, RuntimeError::Interrupted));
        assert_eq!(calls, 3);
        handle.join().unwrap();
    }

    #[test]
    fn stale_detection_sees_peer_close() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let handle = thread::spawn(move || {
            let (sock, _) = listener.accept().unwrap();
            drop(sock);
        });
        let mut conn = Connection::connect(&[addr], Duration::from_secs(1)).unwrap();
        handle.join().unwrap();
        thread::sleep(Duration::from_millis(20));
        assert!(conn.is_stale(false));
    }

    #[test]
    fn head_writer_layout() {
        let mut out = Vec::new();
        write_head(
            &mut out,
            "POST",
            b"/p",
            "h:1",
            "ua/1",
            &[("Content-Type", b"a/b")],
            Some(3),
        );
        assert_eq!(
            out,
            b"POST /p HTTP/1.1\r\nHost: h:1\r\nUser-Agent: ua/1\r\nContent-Type: a/b\r\nContent-Length: 3\r\n\r\n"
        );
        assert!(!valid_header_value(b"a\r\nb"));
        assert!(valid_header_value("é".as_bytes()));
    }

    #[test]
    fn find_head_end_variants() {
        assert_eq!(find_head_end(b"HTTP/1.1 200 OK\r\n\r\nbody", 0), Some(19));
        assert_eq!(find_head_end(b"HTTP/1.1 200 OK\n\nbody", 0), Some(17));
        assert_eq!(find_head_end(b"HTTP/1.1 200 OK\r\n", 0), None);
    }
}
