"""Differential tests: return values, handler exceptions and the context object, fastric vs awslambdaric.

Each script runs in one process per client; every invocation is compared as its own test.
"""

from __future__ import annotations

import json

import pytest
from conftest import HANDLERS_DIR, REF_MISSING_REASON, REF_PYTHON
from support.differential import assert_same_run, assert_same_slice, run_pair
from support.runtime_api_fake import Invocation

if REF_PYTHON is None:
    pytest.skip(REF_MISSING_REASON, allow_module_level=True)

ENVS = {
    "default-env": {},
    "python3.12-env": {"AWS_EXECUTION_ENV": "AWS_Lambda_python3.12"},
}

RETURN_KINDS = [
    "none", "str", "empty_str", "int", "negative_int", "big_int", "float", "float_forms", "true", "false",
    "nested", "dict_keys", "decimal", "decimal_nan", "nan", "non_bmp", "escapes", "bytes", "empty_bytes",
    "nested_bytes", "nested_bad_bytes", "set", "datetime", "date", "namedtuple", "asdict", "intenum",
    "tuple_key", "circular", "object",
]  # fmt: skip

ERROR_KINDS = [
    "custom", "value", "key", "empty", "chained", "implicit_chain", "non_ascii", "big", "nested_class",
    "type_error", "ok",
]  # fmt: skip


def _kinds(kinds: list[str]) -> list[Invocation]:
    return [Invocation(body=json.dumps({"kind": k}).encode()) for k in kinds]


# -- return values -------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=sorted(ENVS))
def return_runs(request: pytest.FixtureRequest) -> dict:
    return run_pair(
        REF_PYTHON, "returns.handler", _kinds(RETURN_KINDS), cwd=str(HANDLERS_DIR), env=ENVS[request.param]
    )


@pytest.mark.parametrize("index", range(len(RETURN_KINDS)), ids=RETURN_KINDS)
def test_return_value_identical(return_runs: dict, index: int) -> None:
    assert_same_slice(return_runs, index)


def test_return_run_identical(return_runs: dict) -> None:
    assert_same_run(return_runs)


# -- handler exceptions --------------------------------------------------------------------------


@pytest.fixture(scope="module", params=sorted(ENVS))
def error_runs(request: pytest.FixtureRequest) -> dict:
    return run_pair(
        REF_PYTHON, "errors.handler", _kinds(ERROR_KINDS), cwd=str(HANDLERS_DIR), env=ENVS[request.param]
    )


@pytest.mark.parametrize("index", range(len(ERROR_KINDS)), ids=ERROR_KINDS)
def test_handler_exception_identical(error_runs: dict, index: int) -> None:
    assert_same_slice(error_runs, index)


def test_error_run_identical(error_runs: dict) -> None:
    assert_same_run(error_runs)


# -- the context object --------------------------------------------------------------------------

CONTEXT_INVOCATIONS = {
    "all-headers": Invocation(
        trace_id="Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        client_context=json.dumps(
            {
                "custom": {"k": "v"},
                "env": {"e": "1"},
                "client": {"installation_id": "i1", "app_title": "t \u00e9"},
                "w3c": {"traceparent": "00-abc-def-01", "tracestate": 5, "baggage": "b=1", "other": "x"},
            },
            ensure_ascii=False,
        ),
        cognito_identity='{"cognitoIdentityId": "cid", "cognitoIdentityPoolId": "pool"}',
        tenant_id="tenant-A",
        invocation_id="inv-123",
    ),
    "minimal": Invocation(),
    "no-deadline-no-arn": Invocation(deadline_ms=None, arn=None),
    "past-deadline": Invocation(deadline_ms=-5000),
    "client-context-no-client": Invocation(client_context='{"LastSequence": "0"}'),
    "cognito-partial": Invocation(cognito_identity='{"cognitoIdentityId": "only-id"}'),
    "bad-client-context": Invocation(client_context="not-json"),
    "bad-cognito": Invocation(cognito_identity="{'x': 1}"),
    "empty-client-context": Invocation(client_context=""),
    "trace-absent-after-present": Invocation(),
    "custom-request-id": Invocation(request_id="custom-id_42"),
}
CONTEXT_ENV = {
    "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/case",
    "AWS_LAMBDA_LOG_STREAM_NAME": "2024/01/01/[$LATEST]abc",
}


@pytest.fixture(scope="module", params=sorted(ENVS))
def context_runs(request: pytest.FixtureRequest) -> dict:
    env = dict(CONTEXT_ENV, **ENVS[request.param])
    return run_pair(
        REF_PYTHON,
        "context_attrs.handler",
        list(CONTEXT_INVOCATIONS.values()),
        cwd=str(HANDLERS_DIR),
        env=env,
    )


@pytest.mark.parametrize("index", range(len(CONTEXT_INVOCATIONS)), ids=list(CONTEXT_INVOCATIONS))
def test_context_attributes_identical(context_runs: dict, index: int) -> None:
    assert_same_slice(context_runs, index)


def test_context_run_identical(context_runs: dict) -> None:
    assert_same_run(context_runs)
