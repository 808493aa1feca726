"""LambdaContext: attributes, types, repr, w3c, remaining time, log() routing (awslambdaric 4.2.2 parity)."""

import logging
import os
import subprocess
import sys
import time

import pytest
from conftest import REF_PYTHON
from fastric import bootstrap
from fastric.errors import FaultException
from fastric.lambda_context import Client, ClientContext, CognitoIdentity, LambdaContext

needs_ref = pytest.mark.skipif(REF_PYTHON is None, reason="reference awslambdaric venv not present")

ENV = {
    "AWS_LAMBDA_LOG_GROUP_NAME": "lg",
    "AWS_LAMBDA_LOG_STREAM_NAME": "ls",
    "AWS_LAMBDA_FUNCTION_NAME": "fname",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
}


@pytest.fixture
def lambda_env(monkeypatch):
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)


def full_context():
    return LambdaContext(
        "rid-1",
        {
            "custom": {"k": "v"},
            "env": {"e": "1"},
            "client": {"installation_id": "i1", "app_title": "t"},
            "w3c": {"traceparent": "00-abc-def-01", "tracestate": 5, "baggage": "b=1", "other": "x"},
        },
        {"cognitoIdentityId": "cid", "cognitoIdentityPoolId": "pool"},
        1_000,
        "arn:aws:lambda:us-east-1:000000000000:function:f",
        "tenant-A",
    )


EXPECTED_REPR = (
    "LambdaContext([aws_request_id=rid-1,log_group_name=lg,log_stream_name=ls,function_name=fname,"
    "memory_limit_in_mb=128,function_version=$LATEST,invoked_function_arn=arn:aws:lambda:us-east-1:000000000000:"
    "function:f,client_context=ClientContext([custom={'k': 'v'},env={'e': '1'},client=Client([installation_id=i1,"
    "app_title=t,app_version_name=None,app_version_code=None,app_package_name=None])]),identity=CognitoIdentity("
    "[cognito_identity_id=cid,cognito_identity_pool_id=pool]),tenant_id=tenant-A])"
)


def test_attributes_and_types(lambda_env):
    ctx = full_context()
    assert ctx.aws_request_id == "rid-1"
    assert ctx.log_group_name == "lg"
    assert ctx.log_stream_name == "ls"
    assert ctx.function_name == "fname"
    assert ctx.memory_limit_in_mb == "128"  # a str, as in awslambdaric
    assert ctx.function_version == "$LATEST"
    assert ctx.invoked_function_arn == "arn:aws:lambda:us-east-1:000000000000:function:f"
    assert ctx.tenant_id == "tenant-A"
    assert isinstance(ctx.client_context, ClientContext)
    assert ctx.client_context.custom == {"k": "v"}
    assert ctx.client_context.env == {"e": "1"}
    assert isinstance(ctx.client_context.client, Client)
    assert ctx.client_context.client.installation_id == "i1"
    assert ctx.client_context.client.app_package_name is None
    assert isinstance(ctx.identity, CognitoIdentity)
    assert (ctx.identity.cognito_identity_id, ctx.identity.cognito_identity_pool_id) == ("cid", "pool")
    assert ctx._epoch_deadline_time_in_ms == 1_000


def test_repr_exact(lambda_env):
    assert repr(full_context()) == EXPECTED_REPR


def test_slots():
    assert ClientContext.__slots__ == ["custom", "env", "client"]
    assert Client.__slots__ == [
        "installation_id",
        "app_title",
        "app_version_name",
        "app_version_code",
        "app_package_name",
    ]
    assert CognitoIdentity.__slots__ == ["cognito_identity_id", "cognito_identity_pool_id"]
    with pytest.raises(AttributeError):
        CognitoIdentity().other = 1


def test_w3c_is_stripped_and_copied(lambda_env):
    cc = {"custom": None, "w3c": {"traceparent": "00-abc-def-01", "tracestate": 5, "baggage": "b=1"}}
    ctx = LambdaContext("rid", cc, None, 0)
    assert "w3c" not in cc
    assert ctx.w3c() == {"traceparent": "00-abc-def-01", "baggage": "b=1"}
    ctx.w3c()["x"] = "y"
    assert ctx.w3c() == {"traceparent": "00-abc-def-01", "baggage": "b=1"}
    assert LambdaContext("rid", {"w3c": "nope"}, None, 0).w3c() == {}
    assert LambdaContext("rid", None, None, 0).w3c() == {}


