"""Streaming handlers for tests/test_response_stream.py: ``event["mode"]`` picks what is streamed."""

import asyncio
import os

import fastric
import sigterm_app  # noqa: F401 - installs its SIGTERM handler when INSTALL_SIGTERM is set


def _gen(items):
    yield from items


def _fails_after(items, exc):
    yield from items
    raise exc


async def _agen(items):
    for item in items:
        await asyncio.sleep(0)
        yield item


class Token:
    pass


def _wait_for_file(path):
    # The test writes the file after it has seen the first chunk: ordering, not timing.
    import time

    while not os.path.exists(path):
        time.sleep(0.005)


def _gated(path):
    yield b"first"
    _wait_for_file(path)
    yield b"second"


def _big(total, size):
    block = b"x" * size
    for _ in range(total // size):
        yield block


def _result(event):
    mode = event["mode"]
    if mode == "generator":
        return _gen([b"alpha", "-beta-", b"", "\u00e9t\u00e9"])
    if mode == "list":
        return ["a", b"b", "c"]
    if mode == "bytes":
        return b"one chunk"
    if mode == "str":
        return "caf\u00e9"
    if mode == "none":
        return None
    if mode == "dict":
        return {"ok": True, "n": [1, 2]}
    if mode == "unmarshallable":
        return Token()
    if mode == "empty_gen":
        return _gen([])
    if mode == "mid_error":
        return _fails_after([b"part-1", b"part-2"], ValueError("broken pipe dream"))
    if mode == "first_error":
        return _fails_after([], KeyError("nothing yet"))
    if mode == "bad_item":
        return _gen([b"ok", 42])
    if mode == "bad_first_item":
        return _gen([Token()])
    if mode == "tiny":
        return _gen([b"%d" % (i % 10) for i in range(event["count"])])
    if mode == "big":
        return _big(event["total"], event["size"])
    if mode == "async":
        return _agen([b"a1", "a2", b"a3"])
    if mode == "async_error":

        async def failing():
            yield b"before"
            await asyncio.sleep(0)
            raise RuntimeError("async boom")

        return failing()
    if mode == "http":
        return fastric.HttpResponseStream(
            _gen([b"<p>", "hi", b"</p>"]),
            status_code=201,
            headers={"Content-Type": "text/html", "X-Mode": "http"},
            cookies=["a=1; Path=/"],
        )
    if mode == "gated":
        return _gated(event["path"])
    raise ValueError(mode)


@fastric.response_stream
def handler(event, context):
    return _result(event)


@fastric.response_stream(content_type="text/plain; charset=utf-8")
def text_handler(event, context):
    return _result(event)


@fastric.response_stream
def raising_handler(event, context):
    raise ZeroDivisionError("before any byte")


@fastric.response_stream(content_type="text/event-stream")
async def async_def_handler(event, context):
    await asyncio.sleep(0)
    return _agen([b"data: 1\n\n", b"data: 2\n\n"])


def plain_generator(event, context):
    return _gen([b"not streamed"])


def buffered(event, context):
    return {"buffered": True}


def url_echo(event, context):
    # Function URL, buffered: the event comes back in the body; status, headers and cookies set.
    import json

    return {
        "statusCode": 201,
        "headers": {"content-type": "application/json", "x-path": event["rawPath"]},
        "cookies": ["c1=1", "c2=2; Secure"],
        "body": json.dumps(event),
    }


def url_binary(event, context):
    import base64

    return {
        "statusCode": 200,
        "headers": {"content-type": "image/png"},
        "body": base64.b64encode(b"\x89PNG\x00\xff").decode(),
        "isBase64Encoded": True,
    }


def url_text(event, context):
    return "plain text"


@fastric.response_stream(content_type="text/plain")
def url_stream(event, context):
    import json

    return _result(json.loads(event["body"]))
