"""``async def`` handlers with ``FASTRIC_ASYNC_HANDLERS=1``: awaited on one event loop for the whole
execution environment (clients made at init or in an earlier invocation keep working), uvloop when it
is installed; errors, context and logging as for sync handlers. Without the flag the coroutine stays
awslambdaric's ``Runtime.MarshalError`` (case C26, tested in test_cases.py)."""

from __future__ import annotations

import json

from conftest import HANDLERS_DIR, fastric_cmd
from support.runtime_api_fake import FakeRuntimeAPI, Invocation, RunResult, request_id, run_runtime

HANDLERS = str(HANDLERS_DIR)


def run(handler: str, events: list[dict], env: dict) -> RunResult:
    with FakeRuntimeAPI([Invocation(body=json.dumps(e).encode()) for e in events]) as api:
        return run_runtime(fastric_cmd(handler), api, env={"_HANDLER": handler, **env}, cwd=HANDLERS)


def test_one_loop_and_one_client_across_warm_invocations() -> None:
    result = run("async_app.handler", [{}, {}, {}], {"FASTRIC_ASYNC_HANDLERS": "1"})
    bodies = [json.loads(p.body) for p in result.posts]
    assert [p.endpoint for p in result.posts] == ["response"] * 3, result.describe()
    for n, body in enumerate(bodies, 1):
        assert body == {
            "init_calls": n,
            "warm_calls": n,
            "same_loop_as_init": True,
            "loop_type": "asyncio.unix_events._UnixSelectorEventLoop",
            "request_id": request_id(n),
            "remaining_positive": True,
        }
    # Logging inside the coroutine carries the invocation's request id, as for a sync handler.
    for n in (1, 2, 3):
        assert b"[WARNING]\t" in result.stdout
        assert f"\t{request_id(n)}\tinside {request_id(n)}".encode() in result.stdout
    assert result.posts[0].header("Content-Type") == b"application/json"


def test_async_error_document_matches_a_sync_handler() -> None:
    result = run("async_app.handler", [{"fail": True}], {"FASTRIC_ASYNC_HANDLERS": "1"})
    post = result.posts[0]
    assert post.endpoint == "error"
    with open(f"{HANDLERS}/async_app.py") as f:
        line = next(i for i, text in enumerate(f, 1) if 'raise ValueError("async failure")' in text)
    assert (
        post.body
        == json.dumps(
            {
                "errorMessage": "async failure",
                "errorType": "ValueError",
                "requestId": request_id(1),
                "stackTrace": [
                    f'  File "{HANDLERS}/async_app.py", line {line}, in handler\n    raise ValueError("async failure")\n'
                ],
            }
        ).encode()
    )


def test_sync_handlers_are_unchanged_under_the_flag() -> None:
    result = run("async_app.sync_handler", [{}], {"FASTRIC_ASYNC_HANDLERS": "1"})
    assert result.posts[0].body == b'{"sync": true}'


def test_without_the_flag_the_coroutine_is_a_marshal_error() -> None:
    result = run("async_app.handler", [{}], {})
    assert result.posts[0].endpoint == "error"
    assert b"Object of type coroutine is not JSON serializable" in result.posts[0].body


def test_uvloop_is_used_when_installed(tmp_path) -> None:
    # A stand-in `uvloop` module on the path: the runtime must take its loop.
    (tmp_path / "uvloop.py").write_text(
        "import asyncio\n\n\nclass Loop(asyncio.SelectorEventLoop):\n    pass\n\n\n"
        "def new_event_loop():\n    return Loop()\n"
    )
    result = run("async_app.handler", [{}, {}], {"FASTRIC_ASYNC_HANDLERS": "1", "PYTHONPATH": str(tmp_path)})
    bodies = [json.loads(p.body) for p in result.posts]
    assert [b["loop_type"] for b in bodies] == ["uvloop.Loop", "uvloop.Loop"], result.describe()
    assert [b["warm_calls"] for b in bodies] == [1, 2]
