"""Logging for fastric: write-through stdout/stderr, log sinks (stdout or telemetry-fd frames), the
root-logger handler with awslambdaric's TEXT and JSON formats, the unhandled-error log record and
fastric's own diagnostic lines.

Behaviour follows awslambdaric 4.2.2 (``bootstrap.py`` and ``lambda_runtime_log_utils.py``; sections 7.1
to 7.7 of the behaviour reference). Byte formats (format strings, frame layout, frame types) are exact.
"""

from __future__ import annotations

import io
import logging
import os
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is not imported at run time (start-up cost)
    from collections.abc import Callable
    from typing import Any

__all__ = [
    "DEFAULT_FRAME_TYPE",
    "JSON_FRAME_TYPES",
    "TEXT_FRAME_TYPES",
    "TEXT_FORMAT",
    "TEXT_DATEFMT",
    "FramedTelemetryLogSink",
    "JsonFormatter",
    "LambdaLoggerFilter",
    "LambdaLoggerHandler",
    "LambdaLoggerHandlerWithFrameType",
    "StandardLogSink",
    "Unbuffered",
    "WriteThroughTextIO",
    "create_log_sink",
    "diagnostic",
    "error_log_lines",
    "level_from_env",
    "log_format_is_json",
    "make_write_through",
    "setup_logging",
]

# Frame types of the telemetry-fd protocol, by level bucket (0, 10, ..., 50), 4 bytes big-endian.
JSON_FRAME_TYPES: dict[int, bytes] = {
    level: code.to_bytes(4, "big")
    for level, code in (
        (0, 0xA55A0002),
        (10, 0xA55A000A),
        (20, 0xA55A000E),
        (30, 0xA55A0012),
        (40, 0xA55A0016),
        (50, 0xA55A001A),
    )
}
TEXT_FRAME_TYPES: dict[int, bytes] = {
    level: code.to_bytes(4, "big")
    for level, code in (
        (0, 0xA55A0003),
        (10, 0xA55A000B),
        (20, 0xA55A000F),
        (30, 0xA55A0013),
        (40, 0xA55A0017),
        (50, 0xA55A001B),
    )
}
DEFAULT_FRAME_TYPE = TEXT_FRAME_TYPES[0]

TEXT_FORMAT = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n"
TEXT_DATEFMT = "%Y-%m-%dT%H:%M:%S"
JSON_DATEFMT = "%Y-%m-%dT%H:%M:%SZ"

_NBSP = "\u00a0"


def log_format_is_json(value: str | None) -> bool:
    """``AWS_LAMBDA_LOG_FORMAT`` → True for JSON (``"json"`` in any case), False (TEXT) otherwise."""
    return bool(value) and value.upper() == "JSON"  # type: ignore[union-attr]


def level_from_env(value: str | None) -> str:
    """``AWS_LAMBDA_LOG_LEVEL`` → the level name awslambdaric uses.

    Unset → ``""``; exactly ``"TRACE"`` → ``"DEBUG"``; anything else upper-cased (so ``"trace"``
    becomes ``"TRACE"``, which is no level: the root level is then left alone).
    """
    if value is None:
        return ""
    if value == "TRACE":
        return "DEBUG"
    return value.upper()


def _level_bucket(record: logging.LogRecord) -> int:
    level = record.levelno
    if level < 0:
        level = 0
    elif level > 50:
        level = 50
    return level // 10 * 10


# --------------------------------------------------------------------------------------------------
# stdout / stderr


class WriteThroughTextIO(io.TextIOWrapper):
    """A text stream that flushes to its file descriptor after every ``write``/``writelines``.

    Used for ``sys.stdout``/``sys.stderr`` so nothing printed is lost when the process dies
    (awslambdaric's ``Unbuffered`` guarantee), while staying an ``io.TextIOWrapper`` for ``isinstance``
    checks, ``.buffer`` and ``.fileno()``.
    """

    def write(self, s: str) -> int:
        n = super().write(s)
        self.flush()
        return n

    def writelines(self, lines: Any) -> None:
        super().writelines(lines)
        self.flush()

    def __del__(self) -> None:
        # The binary buffer is shared with the original sys.stdout/sys.stderr: when this wrapper is
        # dropped (e.g. a user replaced sys.stdout), let go of the buffer instead of closing the fd.
        try:
            self.detach()
        except Exception:  # noqa: BLE001 - already detached or closed
            pass


