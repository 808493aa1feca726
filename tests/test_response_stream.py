"""Response streaming (`@fastric.response_stream`) against the recording Runtime API: the exact bytes of
the streamed `/response` (head, chunk framing, trailers) for every kind of result, errors before and
after the first byte, and the transport rules (connection closed after the stream, never re-sent,
chunks sent while the handler still runs, bounded memory). Wire format: AWS "Building a custom runtime"
(`runtime-api-and-emulator.md` 1.8)."""

from __future__ import annotations

import base64
import json
import os
import signal
import threading

import pytest
from conftest import HANDLERS_DIR, fastric_cmd
from support.runtime_api_fake import (
    FakeRuntimeAPI,
    Fault,
    Invocation,
    RunResult,
    build_env,
    request_id,
    run_runtime,
    spawn_collecting,
)

HANDLERS = str(HANDLERS_DIR)
TRAILER = b"Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body"


def run(handler: str, events: list[dict], api_kwargs: dict | None = None, **kwargs: object) -> RunResult:
    invocations = [Invocation(body=json.dumps(e).encode()) for e in events]
    with FakeRuntimeAPI(invocations, **(api_kwargs or {})) as api:
        return run_runtime(
            fastric_cmd(handler),
            api,
            env={"_HANDLER": handler, **kwargs.pop("env", {})},
            cwd=HANDLERS,
            **kwargs,
        )


def stream_head(port_host: bytes, rid: str, content_type: bytes, extra: bytes = b"") -> bytes:
    return (
        b"POST /2018-06-01/runtime/invocation/" + rid.encode() + b"/response HTTP/1.1\r\n"
        b"Host: " + port_host + b"\r\n"
        b"User-Agent: " + b"%s\r\n"
        b"Lambda-Runtime-Function-Response-Mode: streaming\r\n"
        b"Transfer-Encoding: chunked\r\n"
        b"Trailer: " + TRAILER + b"\r\n"
        b"Content-Type: " + content_type + b"\r\n" + extra + b"\r\n"
    )


def check_head(post, content_type: bytes, extra: bytes = b"") -> None:
    host = post.header("Host")
    agent = post.header("User-Agent")
    assert agent.startswith(b"fastric-python/")
    assert post.raw_head == stream_head(host, post.request_id, content_type, extra).replace(b"%s", agent)


def framed(*chunks: bytes, trailers: bytes = b"") -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n" + trailers + b"\r\n"


CASES = {
    # mode: (content type, chunks)
    "generator": [b"alpha", b"-beta-", "\u00e9t\u00e9".encode()],  # str as UTF-8, the empty item skipped
    "list": [b"a", b"b", b"c"],
    "bytes": [b"one chunk"],
    "str": ["caf\u00e9".encode()],
    "none": [],
    "empty_gen": [],
    "dict": [b'{"ok": true, "n": [1, 2]}'],  # marshalled as a buffered result is
    "async": [b"a1", b"a2", b"a3"],
    "http": [
        b'{"statusCode":201,"headers":{"Content-Type":"text/html","X-Mode":"http"},"cookies":["a=1; Path=/"]}'
        + b"\0" * 8,
        b"<p>",
        b"hi",
        b"</p>",
    ],
}


def test_streamed_bodies_are_framed_exactly() -> None:
    modes = list(CASES)
    result = run("streaming_app.handler", [{"mode": m} for m in modes])
    posts = result.posts
    assert [p.endpoint for p in posts] == ["response"] * len(modes), result.describe()
    for mode, post in zip(modes, posts, strict=True):
        content_type = (
            b"application/vnd.awslambda.http-integration-response"
            if mode == "http"
            else b"application/octet-stream"
        )
        check_head(post, content_type)
        assert post.chunked
        assert post.raw_body == framed(*CASES[mode]), mode
        assert post.chunks == CASES[mode]
        assert post.trailers == []
        assert post.header("Content-Length") is None


