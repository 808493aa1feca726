"""The invoke loop builds the common context (no client-context/Cognito header) without running
``LambdaContext.__init__`` (rust/context.rs). It must be indistinguishable from ``__init__``'s result,
follow every environment change as ``os.environ.get`` would, and step aside when it cannot."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_client
from support.runtime_api_fake import Invocation

HANDLERS = Path(__file__).parent / "handlers"


def _run(events: list[dict], env: dict[str, str | None] | None = None) -> list[dict]:
    result = run_client(
        "fastric",
        "context_probe.handler",
        [
            Invocation(
                body=json.dumps(e).encode(),
                tenant_id="tenant-7" if i == 1 else None,
                trace_id=f"Root=1-5e1b4151-{i:024x}" if i != 2 else None,
            )
            for i, e in enumerate(events)
        ],
        cwd=HANDLERS,
        env=env,
    )
    assert result.returncode is None or result.alive_at_end, result.stderr
    return [json.loads(r.body) for r in result.posts]


def test_fast_context_equals_init_through_environment_changes():
    answers = _run(
        [
            {"set": {"AWS_LAMBDA_FUNCTION_NAME": "renamed-é", "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/x"}},
            {"unset": ["AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_LOG_STREAM_NAME"]},
            {"set_bytes": {"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "\xff512"}},
            {"set": {"AWS_LAMBDA_FUNCTION_NAME": "renamed-é"}},  # equal value, new bytes object
            {},
        ],
        env={"AWS_LAMBDA_FUNCTION_NAME": "probe", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST"},
    )
    assert len(answers) == 5
    for answer in answers:
        assert answer["runtime"] == answer["reference"]
        assert answer["init_calls_by_runtime"] == 0  # the fast path built it
    names = [dict(a["runtime"]["vars"])["function_name"] for a in answers]
    assert names == ["'probe'", "'renamed-é'", "'renamed-é'", "'renamed-é'", "'renamed-é'"]
    versions = [dict(a["runtime"]["vars"])["function_version"] for a in answers]
    assert versions == ["'$LATEST'", "'$LATEST'", "None", "None", "None"]
    memory = [dict(a["runtime"]["vars"])["memory_limit_in_mb"] for a in answers]
    assert memory[3:] == ["'\\udcff512'", "'\\udcff512'"]
    assert [k for k, _ in answers[0]["runtime"]["vars"]] == [
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
        "_epoch_deadline_time_in_ms",
    ]
    assert dict(answers[1]["runtime"]["vars"])["tenant_id"] == "'tenant-7'"
    assert answers[0]["runtime"]["identity"] == ["CognitoIdentity", None, None]
    # _X_AMZN_TRACE_ID is set in os.environ and in the C environment, and removed when absent.
    assert [a["trace"] for a in answers] == [
        [f"Root=1-5e1b4151-{i:024x}"] * 2 if i != 2 else [None, None] for i in range(5)
    ]


def test_wrapped_environ_get_falls_back_to_init():
    answers = _run([{"wrap_environ_get": True}, {}])
    assert answers[0]["init_calls_by_runtime"] == 0
    assert answers[1]["init_calls_by_runtime"] == 1
    assert dict(answers[1]["runtime"]["vars"])["function_name"] == "'wrapped'"
    assert answers[1]["runtime"] == answers[1]["reference"]


def test_replaced_os_environ_falls_back_to_init():
    answers = _run([{"replace_environ": True}, {}])
    assert answers[1]["runtime"] == answers[1]["reference"]
    assert dict(answers[1]["runtime"]["vars"])["function_name"] == "'from-replaced-mapping'"
    assert answers[1]["init_calls_by_runtime"] == 1  # stepped aside: LambdaContext(...) was called
