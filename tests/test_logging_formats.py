"""Logging: TEXT/JSON line formats, frame layout and types, error records, level parsing, stdout
write-through (awslambdaric 4.2.2 section 7)."""

import io
import json
import logging
import os
import subprocess
import sys
import time

import pytest
from conftest import REF_PYTHON
from fastric import _fastric, log

needs_ref = pytest.mark.skipif(REF_PYTHON is None, reason="reference awslambdaric venv not present")


@pytest.fixture
def root_logger():
    """Restore the root logger and the global converter after the test."""
    root = logging.getLogger()
    saved = (root.level, list(root.handlers), logging.Formatter.converter)
    yield root
    root.setLevel(saved[0])
    root.handlers[:] = saved[1]
    logging.Formatter.converter = saved[2]


class ListSink:
    error_frame_type = None

    def __init__(self):
        self.records = []

    def log(self, msg, frame_type=None):
        self.records.append((msg, frame_type))


def record(level=logging.INFO, msg="hello", args=(), exc_info=None, name="root", **extra):
    rec = logging.LogRecord(name, level, "/path/app.py", 12, msg, args, exc_info, func="fn")
    rec.created = 1_800_000_000.25
    rec.msecs = 250.0
    rec.__dict__.update(extra)
    return rec


def test_level_from_env():
    assert log.level_from_env(None) == ""
    assert log.level_from_env("TRACE") == "DEBUG"
    assert log.level_from_env("trace") == "TRACE"
    assert log.level_from_env("info") == "INFO"
    assert log.level_from_env("") == ""


def test_log_format():
    assert log.log_format_is_json("JSON") and log.log_format_is_json("json")
    assert (
        not log.log_format_is_json(None)
        and not log.log_format_is_json("TEXT")
        and not log.log_format_is_json("")
    )


def test_text_line(root_logger):
    state = {"_GLOBAL_AWS_REQUEST_ID": "rid-1", "_GLOBAL_TENANT_ID": None}
    sink = ListSink()
    handler = log.setup_logging(False, "", sink, state)
    assert type(handler) is log.LambdaLoggerHandler
    assert root_logger.level == logging.WARNING
    rec = record(logging.WARNING, "warn %s", ("msg",))
    handler.handle(rec)
    assert sink.records == [("[WARNING]\t2027-01-15T08:00:00.250Z\trid-1\twarn msg\n", None)]
    state["_GLOBAL_AWS_REQUEST_ID"] = None
    handler.handle(record(55, {"dict": "message"}))
    assert sink.records[1] == ("[Level 55]\t2027-01-15T08:00:00.250Z\t\t{'dict': 'message'}\n", None)
    assert logging.Formatter.converter is time.gmtime


def test_text_with_level_uses_level_frame_types(root_logger):
    sink = ListSink()
    handler = log.setup_logging(False, "DEBUG", sink, {})
    assert type(handler) is log.LambdaLoggerHandlerWithFrameType
    assert root_logger.level == logging.DEBUG
    for level, code in [
        (10, 0xA55A000B),
        (20, 0xA55A000F),
        (30, 0xA55A0013),
        (40, 0xA55A0017),
        (50, 0xA55A001B),
        (5, 0xA55A0003),
        (55, 0xA55A001B),
    ]:
        handler.handle(record(level))
        assert sink.records[-1][1] == code.to_bytes(4, "big")


def test_unknown_level_leaves_root_alone(root_logger):
    root_logger.setLevel(logging.WARNING)
    handler = log.setup_logging(False, "TRACE", ListSink(), {})
    assert root_logger.level == logging.WARNING
    assert type(handler) is log.LambdaLoggerHandlerWithFrameType


def test_json_line(root_logger):
    state = {"_GLOBAL_AWS_REQUEST_ID": "rid-1", "_GLOBAL_TENANT_ID": "tenant-A"}
    sink = ListSink()
    handler = log.setup_logging(True, "", sink, state)
    rec = record(25, "hello %s", ("wörld",), k=1, obj=type("X", (), {"__str__": lambda s: "Xstr"})())
    handler.handle(rec)
    assert sink.records == [
        (
            '{"timestamp": "2027-01-15T08:00:00Z", "level": "INFO", "message": "hello wörld", "logger": "root", '
            '"requestId": "rid-1", "tenantId": "tenant-A", "k": 1, "obj": "Xstr"}\n',
            (0xA55A000E).to_bytes(4, "big"),
        )
    ]
    assert (rec.levelno, rec.levelname) == (20, "INFO")  # the record is normalised, as awslambdaric does
    handler.handle(record(logging.WARNING, {"dict": "message", "n": 1}))
    assert json.loads(sink.records[-1][0])["message"] == {"dict": "message", "n": 1}


