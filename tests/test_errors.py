"""Error documents, X-Ray causes and the hooks that build them (awslambdaric 4.2.2 sections 6.5, 6.6)."""

import json
import os
import subprocess

import pytest
from conftest import REF_PYTHON
from fastric import bootstrap
from fastric.errors import (
    FaultException,
    extract_frames,
    make_error,
    make_xray_fault,
    to_json,
    to_json_bytes,
)

needs_ref = pytest.mark.skipif(REF_PYTHON is None, reason="reference awslambdaric venv not present")


class RecordingSink:
    def __init__(self):
        self.errors = []

    def log_error(self, lines):
        self.errors.append(lines)

    def log(self, msg, frame_type=None):
        pass


@pytest.fixture
def text_mode(monkeypatch):
    monkeypatch.setattr(bootstrap, "_json_format", False)
    monkeypatch.setattr(bootstrap, "_ensure_ascii", True)


def helper():
    raise KeyError("missing-key")


def handler(event, context):
    helper()


def caught(func, *args):
    try:
        func(*args)
    except Exception as e:  # noqa: BLE001
        return e
    raise AssertionError("no exception")


def test_make_error_normalises_falsy_values():
    assert make_error(None, None, None) == {
        "errorMessage": "",
        "errorType": "",
        "requestId": "",
        "stackTrace": [],
    }
    assert list(make_error("m", "T", ["x"], "rid")) == [
        "errorMessage",
        "errorType",
        "requestId",
        "stackTrace",
    ]


def test_handle_error_user_exception(text_mode):
    sink = RecordingSink()
    hooks = bootstrap.Hooks(sink, True)
    exc = caught(handler, None, None)
    body, cause = hooks.handle_error(exc, "rid-1")
    here = __file__
    lines = open(here).read().splitlines()
    line_helper = lines.index('    raise KeyError("missing-key")') + 1
    line_handler = lines.index("    helper()") + 1
    # The traceback starts in caught() (this test file), which is not a runtime frame: kept.
    doc = json.loads(body)
    assert doc["errorMessage"] == "'missing-key'"
    assert doc["errorType"] == "KeyError"
    assert doc["requestId"] == "rid-1"
    assert doc["stackTrace"][-2:] == [
        f'  File "{here}", line {line_handler}, in handler\n    helper()\n',
        f'  File "{here}", line {line_helper}, in helper\n    raise KeyError("missing-key")\n',
    ]
    assert body.startswith(
        b'{"errorMessage": "\'missing-key\'", "errorType": "KeyError", "requestId": "rid-1", '
    )
    xray = json.loads(cause)
    assert list(xray) == ["working_directory", "exceptions", "paths"]
    assert xray["working_directory"] == os.getcwd()
    assert xray["exceptions"][0]["type"] == "KeyError"
    assert xray["exceptions"][0]["stack"][-1] == {"label": "helper", "path": here, "line": line_helper}
    assert xray["paths"] == [here]
    assert sink.errors[0][0] == "[ERROR] KeyError: 'missing-key'"
    assert sink.errors[0][1] == "Traceback (most recent call last):"
    assert sink.errors[0][-1] == '\u00a0\u00a0\u00a0\u00a0raise KeyError("missing-key")'


def test_fault_exception_document(text_mode):
    sink = RecordingSink()
    hooks = bootstrap.Hooks(sink, True)
    fault = hooks.marshal_error(TypeError("Object of type set is not JSON serializable"))
    body, cause = hooks.handle_error(fault, "rid-2")
    assert body == (
        b'{"errorMessage": "Unable to marshal response: Object of type set is not JSON serializable", '
        b'"errorType": "Runtime.MarshalError", "requestId": "rid-2", "stackTrace": []}'
    )
    assert cause == (
        '{"working_directory": "'
        + os.getcwd()
        + '", "exceptions": [{"message": "Unable to marshal response: '
        'Object of type set is not JSON serializable", "type": "LambdaValidationError", "stack": []}], "paths": []}'
    )
    assert sink.errors == [
        [
            "[ERROR] Runtime.MarshalError: Unable to marshal response: Object of type set is not JSON serializable",
            "Traceback (most recent call last):",
        ]
    ]


def test_leading_runtime_frames_are_stripped(tmp_path):
    # A file whose path contains "/bootstrap.py" at the top of the stack is dropped, then no more.
    boot = tmp_path / "bootstrap.py"
    boot.write_text("def call(f):\n    return f()\n")
    ns = {}
    exec(compile(boot.read_text(), str(boot), "exec"), ns)
    exc = caught(ns["call"], lambda: helper())
    frames = extract_frames(exc.__traceback__.tb_next)  # start at bootstrap.py's call()
    assert [f[2] for f in frames] == ["<lambda>", "helper"]
    # Every frame a runtime frame: nothing is dropped.
    exc = caught(ns["call"], None)
    frames = extract_frames(exc.__traceback__.tb_next)
    assert [(f[0], f[2]) for f in frames] == [(str(boot), "call")]