def test_decorator_content_type_and_async_def_handler() -> None:
    result = run("streaming_app.text_handler", [{"mode": "list"}])
    check_head(result.posts[0], b"text/plain; charset=utf-8")
    result = run("streaming_app.async_def_handler", [{}])
    check_head(result.posts[0], b"text/event-stream")
    assert result.posts[0].raw_body == framed(b"data: 1\n\n", b"data: 2\n\n")


def test_invocation_id_is_echoed_on_the_streamed_post() -> None:
    with FakeRuntimeAPI([Invocation(body=b'{"mode": "bytes"}', invocation_id="inv-7")]) as api:
        result = run_runtime(fastric_cmd("streaming_app.handler"), api, env={}, cwd=HANDLERS)
    check_head(result.posts[0], b"application/octet-stream", b"Lambda-Runtime-Invocation-Id: inv-7\r\n")


def error_doc(message: str, error_type: str, rid: str, trace: list[str]) -> bytes:
    return json.dumps(
        {"errorMessage": message, "errorType": error_type, "requestId": rid, "stackTrace": trace}
    ).encode()


def frame(line: int, func: str, source: str) -> str:
    return f'  File "{HANDLERS}/streaming_app.py", line {line}, in {func}\n    {source}\n'


def handler_line(text: str) -> int:
    with open(os.path.join(HANDLERS, "streaming_app.py")) as f:
        return next(i for i, line in enumerate(f, 1) if text in line)


def trailers(error_type: str, doc: bytes) -> bytes:
    return (
        b"Lambda-Runtime-Function-Error-Type: " + error_type.encode() + b"\r\n"
        b"Lambda-Runtime-Function-Error-Body: " + base64.b64encode(doc) + b"\r\n"
    )


def test_error_after_the_first_byte_ends_the_stream_with_trailers() -> None:
    result = run(
        "streaming_app.handler",
        [{"mode": "mid_error"}, {"mode": "bad_item"}, {"mode": "async_error"}, {"mode": "bytes"}],
    )
    posts = result.posts
    assert [p.endpoint for p in posts] == ["response"] * 4, result.describe()
    doc1 = error_doc(
        "broken pipe dream",
        "ValueError",
        request_id(1),
        [frame(handler_line("raise exc"), "_fails_after", "raise exc")],
    )
    assert posts[0].raw_body == framed(b"part-1", b"part-2", trailers=trailers("ValueError", doc1))
    assert posts[0].trailer("Lambda-Runtime-Function-Error-Type") == b"ValueError"
    doc2 = error_doc(
        "Unable to marshal response: response_stream items must be bytes or str, not int",
        "Runtime.MarshalError",
        request_id(2),
        [],
    )
    assert posts[1].raw_body == framed(b"ok", trailers=trailers("Runtime.MarshalError", doc2))
    source = 'raise RuntimeError("async boom")'
    doc3 = error_doc(
        "async boom", "RuntimeError", request_id(3), [frame(handler_line(source), "failing", source)]
    )
    assert posts[2].raw_body == framed(b"before", trailers=trailers("RuntimeError", doc3))
    assert posts[3].raw_body == framed(b"one chunk")  # the loop carries on
    # The error record is logged as for a buffered handler.
    assert b"[ERROR] ValueError: broken pipe dream\rTraceback (most recent call last):\r" in result.stdout
    assert b"[ERROR] RuntimeError: async boom\r" in result.stdout


