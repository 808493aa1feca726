"""Tests of `fastric._fastric.RuntimeApiClient` against a small scripted fake Runtime API.

The fake records every request's exact head bytes and body, and answers from a script: each
entry is the raw response bytes, or ``CLOSE`` (drop the connection without answering), or
``HANG`` (never answer).
"""

import os
import signal
import socket
import struct
import threading
import time

import pytest
from fastric import _fastric

CLOSE = object()
HANG = object()


class FakeRuntimeApi:
    """A one-connection-at-a-time HTTP/1.1 fake on 127.0.0.1; see the module docstring."""

    def __init__(self, script, prefix=""):
        self.script = list(script)
        self.seen = []  # (connection index, head bytes, body bytes)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.1)
        self.address = "127.0.0.1:%d%s" % (self.sock.getsockname()[1], prefix)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        conn_index = 0
        while self.script and not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            with conn:
                buf = b""
                while self.script:
                    request, buf = self._read_request(conn, buf)
                    if request is None:
                        break
                    self.seen.append((conn_index,) + request)
                    reply = self.script.pop(0)
                    if reply is CLOSE:
                        break
                    if reply is HANG:
                        self.stop.wait(30)
                        return
                    conn.sendall(reply)
                if not self.script:
                    # Keep the connection open until the client goes away or the test ends.
                    conn.settimeout(0.1)
                    while not self.stop.is_set():
                        try:
                            if not conn.recv(65536):
                                break
                        except TimeoutError:
                            continue
                        except OSError:
                            break
            conn_index += 1

    @staticmethod
    def _read_request(conn, buf):
        while b"\r\n\r\n" not in buf:
            data = conn.recv(65536)
            if not data:
                return None, buf
            buf += data
        head, _, rest = buf.partition(b"\r\n\r\n")
        head += b"\r\n\r\n"
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        while len(rest) < length:
            data = conn.recv(65536)
            if not data:
                return None, rest
            rest += data
        return (head, rest[:length]), rest[length:]

    def close(self):
        self.stop.set()
        self.sock.close()
        self.thread.join(5)


@pytest.fixture
def fake():
    servers = []

    def start(script, prefix=""):
        server = FakeRuntimeApi(script, prefix)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def reply(status, body=b"", headers=()):
    lines = ["HTTP/1.1 %d X" % status] + ["%s: %s" % h for h in headers]
    lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def next_reply(request_id="rid-1", body=b"{}", extra=()):
    headers = [("Content-Type", "application/json"), ("Lambda-Runtime-Aws-Request-Id", request_id)]
    return reply(200, body, headers + list(extra))


ACCEPTED = reply(202, b'{"status":"OK"}')


def test_next_invocation_attributes_and_request_bytes(fake):
    server = fake(
        [
            next_reply(
                "rid-1",
                b'{"k": "v"}',
                [
                    ("Lambda-Runtime-Deadline-Ms", "1800000000000"),
                    (
                        "Lambda-Runtime-Invoked-Function-Arn",
                        "arn:aws:lambda:us-east-1:000000000000:function:f",
                    ),
                    ("lambda-runtime-trace-id", "Root=1-2-3;Sampled=1"),
                    ("Lambda-Runtime-Client-Context", '{"custom": {"a": 1}}'),
                    ("Lambda-Runtime-Cognito-Identity", '{"cognitoIdentityId": "id"}'),
                    ("Lambda-Runtime-Aws-Tenant-Id", "tenant-1"),
                    ("Lambda-Runtime-Invocation-Id", "inv-1"),
                ],
            ),
            ACCEPTED,
        ]
    )
    client = _fastric.RuntimeApiClient(server.address, "aws-lambda-python/3.11.7-fastric")
    inv = client.next_invocation()
    assert type(inv).__name__ == "Invocation"
    assert inv.request_id == "rid-1"
    assert inv.deadline_ms == 1800000000000
    assert inv.invoked_function_arn == "arn:aws:lambda:us-east-1:000000000000:function:f"
    assert inv.trace_id == "Root=1-2-3;Sampled=1"
    assert inv.client_context == '{"custom": {"a": 1}}'
    assert inv.cognito_identity == '{"cognitoIdentityId": "id"}'
    assert inv.tenant_id == "tenant-1"
    assert inv.invocation_id == "inv-1"
    assert inv.content_type == "application/json"
    assert inv.body == b'{"k": "v"}' and type(inv.body) is bytes
    with pytest.raises(AttributeError):
        inv.request_id = "other"

    client.post_invocation_response(
        inv.request_id, b'{"ok": true}', "application/json", invocation_id="inv-1"
    )
    del client
    host = server.address
    assert server.seen == [
        (
            0,
            (
                "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: %s\r\n"
                "User-Agent: aws-lambda-python/3.11.7-fastric\r\n\r\n" % host
            ).encode(),
            b"",
        ),
        (
            0,
            (
                "POST /2018-06-01/runtime/invocation/rid-1/response HTTP/1.1\r\nHost: %s\r\n"
                "User-Agent: aws-lambda-python/3.11.7-fastric\r\nContent-Type: application/json\r\n"
                "Lambda-Runtime-Invocation-Id: inv-1\r\nContent-Length: 12\r\n\r\n" % host
            ).encode(),
            b'{"ok": true}',
        ),
    ]


