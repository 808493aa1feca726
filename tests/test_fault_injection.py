"""Fault injection against fastric (only): what it must do when the Runtime API misbehaves.

awslambdaric crashes or segfaults on most of these (awslambdaric-behaviour.md section 14); fastric must:

- reconnect and retry ``/next`` after connection refused / reset / garbage / a stale keep-alive
  connection, with bounded backoff, then exit 1 with one clear ``[fastric] `` log line;
- exit promptly (non-zero) on a 500 from any endpoint;
- log and carry on after 400 / 403 / 410 / 413 on a post;
- re-send a result POST once, on a fresh connection, when a reused connection died before any
  answer byte; never more than once;
- treat a ``/next`` without Content-Type as JSON; survive invalid UTF-8 in a header value;
- read a relative deadline (``600000``) as now + 600 s;
- run a user SIGTERM handler while waiting on ``/next``; without one, die of SIGTERM.
"""

from __future__ import annotations

import json
import socket
from collections import Counter
from pathlib import Path

import pytest
from conftest import HANDLERS_DIR, fastric_cmd
from support.runtime_api_fake import FakeRuntimeAPI, Fault, Invocation, RunResult, request_id, run_runtime

JSON = b"application/json"


def run(
    handler: str,
    invocations: list[Invocation],
    faults: list[Fault] = (),
    env: dict | None = None,
    **kwargs: object,
) -> RunResult:
    with FakeRuntimeAPI(
        invocations, faults=faults, max_response_bytes=kwargs.pop("max_response_bytes", 6_291_556)
    ) as api:
        return run_runtime(
            fastric_cmd(handler),
            api,
            env={"_HANDLER": handler, **(env or {})},
            cwd=str(HANDLERS_DIR),
            **kwargs,
        )


def posts_per_request_id(result: RunResult) -> Counter:
    return Counter(p.request_id for p in result.posts)


def fastric_lines(stderr: bytes) -> list[bytes]:
    return [line for line in stderr.splitlines() if line.startswith(b"[fastric] ")]


def two_echo() -> list[Invocation]:
    return [Invocation(body=b'{"i": 1}'), Invocation(body=b'{"i": 2}')]


def assert_two_echoed(result: RunResult) -> None:
    assert [(p.endpoint, p.request_id, p.body) for p in result.posts if p.complete] == [
        ("response", request_id(1), b'{"i": 1}'),
        ("response", request_id(2), b'{"i": 2}'),
    ], result.describe()
    assert result.alive_at_end, result.describe()


# -- /next transport failures: reconnect and retry ----------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        Fault("next", action="reset"),
        Fault("next", action="reset", count=3),
        Fault("next", action="refuse", refuse_s=0.5),
        Fault("next", action="garbage"),
        Fault("next", action="reset_mid_body"),
        Fault("next", nth=1, action="reset"),
    ],
    ids=["reset", "reset-3x", "refused", "garbage-status-line", "reset-mid-body", "reset-second-next"],
)
def test_next_transport_failure_is_retried(fault: Fault) -> None:
    result = run("faults.echo", two_echo(), [fault])
    assert_two_echoed(result)
    assert posts_per_request_id(result) == Counter({request_id(1): 1, request_id(2): 1})


@pytest.mark.parametrize("endpoint", ["next", "response"])
def test_stale_keep_alive_connection_is_replaced(endpoint: str) -> None:
    """The server closes the keep-alive connection after answering; the next request must reconnect.

    The handler takes 0.3 s so that the server's close has reached the client before it posts: a
    close racing the POST itself makes fastric re-send it once
    (test_post_reset_on_a_reused_connection_is_resent_once), which this test is not about."""
    result = run("faults.slow_echo", two_echo(), [Fault(endpoint, action="close_after", count=2)])
    assert_two_echoed(result)
    assert posts_per_request_id(result) == Counter({request_id(1): 1, request_id(2): 1})
    assert len({r.conn for r in result.requests}) >= 2


def test_slow_drip_answers_are_read_completely() -> None:
    result = run(
        "faults.echo", two_echo(), [Fault("next", action="drip", count=2), Fault("post", action="drip")]
    )
    assert_two_echoed(result)


