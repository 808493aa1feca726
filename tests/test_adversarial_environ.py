"""Adversarial differential tests for the invoke loop's direct environment access (rust/environ.rs,
rust/context.rs, the `_X_AMZN_TRACE_ID` update in rust/event_loop.rs): whatever a handler does to the
environment, what it sees next must be what awslambdaric 4.2.2 shows."""

from __future__ import annotations

import json

import pytest
from conftest import HANDLERS_DIR, run_client
from support.runtime_api_fake import Invocation

TRACE = "Root=1-5e1b4151-000000000000000000000001"


def _seen(
    client: str, script: list[tuple[list, str | None]], env: dict | None = None, child: bool = False
) -> list[dict]:
    invocations = [
        Invocation(body=json.dumps({"do": do, "child": child}).encode(), trace_id=trace)
        for do, trace in script
    ]
    result = run_client(client, "env_actions.handler", invocations, cwd=HANDLERS_DIR, env=env)
    posts = result.posts
    assert [p.endpoint for p in posts] == ["response"] * len(script), result.describe()
    return [json.loads(p.body) for p in posts]


def _compare(script, env=None):
    fast = _seen("fastric", script, env)
    ref = _seen("awslambdaric", script, env)
    assert fast == ref
    return fast


def test_vars_order_matches_awslambdaric():
    seen = _compare([([], TRACE)])
    assert seen[0]["keys"] == [
        "aws_request_id",
        "log_group_name",
        "log_stream_name",
        "function_name",
        "memory_limit_in_mb",
        "function_version",
        "invoked_function_arn",
        "tenant_id",
        "_w3c_fields",
        "client_context",
        "identity",
        "_epoch_deadline_time_in_ms",
    ]


def test_trace_id_removed_from_os_environ_after_handler_unsetenv():
    # os.unsetenv removes the C variable but not os.environ's entry; awslambdaric still deletes the
    # entry when the next invocation has no trace id.
    seen = _compare([([["unsetenv", "_X_AMZN_TRACE_ID"]], TRACE), ([], None)])
    assert seen[1]["environ"][0] is None
    assert seen[1]["c"][0] is None


@pytest.mark.parametrize(
    "do",
    [
        [["del", "_X_AMZN_TRACE_ID"]],
        [["putenv", "_X_AMZN_TRACE_ID", "from-putenv"]],
        [["c_setenv", "_X_AMZN_TRACE_ID", "from-c"]],
        [["c_unsetenv", "_X_AMZN_TRACE_ID"]],
        [["data_del", "_X_AMZN_TRACE_ID"]],
        [["set", "_X_AMZN_TRACE_ID", "handler-set"]],
        [["del", "AWS_LAMBDA_FUNCTION_NAME"]],
        [["unsetenv", "AWS_LAMBDA_FUNCTION_NAME"]],
        [["set_bytes", "AWS_LAMBDA_FUNCTION_NAME", "caf\xe9\xff"]],
        [["set_bytes", "_X_AMZN_TRACE_ID", "\xff\xfe"]],
        [["clear"]],
        [["replace"]],
        [["wrap_decodevalue"]],
        [["wrap_encodevalue"]],
        [["replace"], ["set", "AWS_LAMBDA_FUNCTION_NAME", "in-dict"]],
    ],
)
@pytest.mark.parametrize("next_trace", [TRACE, None])
def test_environment_changes_by_handler(do, next_trace):
    _compare([(do, TRACE), ([], next_trace), ([], TRACE)])


@pytest.mark.parametrize("odd", ["Root=é", "", "a=b=c", " spaced ", "x" * 5000])
def test_odd_trace_ids(odd):
    _compare([([], TRACE), ([], odd), ([], None), ([], odd)])


def test_child_process_and_libc_getenv_see_the_current_trace_id():
    """rust/environ.rs installs the variable with ``putenv`` from its own buffers: libc ``getenv`` and a
    child process started without ``env=`` see each invocation's value, and none once it is removed."""
    traces = [f"Root=1-5e1b4151-{i:024x};Sampled=1" for i in range(3)]
    script = [
        ([], traces[0]),
        ([], traces[1]),
        ([], None),
        ([], traces[2]),
        ([["set", "_X_AMZN_TRACE_ID", "mine"]], None),
    ]
    fast = _seen("fastric", script, child=True)
    assert fast == _seen("awslambdaric", script, child=True)
    assert [s["c"][0] for s in fast] == [traces[0], traces[1], None, traces[2], None]
    assert [s["child"] for s in fast] == [repr(traces[0]), repr(traces[1]), "None", repr(traces[2]), "None"]
    assert [s["environ"][0] for s in fast] == [s["c"][0] for s in fast]


def test_getenv_in_another_thread_reads_only_whole_values():
    """A thread reading ``_X_AMZN_TRACE_ID`` with libc ``getenv`` (GIL released) while 2,000
    invocations each install a new value, of lengths 60 to 360 bytes (so the buffers behind the
    entry grow): every value it reads is one that was set, whole (the buffers are rewritten only
    after 8 newer values and never freed)."""
    invocations = [
        Invocation(body=b"{}", trace_id=f"Root=1-{i:08x}-{i:024x};Pad={'x' * (i % 300)}") for i in range(2000)
    ]
    result = run_client("fastric", "trace_reader.handler", invocations, cwd=HANDLERS_DIR)
    last = json.loads(result.posts[-1].body)
    assert len(result.posts) == 2000, result.describe()
    assert last["bad"] == [], last
    assert last["values"] > 0 and last["reads"] > last["values"]
