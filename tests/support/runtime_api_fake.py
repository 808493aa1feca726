"""A recording fake of the Lambda Runtime API, plus a helper that runs a runtime client against it.

The server is a real HTTP/1.1 server on raw sockets (not ``http.server``) so that every request is kept
byte for byte and faults can be injected at the socket level. It listens on ``127.0.0.1:0`` (or
``[::1]:0``), keeps connections alive, accepts header lines up to 1 MiB, serves a script of
invocations on ``GET /2018-06-01/runtime/invocation/next`` and records every request.

Endpoint behaviour (see ``../shared/reference/runtime-api-and-emulator.md`` section 1):

===========================================  =================================================
``GET  …/runtime/invocation/next``           200 + the next scripted invocation; once the script
                                             is exhausted it blocks until :meth:`FakeRuntimeAPI.stop`
``POST …/runtime/invocation/{id}/response``  ``post_status`` (202) ``{"status":"OK"}``; 413 above
                                             ``max_response_bytes`` (6,291,556 by default, RIE's limit)
``POST …/runtime/invocation/{id}/error``     ``post_status`` (202) ``{"status":"OK"}``
``POST …/runtime/init/error``                202 ``{"status":"OK"}``
``GET  …/runtime/restore/next``              200, empty body
``POST …/runtime/restore/error``             202 ``{"status":"OK"}``
anything else (or outside ``api_prefix``)    404
===========================================  =================================================

Faults (:class:`Fault`) replace the normal answer of selected requests.
"""

from __future__ import annotations

import dataclasses
import os
import signal as signal_mod
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence

#: Default request ids: ``11111111-1111-4111-8111-00000000000N`` for the N-th invocation (1-based).
REQUEST_ID_PREFIX = "11111111-1111-4111-8111-"
#: Default ``Lambda-Runtime-Invoked-Function-Arn`` (``../shared/cases/README.md``).
DEFAULT_ARN = "arn:aws:lambda:us-east-1:000000000000:function:case"
#: RIE's payload limit in bytes, ``6*1024*1024 + 100``.
DEFAULT_MAX_RESPONSE_BYTES = 6_291_556
#: Longest request line or header line accepted, in bytes.
MAX_HEADER_LINE = 1024 * 1024
API_VERSION = "/2018-06-01"

_REASONS = {
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    410: "Gone",
    413: "Request Entity Too Large",
    500: "Internal Server Error",
}

#: Default JSON bodies for injected error statuses (shapes as RIE/RAPID answer them).
FAULT_BODIES = {
    400: b'{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}',
    403: b'{"errorMessage":"State transition from RuntimeResponseSentState to InvocationResponse failed '
    b'for runtime. Error: State transition is not allowed","errorType":"InvalidStateTransition"}',
    404: b'{"errorMessage":"Not Found","errorType":"NotFound"}',
    410: b'{"errorMessage":"Invoke timeout","errorType":"InvokeTimeout"}',
    413: b'{"errorMessage":"Exceeded maximum allowed payload size (6291556 bytes).",'
    b'"errorType":"RequestEntityTooLarge"}',
    500: b'{"errorMessage":"Internal Server Error","errorType":"InternalServerError"}',
}

ACCEPTED_BODY = b'{"status":"OK"}'


def request_id(n: int) -> str:
    """Default request id of the ``n``-th invocation (1-based), as in ``../shared/cases/README.md``."""
    return f"{REQUEST_ID_PREFIX}{n:012d}"


@dataclasses.dataclass
class Invocation:
    """One scripted invocation served by ``/next``.

    ``body`` is sent as-is. Header values given as ``str`` are sent UTF-8 encoded, ``bytes`` raw.

    - ``request_id``: default ``request_id(n)``.
    - ``deadline_ms``: the header is ``now_ms + deadline_ms`` (epoch ms, computed when ``/next`` is
      answered); ``None`` omits the header. ``deadline_header`` overrides with a raw value (e.g. the
      relative ``"600000"`` cargo-lambda sends).
    - ``content_type``: ``None`` omits ``Content-Type``.
    - ``headers``: extra headers (added after the defaults); ``omit_headers``: default headers to drop
      (case-insensitive names, e.g. ``Lambda-Runtime-Aws-Request-Id``).
    """

    body: bytes = b"{}"
    request_id: str | None = None
    deadline_ms: int | None = 5000
    deadline_header: str | bytes | None = None
    arn: str | bytes | None = DEFAULT_ARN
    trace_id: str | bytes | None = None
    client_context: str | bytes | None = None
    cognito_identity: str | bytes | None = None
    tenant_id: str | bytes | None = None
    invocation_id: str | bytes | None = None
    content_type: str | bytes | None = "application/json"
    headers: Mapping[str, str | bytes] = dataclasses.field(default_factory=dict)
    omit_headers: Sequence[str] = ()