def test_error_before_the_first_byte_is_a_normal_error_post() -> None:
    result = run(
        "streaming_app.handler",
        [{"mode": "first_error"}, {"mode": "bad_first_item"}, {"mode": "unmarshallable"}],
    )
    assert [p.endpoint for p in result.posts] == ["error"] * 3, result.describe()
    assert result.posts[0].body == error_doc(
        "'nothing yet'",
        "KeyError",
        request_id(1),
        [frame(handler_line("raise exc"), "_fails_after", "raise exc")],
    )
    assert result.posts[1].body == error_doc(
        "Unable to marshal response: response_stream items must be bytes or str, not Token",
        "Runtime.MarshalError",
        request_id(2),
        [],
    )
    assert result.posts[2].body == error_doc(
        "Unable to marshal response: Object of type Token is not JSON serializable",
        "Runtime.MarshalError",
        request_id(3),
        [],
    )
    for post in result.posts:
        assert post.header("Lambda-Runtime-Function-Response-Mode") is None
    source = 'raise ZeroDivisionError("before any byte")'
    result = run("streaming_app.raising_handler", [{}])
    assert result.posts[0].endpoint == "error"
    assert result.posts[0].body == error_doc(
        "before any byte",
        "ZeroDivisionError",
        request_id(1),
        [frame(handler_line(source), "raising_handler", source)],  # no fastric frame
    )


def test_undecorated_generator_is_still_a_marshal_error() -> None:
    # Case C39: streaming is opt-in.
    result = run("streaming_app.plain_generator", [{}])
    assert result.posts[0].endpoint == "error"
    assert b"Object of type generator is not JSON serializable" in result.posts[0].body
    assert result.posts[0].header("Transfer-Encoding") is None


def test_connection_is_closed_after_the_stream() -> None:
    result = run("streaming_app.handler", [{"mode": "bytes"}, {"mode": "bytes"}])
    nexts = [r for r in result.requests if r.endpoint == "next"]
    posts = result.posts
    assert len(nexts) == 3 and len(posts) == 2
    assert posts[0].conn == nexts[0].conn
    # The /next after each stream comes on a new connection.
    assert nexts[1].conn != posts[0].conn
    assert nexts[2].conn != posts[1].conn


@pytest.mark.parametrize("action", ["reset", "reset_mid_body"])
def test_streamed_response_is_never_resent(action: str) -> None:
    result = run(
        "streaming_app.handler",
        [{"mode": "list"}, {"mode": "bytes"}],
        api_kwargs={"faults": [Fault("response", action=action)]},
    )
    rids = [p.request_id for p in result.posts]
    assert rids == [request_id(1), request_id(2)], result.describe()
    assert result.posts[1].raw_body == framed(b"one chunk")
    assert result.alive_at_end


def test_first_chunk_arrives_while_the_handler_still_runs(tmp_path) -> None:
    gate = tmp_path / "gate"
    seen: list[bytes] = []

    def on_chunk(request, index, data):
        seen.append(data)
        if index == 0:
            # The handler is blocked until this file exists: chunk 1 reached us before it could finish.
            assert not gate.exists()
            gate.write_bytes(b"go")

    result = run(
        "streaming_app.handler", [{"mode": "gated", "path": str(gate)}], api_kwargs={"on_chunk": on_chunk}
    )
    assert seen == [b"first", b"second"]
    assert result.posts[0].raw_body == framed(b"first", b"second")


def test_ten_thousand_tiny_chunks() -> None:
    count = 10_000
    result = run("streaming_app.handler", [{"mode": "tiny", "count": count}])
    post = result.posts[0]
    assert len(post.chunks) == count
    assert post.raw_body == framed(*[b"%d" % (i % 10) for i in range(count)])


def test_fifty_megabyte_stream_keeps_memory_bounded() -> None:
    total, size = 50 * 1024 * 1024, 64 * 1024
    last: list[bytes] = []
    result = run(
        "rss_stream_app.handler",
        [{"total": total, "size": size}],
        api_kwargs={
            "keep_stream_bodies": False,
            "on_chunk": lambda r, i, d: last.__setitem__(slice(None), [d]),
        },
        timeout_s=60.0,
    )
    post = result.posts[0]
    assert post.endpoint == "response", result.describe()
    report = json.loads(last[0])
    assert post.body_length == total + len(last[0])
    growth = report["hwm_kb"] - report["rss_start_kb"]
    assert growth < 32 * 1024, report  # KiB: peak RSS grew by less than 32 MiB over a 50 MB stream


