"""A minimal Lambda Runtime API server for the benchmark: one client at a time, blocking sockets.

It speaks just enough HTTP/1.1 (keep-alive, ``Content-Length`` or chunked request bodies) to serve
``GET /2018-06-01/runtime/invocation/next`` (200, ``Content-Type: application/json`` and the usual
``Lambda-Runtime-*`` headers) and to accept ``POST .../response``, ``.../error`` and
``/runtime/init/error`` (202). It runs in the benchmark's own process, on its own pinned core, with
no threads, so the hot loop is: recv → parse → sendall.

Waiting for a request, the server by default *spins*: non-blocking ``recv`` in a loop for up to
``spin_ms`` (then it blocks). On a virtual machine an idle vCPU halts, and waking it for the arriving
request costs tens of microseconds (about 35 µs of the C floor's 50 µs round trip on the development
machines): a cost of the server, not of the client being measured, so spinning keeps the server out
of the figures. ``spin_ms=0`` gives the plain blocking server.

Timestamps are ``time.perf_counter_ns()`` (CLOCK_MONOTONIC on Linux), in nanoseconds:

- ``t_recv``: when the ``recv`` that completed a request returned;
- ``t_sent``: when ``sendall`` of the reply returned.

The round trip of an invocation is ``t_recv(POST) - t_sent(/next response)``; the server's own cost
per invocation is ``(t_sent - t_recv)`` summed over its two replies.
"""

from __future__ import annotations

import hashlib
import socket
import time
from array import array

_NS = time.perf_counter_ns
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:bench"
ACCEPTED = (
    b'HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{"status":"OK"}\n'
)


class ClientGone(Exception):
    """The client closed the connection, died, or sent something this server does not understand."""


class Connection:
    """One accepted keep-alive connection with a receive buffer.

    Args:
        sock: a connected, blocking TCP socket.
        spin_ns: how long each wait for data spins on a non-blocking ``recv`` before blocking (ns).
    """

    def __init__(self, sock: socket.socket, spin_ns: int = 0) -> None:
        self.sock = sock
        self.buf = bytearray()
        self.spin_ns = spin_ns
        self.chunk_view = memoryview(bytearray(65536))
        self.body_buf = bytearray()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self) -> None:
        """Closes the socket (idempotent)."""
        try:
            self.sock.close()
        except OSError:
            pass

    def _recv_into(self, view: memoryview) -> int:
        """One ``recv_into(view)`` (spinning first when configured); returns the byte count (0: EOF).
        Receiving into buffers the server keeps means no allocation per ``recv``: a ``recv(n)``
        allocates ``n`` bytes first, which for MB-sized requests costs the server page faults
        inside the measured window."""
        sock = self.sock
        if not self.spin_ns:
            return sock.recv_into(view)
        recv_into = sock.recv_into
        until = _NS() + self.spin_ns
        sock.setblocking(False)
        try:
            while True:
                try:
                    return recv_into(view)
                except BlockingIOError:
                    if _NS() > until:
                        break
        finally:
            sock.setblocking(True)
        return recv_into(view)

    def _fill(self, want: int) -> None:
        view = self.chunk_view[: min(want, len(self.chunk_view))]
        n = self._recv_into(view)
        if not n:
            raise ClientGone("connection closed by the client")
        self.buf += view[:n]

    def _body_view(self, length: int) -> memoryview:
        """A writable view of ``length`` bytes in the reused body buffer (grown when needed)."""
        if len(self.body_buf) < length:
            self.body_buf = bytearray(max(length, 2 * len(self.body_buf)))
        return memoryview(self.body_buf)[:length]

    def read_request(self) -> tuple[bytes, bytes, bytes, int]:
        """Reads one request.

        Returns:
            ``(request_line, header_block, body, t_recv_ns)``; the header block excludes the request
            line and the blank line; ``t_recv_ns`` is when the last needed ``recv`` returned (or when
            the call started, if the buffer already held the whole request).

        Raises:
            ClientGone: EOF or a malformed request.
        """
        buf = self.buf
        t = _NS()
        while True:
            end = buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            self._fill(65536)
            t = _NS()
        head = bytes(buf[:end])
        first, _, headers = head.partition(b"\r\n")
        lower = headers.lower()
        start = end + 4
        if b"transfer-encoding: chunked" in lower or b"transfer-encoding:chunked" in lower:
            body, consumed, t = self._read_chunked(start, t)
            del buf[:consumed]
            return first, headers, body, t
        length = 0
        i = lower.find(b"content-length:")
        if i >= 0:
            j = lower.find(b"\r\n", i)
            try:
                length = int(lower[i + 15 : j if j >= 0 else len(lower)])
            except ValueError as exc:
                raise ClientGone(f"bad content-length in {head!r}") from exc
        need = start + length
        if len(buf) >= need:
            body = bytes(buf[start:need])
            del buf[:need]
            return first, headers, body, t
        if b"expect: 100-continue" in lower:
            self.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        # The rest of the body goes straight into the reused body buffer.
        view = self._body_view(length)
        have = len(buf) - start
        view[:have] = buf[start:]
        del buf[:]
        while have < length:
            n = self._recv_into(view[have:])
            if not n:
                raise ClientGone("connection closed by the client")
            have += n
            t = _NS()
        return first, headers, bytes(view), t

    def _read_chunked(self, pos: int, t: int) -> tuple[bytes, int, int]:
        buf = self.buf
        out = bytearray()
        while True:
            while (eol := buf.find(b"\r\n", pos)) < 0:
                self._fill(65536)
                t = _NS()
            size = int(bytes(buf[pos:eol]).split(b";")[0], 16)
            pos = eol + 2
            if size == 0:
                while (eol := buf.find(b"\r\n\r\n", pos - 2)) < 0:
                    self._fill(65536)
                    t = _NS()
                return bytes(out), eol + 4, t
            while len(buf) < pos + size + 2:
                self._fill(max(pos + size + 2 - len(buf), 65536))
                t = _NS()
            out += buf[pos : pos + size]
            pos += size + 2

    def send(self, data: bytes, body: bytes = b"") -> int:
        """Sends ``data`` then ``body``; returns ``t_sent_ns``."""
        if body and len(body) > 65536:
            self.sock.sendall(data)
            self.sock.sendall(body)
        else:
            self.sock.sendall(data + body if body else data)
        return _NS()


