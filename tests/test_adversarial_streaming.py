"""Hostile input against response streaming: runtimes that die mid-stream, clients that hang up
mid-stream, iterators whose ``close()`` raises, odd ``HttpResponseStream`` metadata. Each test pins
what the emulator and the runtime do with it (handlers in ``handlers/stream_attack.py``)."""

from __future__ import annotations

import json
import sys

import boto3
import botocore.config
import pytest
from conftest import HANDLERS_DIR
from test_rie_fixtures import rie_factory  # noqa: F401

FASTRIC = [sys.executable, "-m", "fastric"]


@pytest.fixture
def start(rie_factory):  # noqa: F811
    def start(handler: str = "stream_attack.handler", env: dict | None = None):
        rie = rie_factory([*FASTRIC, handler], env=env, cwd=HANDLERS_DIR)
        rie.client = boto3.client(
            "lambda",
            endpoint_url=rie.invoke_url.split("/2015-03-31/")[0],
            region_name="us-east-1",
            aws_access_key_id="x",
            aws_secret_access_key="x",
            config=botocore.config.Config(retries={"max_attempts": 1}, read_timeout=60),
        )
        return rie

    return start


def stream(rie, event: dict) -> list[dict]:
    answer = rie.client.invoke_with_response_stream(
        FunctionName="function", Payload=json.dumps(event).encode()
    )
    return list(answer["EventStream"])


def test_runtime_dying_mid_stream_is_not_reported_as_success(start) -> None:
    # The runtime writes one chunk, then its process exits: the chunked body never ends. The
    # invocation must end with the exit error, not with an empty (successful) InvokeComplete.
    rie = start()
    events = stream(rie, {"mode": "die"})
    assert events[0] == {"PayloadChunk": {"Payload": b"partial"}}
    complete = events[-1]["InvokeComplete"]
    assert complete.get("ErrorCode") == "Runtime.ExitError", events
    assert len(events) == 2
    # The emulator starts a new runtime and keeps serving.
    assert stream(rie, {"mode": "ok"}) == [{"PayloadChunk": {"Payload": b"fine"}}, {"InvokeComplete": {}}]