def test_json_exception_fields(root_logger):
    sink = ListSink()
    handler = log.setup_logging(True, "", sink, {})
    try:
        raise RuntimeError("inside")
    except RuntimeError:
        exc_info = sys.exc_info()
    handler.handle(record(logging.ERROR, "caught", exc_info=exc_info))
    doc = json.loads(sink.records[0][0])
    assert list(doc) == [
        "timestamp",
        "level",
        "message",
        "logger",
        "stackTrace",
        "errorType",
        "errorMessage",
        "requestId",
        "location",
    ]
    assert doc["errorType"] == "RuntimeError"
    assert doc["errorMessage"] == "inside"
    assert doc["requestId"] == ""
    assert doc["location"] == "/path/app.py:fn:12"
    assert sink.records[0][1] == (0xA55A0016).to_bytes(4, "big")


def test_error_lines_text():
    trace = ['  File "/a.py", line 1, in f\n    x()\n', ""]
    doc = {"errorMessage": "bad\nthing", "errorType": "ValueError", "requestId": "r", "stackTrace": trace}
    assert log.error_log_lines(doc, False, None) == [
        "[ERROR] ValueError: bad\nthing",
        "Traceback (most recent call last):",
        '\u00a0\u00a0File "/a.py", line 1, in f',
        "\u00a0\u00a0\u00a0\u00a0x()",
        "",
    ]
    assert log.error_log_lines({"errorType": "T", "stackTrace": []}, False, None) == [
        "[ERROR] T",
        "Traceback (most recent call last):",
    ]
    assert log.error_log_lines({"errorMessage": "m", "stackTrace": []}, False, None)[0] == "[ERROR] m"
    assert log.error_log_lines({"stackTrace": []}, False, None)[0] == "[ERROR]"


def test_error_lines_json(monkeypatch):
    monkeypatch.setattr(time, "time", lambda: 1_800_000_000.7)
    monkeypatch.setattr(logging.Formatter, "converter", time.gmtime)
    doc = {"errorMessage": "m", "errorType": "T", "requestId": "r", "stackTrace": []}
    lines = log.error_log_lines(doc, True, lambda o: json.dumps(o))
    assert lines == [
        '{"timestamp": "2027-01-15T08:00:00Z", "level": "ERROR", "errorMessage": "m", "errorType": "T", '
        '"requestId": "r", "stackTrace": []}'
    ]


def test_standard_sink_error_record(capsys):
    log.StandardLogSink().log_error(["[ERROR] T: m", "Traceback (most recent call last):", "\u00a0\u00a0x"])
    assert capsys.readouterr().out == "[ERROR] T: m\rTraceback (most recent call last):\r\u00a0\u00a0x\n"


def read_frames(fd):
    data = b""
    os.set_blocking(fd, False)
    try:
        while chunk := os.read(fd, 1 << 20):
            data += chunk
    except BlockingIOError:
        pass
    frames = []
    while data:
        ftype, length, ts = (
            int.from_bytes(data[:4], "big"),
            int.from_bytes(data[4:8], "big"),
            int.from_bytes(data[8:16], "big"),
        )
        frames.append((ftype, length, ts, data[16 : 16 + length]))
        data = data[16 + length :]
    return frames


def test_framed_sink_layout():
    r, w = os.pipe()
    try:
        before = time.time_ns() // 1000
        with log.FramedTelemetryLogSink(w) as sink:
            sink.log("[CRITICAL]\t2027-01-15T08:00:00.250Z\t\tcritical\n", log.TEXT_FRAME_TYPES[50])
            sink.log("ctx é")
            sink.log_error(["[ERROR] T: m", "Traceback (most recent call last):"])
        after = time.time_ns() // 1000
        frames = read_frames(r)
    finally:
        os.close(r)
    assert [(f[0], f[1], f[3]) for f in frames] == [
        (0xA55A001B, 46, b"[CRITICAL]\t2027-01-15T08:00:00.250Z\t\tcritical\n"),
        (0xA55A0003, 6, "ctx é".encode()),
        (0xA55A0017, 47, b"[ERROR] T: m\nTraceback (most recent call last):"),
    ]
    assert len(frames[0][3]) + 16 == 62
    assert all(before <= f[2] <= after for f in frames)