def test_next_unreachable_gives_up_with_one_clear_line() -> None:
    """Nothing listens: bounded retries, then exit 1 with a ``[fastric] `` diagnostic, no traceback."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with FakeRuntimeAPI([]) as api:
        result = run_runtime(
            fastric_cmd("faults.echo"),
            api,
            env={"AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}", "_HANDLER": "faults.echo"},
            cwd=str(HANDLERS_DIR),
            timeout_s=60,
        )
    assert not result.timed_out, "retries must be bounded"
    assert result.returncode == 1, result.describe()
    lines = fastric_lines(result.stderr)
    assert lines, result.describe()
    assert result.stderr.rstrip(b"\n").splitlines()[-1].startswith(b"[fastric] ")
    assert b"Traceback" not in result.stderr


def test_next_reset_forever_gives_up() -> None:
    result = run("faults.echo", two_echo(), [Fault("next", action="reset", count=10**6)], timeout_s=60)
    assert not result.timed_out, "retries must be bounded"
    assert result.returncode == 1, result.describe()
    assert fastric_lines(result.stderr), result.describe()
    assert result.posts == []


# -- 500: exit promptly ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("handler", "fault"),
    [
        ("faults.echo", Fault("next", status=500)),
        ("faults.echo", Fault("response", status=500)),
        ("faults.fail", Fault("error", status=500)),
    ],
    ids=["next", "response", "error"],
)
def test_500_exits_promptly(handler: str, fault: Fault) -> None:
    result = run(handler, two_echo(), [fault])
    assert not result.alive_at_end, result.describe()
    assert result.returncode not in (0, None), result.describe()
    assert len(result.posts) == (0 if fault.endpoint == "next" else 1), "no retry, no further invocation"
    assert len(result.by_endpoint("next")) == 1


def test_500_on_init_error_exits() -> None:
    with FakeRuntimeAPI([Invocation()], faults=[Fault("init_error", status=500)]) as api:
        result = run_runtime(fastric_cmd("no_such_module_xyz.handler"), api, env={}, cwd=str(HANDLERS_DIR))
    assert result.returncode not in (0, None)
    assert len(result.by_endpoint("init_error")) == 1
    assert result.by_endpoint("next") == []


# -- 4xx on a post: log and carry on, never resend ---------------------------------------------------


@pytest.mark.parametrize("status", [400, 403, 410, 413])
@pytest.mark.parametrize(("handler", "endpoint"), [("faults.echo", "response"), ("faults.fail", "error")])
def test_4xx_on_post_carries_on(status: int, handler: str, endpoint: str) -> None:
    result = run(handler, two_echo(), [Fault(endpoint, status=status)])
    assert result.alive_at_end, result.describe()
    assert [(p.endpoint, p.request_id) for p in result.posts] == [
        (endpoint, request_id(1)),
        (endpoint, request_id(2)),
    ], result.describe()
    assert result.posts[0].status == status and result.posts[1].status == 202


def test_response_over_size_limit_gets_413_and_loop_continues() -> None:
    invocations = [Invocation(body=json.dumps({"n": 7_000_000}).encode()), Invocation(body=b'{"n": 3}')]
    result = run("faults.big", invocations)
    assert result.alive_at_end, result.describe()
    first, second = result.posts
    assert (first.request_id, first.status, len(first.body)) == (request_id(1), 413, 7_000_002)
    assert (second.request_id, second.status, second.body) == (request_id(2), 202, b'"zzz"')
    assert posts_per_request_id(result)[request_id(1)] == 1


@pytest.mark.parametrize("action", ["reset", "reset_mid_body"])
def test_post_reset_on_a_reused_connection_is_resent_once(action: str) -> None:
    """The server resets the kept-alive connection after reading all (or half) of the first result
    POST, with no answer byte: the POST is re-sent once, on a fresh connection, and delivered."""
    body = json.dumps({"i": 1, "pad": "p" * 20000}).encode()
    result = run(
        "faults.echo",
        [Invocation(body=body), Invocation(body=b'{"i": 2}')],
        [Fault("response", action=action)],
    )
    first = [p for p in result.posts if p.request_id == request_id(1)]
    assert [(p.status, p.complete) for p in first] == [(None, action == "reset"), (202, True)], (
        result.describe()
    )
    assert first[0].conn != first[1].conn and first[1].body == body
    assert result.alive_at_end, result.describe()
    last = result.posts[-1]
    assert (last.request_id, last.body, last.status) == (request_id(2), b'{"i": 2}', 202)


# -- /next content -----------------------------------------------------------------------------------


def test_next_without_content_type_is_json() -> None:
    result = run("faults.trace", [Invocation(body=b'{"a": 1}', content_type=None)])
    assert [(p.endpoint, p.body) for p in result.posts] == [
        ("response", b'{"event_type": "dict", "trace": null}')
    ], result.describe()
    assert result.alive_at_end


def test_invalid_utf8_header_value_loop_survives() -> None:
    invocations = [
        Invocation(body=b'{"i": 1}', trace_id=b"Root=1-\xff\xfe-bad"),
        Invocation(body=b'{"i": 2}', trace_id="Root=1-ok"),
    ]
    result = run("faults.trace", invocations)
    assert result.alive_at_end, result.describe()
    assert posts_per_request_id(result) == Counter({request_id(1): 1, request_id(2): 1}), result.describe()
    last = result.posts[-1]
    assert (last.endpoint, last.body) == ("response", b'{"event_type": "dict", "trace": "Root=1-ok"}')


def test_relative_deadline_is_now_plus_value() -> None:
    result = run("faults.remaining", [Invocation(deadline_header="600000")])
    (post,) = result.posts
    doc = json.loads(post.body)
    assert doc["type"] == "int"
    assert 300_000 < doc["remaining"] <= 600_000, doc


# -- signals -----------------------------------------------------------------------------------------


def test_sigterm_runs_user_handler_while_waiting_on_next(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    result = run(
        "sigterm_app.handler",
        [Invocation()],
        env={"INSTALL_SIGTERM": "1", "MARKER_PATH": str(marker)},
        after_signal="SIGTERM",
        grace_s=5,
    )
    assert [p.body for p in result.posts] == [b'{"ok": true}']
    assert marker.read_text() == "sigterm", result.describe()
    assert result.returncode == 0, result.describe()


def test_sigterm_without_handler_default_disposition(tmp_path: Path) -> None:
    result = run("sigterm_app.handler", [Invocation()], after_signal="SIGTERM", grace_s=5)
    assert [p.body for p in result.posts] == [b'{"ok": true}']
    assert result.returncode == -15, result.describe()


# -- API path prefix on the init-error path ------------------------------------------------------------


def test_init_error_with_api_prefix() -> None:
    """awslambdaric's http.client rejects ``host:port/prefix`` (InvalidURL "nonnumeric port") and never
    posts the init error; fastric must post it under the prefix and exit 1."""
    with FakeRuntimeAPI([Invocation()], api_prefix="/fn-a") as api:
        result = run_runtime(
            fastric_cmd("faults.missing"), api, env={"_HANDLER": "faults.missing"}, cwd=str(HANDLERS_DIR)
        )
    (req,) = result.by_endpoint("init_error")
    assert req.target == "/fn-a/2018-06-01/runtime/init/error"
    assert req.body == (
        b'{"errorMessage": "Handler \'missing\' missing on module \'faults\'", "errorType": "Runtime.HandlerNotFound", '
        b'"requestId": "", "stackTrace": []}'
    )
    assert req.header("Lambda-Runtime-Function-Error-Type") == b"Runtime.HandlerNotFound"
    assert result.returncode == 1


def test_unusable_runtime_api_address_is_one_line() -> None:
    """A malformed AWS_LAMBDA_RUNTIME_API: one `[fastric]` line naming the value, exit 1, no traceback."""
    with FakeRuntimeAPI([]) as api:
        result = run_runtime(
            fastric_cmd("faults.echo"),
            api,
            env={"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:notaport", "_HANDLER": "faults.echo"},
            cwd=str(HANDLERS_DIR),
            timeout_s=30,
        )
    assert result.returncode == 1, result.describe()
    assert b"Traceback" not in result.stderr
    assert result.stderr.startswith(
        b"[fastric] ERROR AWS_LAMBDA_RUNTIME_API='127.0.0.1:notaport' is not a usable address"
    )


def test_version_and_help() -> None:
    """`python -m fastric --version` / `--help` print and exit 0 (no handler can have those names)."""
    import subprocess

    from fastric import __version__

    version = subprocess.run([*fastric_cmd("--version")], capture_output=True, check=True)
    assert version.stdout == f"fastric {__version__}\n".encode()
    usage = subprocess.run([*fastric_cmd("--help")], capture_output=True, check=True)
    assert b"python -m fastric [HANDLER]" in usage.stdout


def test_missing_native_module_is_one_line(tmp_path) -> None:
    """A fastric without an extension for this interpreter (e.g. a layer built for another Python) stops
    with one line and exit 1 (there is no pure-Python transport to fall back on)."""
    import shutil
    import subprocess
    import sys

    import fastric

    copy = tmp_path / "fastric"
    shutil.copytree(
        Path(fastric.__file__).parent, copy, ignore=shutil.ignore_patterns("_fastric*.so", "__pycache__")
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path), "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9"}
    result = subprocess.run(
        [sys.executable, "-m", "fastric", "app.handler"], env=env, cwd=tmp_path, capture_output=True
    )
    assert result.returncode == 1
    assert result.stderr.startswith(
        b"[fastric] the native module fastric._fastric cannot be imported on Python"
    )
    assert b"Traceback" not in result.stderr