def test_unprintable_exception_does_not_crash(text_mode):
    class Weird(Exception):
        def __str__(self):
            raise RuntimeError("no str for you")

    body, cause = bootstrap.Hooks(RecordingSink(), True).handle_error(Weird(), "rid")
    doc = json.loads(body)
    assert (doc["errorType"], doc["errorMessage"]) == ("Weird", "<exception str() failed>")
    assert json.loads(cause)["exceptions"][0]["message"] == "<exception str() failed>"


def test_huge_xray_cause_is_dropped(text_mode):
    exc = ValueError("x" * (1024 * 1024))
    body, cause = bootstrap.Hooks(RecordingSink(), True).handle_error(exc, "rid")
    assert cause is None
    assert json.loads(body)["errorMessage"] == "x" * (1024 * 1024)


def test_to_json_ascii_switch_and_surrogates():
    assert to_json_bytes({"price": "£1.00"}, True) == b'{"price": "\\u00a31.00"}'
    assert to_json_bytes({"price": "£1.00"}, False) == '{"price": "£1.00"}'.encode()
    assert to_json_bytes({"a": [1, None, "\n"]}, True) == b'{"a": [1, null, "\\n"]}'
    # A lone surrogate cannot be UTF-8: the document falls back to ASCII escapes.
    assert to_json_bytes({"s": "\ud800"}, False) == b'{"s": "\\ud800"}'
    assert to_json({"e": "é"}, False) == '{"e": "é"}'


def test_ensure_ascii_for_env():
    assert bootstrap.ensure_ascii_for_env(None) is True
    assert bootstrap.ensure_ascii_for_env("AWS_Lambda_python3.11") is True
    for minor in (12, 13, 14, 15):
        assert bootstrap.ensure_ascii_for_env(f"AWS_Lambda_python3.{minor}") is False


def test_unmarshal_fallback_wraps_errors():
    hooks = bootstrap.Hooks(RecordingSink(), True)
    assert hooks.unmarshal_fallback(b'{"a": 1}') == {"a": 1}
    with pytest.raises(FaultException) as info:
        hooks.unmarshal_fallback(b"")
    assert info.value.exception_type == "Runtime.UnmarshalError"
    assert info.value.msg == "Unable to unmarshal input: Expecting value: line 1 column 1 (char 0)"
    with pytest.raises(FaultException) as info:
        hooks.unmarshal_fallback(b'{"a": \xff}')
    assert info.value.msg.startswith("Unable to unmarshal input: ")


def test_fault_exception_attributes():
    e = FaultException("Runtime.X", "msg")
    assert (e.exception_type, e.msg, e.trace, str(e)) == ("Runtime.X", "msg", None, "msg")
    assert FaultException.AFTER_RESTORE_ERROR == "Runtime.AfterRestoreError"
    assert FaultException.BEFORE_SNAPSHOT_ERROR == "Runtime.BeforeSnapshotError"


def test_xray_paths_dedup_in_first_seen_order():
    frames = [("b.py", 1, "f", None), ("a.py", 2, "g", None), ("b.py", 3, "h", None)]
    assert make_xray_fault("E", "m", "/w", frames)["paths"] == ["b.py", "a.py"]


USER_MODULE = """def helper():
    raise KeyError("missing-k\u00e9y")


def handler(e, c):
    helper()
"""

REF_SCRIPT = r"""
import sys, traceback
from awslambdaric import bootstrap
from awslambdaric.lambda_runtime_marshaller import to_json
import user_mod
try:
    user_mod.handler(None, None)
except Exception:
    etype, value, tb = sys.exc_info()
    tuples = bootstrap.extract_traceback(tb)[1:]
    print(to_json(bootstrap.make_error(str(value), etype.__name__, traceback.format_list(tuples), "rid")))
    print(to_json(bootstrap.make_xray_fault(etype.__name__, str(value), "/w", tuples)))
"""


@needs_ref
def test_documents_match_reference(tmp_path, monkeypatch):
    (tmp_path / "user_mod.py").write_text(USER_MODULE)
    ref = subprocess.run(
        [REF_PYTHON, "-c", REF_SCRIPT], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    monkeypatch.syspath_prepend(str(tmp_path))
    import user_mod
    from fastric.errors import format_frames

    exc = caught(user_mod.handler, None, None)
    frames = extract_frames(exc.__traceback__)[1:]  # drop caught() of this file
    assert to_json(make_error(str(exc), "KeyError", format_frames(frames), "rid"), True) == ref[0]
    assert to_json(make_xray_fault("KeyError", str(exc), "/w", frames), True) == ref[1]
