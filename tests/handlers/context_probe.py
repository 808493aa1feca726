"""Handler for the context fast-path test: compares the runtime's context with one built by
``LambdaContext.__init__`` from the same values, and counts ``__init__`` calls made by the runtime."""

import ctypes
import os
import sys

from fastric.lambda_context import LambdaContext

_INIT_CODE = LambdaContext.__init__.__code__
_calls = {"init": 0}


def _count(frame, event, arg):
    if event == "call" and frame.f_code is _INIT_CODE:
        _calls["init"] += 1


sys.setprofile(_count)


def _describe(context):
    return {
        "type": f"{type(context).__module__}.{type(context).__qualname__}",
        "vars": [[k, repr(v)] for k, v in vars(context).items() if k != "identity"],
        "identity": [
            type(context.identity).__qualname__,
            context.identity.cognito_identity_id,
            context.identity.cognito_identity_pool_id,
        ],
        "w3c": context.w3c(),
        "repr": repr(context),
    }


def handler(event, context):
    """``event["set"]`` / ``event["unset"]`` / ``event["set_bytes"]`` change the environment for the next
    invocation; ``event["replace_environ"]`` swaps ``os.environ`` for a plain dict copy. Returns the
    runtime's context and the reference one, described, and how often ``__init__`` ran for the
    runtime's context."""
    init_calls_by_runtime = _calls["init"]
    reference = LambdaContext(
        context.aws_request_id,
        None,
        None,
        context._epoch_deadline_time_in_ms,
        context.invoked_function_arn,
        context.tenant_id,
    )
    _calls["init"] -= 1  # the reference construction just above
    getenv = ctypes.CDLL(None).getenv
    getenv.restype = ctypes.c_char_p
    c_trace = getenv(b"_X_AMZN_TRACE_ID")
    result = {
        "runtime": _describe(context),
        "reference": _describe(reference),
        "init_calls_by_runtime": init_calls_by_runtime,
        "trace": [os.environ.get("_X_AMZN_TRACE_ID"), c_trace.decode() if c_trace is not None else None],
    }
    _calls["init"] = 0
    for key, value in event.get("set", {}).items():
        os.environ[key] = value
    for key in event.get("unset", []):
        os.environ.pop(key, None)
    for key, value in event.get("set_bytes", {}).items():
        os.environb[key.encode()] = value.encode("latin-1")
    if event.get("wrap_environ_get"):
        original = type(os.environ).get

        def get(self, key, default=None):
            return "wrapped" if key == "AWS_LAMBDA_FUNCTION_NAME" else original(self, key, default)

        type(os.environ).get = get
    if event.get("replace_environ"):
        os.environ = dict(os.environ, AWS_LAMBDA_FUNCTION_NAME="from-replaced-mapping")  # noqa: B003 - on purpose
    return result
