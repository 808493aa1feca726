"""Micro-benchmark: formatting a handler's exception into the error document and the X-Ray cause.

fastric: ``fastric.errors.error_result_for(exc, request_id)`` then ``to_json_bytes`` of both documents.
awslambdaric: what its ``handle_event_request`` does in ``except Exception`` (``extract_traceback``,
bootstrap-frame stripping, ``make_xray_fault``, ``make_error`` with ``traceback.format_list``,
``to_json`` of both), timed in its own venv. Both raise the same three-frame ``ValueError`` each call.
Skipped when ``fastric.errors`` is not there yet.
"""

import micro_shared as shared
import pytest

errors = pytest.importorskip("fastric.errors")

_REF_SETUP = """
import os, sys, traceback
from awslambdaric.bootstrap import extract_traceback, make_error, make_xray_fault
from awslambdaric.lambda_runtime_marshaller import to_json
import micro_shared as s

def fmt():
    exc = s.caught()
    tb_tuples = extract_traceback(exc.__traceback__)
    for i in range(len(tb_tuples)):
        if "/bootstrap.py" not in tb_tuples[i][0]:
            tb_tuples = tb_tuples[i:]
            break
    xray = make_xray_fault(type(exc).__name__, str(exc), os.getcwd(), tb_tuples)
    err = make_error(str(exc), type(exc).__name__, traceback.format_list(tb_tuples), "rid-1")
    return to_json(err).encode() + b"\\n" + to_json(xray).encode()
"""


def test_error_formatting(benchmark, reference):
    error_result_for = getattr(errors, "error_result_for", None)
    to_json_bytes = getattr(errors, "to_json_bytes", None)
    if error_result_for is None or to_json_bytes is None:
        pytest.skip("fastric.errors.error_result_for / to_json_bytes are not there yet")
    benchmark.group = "error formatting"

    def fmt():
        exc = shared.caught()
        err, xray = error_result_for(exc, "rid-1")
        return to_json_bytes(err, True) + b"\n" + to_json_bytes(xray, True)

    out = benchmark(fmt)
    assert b'"errorType": "ValueError"' in out
    ref = reference.run(_REF_SETUP, "fmt() and b''")
    reference.record(ref)
