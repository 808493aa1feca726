"""fastric-rie's response streaming with boto3 (pinned in requirements-dev.txt): the
``InvokeWithResponseStream`` endpoint forwards the runtime's chunks as ``PayloadChunk`` events and ends
with ``InvokeComplete``; the classic ``Invoke`` keeps working for streaming functions (buffered)."""

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
    def start(handler: str, env: dict | None = None):
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


def stream(rie, event: dict) -> tuple[dict, list[dict]]:
    answer = rie.client.invoke_with_response_stream(
        FunctionName="function", Payload=json.dumps(event).encode()
    )
    return answer, list(answer["EventStream"])


def test_streamed_chunks_arrive_as_payload_chunks(start) -> None:
    rie = start("streaming_app.handler")
    answer, events = stream(rie, {"mode": "generator"})
    assert answer["StatusCode"] == 200
    assert answer["ResponseStreamContentType"] == "application/octet-stream"
    assert answer["ExecutedVersion"] == "$LATEST"
    assert events == [
        {"PayloadChunk": {"Payload": b"alpha"}},
        {"PayloadChunk": {"Payload": b"-beta-"}},
        {"PayloadChunk": {"Payload": "\u00e9t\u00e9".encode()}},
        {"InvokeComplete": {}},
    ]
    answer, events = stream(rie, {"mode": "http"})
    assert answer["ResponseStreamContentType"] == "application/vnd.awslambda.http-integration-response"
    assert b"".join(e["PayloadChunk"]["Payload"] for e in events[:-1]).endswith(b"\0" * 8 + b"<p>hi</p>")


def test_mid_stream_error_is_reported_in_invoke_complete(start) -> None:
    rie = start("streaming_app.handler")
    _, events = stream(rie, {"mode": "mid_error"})
    assert events[:2] == [{"PayloadChunk": {"Payload": b"part-1"}}, {"PayloadChunk": {"Payload": b"part-2"}}]
    complete = events[2]["InvokeComplete"]
    assert complete["ErrorCode"] == "ValueError"
    details = json.loads(complete["ErrorDetails"])
    assert details["errorMessage"] == "broken pipe dream" and details["errorType"] == "ValueError"
    assert len(events) == 3


def test_error_before_the_stream_and_buffered_functions(start) -> None:
    rie = start("streaming_app.handler")
    _, events = stream(rie, {"mode": "first_error"})
    assert len(events) == 1
    assert events[0]["InvokeComplete"]["ErrorCode"] == "Unhandled"
    assert json.loads(events[0]["InvokeComplete"]["ErrorDetails"])["errorType"] == "KeyError"
    rie.stop()
    rie = start("streaming_app.buffered")
    answer, events = stream(rie, {})
    assert answer["ResponseStreamContentType"] == "application/json"
    assert events == [{"PayloadChunk": {"Payload": b'{"buffered": true}'}}, {"InvokeComplete": {}}]


def test_classic_invoke_buffers_a_streaming_function(start) -> None:
    rie = start("streaming_app.handler")
    answer = rie.client.invoke(FunctionName="function", Payload=b'{"mode": "list"}')
    assert answer["StatusCode"] == 200
    assert answer["Payload"].read() == b"abc"
    assert "FunctionError" not in answer


def test_first_chunk_is_forwarded_while_the_handler_runs(start, tmp_path) -> None:
    gate = tmp_path / "gate"
    rie = start("streaming_app.handler")
    answer = rie.client.invoke_with_response_stream(
        FunctionName="function", Payload=json.dumps({"mode": "gated", "path": str(gate)}).encode()
    )
    events = iter(answer["EventStream"])
    assert next(events) == {"PayloadChunk": {"Payload": b"first"}}
    gate.write_bytes(b"go")  # the handler is still blocked on this file
    assert list(events) == [{"PayloadChunk": {"Payload": b"second"}}, {"InvokeComplete": {}}]


def test_streamed_response_over_200_mib_is_cut_with_the_service_error(start) -> None:
    # The documented limit (AWS Lambda developer guide, configuration-response-streaming: 200 MB):
    # 209,715,200 bytes pass, the next chunk ends the invocation.
    rie = start("streaming_app.handler")
    size = 1024 * 1024
    answer = rie.client.invoke_with_response_stream(
        FunctionName="function",
        Payload=json.dumps({"mode": "big", "total": 201 * size, "size": size}).encode(),
    )
    received = 0
    complete = None
    for event in answer["EventStream"]:
        if "PayloadChunk" in event:
            received += len(event["PayloadChunk"]["Payload"])
        else:
            complete = event["InvokeComplete"]
    assert received == 200 * size
    assert complete == {
        "ErrorCode": "Function.ResponseSizeTooLarge",
        "ErrorDetails": "Response payload size exceeded maximum allowed payload size (209715200 bytes).",
    }
    # The environment keeps serving.
    _, events = stream(rie, {"mode": "bytes"})
    assert events == [{"PayloadChunk": {"Payload": b"one chunk"}}, {"InvokeComplete": {}}]