def test_create_log_sink_consumes_env(monkeypatch):
    r, w = os.pipe()
    os.close(r)
    monkeypatch.setenv("_LAMBDA_TELEMETRY_LOG_FD", str(w))
    sink = log.create_log_sink()
    assert isinstance(sink, log.FramedTelemetryLogSink) and sink.fd == w
    assert "_LAMBDA_TELEMETRY_LOG_FD" not in os.environ
    # The native diagnostics now point at w too: detach them before w's number can be reused (a
    # later test's socket would receive them).
    _fastric.set_diagnostic_fd(None)
    os.close(w)
    monkeypatch.setattr(log, "_diagnostic_sink", None)
    assert isinstance(log.create_log_sink(), log.StandardLogSink)


def test_diagnostic_goes_to_stderr_without_fd(capsys, monkeypatch):
    monkeypatch.setattr(log, "_diagnostic_sink", None)
    log.diagnostic("hello")
    assert capsys.readouterr().err == "[fastric] WARNING hello\n"


def test_write_through_text_io():
    raw = io.BytesIO()
    buffered = io.BufferedWriter(raw, buffer_size=1 << 16)
    stream = io.TextIOWrapper(buffered, encoding="utf-8")
    wrapped = log.make_write_through(stream)
    assert isinstance(wrapped, io.TextIOWrapper)
    print("step 2 partial", end="", file=wrapped)
    assert raw.getvalue() == b"step 2 partial"
    wrapped.writelines(["a", "b\n"])
    assert raw.getvalue() == b"step 2 partialab\n"
    assert log.make_write_through(wrapped) is wrapped
    del wrapped  # dropping the wrapper must not close the shared buffer
    assert not buffered.closed


def test_non_textio_streams_get_delegating_wrapper():
    class Odd:
        def __init__(self):
            self.out, self.flushes = [], 0

        def write(self, s):
            self.out.append(s)

        def flush(self):
            self.flushes += 1

        encoding = "utf-8"

    odd = Odd()
    wrapped = log.make_write_through(odd)
    wrapped.write("x")
    assert (odd.out, odd.flushes, wrapped.encoding) == (["x"], 1, "utf-8")


REF_JSON = r"""
import logging, sys, time, json
from awslambdaric.lambda_runtime_log_utils import JsonFormatter
logging.Formatter.converter = time.gmtime
f = JsonFormatter()
out = []
def rec(level, msg, args=(), **extra):
    r = logging.LogRecord("mylog", level, "/path/app.py", 12, msg, args, None, func="fn")
    r.created = 1_800_000_000.25; r.msecs = 250.0
    r.aws_request_id = "rid-1"; r.tenant_id = extra.pop("tenant", None)
    r.__dict__.update(extra)
    return r
for r in [rec(25, "hello %s", ("w\u00f6rld",), k=1), rec(55, {"d": [1, 2]}), rec(5, "low", tenant="t"),
          rec(40, "x %d", (3,), none_extra=None, nested={"a": "\u00e9"})]:
    sys.stdout.write(f.format(r))
"""


@needs_ref
def test_json_formatter_matches_reference():
    ref = subprocess.run([REF_PYTHON, "-c", REF_JSON], capture_output=True, text=True, check=True).stdout
    formatter = log.JsonFormatter()

    def rec(level, msg, args=(), **extra):
        r = logging.LogRecord("mylog", level, "/path/app.py", 12, msg, args, None, func="fn")
        r.created = 1_800_000_000.25
        r.msecs = 250.0
        r.aws_request_id = "rid-1"
        r.tenant_id = extra.pop("tenant", None)
        r.__dict__.update(extra)
        return r

    saved = logging.Formatter.converter
    logging.Formatter.converter = time.gmtime
    try:
        got = "".join(
            formatter.format(r)
            for r in [
                rec(25, "hello %s", ("wörld",), k=1),
                rec(55, {"d": [1, 2]}),
                rec(5, "low", tenant="t"),
                rec(40, "x %d", (3,), none_extra=None, nested={"a": "é"}),
            ]
        )
    finally:
        logging.Formatter.converter = saved
    assert got == ref