@dataclasses.dataclass
class Fault:
    """A fault replacing the normal answer to selected requests.

    ``endpoint`` is one of ``next``, ``response``, ``error``, ``init_error``, ``restore_next``,
    ``restore_error`` or ``post`` (response or error). The fault applies to the ``nth`` (0-based)
    request to that endpoint and the ``count - 1`` following ones.

    ``action``:

    - ``status``: answer ``status`` with ``body`` (default :data:`FAULT_BODIES`). A faulted ``/next``
      does not consume the invocation.
    - ``reset``: read the whole request, then close with a TCP RST and no answer.
    - ``reset_mid_body``: ``/next``: send the head and half the event body, then RST; a POST: read
      half the request body, then RST.
    - ``close_after``: answer normally, then close the connection silently (a stale keep-alive
      connection for the client's next request).
    - ``drip``: answer normally, ``drip_chunk`` bytes every ``drip_delay_s`` seconds.
    - ``garbage``: answer ``garbage`` bytes (a broken status line), then close.
    - ``refuse``: like ``reset``, and stop listening for ``refuse_s`` seconds (connection refused).
    - ``drop_if_reused``: a request arriving on a connection that already carried one is read whole
      and the connection closed without an answer (a server whose idle timeout races the request);
      on a fresh connection the request is answered normally. ``drop_keep`` decides whether the
      dropped request still counts as delivered (the server processed it and then closed).
    """

    endpoint: str
    nth: int = 0
    action: str = "status"
    status: int = 500
    body: bytes | None = None
    count: int = 1
    drip_chunk: int = 7
    drip_delay_s: float = 0.005
    garbage: bytes = b"HTCPCP/9.9 banana\r\n\r\n"
    refuse_s: float = 0.5
    drop_keep: bool = False

    def matches(self, endpoint: str, index: int) -> bool:
        """True if this fault applies to the ``index``-th (0-based) request to ``endpoint``."""
        if self.endpoint == "post":
            if endpoint not in ("response", "error"):
                return False
        elif self.endpoint != endpoint:
            return False
        return self.nth <= index < self.nth + self.count


@dataclasses.dataclass
class Request:
    """One request as received.

    ``conn``: connection number (1-based, in accept order); ``seq``: request number over all
    connections (1-based). ``target`` is the raw request target; ``path`` the target without the API
    prefix. ``headers`` is the raw list of ``(name, value)`` as sent (names latin-1 decoded, values raw
    bytes). ``complete`` is False if the connection ended before the whole body arrived.
    ``t_start``/``t_end`` are ``time.monotonic()`` seconds (first byte of the head / end of the body).
    ``status`` is what the fake answered (``None``: no answer, e.g. a reset).
    """

    conn: int
    seq: int
    method: str
    target: str
    path: str
    version: str
    endpoint: str
    request_id: str | None
    headers: list[tuple[str, bytes]]
    raw_head: bytes
    body: bytes = b""
    complete: bool = True
    chunked: bool = False
    t_start: float = 0.0
    t_end: float = 0.0
    status: int | None = None
    #: chunked bodies: the wire bytes after the head (size lines, data, CRLFs, last chunk, trailers)
    raw_body: bytes = b""
    #: chunked bodies: each chunk's data in order (the last, empty chunk excluded)
    chunks: list[bytes] = dataclasses.field(default_factory=list)
    #: chunked bodies: the trailer fields after the last chunk, ``(name, value)`` as sent
    trailers: list[tuple[str, bytes]] = dataclasses.field(default_factory=list)
    #: decoded body length in bytes (also counted when the body is not kept)
    body_length: int = 0

    def trailer(self, name: str) -> bytes | None:
        """The first value of trailer field ``name`` (case-insensitive), or None."""
        return _first(self.trailers, name)

    def header(self, name: str) -> bytes | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        return _first(self.headers, name)

    def header_names(self) -> list[str]:
        """Lower-cased header names in the order sent."""
        return [key.lower() for key, _ in self.headers]


def _first(fields: list[tuple[str, bytes]], name: str) -> bytes | None:
    low = name.lower()
    for key, value in fields:
        if key.lower() == low:
            return value
    return None


