"""The lines the runtime writes itself survive a stream that cannot encode them.

With ``PYTHONIOENCODING=ascii`` (``ascii:strict`` for stderr too), the handler error record, the init
error record (TEXT, and JSON with the raw non-ASCII text of ``AWS_Lambda_python3.12``) and fastric's
own diagnostics are written with backslash escapes for the characters the stream cannot encode:
nothing is dropped, and the error documents are unchanged. A user's ``print()`` still raises
CPython's ``UnicodeEncodeError``.
awslambdaric 4.2.2 itself crashes on the record (``UnicodeEncodeError``, then ``Runtime.ExitError``):
docs/DIFFERENCES-python.md, "Error documents and error records".
"""

from __future__ import annotations

import json

import pytest
from conftest import HANDLERS_DIR, run_client
from support.runtime_api_fake import Invocation

ASCII = {"PYTHONIOENCODING": "ascii:strict"}


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


@pytest.mark.parametrize("execution_env", [None, "AWS_Lambda_python3.12"])
def test_handler_error_record_is_escaped_not_dropped(execution_env: str | None) -> None:
    result = run_client(
        "fastric",
        "unencodable.handler",
        [Invocation(body=b'"raise"'), Invocation(body=b'"ok"')],
        cwd=HANDLERS_DIR,
        env={**ASCII, "AWS_EXECUTION_ENV": execution_env},
    )
    error, ok = result.posts
    doc = json.loads(error.body)
    assert doc["errorMessage"] == "caf\u00e9 \u2603 \U0001f600"
    assert doc["errorType"] == "ValueError"
    assert ok.body == b'"ok"'
    assert b"[ERROR] ValueError: caf\\xe9 \\u2603 \\U0001f600\r" in result.stdout
    assert b"could not write" not in result.stderr
    assert result.stdout.isascii()


@pytest.mark.parametrize(
    ("fmt", "execution_env", "expected"),
    [
        (None, None, b"[ERROR] RuntimeError: init failed: caf\\xe9 \\u2603\r"),
        ("JSON", "AWS_Lambda_python3.12", b'"errorMessage": "init failed: caf\\xe9 \\u2603"'),
    ],
)
def test_init_error_record_is_escaped(fmt: str | None, execution_env: str | None, expected: bytes) -> None:
    result = run_client(
        "fastric",
        "unencodable.handler",
        [],
        cwd=HANDLERS_DIR,
        env={
            **ASCII,
            "UNENCODABLE_INIT_FAIL": "1",
            "AWS_LAMBDA_LOG_FORMAT": fmt,
            "AWS_EXECUTION_ENV": execution_env,
        },
    )
    assert result.returncode == 1
    (init_error,) = result.by_endpoint("init_error")
    assert json.loads(init_error.body)["errorMessage"] == "init failed: caf\u00e9 \u2603"
    assert expected in result.stdout, result.describe()
    assert b"LAMBDA_WARNING: " in result.stdout
    assert b"[fastric]" not in result.stderr


def test_fastric_diagnostic_is_escaped() -> None:
    result = run_client(
        "fastric",
        "unencodable.handler",
        [],
        cwd=HANDLERS_DIR,
        env={**ASCII, "AWS_LAMBDA_RUNTIME_API": "\u00e9"},
    )
    assert result.returncode == 1
    assert result.stderr.startswith(
        b"[fastric] ERROR AWS_LAMBDA_RUNTIME_API='\\xe9' is not a usable address"
    ), result.stderr
    assert result.stderr.isascii()


def test_user_print_still_raises_unicode_encode_error() -> None:
    """``print("café")`` raises inside the handler as under CPython (awslambdaric: the same error,
    then its record, indented with U+00A0, crashes the runtime before anything is posted)."""
    result = run_client(
        "fastric",
        "unencodable.handler",
        [Invocation(body=b'"print"'), Invocation(body=b'"ok"')],
        cwd=HANDLERS_DIR,
        env=ASCII,
    )
    error, ok = result.posts
    doc = json.loads(error.body)
    assert doc["errorType"] == "UnicodeEncodeError"
    assert (
        doc["errorMessage"]
        == "'ascii' codec can't encode character '\\xe9' in position 3: ordinal not in range(128)"
    )
    assert ok.body == b'"ok"'
    assert b"\r\\xa0\\xa0File " in result.stdout  # the record's U+00A0 indentation, escaped
    assert b"caf" not in result.stdout.split(b"[ERROR]")[0]  # nothing of the print reached stdout