class RuntimeApiServer:
    """The listening socket on 127.0.0.1 (an ephemeral port) and the scripted exchanges.

    Args:
        spin_ms: how long each wait for a request spins before blocking (ms); 0 = always block.

    Attributes:
        address: ``"127.0.0.1:PORT"``, the value for ``AWS_LAMBDA_RUNTIME_API``.
    """

    def __init__(self, spin_ms: float = 20.0) -> None:
        self.spin_ns = int(spin_ms * 1_000_000)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.address = f"127.0.0.1:{self.listener.getsockname()[1]}"
        self.deadline_ms = int(time.time() * 1000) + 3_600_000
        self._seq = 0

    def close(self) -> None:
        """Closes the listening socket."""
        self.listener.close()

    def accept(self, timeout_s: float, alive=None) -> Connection:
        """Waits for a connection.

        Args:
            timeout_s: give up after this many seconds.
            alive: optional callable returning False when the client process has exited.

        Raises:
            ClientGone: timeout, or ``alive()`` turned False.
        """
        deadline = time.monotonic() + timeout_s
        self.listener.settimeout(0.05)
        while True:
            try:
                sock, _ = self.listener.accept()
                sock.settimeout(None)
                return Connection(sock, self.spin_ns)
            except TimeoutError:
                if alive is not None and not alive():
                    raise ClientGone("the client exited before connecting") from None
                if time.monotonic() > deadline:
                    raise ClientGone(f"no connection within {timeout_s:.0f} s") from None

    def next_response(self, body: bytes) -> tuple[bytes, str]:
        """The head of a ``/next`` response for ``body`` and its fresh request id."""
        self._seq += 1
        rid = f"8f1c0b9e-5d2a-4c1e-9b7f-{self._seq:012d}"
        head = (
            "HTTP/1.1 200 OK\r\n"
            "Content-Type: application/json\r\n"
            f"Lambda-Runtime-Aws-Request-Id: {rid}\r\n"
            f"Lambda-Runtime-Deadline-Ms: {self.deadline_ms}\r\n"
            f"Lambda-Runtime-Invoked-Function-Arn: {FUNCTION_ARN}\r\n"
            "Lambda-Runtime-Trace-Id: Root=1-5e1b4151-5ac6c58f5b5daa6532e4f3e3;Parent=1a2b3c4d5e6f7a8b;Sampled=0\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        return head, rid


class Session:
    """Serves one client process over (normally) one connection; reconnects if the client does.

    Args:
        server: the listening server.
        timeout_s: how long to wait for a (re)connection.
        alive: callable, False once the client process exited.
    """

    def __init__(self, server: RuntimeApiServer, timeout_s: float, alive) -> None:
        self.server = server
        self.timeout_s = timeout_s
        self.alive = alive
        self.conn: Connection | None = None
        self.t_next: int | None = None

    def close(self) -> None:
        """Closes the current connection."""
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def _request(self) -> tuple[bytes, bytes, bytes, int]:
        while True:
            if self.conn is None:
                self.conn = self.server.accept(self.timeout_s, self.alive)
            try:
                return self.conn.read_request()
            except ClientGone:
                self.conn.close()
                self.conn = None
                if not self.alive():
                    raise

    def wait_next(self) -> int:
        """Reads requests until a ``GET .../invocation/next``; returns its ``t_recv_ns``.

        Raises:
            ClientGone: the client posted an init error, exited, or sent an unexpected request.
        """
        while True:
            first, _headers, body, t = self._request()
            if first.startswith(b"GET ") and b"/runtime/invocation/next" in first:
                self.t_next = t
                return t
            if b"/init/error" in first:
                self.conn.send(ACCEPTED)
                raise ClientGone("init error: " + body[:300].decode("utf-8", "replace"))
            self.conn.send(ACCEPTED)
            raise ClientGone(f"unexpected request {first!r}")

    def invoke(self, event: bytes) -> tuple[int, int, int, bytes]:
        """Answers the pending ``/next`` with ``event`` and reads the result.

        Returns:
            ``(t_next_sent, t_result_recv, t_ack_sent, result_body)``, times in ns.

        Raises:
            ClientGone: the client posted to ``/error`` (the error body is in the message) or died.
        """
        head, rid = self.server.next_response(event)
        t_sent = self.conn.send(head, event)
        first, _headers, body, t_recv = self._request()
        t_ack = self.conn.send(ACCEPTED)
        if not first.endswith(b"/response HTTP/1.1") or rid.encode() not in first:
            raise ClientGone(f"unexpected result {first!r}: " + body[:300].decode("utf-8", "replace"))
        return t_sent, t_recv, t_ack, body


class Samples:
    """Per-invocation timings of one measured loop (ns), kept in compact arrays.

    Attributes:
        rtt: round trip, /next response sent → result received.
        cycle: /next response sent → the next /next response sent (the whole loop, server included).
        server: the server's own time per invocation (both replies).
        first_hash, last_hash: sha256 of the first and last measured result bodies.
        result_len: length of the last result body (bytes).
    """

    def __init__(self) -> None:
        self.rtt = array("q")
        self.cycle = array("q")
        self.server = array("q")
        self.first_hash = ""
        self.last_hash = ""
        self.result_len = 0


def run_loop(
    session: Session,
    events: list[bytes],
    n: int,
    warmup: int,
    samples: Samples | None = None,
    on_invocation=None,
) -> Samples:
    """Runs ``warmup + n`` invocations (events used round-robin), timing the last ``n``.

    Waits for the client's first ``/next`` unless :meth:`Session.wait_next` already returned.
    ``on_invocation(i)`` is called (outside the timed window) after invocation ``i`` (1-based, warm-up
    included) has been acknowledged, while the client is heading back to ``/next``.

    Returns:
        the filled :class:`Samples`; the client is left waiting in ``/next``.
    """
    s = samples if samples is not None else Samples()
    rtt, cycle, srv = s.rtt.append, s.cycle.append, s.server.append
    ne = len(events)
    prev_sent = 0
    t_next_in = session.t_next if session.t_next is not None else session.wait_next()
    for i in range(warmup + n):
        ev = events[i % ne]
        session.t_next = None
        t_sent, t_recv, t_ack, body = session.invoke(ev)
        if i >= warmup:
            rtt(t_recv - t_sent)
            srv((t_sent - t_next_in) + (t_ack - t_recv))
            if prev_sent:
                cycle(t_sent - prev_sent)
            if i == warmup:
                s.first_hash = hashlib.sha256(body).hexdigest()
            if i == warmup + n - 1:
                s.last_hash = hashlib.sha256(body).hexdigest()
                s.result_len = len(body)
        prev_sent = t_sent
        if on_invocation is not None:
            on_invocation(i + 1)
        t_next_in = session.wait_next()
    return s