def test_sigterm_handler_runs_while_a_slow_reader_blocks_the_stream(tmp_path) -> None:
    # The reader stops after the first chunk: the runtime blocks writing (GIL released) and must still
    # run the function's SIGTERM handler.
    started, release = threading.Event(), threading.Event()

    def on_chunk(request, index, data):
        if index == 0:
            started.set()
            release.wait(60)

    marker = tmp_path / "marker"
    size = 1024 * 1024
    event = json.dumps({"mode": "big", "total": 256 * size, "size": size}).encode()
    with FakeRuntimeAPI([Invocation(body=event)], on_chunk=on_chunk) as api:
        env = build_env(
            api.address,
            HANDLERS,
            {"_HANDLER": "streaming_app.handler", "INSTALL_SIGTERM": "1", "MARKER_PATH": str(marker)},
        )
        spawned = spawn_collecting(fastric_cmd("streaming_app.handler"), env, HANDLERS)
        try:
            assert started.wait(60)
            spawned.proc.send_signal(signal.SIGTERM)
            returncode = spawned.proc.wait(timeout=60)
        finally:
            release.set()
            if spawned.proc.poll() is None:
                spawned.proc.kill()
                spawned.proc.wait()
            for reader in spawned.readers:
                reader.join(timeout=5)
    assert returncode == 0, bytes(spawned.stderr)[-2000:]
    assert marker.read_text() == "sigterm"


def test_python_level_streaming_post_matches_the_native_loop() -> None:
    # For an invocation path in Python (a replaced handle_event_request): the same bytes.
    from fastric._fastric import RuntimeApiClient, stream_invocation_response
    from fastric.streaming import ResponseStream

    def failing():
        yield b"one"
        raise ValueError("late")

    seen: list[tuple[str, str]] = []

    def handle_error(exc, rid):
        seen.append((type(exc).__name__, rid))
        return b'{"errorMessage": "late", "errorType": "ValueError"}', None

    with FakeRuntimeAPI([]) as api:
        client = RuntimeApiClient(api.address, "test-agent")
        stream_invocation_response(
            client, "rid-1", ResponseStream(iter(["a", b"b"]), "text/plain"), True, handle_error
        )
        stream_invocation_response(
            client, "rid-2", ResponseStream(failing(), "text/plain"), True, handle_error, invocation_id="i-2"
        )
        with pytest.raises(TypeError):
            stream_invocation_response(client, "rid-3", [b"x"], True, handle_error)
        posts = api.snapshot()
    assert [p.request_id for p in posts] == ["rid-1", "rid-2"]
    assert posts[0].raw_body == framed(b"a", b"b")
    assert posts[0].header("Content-Type") == b"text/plain"
    doc = b'{"errorMessage": "late", "errorType": "ValueError"}'
    assert posts[1].raw_body == framed(b"one", trailers=trailers("ValueError", doc))
    assert posts[1].header("Lambda-Runtime-Invocation-Id") == b"i-2"
    assert seen == [("ValueError", "rid-2")]


def test_python_invocation_path_streams_the_same_bytes() -> None:
    # FASTRIC_PURE_PYTHON=1 takes the path a patched handle_event_request takes (bootstrap.py).
    modes = ["generator", "mid_error", "first_error", "http", "async", "bad_item", "none"]
    runs = [
        run("streaming_app.handler", [{"mode": m} for m in modes], env={"FASTRIC_PURE_PYTHON": pure})
        for pure in ("0", "1")
    ]
    native, python = (
        [(p.endpoint, p.raw_body, p.body, p.header("Content-Type")) for p in r.posts] for r in runs
    )
    assert len(native) == len(modes)
    assert python == native