def test_missing_optional_headers(fake):
    server = fake([reply(200, b"", [("Lambda-Runtime-Aws-Request-Id", "r")])])
    inv = _fastric.RuntimeApiClient(server.address, "ua").next_invocation()
    assert (inv.deadline_ms, inv.invoked_function_arn) == (0, "")
    assert [inv.trace_id, inv.client_context, inv.cognito_identity, inv.tenant_id] == [None] * 4
    assert (inv.invocation_id, inv.content_type, inv.body) == (None, None, b"")


def test_error_init_and_restore_endpoints(fake):
    server = fake([ACCEPTED, ACCEPTED, reply(200), ACCEPTED], prefix="/fn-a")
    client = _fastric.RuntimeApiClient("http://" + server.address, "ua")
    client.post_invocation_error("a/b", b'{"errorType": "E"}', xray_cause='{"x": 1}', invocation_id="i-9")
    client.post_init_error(b"{}", "Runtime.ImportModuleError")
    client.restore_next()
    client.post_restore_error(b"{}", error_type="Runtime.AfterRestoreError")
    del client
    host = server.address.split("/")[0]
    heads = [seen[1].decode() for seen in server.seen]
    assert heads[0] == (
        "POST /fn-a/2018-06-01/runtime/invocation/a%2Fb/error HTTP/1.1\r\nHost: "
        + host
        + "\r\nUser-Agent: ua\r\n"
        'Content-Type: application/json\r\nLambda-Runtime-Function-XRay-Error-Cause: {"x": 1}\r\n'
        "Lambda-Runtime-Invocation-Id: i-9\r\nContent-Length: 18\r\n\r\n"
    )
    assert heads[1] == (
        "POST /fn-a/2018-06-01/runtime/init/error HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: ua\r\n"
        "Lambda-Runtime-Function-Error-Type: Runtime.ImportModuleError\r\nContent-Length: 2\r\n\r\n"
    )
    assert (
        heads[2]
        == "GET /fn-a/2018-06-01/runtime/restore/next HTTP/1.1\r\nHost: "
        + host
        + "\r\nUser-Agent: ua\r\n\r\n"
    )
    assert heads[3] == (
        "POST /fn-a/2018-06-01/runtime/restore/error HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: ua\r\n"
        "Lambda-Runtime-Function-Error-Type: Runtime.AfterRestoreError\r\nContent-Length: 2\r\n\r\n"
    )
    assert [seen[0] for seen in server.seen] == [0, 0, 0, 0]


@pytest.mark.parametrize("status", [400, 403, 410, 413])
def test_client_error_statuses_on_post_are_not_fatal(fake, status):
    server = fake([reply(status, b'{"errorType": "X"}')])
    client = _fastric.RuntimeApiClient(server.address, "ua")
    with pytest.raises(_fastric.RuntimeApiError) as info:
        client.post_invocation_response("r", b"{}", "application/json")
    assert (info.value.status, info.value.body, info.value.fatal) == (status, b'{"errorType": "X"}', False)
    assert isinstance(info.value, _fastric.FastricError)
    assert len(server.seen) == 1


def test_status_500_is_fatal(fake):
    server = fake([reply(500, b"container error")])
    client = _fastric.RuntimeApiClient(server.address, "ua")
    with pytest.raises(_fastric.RuntimeApiError) as info:
        client.next_invocation()
    assert (info.value.status, info.value.body, info.value.fatal) == (500, b"container error", True)
    assert len(server.seen) == 1


def test_post_dropped_on_a_fresh_connection_is_not_resent(fake):
    server = fake([CLOSE, next_reply("r2")])
    client = _fastric.RuntimeApiClient(server.address, "ua")
    with pytest.raises(_fastric.RuntimeApiError) as info:
        client.post_invocation_error("r", b"{}")
    assert (info.value.status, info.value.fatal) == (None, False)
    assert client.next_invocation().request_id == "r2"
    assert [seen[1].split(b" ")[0] for seen in server.seen] == [b"POST", b"GET"]


