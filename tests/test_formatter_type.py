"""The root handler's formatter is what awslambdaric 4.2.2 installs, as libraries check it.

Libraries decide by exact type: datadog-lambda's log injection replaces the formatter only when
``handler.__class__.__name__ == "LambdaLoggerHandler" and type(handler.formatter) == logging.Formatter``.
So in TEXT format the formatter must be exactly ``logging.Formatter`` with awslambdaric's ``_fmt`` and
``datefmt`` (fastric keeps its per-second time cache in a private twin the handler uses while the
formatter is untouched). Every log format (TEXT without a level, TEXT with one, JSON), with and without
the telemetry fd: the probe's answer and every logged byte are compared with awslambdaric's, and a
formatter installed or changed by the function is honoured from the next record on.

Normalised: the TEXT/JSON timestamps and the ``.mmmZ`` milliseconds after a replaced ``datefmt`` or ``formatTime``.
"""

from __future__ import annotations

import json
import re

import pytest
from conftest import HANDLERS_DIR, REF_MISSING_REASON, REF_PYTHON
from support.differential import assert_same_run, run_pair
from support.runtime_api_fake import Invocation

if REF_PYTHON is None:
    pytest.skip(REF_MISSING_REASON, allow_module_level=True)

CASES = [
    "probe", "log", "install", "probe", "restore", "probe", "log", "class_format_time", "datefmt", "log",
    "restore", "style", "log", "instance_method",
]  # fmt: skip
#: (id, AWS_LAMBDA_LOG_FORMAT, AWS_LAMBDA_LOG_LEVEL, telemetry fd)
CONFIGS = [
    (f"{name}-{'framed' if framed else 'stdout'}", fmt, level, framed)
    for name, fmt, level in (("text", None, None), ("text-INFO", None, "INFO"), ("json", "JSON", None))
    for framed in (False, True)
]
STAMPS = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z|(?<=fixed)\.\d{3}Z|(?<=CLASS-TIME)\.\d{3}Z")


def _norm(data: bytes) -> bytes:
    return STAMPS.sub(b"<TS>", data)


@pytest.fixture(scope="module", params=CONFIGS, ids=[c[0] for c in CONFIGS])
def runs(request: pytest.FixtureRequest):
    _name, fmt, level, framed = request.param
    script = [Invocation(body=json.dumps({"case": c}).encode()) for c in CASES]
    results = run_pair(
        REF_PYTHON,
        "formatter_probe.handler",
        script,
        cwd=str(HANDLERS_DIR),
        env={"AWS_LAMBDA_LOG_FORMAT": fmt, "AWS_LAMBDA_LOG_LEVEL": level},
        telemetry_fd=framed,
    )
    return request.param, results


def _probes(result) -> list[dict]:
    return [json.loads(r.body) for r in result.posts if r.body.startswith(b"{")]


def test_formatter_type_and_fields_match_awslambdaric(runs) -> None:
    (_name, fmt, level, _framed), results = runs
    got, ref = _probes(results["fastric"]), _probes(results["awslambdaric"])
    assert len(ref) == 3
    assert got == ref
    first = got[0]
    if fmt is None:
        # the hard requirement, whatever awslambdaric would say
        assert first["type_is_logging_formatter"] is True
        assert first["fmt"] == "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n"
        assert first["datefmt"] == "%Y-%m-%dT%H:%M:%S"
    assert first["datadog_check"] is (fmt is None and level is None)
    assert got[1]["fmt"].startswith("CUSTOM ")  # the installed formatter, as awslambdaric reports it
    assert got[2] == first  # the original one put back


def test_every_record_is_formatted_as_by_awslambdaric(runs) -> None:
    (_name, fmt, _level, _framed), results = runs
    got, ref = results["fastric"], results["awslambdaric"]
    assert_same_run(results)
    assert _norm(got.stdout) == _norm(ref.stdout)
    view = [(f.type, _norm(f.message)) for f in got.frames if not f.message.startswith(b"[fastric] ")]
    assert view == [(f.type, _norm(f.message)) for f in ref.frames]
    logs = ref.stdout + b"".join(f.message for f in ref.frames)
    # the comparison is not vacuous: each change of formatter shows in the reference output
    markers = [b"CUSTOM WARNING", b"after restore"]
    if fmt is None:  # the JSON formatter ignores the style and formatMessage
        markers += [b"STYLE after style", b"METHOD after instance", b"CLASS-TIME"]
    for marker in markers:
        assert marker in logs, (marker, logs)