def test_missing_values(monkeypatch):
    for key in ENV:
        monkeypatch.delenv(key, raising=False)
    ctx = LambdaContext("rid", None, None, 0, "", None)
    assert ctx.client_context is None
    assert ctx.identity.cognito_identity_id is None
    assert ctx.identity.cognito_identity_pool_id is None
    assert ctx.function_name is None
    assert ctx.invoked_function_arn == ""
    assert ctx.get_remaining_time_in_millis() == 0
    ctx2 = LambdaContext("rid", {"LastSequence": "0"}, None, 0)
    assert (ctx2.client_context.custom, ctx2.client_context.env, ctx2.client_context.client) == (
        None,
        None,
        None,
    )


def test_non_object_json_raises_attribute_error():
    with pytest.raises(AttributeError, match="'list' object has no attribute 'get'"):
        LambdaContext("rid", None, [1], 0)
    with pytest.raises(AttributeError, match="'list' object has no attribute 'get'"):
        LambdaContext("rid", [1], None, 0)


def test_remaining_time(monkeypatch):
    monkeypatch.setattr(time, "time", lambda: 1000.0)
    ctx = LambdaContext("rid", None, None, 1_001_500)
    assert ctx.get_remaining_time_in_millis() == 1500
    assert type(ctx.get_remaining_time_in_millis()) is int
    monkeypatch.setattr(time, "time", lambda: 2000.0)
    assert ctx.get_remaining_time_in_millis() == 0


def test_log_goes_to_first_handler_with_sink(capsys):
    class Sink:
        def __init__(self):
            self.got = []

        def log(self, msg, frame_type=None):
            self.got.append((msg, frame_type))

    class H(logging.Handler):
        def __init__(self, sink):
            super().__init__()
            self.log_sink = sink

    root = logging.getLogger()
    sink = Sink()
    handler = H(sink)
    root.addHandler(handler)
    try:
        LambdaContext("rid", None, None, 0).log(12)
    finally:
        root.removeHandler(handler)
    assert sink.got == [("12", None)]
    LambdaContext("rid", None, None, 0).log("plain")
    assert capsys.readouterr().out == "plain"


def test_make_context_hook_parses_headers(lambda_env):
    hooks = bootstrap.Hooks(None, True)
    ctx = hooks.make_context("rid", None, None, '{"custom": {"a": 1}}', '{"cognitoIdentityId": "x"}', None)
    assert ctx._epoch_deadline_time_in_ms == 0
    assert ctx.invoked_function_arn == ""
    assert ctx.client_context.custom == {"a": 1}
    assert ctx.identity.cognito_identity_id == "x"
    with pytest.raises(FaultException) as info:
        hooks.make_context("rid", 0, "", "not-json", None, None)
    assert info.value.exception_type == "Runtime.LambdaContextUnmarshalError"
    assert info.value.msg == "Unable to parse Client Context JSON: Expecting value: line 1 column 1 (char 0)"
    with pytest.raises(FaultException) as info:
        hooks.make_context("rid", 0, "", None, "{x", None)
    assert info.value.msg == (
        "Unable to parse Cognito Identity JSON: Expecting property name enclosed in double quotes: "
        "line 1 column 2 (char 1)"
    )


@needs_ref
def test_repr_matches_reference(lambda_env):
    code = (
        "from awslambdaric.lambda_context import LambdaContext as C\n"
        "c = C('rid-1', {'custom': {'k': 'v'}, 'env': {'e': '1'}, 'client': {'installation_id': 'i1', 'app_title': 't'},"
        " 'w3c': {'traceparent': '00-abc-def-01', 'tracestate': 5, 'baggage': 'b=1', 'other': 'x'}},"
        " {'cognitoIdentityId': 'cid', 'cognitoIdentityPoolId': 'pool'}, 1000,"
        " 'arn:aws:lambda:us-east-1:000000000000:function:f', 'tenant-A')\n"
        "print(repr(c)); print(c.w3c())\n"
    )
    env = dict(os.environ, **ENV)
    out = subprocess.run([REF_PYTHON, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    ctx = full_context()
    assert out == f"{ctx!r}\n{ctx.w3c()}\n"
    assert sys.version_info >= (3, 10)