def test_post_dropped_on_a_reused_connection_is_resent_once(fake):
    """Dropped without an answer on the kept-alive connection: sent again on a new one. A refusal
    (403) of the re-send means the first copy had arrived: no exception."""
    server = fake(
        [next_reply("r"), CLOSE, reply(403, b"{}"), next_reply("r2"), CLOSE, CLOSE, next_reply("r3")]
    )
    client = _fastric.RuntimeApiClient(server.address, "ua")
    assert client.next_invocation().request_id == "r"
    client.post_invocation_response("r", b'{"a": 1}', "application/json")
    assert client.next_invocation().request_id == "r2"
    with pytest.raises(_fastric.RuntimeApiError) as info:  # dropped twice: not sent a third time
        client.post_invocation_response("r2", b"{}", "application/json")
    assert (info.value.status, info.value.fatal) == (None, False)
    assert client.next_invocation().request_id == "r3"
    assert [(seen[0], seen[1].split(b" ")[0]) for seen in server.seen] == [
        (0, b"GET"),
        (0, b"POST"),
        (1, b"POST"),
        (1, b"GET"),
        (1, b"POST"),
        (2, b"POST"),
        (3, b"GET"),
    ]
    assert server.seen[1][1:] == server.seen[2][1:]


def test_connection_refused_is_fatal_after_retries_with_oserror_cause():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    client = _fastric.RuntimeApiClient("127.0.0.1:%d" % port, "ua")
    with pytest.raises(_fastric.RuntimeApiError) as info:
        client.next_invocation()
    assert (info.value.status, info.value.body, info.value.fatal) == (None, b"", True)
    assert isinstance(info.value.__cause__, ConnectionRefusedError)


def test_garbage_then_success_is_retried_and_diagnosed_on_telemetry_fd(fake):
    server = fake([b"NOT HTTP\r\n\r\n", next_reply("ok")])
    read_fd, write_fd = os.pipe()
    try:
        _fastric.set_diagnostic_fd(write_fd)
        inv = _fastric.RuntimeApiClient(server.address, "ua").next_invocation()
    finally:
        _fastric.set_diagnostic_fd(None)
        os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        data = pipe.read()
    assert inv.request_id == "ok"
    frame_type, length, timestamp_us = struct.unpack(">IIQ", data[:16])
    message = data[16 : 16 + length].decode()
    assert frame_type == 0xA55A0013  # TEXT, WARNING
    assert abs(timestamp_us / 1e6 - time.time()) < 60
    assert message.startswith(
        "[fastric] WARNING GET /runtime/invocation/next failed (attempt 1 of 6): bad response"
    )
    assert not message.endswith("\n")
    assert len(data) == 16 + length


def test_signal_handler_runs_and_its_exception_interrupts_the_wait(fake):
    server = fake([HANG])
    client = _fastric.RuntimeApiClient(server.address, "ua")

    class Stop(Exception):
        pass

    calls = []

    def handler(signum, frame):
        calls.append(signum)
        if len(calls) == 2:
            raise Stop("from handler")

    previous = signal.signal(signal.SIGALRM, handler)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.1, 0.1)
        with pytest.raises(Stop, match="from handler"):
            client.next_invocation()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0, 0)
        signal.signal(signal.SIGALRM, previous)
    assert calls == [signal.SIGALRM, signal.SIGALRM]


def test_gil_is_released_while_waiting(fake):
    server = fake([HANG])
    client = _fastric.RuntimeApiClient(server.address, "ua")
    ticks = []
    done = threading.Event()

    def ticker():
        while not done.is_set():
            ticks.append(1)
            time.sleep(0.01)

    def stop_waiting(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, stop_waiting)
    thread = threading.Thread(target=ticker)
    thread.start()
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        with pytest.raises(KeyboardInterrupt):
            client.next_invocation()
    finally:
        done.set()
        thread.join()
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert len(ticks) >= 5


def test_argument_errors():
    with pytest.raises(ValueError, match="only the http:// scheme"):
        _fastric.RuntimeApiClient("https://127.0.0.1:9001", "ua")
    with pytest.raises(ValueError, match="brackets"):
        _fastric.RuntimeApiClient("::1:9001", "ua")
    client = _fastric.RuntimeApiClient("127.0.0.1:9", "ua")
    with pytest.raises(TypeError):
        client.post_invocation_response("r", "not bytes", "application/json")
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        client.post_invocation_response("r", b"", "text/plain\r\nX-Evil: 1")


def test_exception_hierarchy():
    assert _fastric.FastricError.__module__ == "fastric.errors"
    assert issubclass(_fastric.RuntimeApiError, _fastric.FastricError)
    assert issubclass(_fastric.FastricError, Exception)