class Unbuffered:
    """Delegating wrapper that flushes after every write, for streams that are not plain
    ``io.TextIOWrapper``s (e.g. replaced by a test harness). Any other attribute goes to the stream."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def __enter__(self) -> Unbuffered:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)

    def write(self, msg: str) -> Any:
        n = self.stream.write(msg)
        self.stream.flush()
        return n

    def writelines(self, msgs: Any) -> None:
        self.stream.writelines(msgs)
        self.stream.flush()


def make_write_through(stream: Any) -> Any:
    """Return a write-through replacement for ``stream`` (``sys.stdout`` or ``sys.stderr``).

    A real ``io.TextIOWrapper`` over a file descriptor becomes a :class:`WriteThroughTextIO` over the
    same binary buffer, with the same encoding, errors and newline handling (pending output is flushed
    first, and ``stream`` itself is made ``write_through`` so that writes to ``sys.__stdout__`` come out
    in order with ours); anything else is wrapped in :class:`Unbuffered`. ``None`` stays ``None``.
    """
    if stream is None or isinstance(stream, (WriteThroughTextIO, Unbuffered)):
        return stream
    if type(stream) is io.TextIOWrapper:
        try:
            # The original stream stays reachable as sys.__stdout__/__stderr__ and shares our binary
            # buffer: let its writes reach that buffer at once, so our next flush sends them in order
            # (as awslambdaric's wrapper does) instead of leaving them in its own pending text.
            stream.reconfigure(write_through=True)
            stream.flush()
            new = WriteThroughTextIO(
                stream.buffer,
                encoding=stream.encoding,
                errors=stream.errors,
                newline=None,
                line_buffering=False,
                write_through=True,
            )
            new.mode = getattr(stream, "mode", "w")  # type: ignore[misc]
            return new
        except (AttributeError, ValueError, OSError):
            pass
    return Unbuffered(stream)


# --------------------------------------------------------------------------------------------------
# sinks


class StandardLogSink:
    """Log sink without a telemetry fd: everything goes to (the current) ``sys.stdout``.

    ``log_error`` joins the lines of an error record with ``\\r`` and ends it with ``\\n``.
    """

    error_frame_type = TEXT_FRAME_TYPES[40]

    def __enter__(self) -> StandardLogSink:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def log(self, msg: str, frame_type: bytes | None = None) -> None:
        """Write ``msg`` unchanged to ``sys.stdout``; ``frame_type`` is ignored."""
        sys.stdout.write(msg)

    def log_error(self, message_lines: list[str]) -> None:
        """Write one unhandled-error record: lines joined with ``\\r``, plus ``\\n``."""
        text = "\r".join(message_lines) + "\n"
        try:
            sys.stdout.write(text)
        except UnicodeEncodeError:
            # A lone surrogate in an exception message must not kill the runtime.
            sys.stdout.write(text.encode("utf-8", "backslashreplace").decode("utf-8"))


class FramedTelemetryLogSink:
    """Log sink writing framed records to the telemetry fd (``_LAMBDA_TELEMETRY_LOG_FD``).

    Frame layout, big-endian: frame type (4 bytes) | message length in bytes (uint32) |
    timestamp in µs since the epoch (8 bytes) | message (UTF-8). One frame per ``log`` call; the
    fd is opened on ``__enter__`` and closed on ``__exit__``.
    """

    error_frame_type = TEXT_FRAME_TYPES[40]

    def __init__(self, fd: int | str) -> None:
        self.fd = int(fd)
        self.file: Any = None

    def __enter__(self) -> FramedTelemetryLogSink:
        self.file = os.fdopen(self.fd, "wb", 0)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.file is not None:
            self.file.close()

    def log(self, msg: str, frame_type: bytes | None = None) -> None:
        """Write ``msg`` as one frame (default type ``0xA55A0003``, TEXT without level)."""
        data = msg.encode("utf-8", "backslashreplace")
        header = (
            (frame_type or DEFAULT_FRAME_TYPE)
            + len(data).to_bytes(4, "big")
            + (time.time_ns() // 1000).to_bytes(8, "big")
        )
        frame = header + data
        write = self.file.write
        view = memoryview(frame)
        while view:
            n = write(view)
            if n is None:  # non-blocking fd not ready; cannot happen with a blocking pipe
                continue
            view = view[n:]

    def log_error(self, message_lines: list[str]) -> None:
        """Write one unhandled-error record: lines joined with ``\\n``, no trailing newline, as a
        frame of type ``error_frame_type`` (``0xA55A0017`` TEXT, ``0xA55A0016`` JSON)."""
        self.log("\n".join(message_lines), self.error_frame_type)


_diagnostic_sink: Any = None


def create_log_sink() -> StandardLogSink | FramedTelemetryLogSink:
    """Pick the sink: a :class:`FramedTelemetryLogSink` when ``_LAMBDA_TELEMETRY_LOG_FD`` is set (the
    variable is removed from ``os.environ``, so child processes do not inherit it), else a
    :class:`StandardLogSink`. When the fd is used, ``fastric._fastric.set_diagnostic_fd(fd)`` is
    called if the native module has it, so native diagnostics go to the same fd."""
    global _diagnostic_sink
    fd = os.environ.pop("_LAMBDA_TELEMETRY_LOG_FD", None)
    if fd is None:
        _diagnostic_sink = None
        return StandardLogSink()
    sink = FramedTelemetryLogSink(fd)
    _diagnostic_sink = sink
    try:
        from . import _fastric

        set_fd = getattr(_fastric, "set_diagnostic_fd", None)
    except ImportError:
        set_fd = None
    if set_fd is not None:
        set_fd(sink.fd)
    return sink


def diagnostic(message: str, level: int = logging.WARNING) -> None:
    """Write one fastric diagnostic line, ``[fastric] <message>\\n``: as a TEXT frame of the level's
    type on the telemetry fd when it is in use, otherwise to stderr. Never raises."""
    line = "[fastric] " + message + "\n"
    try:
        sink = _diagnostic_sink
        if sink is not None and sink.file is not None and not sink.file.closed:
            sink.log(line, TEXT_FRAME_TYPES[max(0, min(50, level)) // 10 * 10])
        else:
            sys.stderr.write(line)
            sys.stderr.flush()
    except Exception:  # noqa: BLE001 - diagnostics must never take the runtime down
        pass


# --------------------------------------------------------------------------------------------------
# the root-logger handler


class LambdaLoggerFilter(logging.Filter):
    """Sets ``record.aws_request_id`` (``""`` outside an invocation) and ``record.tenant_id`` from the
    runtime's state dict (bootstrap's ``_GLOBAL_AWS_REQUEST_ID`` / ``_GLOBAL_TENANT_ID``)."""

    def __init__(self, state: dict[str, Any]) -> None:
        super().__init__()
        self._state = state

    def filter(self, record: logging.LogRecord) -> bool:
        state = self._state
        record.aws_request_id = state.get("_GLOBAL_AWS_REQUEST_ID") or ""
        record.tenant_id = state.get("_GLOBAL_TENANT_ID")
        return True


class LambdaLoggerHandler(logging.Handler):
    """Root handler for TEXT format without ``AWS_LAMBDA_LOG_LEVEL``: each formatted record goes to
    ``log_sink.log`` with the default frame type."""

    def __init__(self, log_sink: Any) -> None:
        super().__init__()
        self.log_sink = log_sink

    def emit(self, record: logging.LogRecord) -> None:
        self.log_sink.log(self.format(record))


class LambdaLoggerHandlerWithFrameType(logging.Handler):
    """Root handler for JSON format or when a level is configured: the frame type follows the
    record's level (the formatter's ``record._frame_type`` first, else the TEXT type of the level)."""

    def __init__(self, log_sink: Any) -> None:
        super().__init__()
        self.log_sink = log_sink

    def emit(self, record: logging.LogRecord) -> None:
        msg = self.format(record)
        self.log_sink.log(
            msg, getattr(record, "_frame_type", None) or TEXT_FRAME_TYPES[_level_bucket(record)]
        )


_RESERVED = frozenset(
    (
        "name",
        "msg",
        "args",
        "levelname",
        "levelno",
        "pathname",
        "filename",
        "module",
        "exc_info",
        "exc_text",
        "stack_info",
        "lineno",
        "funcName",
        "created",
        "msecs",
        "relativeCreated",
        "thread",
        "threadName",
        "processName",
        "process",
        "aws_request_id",
        "tenant_id",
        "_frame_type",
    )
)


class JsonFormatter(logging.Formatter):
    """awslambdaric's JSON log line: one object per record plus ``\\n``.

    Keys in order: ``timestamp`` (UTC, second precision), ``level``, ``message`` (a dict ``msg``
    without args is embedded as an object), ``logger``, ``stackTrace``/``errorType``/``errorMessage``
    (with ``exc_info``), ``requestId``, ``location`` (with ``exc_info``), ``tenantId`` (when not None),
    then the ``extra=`` fields; keys whose value is None are dropped. Encoded by the stdlib encoder
    without ASCII escaping, non-serialisable values ``str()``-ed.

    Like awslambdaric, it normalises the record's ``levelno``/``levelname`` to the 0–50 bucket and sets
    ``record._frame_type`` (visible to other handlers).
    """

    def __init__(self) -> None:
        super().__init__(datefmt=JSON_DATEFMT)
        import json

        self._encode = json.JSONEncoder(ensure_ascii=False, default=str).encode

    def format(self, record: logging.LogRecord) -> str:
        level = _level_bucket(record)
        record.levelno = level
        record.levelname = logging.getLevelName(level)
        record._frame_type = JSON_FRAME_TYPES.get(level, JSON_FRAME_TYPES[0])

        msg = record.msg
        exc_info: Any = record.exc_info
        stack: list[str] | None = None
        etype: str | None = None
        evalue: str | None = None
        location: str | None = None
        # exc_info=(None, None, None) (logging.exception outside an except block) counts as absent.
        if exc_info and exc_info[0] is not None:
            import traceback

            stack = traceback.format_tb(exc_info[2])
            etype = exc_info[0].__name__
            evalue = _safe_str(exc_info[1])
            location = f"{record.pathname}:{record.funcName}:{record.lineno}"
        result: dict[str, Any] = {
            "timestamp": self.formatTime(record, self.datefmt),
            "level": record.levelname,
            "message": msg if isinstance(msg, dict) and not record.args else record.getMessage(),
            "logger": record.name,
            "stackTrace": stack,
            "errorType": etype,
            "errorMessage": evalue,
            "requestId": getattr(record, "aws_request_id", None),
            "location": location,
        }
        tenant = getattr(record, "tenant_id", None)
        if tenant is not None:
            result["tenantId"] = tenant
        for key, value in record.__dict__.items():
            if key not in _RESERVED and key not in result:
                result[key] = value
        return self._encode({k: v for k, v in result.items() if v is not None}) + "\n"


def _safe_str(value: object) -> str:
    try:
        return str(value)
    except Exception:  # noqa: BLE001
        return "<exception str() failed>"


def setup_logging(json_format: bool, log_level: str, log_sink: Any, state: dict[str, Any]) -> logging.Handler:
    """Install fastric's handler on the root logger, as awslambdaric's ``_setup_logging`` does.

    - ``logging.Formatter.converter`` becomes ``time.gmtime`` (process-wide);
    - one handler is added (existing ones are kept): :class:`LambdaLoggerHandlerWithFrameType` for
      JSON or when ``log_level`` is non-empty, else :class:`LambdaLoggerHandler`; formatter JSON or
      :data:`TEXT_FORMAT`; the request-id filter on the handler;
    - the root level is set only when ``log_level`` is a known level name (otherwise WARNING stays);
    - the sink's ``error_frame_type`` is set for the format.

    Returns the handler.
    """
    logging.Formatter.converter = time.gmtime
    root = logging.getLogger()
    handler: logging.Handler
    if json_format or log_level:
        handler = LambdaLoggerHandlerWithFrameType(log_sink)
    else:
        handler = LambdaLoggerHandler(log_sink)
    if json_format:
        handler.setFormatter(JsonFormatter())
        log_sink.error_frame_type = JSON_FRAME_TYPES[40]
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT, TEXT_DATEFMT))
        log_sink.error_frame_type = TEXT_FRAME_TYPES[40]
    if log_level in logging._nameToLevel:  # noqa: SLF001 - the same table logging itself uses
        root.setLevel(log_level)
    handler.addFilter(LambdaLoggerFilter(state))
    root.addHandler(handler)
    return handler


# --------------------------------------------------------------------------------------------------
# the unhandled-error record


def error_log_lines(
    error_result: dict[str, Any], json_format: bool, to_json: Callable[[Any], str]
) -> list[str]:
    """The lines of the record logged for an unhandled error (awslambdaric's ``log_error``).

    TEXT: ``[ERROR]`` + `` <errorType>`` + ``:`` (when both) + `` <errorMessage>``, then
    ``Traceback (most recent call last):`` (always), then each stack-trace element split into lines,
    leading spaces turned one-for-one into U+00A0 (an empty element gives one empty line).
    JSON: one line, ``to_json({"timestamp", "level": "ERROR", **error_result})`` with a
    second-precision UTC timestamp.
    """
    if json_format:
        doc = {
            "timestamp": time.strftime(JSON_DATEFMT, logging.Formatter.converter(time.time())),
            "level": "ERROR",
        }
        doc.update(error_result)
        return [to_json(doc)]

    head = "[ERROR]"
    etype = error_result.get("errorType")
    emsg = error_result.get("errorMessage")
    if etype:
        head += " " + etype
    if emsg:
        if etype:
            head += ":"
        head += " " + emsg
    lines = [head]
    trace = error_result.get("stackTrace")
    if trace is not None:
        lines.append("Traceback (most recent call last):")
        for element in trace:
            if element == "":
                lines.append("")
                continue
            for line in element.splitlines():
                stripped = line.lstrip(" ")
                lines.append(_NBSP * (len(line) - len(stripped)) + stripped)
    return lines