@dataclasses.dataclass
class Served:
    """An invocation served by ``/next``: ``index`` (0-based), its request id, the ``/next`` request
    sequence number and the monotonic time the answer was sent."""

    index: int
    request_id: str | None
    next_seq: int
    t_served: float


class _PeerClosed(Exception):
    pass


class _Conn:
    """A buffered socket reader."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray()
        self.requests = 0

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise _PeerClosed
        self.buf += data

    def readline(self) -> bytes:
        while True:
            idx = self.buf.find(b"\n")
            if idx >= 0:
                line = bytes(self.buf[: idx + 1])
                del self.buf[: idx + 1]
                return line
            if len(self.buf) > MAX_HEADER_LINE + 2:
                raise ValueError("header line too long")
            self._fill()

    def read(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def read_some(self, n: int) -> bytes:
        """Up to ``n`` bytes: what is buffered, or what one recv gives."""
        if not self.buf:
            self._fill()
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data


def _read_fields(conn: _Conn, raw: bytearray) -> list[tuple[str, bytes]]:
    """Header (or trailer) fields up to the empty line, ``(name, value)`` with the value stripped;
    lines without a colon are skipped. Every line read is appended to ``raw``."""
    fields: list[tuple[str, bytes]] = []
    while True:
        line = conn.readline()
        raw += line
        stripped = line.rstrip(b"\r\n")
        if not stripped:
            return fields
        name, sep, value = stripped.partition(b":")
        if sep:
            fields.append((name.decode("latin-1"), value.strip(b" \t")))


def _reset(sock: socket.socket) -> None:
    """Close ``sock`` with a TCP RST (SO_LINGER 0)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


def _to_bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


