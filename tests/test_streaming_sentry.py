"""Response streaming and ``async def`` handlers with an APM's patch points in use: sentry-sdk's
``AwsLambdaIntegration`` replaces ``bootstrap.handle_event_request``, so every invocation takes the
Python path. Streams are delivered byte for byte as on the native path and errors are posted.

What Sentry sees (documented in README): an exception raised by the decorated handler itself, before
it returns, is an error event (and the /error post). A mid-stream error is raised while the runtime
iterates the returned generator, after Sentry's wrapper has returned: Sentry records a successful
invocation (its transaction, no error event); the client gets the error in the stream's trailers.
An ``async def`` handler (``FASTRIC_ASYNC_HANDLERS=1``) is awaited inside Sentry's wrapper, so its
exceptions are error events as for a sync handler.
"""

from __future__ import annotations

import base64
import json

import pytest
from conftest import REF_MISSING_REASON, REF_PYTHON, TESTS_DIR
from support.acceptance import SentryServer, fastric_path_dir, venvs
from support.runtime_api_fake import FakeRuntimeAPI, Invocation, request_id, run_runtime

if REF_PYTHON is None:
    pytest.skip(REF_MISSING_REASON, allow_module_level=True)

APP_DIR = TESTS_DIR / "acceptance" / "app"


def run(handler: str, events: list[dict], tmp_path, env: dict | None = None):
    python = venvs()["fastric"] / "bin" / "python"
    with SentryServer() as sentry:
        full = {"_HANDLER": handler, "SENTRY_DSN": sentry.dsn, "PYTHONPATH": str(fastric_path_dir(tmp_path))}
        full.update(env or {})
        with FakeRuntimeAPI(
            [Invocation(body=json.dumps(e).encode(), deadline_ms=60_000) for e in events]
        ) as api:
            result = run_runtime(
                [str(python), "-m", "fastric", handler],
                api,
                env=full,
                cwd=str(APP_DIR),
                timeout_s=120,
                settle_s=1.0,
            )
        return result, sentry.take()


def errors(items) -> list[str]:
    return [p["exception"]["values"][-1]["type"] for t, p in items if t == "event"]


def test_streams_and_errors_through_the_sentry_patched_path(tmp_path) -> None:
    result, items = run("streaming_sentry_app.stream", [{}, {"fail": True}, {"raise": True}], tmp_path)
    posts = result.posts
    assert [p.endpoint for p in posts] == ["response", "response", "error"], result.describe()
    assert posts[0].raw_body == b"4\r\none \r\n4\r\ntwo \r\n0\r\n\r\n"
    assert posts[0].header("Content-Type") == b"text/plain"
    assert posts[1].chunks == [b"one ", b"two "]
    assert posts[1].trailer("Lambda-Runtime-Function-Error-Type") == b"ValueError"
    doc = json.loads(base64.b64decode(posts[1].trailer("Lambda-Runtime-Function-Error-Body")))
    assert (doc["errorType"], doc["errorMessage"], doc["requestId"]) == (
        "ValueError",
        "mid-stream failure",
        request_id(2),
    )
    assert json.loads(posts[2].body)["errorType"] == "KeyError"
    # Sentry: the error raised before the stream is an event; the mid-stream one is not.
    assert errors(items) == ["KeyError"]
    assert len([t for t, _ in items if t == "transaction"]) == 3


def test_async_handler_through_the_sentry_patched_path(tmp_path) -> None:
    result, items = run(
        "streaming_sentry_app.handler", [{}, {"raise": True}, {}], tmp_path, {"FASTRIC_ASYNC_HANDLERS": "1"}
    )
    posts = result.posts
    assert [p.endpoint for p in posts] == ["response", "error", "response"], result.describe()
    assert json.loads(posts[0].body) == {"async": True, "request_id": request_id(1)}
    assert json.loads(posts[1].body)["errorType"] == "RuntimeError"
    assert errors(items) == ["RuntimeError"]
