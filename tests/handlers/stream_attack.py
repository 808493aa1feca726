"""Hostile streaming handlers for tests/test_adversarial_streaming.py: ``event["mode"]`` picks the attack."""

import json
import os
import time

import fastric


def _wait_for_file(path):
    # The test creates the file once it has seen the first chunk: ordering, not timing.
    while not os.path.exists(path):
        time.sleep(0.005)


def _dies_mid_stream():
    yield b"partial"
    os._exit(3)


def _fails_after(items, exc):
    yield from items
    raise exc


def _forever():
    while True:
        yield b"tick"


async def _async_forever():
    while True:  # never awaits
        yield b"tock"


def _gated(path, rest):
    yield b"first"
    _wait_for_file(path)
    yield from rest


class _RaisesInClose:
    """An iterator whose ``close()`` raises."""

    def __init__(self, count=2, size=2):
        self.sent = 0
        self.count = count
        self.size = size

    def __iter__(self):
        return self

    def __next__(self):
        self.sent += 1
        if self.sent > self.count:
            raise StopIteration
        return (b"c%d" % self.sent).ljust(self.size, b".")

    def close(self):
        raise RuntimeError("close failed")


@fastric.response_stream
def handler(event, context):
    if "rawPath" in event:  # a Function URL event: the attack is in the request body
        event = json.loads(event["body"])
    mode = event["mode"]
    if mode == "ok":
        return [b"fine"]
    if mode == "die":
        return _dies_mid_stream()
    if mode == "gated":
        return _gated(event["path"], [b"x" * 65536 for _ in range(event.get("blocks", 64))])
    if mode == "raises_in_close":
        return _RaisesInClose()
    if mode == "raises_in_close_big":  # 32 MiB: more than any socket buffer holds
        return _RaisesInClose(512, 65536)
    if mode == "http_raises_in_close_big":
        return fastric.HttpResponseStream(_RaisesInClose(512, 65536))
    if mode == "http_nan":
        return fastric.HttpResponseStream([b"body"], status_code=float("nan"))
    if mode == "http_object_header":
        return fastric.HttpResponseStream([b"body"], headers={"X-Thing": object()})
    if mode == "http_mid_error":
        return fastric.HttpResponseStream(_fails_after([b"part"], ValueError("mid-stream")), status_code=201)
    if mode == "mid_error":
        return _fails_after([b"part"], ValueError("mid-stream"))
    if mode == "forever":
        return _forever()
    if mode == "async_forever":
        return _async_forever()
    raise ValueError(mode)
