"""Handlers for benches/streaming_bench.py: the same bytes streamed or buffered."""

import fastric

_BLOCKS = {}


def _block(size):
    block = _BLOCKS.get(size)
    if block is None:
        block = _BLOCKS[size] = b"x" * size
    return block


def _chunks(event):
    block = _block(event["size"])
    for _ in range(event["count"]):
        yield block


@fastric.response_stream
def streamed(event, context):
    """``event["count"]`` chunks of ``event["size"]`` bytes."""
    return _chunks(event)


def buffered(event, context):
    """The same bytes as one buffered ``str`` result (JSON-encoded: two quotes more)."""
    return "x" * (event["size"] * event["count"])
