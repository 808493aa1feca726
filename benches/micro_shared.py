"""Inputs shared by both sides of the micro-benchmarks (fastric in-process, awslambdaric in its venv).

Only the standard library and benches/payloads.py are used, so any interpreter can import it.
"""

from __future__ import annotations

import functools
import json

import payloads

#: event names for decode/encode: the per-invoke event and the payload figure's sizes
SIZES = ("small", "1KB", "100KB", "1MB")

#: positional arguments of LambdaContext(invoke_id, client_context, cognito_identity,
#: epoch_deadline_time_in_ms, invoked_function_arn, tenant_id)
CONTEXT_ARGS = (
    "8f1c0b9e-5d2a-4c1e-9b7f-000000000001",
    None,
    None,
    4102444800000,
    "arn:aws:lambda:us-east-1:123456789012:function:bench",
    None,
)


def client_context() -> dict:
    """A fresh parsed Client-Context header (LambdaContext pops its ``w3c`` key, so never reuse it)."""
    return {
        "client": {"installation_id": "i-1", "app_title": "bench", "app_version_name": "1.0"},
        "custom": {"k": "v"},
        "env": {"platform": "linux"},
        "w3c": {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
    }


@functools.cache
def event(name: str) -> bytes:
    """The event bytes for ``name`` in :data:`SIZES`."""
    return payloads.small_event() if name == "small" else payloads.sized_event(name)


@functools.cache
def response(name: str):
    """The object a handler would return for ``name``: the event parsed by the stdlib ``json``."""
    return json.loads(event(name))


def _level3(n):
    raise ValueError(f"bad input {n}: expected a positive number")


def _level2(n):
    return _level3(n) + 1


def boom(n=-1):
    """Raises ``ValueError`` three frames deep (what a failing handler typically produces)."""
    return _level2(n) * 2


def caught() -> Exception:
    """``boom()``'s exception, with its traceback."""
    try:
        boom()
    except ValueError as exc:
        return exc
    raise AssertionError("boom() did not raise")
