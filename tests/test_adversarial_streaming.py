"""Hostile input against response streaming: runtimes that die mid-stream, clients that hang up
mid-stream, iterators whose ``close()`` raises, odd ``HttpResponseStream`` metadata. Each test pins
what the emulator and the runtime do with it (handlers in ``handlers/stream_attack.py``)."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest
from conftest import HANDLERS_DIR, fastric_cmd
from support.runtime_api_fake import FakeRuntimeAPI, Fault, Invocation, run_runtime
from test_rie_fixtures import rie_factory  # noqa: F401
from test_rie_function_url import url  # noqa: F401
from test_rie_streaming import start, stream  # noqa: F401

ATTACK = "stream_attack.handler"


def stream_events(rie, event: dict) -> list[dict]:
    return stream(rie, event)[1]


def run_fake(events: list[dict], env: dict | None = None, handler: str = ATTACK, **api_kwargs: object):
    invocations = [Invocation(body=json.dumps(e).encode()) for e in events]
    with FakeRuntimeAPI(invocations, **api_kwargs) as api:
        return run_runtime(
            fastric_cmd(handler), api, env={"_HANDLER": handler, **(env or {})}, cwd=str(HANDLERS_DIR)
        )


def test_runtime_dying_mid_stream_is_not_reported_as_success(start) -> None:  # noqa: F811
    # The runtime writes one chunk, then its process exits: the chunked body never ends. The
    # invocation must end with the exit error, not with an empty (successful) InvokeComplete.
    rie = start(ATTACK)
    events = stream_events(rie, {"mode": "die"})
    assert events[0] == {"PayloadChunk": {"Payload": b"partial"}}
    complete = events[-1]["InvokeComplete"]
    assert complete.get("ErrorCode") == "Runtime.ExitError", events
    assert len(events) == 2
    # The emulator starts a new runtime and keeps serving.
    assert stream_events(rie, {"mode": "ok"}) == [
        {"PayloadChunk": {"Payload": b"fine"}},
        {"InvokeComplete": {}},
    ]


def hang_up_after_first_bytes(conn: http.client.HTTPConnection, resp: http.client.HTTPResponse) -> bytes:
    first = resp.read1(65536)
    conn.sock.close()  # the client goes away mid-stream, the handler still has 4 MiB to send
    return first


def test_invoke_with_response_stream_client_hanging_up_mid_stream(start, tmp_path) -> None:  # noqa: F811
    rie = start(ATTACK)
    endpoint = urlsplit(rie.invoke_url)
    conn = http.client.HTTPConnection(endpoint.hostname, endpoint.port, timeout=30)
    gate = tmp_path / "gate"
    conn.request(
        "POST",
        "/2021-11-15/functions/function/response-streaming-invocations",
        body=json.dumps({"mode": "gated", "path": str(gate)}).encode(),
    )
    resp = conn.getresponse()
    assert resp.status == 200
    assert b"first" in hang_up_after_first_bytes(conn, resp)
    gate.write_bytes(b"go")
    # The rest of the stream is drained and dropped; the same runtime serves the next invocation.
    assert stream_events(rie, {"mode": "ok"}) == [
        {"PayloadChunk": {"Payload": b"fine"}},
        {"InvokeComplete": {}},
    ]


def test_function_url_client_hanging_up_mid_stream(url, tmp_path) -> None:  # noqa: F811
    address = url("stream_attack.handler", "RESPONSE_STREAM")
    gate = tmp_path / "gate"
    conn = http.client.HTTPConnection(*address, timeout=30)
    conn.request("POST", "/", body=json.dumps({"mode": "gated", "path": str(gate)}).encode())
    resp = conn.getresponse()
    assert hang_up_after_first_bytes(conn, resp) == b"first"
    gate.write_bytes(b"go")
    conn = http.client.HTTPConnection(*address, timeout=30)
    conn.request("POST", "/", body=b'{"mode": "ok"}')
    resp = conn.getresponse()
    assert (resp.status, resp.read()) == (200, b"fine")
    conn.close()


CLOSE_FAILED = b"closing the response stream's generator failed: RuntimeError: close failed"


@pytest.mark.parametrize("pure_python", ["0", "1"])
@pytest.mark.parametrize("mode", ["raises_in_close_big", "http_raises_in_close_big"])
def test_stream_cut_by_the_runtime_api_closes_the_iterator(mode: str, pure_python: str) -> None:
    # The Runtime API resets the streamed post after its head: the handler's iterator is closed
    # (its close() raising is logged, never fatal), for a plain stream and an HttpResponseStream's body
    # alike, and the loop serves the next invocation.
    result = run_fake(
        [{"mode": mode}, {"mode": "ok"}],
        {"FASTRIC_PURE_PYTHON": pure_python},
        faults=[Fault("response", action="reset_mid_body")],
    )
    assert CLOSE_FAILED in result.stderr, result.describe()
    assert result.posts[-1].raw_body == b"4\r\nfine\r\n0\r\n\r\n"


@pytest.mark.parametrize("pure_python", ["0", "1"])
def test_http_response_stream_metadata_that_is_not_json_is_a_marshal_error(pure_python: str) -> None:
    # json.dumps would write NaN (not JSON) into the prelude; the error is posted before the first byte.
    result = run_fake(
        [{"mode": "http_nan"}, {"mode": "http_object_header"}], {"FASTRIC_PURE_PYTHON": pure_python}
    )
    assert [p.endpoint for p in result.posts] == ["error", "error"], result.describe()
    messages = [json.loads(p.body) for p in result.posts]
    assert [(m["errorType"], m["errorMessage"], m["stackTrace"]) for m in messages] == [
        (
            "Runtime.MarshalError",
            "Unable to marshal response: Out of range float values are not JSON compliant",
            [],
        ),
        (
            "Runtime.MarshalError",
            "Unable to marshal response: Object of type object is not JSON serializable",
            [],
        ),
    ]


@pytest.mark.parametrize("mode", ["forever", "async_forever"])
def test_stream_that_never_ends_is_cut_at_the_deadline(start, mode: str) -> None:  # noqa: F811
    # A generator (or an async generator that never awaits) yielding past the function timeout: the
    # invocation ends with Sandbox.Timedout after the chunks sent so far; a fresh runtime serves the next.
    rie = start(ATTACK, env={"AWS_LAMBDA_FUNCTION_TIMEOUT": "1", "FASTRIC_ASYNC_HANDLERS": "1"})
    events = stream_events(rie, {"mode": mode})
    assert events[0] == {"PayloadChunk": {"Payload": b"tick" if mode == "forever" else b"tock"}}
    assert all("PayloadChunk" in e for e in events[:-1])
    assert events[-1]["InvokeComplete"]["ErrorCode"] == "Sandbox.Timedout"
    assert stream_events(rie, {"mode": "ok"}) == [
        {"PayloadChunk": {"Payload": b"fine"}},
        {"InvokeComplete": {}},
    ]


def raw_exchange(address: tuple[str, int], request: bytes) -> tuple[bytes, bytes]:
    """Sends ``request`` as is, reads the answer until the server closes; (head, body)."""
    import socket

    with socket.create_connection(address, timeout=30) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head, body


def test_function_url_odd_requests(url) -> None:  # noqa: F811
    address = url("streaming_app.url_echo")
    head, body = raw_exchange(
        address,
        b"BREW /pot?a=1&a=2&a=&b HTTP/1.1\r\nHost: x.lambda-url\r\nX-Obs: caf\xe9\r\n"
        b"Cookie: a=1;b=2\r\nCookie: c=3\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n"
        b"Connection: close\r\n\r\n3\r\nabc\r\n2\r\n\xff\xfe\r\n0\r\n\r\n",
    )
    assert head.startswith(b"HTTP/1.1 201 ")
    event = json.loads(body)
    assert event["requestContext"]["http"]["method"] == "BREW"
    assert event["rawQueryString"] == "a=1&a=2&a=&b"
    assert event["queryStringParameters"] == {"a": "1,2,", "b": ""}
    assert event["cookies"] == ["a=1", "b=2", "c=3"]
    assert event["headers"]["x-obs"] == "caf\ufffd"  # obs-text is not UTF-8: replaced, not dropped
    # a text content type with a body that is not UTF-8 is sent base64-encoded, byte for byte
    assert event["isBase64Encoded"] is True and event["body"] == "YWJj//4="


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc",  # the client half-closes early
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    ],
    ids=["short_body", "bad_chunk_size"],
)
def test_function_url_broken_request_body_is_a_400_not_a_413(url, request_bytes: bytes) -> None:  # noqa: F811
    import socket

    address = url("streaming_app.url_echo")
    with socket.create_connection(address, timeout=30) as sock:
        sock.sendall(request_bytes)
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 400 Bad Request\r\n"), data
    assert data.endswith(b"\r\n\r\nBad Request")


def test_async_handler_after_user_code_closed_the_event_loop() -> None:
    # Legacy code closes the loop asyncio.get_event_loop() returned (the environment's): the next
    # awaited handler gets a fresh loop instead of "Event loop is closed" on every invocation.
    result = run_fake(
        [{"legacy": True, "n": 1}, {"n": 2}, {"n": 3}],
        {"FASTRIC_ASYNC_HANDLERS": "1"},
        handler="loop_closer.handler",
    )
    assert [(p.endpoint, p.body) for p in result.posts] == [
        ("response", b'{"n": 1}'),
        ("response", b'{"n": 2}'),
        ("response", b'{"n": 3}'),
    ], result.describe()