class FakeRuntimeAPI:
    """The recording fake Runtime API.

    Use as a context manager (``with FakeRuntimeAPI(invocations=[...]) as api:``) or call
    :meth:`start` / :meth:`stop`. :attr:`address` is the value for ``AWS_LAMBDA_RUNTIME_API``
    (``host:port`` plus ``api_prefix``).

    Parameters: ``invocations`` (the script), ``api_prefix`` (e.g. ``"/fn-a"``; requests outside it get
    404), ``ipv6`` (serve on ``[::1]``), ``post_status``/``post_body`` (answer to /response and /error,
    default 202 ``{"status":"OK"}``), ``max_response_bytes`` (bigger /response bodies get 413; None
    disables), ``faults``, ``duplicate_result_status`` (when set, e.g. 403 as Lambda answers, a
    /response or /error for a request id whose result was already delivered gets this status and
    :attr:`results` keeps only the first).

    Chunked request bodies (streamed responses) are recorded chunk by chunk with their trailers
    (:attr:`Request.chunks`, :attr:`Request.trailers`, :attr:`Request.raw_body`). ``on_chunk(request,
    index, data)`` is called as each chunk arrives, before the next is read (the test can order events
    against the stream with it); ``keep_stream_bodies=False`` keeps only :attr:`Request.body_length`
    and the chunk count (for very long streams).
    """

    def __init__(
        self,
        invocations: Sequence[Invocation] = (),
        *,
        api_prefix: str = "",
        ipv6: bool = False,
        post_status: int = 202,
        post_body: bytes = ACCEPTED_BODY,
        max_response_bytes: int | None = DEFAULT_MAX_RESPONSE_BYTES,
        faults: Sequence[Fault] = (),
        duplicate_result_status: int | None = None,
        on_chunk: Callable[[Request, int, bytes], None] | None = None,
        keep_stream_bodies: bool = True,
    ) -> None:
        self.on_chunk = on_chunk
        self.keep_stream_bodies = keep_stream_bodies
        self.invocations = list(invocations)
        self.duplicate_result_status = duplicate_result_status
        #: request id → the body of the result delivered for it (the first one only).
        self.results: dict[str, bytes] = {}
        self.api_prefix = api_prefix.rstrip("/")
        self.ipv6 = ipv6
        self.post_status = post_status
        self.post_body = post_body
        self.max_response_bytes = max_response_bytes
        self.faults = list(faults)
        self.requests: list[Request] = []
        self.served: list[Served] = []
        self._cond = threading.Condition()
        self._next_index = 0
        self._endpoint_counts: dict[str, int] = {}
        self._conn_count = 0
        self._seq = 0
        self._parked = 0
        self._answered: set[str] = set()
        self._posts = 0
        self._stopped = False
        self._listener: socket.socket | None = None
        self._socks: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self.port = 0

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def host(self) -> str:
        """``127.0.0.1`` or ``[::1]``."""
        return "[::1]" if self.ipv6 else "127.0.0.1"

    @property
    def address(self) -> str:
        """The ``AWS_LAMBDA_RUNTIME_API`` value: ``host:port`` followed by the API prefix."""
        return f"{self.host}:{self.port}{self.api_prefix}"

    def _listen(self, port: int) -> socket.socket:
        family = socket.AF_INET6 if self.ipv6 else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("::1" if self.ipv6 else "127.0.0.1", port))
        sock.listen(64)
        sock.settimeout(0.1)
        return sock

    def start(self) -> FakeRuntimeAPI:
        """Bind, listen and start the accept thread. Returns self."""
        self._listener = self._listen(0)
        self.port = self._listener.getsockname()[1]
        thread = threading.Thread(target=self._accept_loop, name="fake-rapi-accept", daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def stop(self) -> None:
        """Stop accepting, wake parked ``/next`` calls and close every connection."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
            socks = list(self._socks)
        for sock in socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                sock.close()
            except OSError:
                pass
        for thread in self._threads:
            thread.join(timeout=2)

    def __enter__(self) -> FakeRuntimeAPI:  # noqa: PYI034
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- state queries ---------------------------------------------------------------------------

    @property
    def parked(self) -> int:
        """Number of ``/next`` calls currently blocked because the script is exhausted."""
        with self._cond:
            return self._parked

    @property
    def posts(self) -> int:
        """Number of /response and /error requests received (complete or not)."""
        with self._cond:
            return self._posts

    def all_answered(self) -> bool:
        """True once every scripted invocation was served and a /response or /error arrived for it."""
        with self._cond:
            return self._next_index >= len(self.invocations) and self._posts >= len(self.invocations)

    def snapshot(self) -> list[Request]:
        """A copy of the recorded requests, in arrival order."""
        with self._cond:
            return list(self.requests)

    # -- server internals ------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while True:
            with self._cond:
                if self._stopped:
                    break
                listener = self._listener
            if listener is None:
                time.sleep(0.02)
                continue
            try:
                sock, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                time.sleep(0.02)
                continue
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._cond:
                if self._stopped:
                    sock.close()
                    break
                self._conn_count += 1
                conn_no = self._conn_count
                self._socks.add(sock)
            thread = threading.Thread(
                target=self._serve_conn, args=(sock, conn_no), name=f"fake-rapi-conn-{conn_no}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        listener = self._listener
        if listener is not None:
            listener.close()

    def _refuse_for(self, seconds: float) -> None:
        """Close the listening socket and reopen it on the same port after ``seconds``."""
        with self._cond:
            listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()

        def reopen() -> None:
            time.sleep(seconds)
            for _ in range(50):
                try:
                    new = self._listen(self.port)
                except OSError:
                    time.sleep(0.05)
                    continue
                with self._cond:
                    if self._stopped:
                        new.close()
                    else:
                        self._listener = new
                return

        threading.Thread(target=reopen, daemon=True).start()

    def _classify(self, method: str, path: str) -> tuple[str, str | None]:
        """Map (method, path without prefix) to (endpoint, request id)."""
        base = API_VERSION + "/runtime/"
        if not path.startswith(base):
            return "unknown", None
        rest = path[len(base) :]
        if method == "GET" and rest == "invocation/next":
            return "next", None
        if method == "POST" and rest == "init/error":
            return "init_error", None
        if method == "GET" and rest == "restore/next":
            return "restore_next", None
        if method == "POST" and rest == "restore/error":
            return "restore_error", None
        if method == "POST" and rest.startswith("invocation/"):
            inner = rest[len("invocation/") :]
            for kind in ("response", "error"):
                suffix = "/" + kind
                if inner.endswith(suffix) and len(inner) > len(suffix):
                    return kind, inner[: -len(suffix)]
        return "unknown", None

    def _fault_for(self, endpoint: str) -> Fault | None:
        with self._cond:
            index = self._endpoint_counts.get(endpoint, 0)
            self._endpoint_counts[endpoint] = index + 1
            if endpoint in ("response", "error"):
                post_index = self._endpoint_counts.get("post", 0)
                self._endpoint_counts["post"] = post_index + 1
            else:
                post_index = -1
        for fault in self.faults:
            if fault.endpoint == "post":
                if post_index >= 0 and fault.matches(endpoint, post_index):
                    return fault
            elif fault.matches(endpoint, index):
                return fault
        return None

    def _serve_conn(self, sock: socket.socket, conn_no: int) -> None:
        conn = _Conn(sock)
        try:
            while True:
                if not self._handle_one(conn, conn_no):
                    break
        except (_PeerClosed, OSError, ValueError):
            pass
        finally:
            with self._cond:
                self._socks.discard(sock)
            try:
                sock.close()
            except OSError:
                pass

    def _handle_one(self, conn: _Conn, conn_no: int) -> bool:
        """Read and answer one request. Returns False when the connection must end."""
        line = conn.readline()
        t_start = time.monotonic()
        while line in (b"\r\n", b"\n"):  # tolerate stray CRLF between requests
            line = conn.readline()
        raw_head = bytearray(line)
        parts = line.rstrip(b"\r\n").split(b" ")
        if len(parts) != 3:
            self._send(conn, 400, FAULT_BODIES[400], close=True)
            return False
        method, target, version = (p.decode("latin-1") for p in parts)
        headers = _read_fields(conn, raw_head)
        path = target
        if self.api_prefix:
            if target.startswith(self.api_prefix + "/"):
                path = target[len(self.api_prefix) :]
            else:
                path = "<outside prefix>" + target
        endpoint, rid = self._classify(method, path)
        with self._cond:
            self._seq += 1
            req = Request(
                conn=conn_no,
                seq=self._seq,
                method=method,
                target=target,
                path=path,
                version=version,
                endpoint=endpoint,
                request_id=rid,
                headers=headers,
                raw_head=bytes(raw_head),
                t_start=t_start,
            )
            self.requests.append(req)
        fault = self._fault_for(endpoint)
        # -- body ------------------------------------------------------------------------------
        lowered = {k.lower(): v for k, v in headers}
        length_value = lowered.get("content-length")
        is_chunked = b"chunked" in lowered.get("transfer-encoding", b"").lower()
        if fault is not None and fault.action == "reset_mid_body" and method == "POST":
            want = int(length_value or b"0") // 2
            got = bytearray()
            while len(got) < want:
                got += conn.read_some(want - len(got))
            req.body = bytes(got)
            req.complete = False
            req.t_end = time.monotonic()
            self._count_post(endpoint, rid)
            _reset(conn.sock)
            return False
        try:
            if is_chunked:
                req.chunked = True
                self._read_chunked(conn, req)
            elif length_value is not None:
                req.body = conn.read(int(length_value))
                req.body_length = len(req.body)
        except _PeerClosed:
            if not req.chunked:
                req.body = bytes(conn.buf)
            req.complete = False
            req.t_end = time.monotonic()
            self._count_post(endpoint, rid)
            raise
        req.t_end = time.monotonic()
        self._count_post(endpoint, rid)
        keep_alive = lowered.get("connection", b"").lower() != b"close" and version == "HTTP/1.1"
        conn.requests += 1
        # -- answer ----------------------------------------------------------------------------
        if fault is not None and fault.action == "drop_if_reused":
            if conn.requests > 1:
                if fault.drop_keep and endpoint in ("response", "error") and rid is not None:
                    with self._cond:
                        self.results.setdefault(rid, req.body)
                return False
            fault = None
        if fault is not None:
            if fault.action in ("reset", "refuse"):
                if fault.action == "refuse":
                    self._refuse_for(fault.refuse_s)
                _reset(conn.sock)
                return False
            if fault.action == "status":
                req.status = fault.status
                body = fault.body if fault.body is not None else FAULT_BODIES.get(fault.status, b"{}")
                self._send(conn, fault.status, body, close=not keep_alive)
                return keep_alive
            if fault.action == "garbage":
                conn.sock.sendall(fault.garbage)
                return False
        if endpoint == "unknown":
            req.status = 404
            self._send(conn, 404, FAULT_BODIES[404], close=not keep_alive)
            return keep_alive
        if endpoint == "next":
            return self._answer_next(conn, req, fault, keep_alive)
        if (
            endpoint == "response"
            and self.max_response_bytes is not None
            and len(req.body) > self.max_response_bytes
        ):
            req.status = 413
            self._send(conn, 413, FAULT_BODIES[413], close=not keep_alive)
            return keep_alive
        if endpoint in ("response", "error"):
            status, body = self.post_status, self.post_body
            with self._cond:
                if rid is not None and rid in self.results and self.duplicate_result_status is not None:
                    status = self.duplicate_result_status
                    body = FAULT_BODIES.get(status, b"{}")
                elif rid is not None and 200 <= status < 300:
                    self.results.setdefault(rid, req.body)
        elif endpoint == "restore_next":
            status, body = 200, b""
        else:  # init_error, restore_error
            status, body = 202, ACCEPTED_BODY
        req.status = status
        self._send(conn, status, body, close=not keep_alive, fault=fault)
        if fault is not None and fault.action == "close_after":
            return False
        return keep_alive

    def _count_post(self, endpoint: str, rid: str | None) -> None:
        if endpoint in ("response", "error"):
            with self._cond:
                self._posts += 1
                if rid is not None:
                    self._answered.add(rid)
                self._cond.notify_all()

    def _read_chunked(self, conn: _Conn, req: Request) -> None:
        """Read a chunked body into ``req`` (chunks, trailers, raw bytes; see the class docstring).
        On a connection that ends early, what arrived is kept and ``_PeerClosed`` propagates."""
        keep = self.keep_stream_bodies
        raw = bytearray()
        try:
            while True:
                size_line = conn.readline()
                raw += size_line if keep else b""
                size = int(size_line.strip().split(b";")[0], 16)
                if size == 0:
                    req.trailers = _read_fields(conn, raw)
                    break
                data = conn.read(size)
                crlf = conn.read(2)
                req.body_length += size
                if keep:
                    raw += data + crlf
                    req.chunks.append(data)
                else:
                    req.chunks.append(b"")
                if self.on_chunk is not None:
                    self.on_chunk(req, len(req.chunks) - 1, data)
        finally:
            req.raw_body = bytes(raw)
            req.body = b"".join(req.chunks)

    def _answer_next(self, conn: _Conn, req: Request, fault: Fault | None, keep_alive: bool) -> bool:
        with self._cond:
            while self._next_index >= len(self.invocations) and not self._stopped:
                self._parked += 1
                self._cond.notify_all()
                self._cond.wait()
                self._parked -= 1
            if self._stopped:
                return False
            index = self._next_index
            consumed = fault is None or fault.action not in ("reset_mid_body",)
            if consumed:
                self._next_index += 1
        inv = self.invocations[index]
        rid = inv.request_id if inv.request_id is not None else request_id(index + 1)
        omit = {h.lower() for h in inv.omit_headers}
        hdrs: list[tuple[str, bytes]] = []

        def add(name: str, value: str | bytes | None) -> None:
            if value is not None and name.lower() not in omit:
                hdrs.append((name, _to_bytes(value)))

        add("Content-Type", inv.content_type)
        add("Lambda-Runtime-Aws-Request-Id", rid)
        if inv.deadline_header is not None:
            add("Lambda-Runtime-Deadline-Ms", inv.deadline_header)
        elif inv.deadline_ms is not None:
            add("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + inv.deadline_ms))
        add("Lambda-Runtime-Invoked-Function-Arn", inv.arn)
        add("Lambda-Runtime-Trace-Id", inv.trace_id)
        add("Lambda-Runtime-Client-Context", inv.client_context)
        add("Lambda-Runtime-Cognito-Identity", inv.cognito_identity)
        add("Lambda-Runtime-Aws-Tenant-Id", inv.tenant_id)
        add("Lambda-Runtime-Invocation-Id", inv.invocation_id)
        for name, value in inv.headers.items():
            hdrs = [(k, v) for k, v in hdrs if k.lower() != name.lower()]
            add(name, value)
        req.status = 200
        if fault is not None and fault.action == "reset_mid_body":
            head = self._head(200, hdrs, len(inv.body), close=False)
            conn.sock.sendall(head + inv.body[: len(inv.body) // 2])
            _reset(conn.sock)
            return False
        with self._cond:
            self.served.append(Served(index, rid, req.seq, time.monotonic()))
        self._send(conn, 200, inv.body, extra=hdrs, close=not keep_alive, fault=fault)
        if fault is not None and fault.action == "close_after":
            return False
        return keep_alive

    @staticmethod
    def _head(status: int, extra: list[tuple[str, bytes]], length: int, close: bool) -> bytes:
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}".encode()]
        lines += [name.encode("latin-1") + b": " + value for name, value in extra]
        lines.append(b"Content-Length: " + str(length).encode())
        if close:
            lines.append(b"Connection: close")
        return b"\r\n".join(lines) + b"\r\n\r\n"

    def _send(
        self,
        conn: _Conn,
        status: int,
        body: bytes,
        *,
        extra: list[tuple[str, bytes]] | None = None,
        close: bool = False,
        fault: Fault | None = None,
    ) -> None:
        if extra is None:
            extra = [("Content-Type", b"application/json")] if body else []
        data = self._head(status, extra, len(body), close) + body
        if fault is not None and fault.action == "drip":
            for i in range(0, len(data), fault.drip_chunk):
                conn.sock.sendall(data[i : i + fault.drip_chunk])
                time.sleep(fault.drip_delay_s)
        else:
            conn.sock.sendall(data)


# ---------------------------------------------------------------------------------------------
# Telemetry frames
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Frame:
    """One telemetry-fd frame: ``type`` (e.g. ``0xA55A0003``), ``length`` (message bytes, from the
    header), ``timestamp_us`` (µs since the epoch) and the ``message`` bytes."""

    type: int
    length: int
    timestamp_us: int
    message: bytes


def decode_frames(data: bytes) -> tuple[list[Frame], bytes]:
    """Split telemetry-fd bytes into frames (16-byte big-endian header: type u32, length u32,
    timestamp u64 µs; awslambdaric-behaviour.md section 7.6). Returns the frames and any trailing bytes
    that do not form a whole frame."""
    frames = []
    pos = 0
    while len(data) - pos >= 16:
        ftype, length, ts = struct.unpack_from(">IIQ", data, pos)
        if len(data) - pos - 16 < length:
            break
        frames.append(Frame(ftype, length, ts, data[pos + 16 : pos + 16 + length]))
        pos += 16 + length
    return frames, data[pos:]


# ---------------------------------------------------------------------------------------------
# Running a runtime client
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class RunResult:
    """What one runtime process did.

    ``requests``: every request the fake received, in arrival order. ``returncode``: the process exit
    status as ``Popen.returncode`` (negative = killed by that signal), taken before the harness killed
    it; ``alive_at_end`` is True when the process was still running when the harness finished and was
    killed (then ``returncode`` is None). ``frames``/``frame_tail``: decoded telemetry frames and
    undecodable trailing bytes (only with ``telemetry_fd``). ``timed_out``: the completion condition was
    not met within ``timeout_s``.
    """

    requests: list[Request]
    stdout: bytes
    stderr: bytes
    frames: list[Frame]
    frame_tail: bytes
    returncode: int | None
    alive_at_end: bool
    timed_out: bool
    served: list[Served]

    def by_endpoint(self, endpoint: str) -> list[Request]:
        """Requests to one endpoint (``next``, ``response``, ``error``, ``init_error``, …)."""
        return [r for r in self.requests if r.endpoint == endpoint]

    @property
    def posts(self) -> list[Request]:
        """/response and /error requests in arrival order."""
        return [r for r in self.requests if r.endpoint in ("response", "error")]

    def describe(self) -> str:
        """A short human summary for assertion messages."""
        lines = [f"returncode={self.returncode} alive_at_end={self.alive_at_end} timed_out={self.timed_out}"]
        for r in self.requests:
            lines.append(f"  #{r.seq} conn{r.conn} {r.method} {r.target} -> {r.status} body={r.body[:300]!r}")
        lines.append(f"stdout={self.stdout[-2000:]!r}")
        lines.append(f"stderr={self.stderr[-3000:]!r}")
        return "\n".join(lines)


#: Environment every runtime process gets (plus ``PATH``), as in ``../shared/cases/README.md``.
BASE_ENV = {
    "AWS_LAMBDA_FUNCTION_NAME": "case",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_REGION": "us-east-1",
    "LANG": "C.UTF-8",
    "PYTHONDONTWRITEBYTECODE": "1",
}


def build_env(
    api_address: str, cwd: str, overrides: Mapping[str, str | None] | None = None
) -> dict[str, str]:
    """The minimal, explicit environment of a runtime process: ``PATH``, :data:`BASE_ENV`,
    ``AWS_LAMBDA_RUNTIME_API``, ``LAMBDA_TASK_ROOT=cwd``, then ``overrides`` (a None value removes
    the variable). Nothing else is inherited (no AWS_* variables from the test environment)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    env.update(BASE_ENV)
    env["AWS_LAMBDA_RUNTIME_API"] = api_address
    env["LAMBDA_TASK_ROOT"] = cwd
    for key, value in (overrides or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def _drain(fd: int, sink: bytearray) -> None:
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        sink += data
    os.close(fd)


@dataclasses.dataclass
class Spawned:
    """A runtime process started by :func:`spawn_collecting`: its stdout, stderr and telemetry frames
    (raw bytes) grow in the bytearrays while the ``readers`` threads drain them."""

    proc: subprocess.Popen[bytes]
    stdout: bytearray
    stderr: bytearray
    telemetry: bytearray
    readers: list[threading.Thread]


def spawn_collecting(
    cmd: Sequence[str],
    env: Mapping[str, str | None],
    cwd: str | os.PathLike[str],
    *,
    telemetry_fd: bool = False,
) -> Spawned:
    """Start ``cmd`` in a new session (its own process group) with ``env`` (``None`` values dropped)
    in ``cwd``, stdin on ``/dev/null``, and start threads draining its stdout and stderr; with
    ``telemetry_fd``, also a pipe passed as ``_LAMBDA_TELEMETRY_LOG_FD``. Join ``readers`` after the
    process (group) has ended to have all the output."""
    full_env = {k: v for k, v in env.items() if v is not None}
    pass_fds: tuple[int, ...] = ()
    tel_r = tel_w = -1
    if telemetry_fd:
        tel_r, tel_w = os.pipe()
        full_env["_LAMBDA_TELEMETRY_LOG_FD"] = str(tel_w)
        pass_fds = (tel_w,)
    proc = subprocess.Popen(
        list(cmd),
        cwd=cwd,
        env=full_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        pass_fds=pass_fds,
        start_new_session=True,
    )
    if telemetry_fd:
        os.close(tel_w)
    out, err, tel = bytearray(), bytearray(), bytearray()
    assert proc.stdout is not None and proc.stderr is not None
    readers = [
        threading.Thread(target=_drain, args=(os.dup(proc.stdout.fileno()), out), daemon=True),
        threading.Thread(target=_drain, args=(os.dup(proc.stderr.fileno()), err), daemon=True),
    ]
    proc.stdout.close()
    proc.stderr.close()
    if telemetry_fd:
        readers.append(threading.Thread(target=_drain, args=(tel_r, tel), daemon=True))
    for reader in readers:
        reader.start()
    return Spawned(proc, out, err, tel, readers)


def run_runtime(
    cmd: Sequence[str],
    api: FakeRuntimeAPI,
    *,
    env: Mapping[str, str | None] | None = None,
    cwd: str,
    telemetry_fd: bool = False,
    after_signal: int | str | None = None,
    signal_delay_s: float = 0.3,
    grace_s: float = 1.5,
    settle_s: float = 0.3,
    timeout_s: float = 20.0,
    raw_env: bool = False,
) -> RunResult:
    """Run a runtime client process against the started ``api`` and collect what it did.

    ``cmd`` is the argv (e.g. ``[python, "-m", "fastric", "app.handler"]``); ``env`` are overrides for
    :func:`build_env` (or, with ``raw_env``, the complete environment); ``cwd`` the working directory.
    ``telemetry_fd`` passes a pipe as ``_LAMBDA_TELEMETRY_LOG_FD`` and decodes its frames.

    Completion: the process exited, or every scripted invocation was answered and the runtime is parked
    in ``/next``; then ``settle_s`` seconds pass. Then, if ``after_signal`` (a number or a name such as
    ``"SIGTERM"``) is given, it is sent after ``signal_delay_s`` and the process gets ``grace_s`` seconds
    to exit. A process still running at the end is killed (``alive_at_end``). ``timeout_s`` bounds the
    wait for completion (seconds).
    """
    full_env = dict(env or {}) if raw_env else build_env(api.address, cwd, env)
    spawned = spawn_collecting(cmd, full_env, cwd, telemetry_fd=telemetry_fd)
    proc, out, err, tel, readers = (
        spawned.proc,
        spawned.stdout,
        spawned.stderr,
        spawned.telemetry,
        spawned.readers,
    )

    deadline = time.monotonic() + timeout_s
    timed_out = False
    while True:
        if proc.poll() is not None:
            break
        if api.all_answered() and api.parked > 0:
            break
        if time.monotonic() > deadline:
            timed_out = True
            break
        time.sleep(0.01)
    if proc.poll() is None and not timed_out:
        _wait(proc, settle_s)
    if after_signal is not None and proc.poll() is None:
        time.sleep(signal_delay_s)
        signum = getattr(signal_mod, after_signal) if isinstance(after_signal, str) else after_signal
        proc.send_signal(signum)
        _wait(proc, grace_s)
    alive = proc.poll() is None
    if alive:
        try:
            os.killpg(proc.pid, signal_mod.SIGKILL)  # the group this helper created for the process
        except ProcessLookupError:
            pass
    proc.wait()
    returncode = None if alive else proc.returncode
    for reader in readers:
        reader.join(timeout=5)
    frames, tail = decode_frames(bytes(tel))
    return RunResult(
        requests=api.snapshot(),
        stdout=bytes(out),
        stderr=bytes(err),
        frames=frames,
        frame_tail=tail,
        returncode=returncode,
        alive_at_end=alive,
        timed_out=timed_out,
        served=list(api.served),
    )


def _wait(proc: subprocess.Popen, seconds: float) -> None:
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        pass
