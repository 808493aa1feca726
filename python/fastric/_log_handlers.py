"""The ``logging`` classes of fastric's root-logger handler: the request-id filter, the two handlers and
the JSON formatter (awslambdaric 4.2.2 ``bootstrap.py`` and ``lambda_runtime_log_utils.py``; sections
7.2 to 7.4 of the behaviour reference).

Split out of :mod:`fastric.log` because it imports :mod:`logging`: this module is imported only when
logging is set up, which happens when ``logging`` is first imported by anyone (see
:func:`fastric.log.install_logging`). The names are also reachable as ``fastric.log.<name>``.
"""

from __future__ import annotations

import logging

from .log import JSON_DATEFMT, JSON_FRAME_TYPES, TEXT_FRAME_TYPES, _level_bucket

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is not imported at run time (start-up cost)
    from typing import Any

__all__ = [
    "JsonFormatter",
    "LambdaLoggerFilter",
    "LambdaLoggerHandler",
    "LambdaLoggerHandlerWithFrameType",
    "TextFormatter",
    "attach_fast_twin",
]


_Formatter = logging.Formatter
_STDLIB_FORMAT_TIME = logging.Formatter.formatTime


class _SecondCachedTimeFormatter(logging.Formatter):
    """A ``logging.Formatter`` whose ``formatTime`` reuses the string of the previous record when the
    record falls in the same whole second with the same ``datefmt`` and ``converter``.

    ``time.strftime`` has no sub-second directive, so with a ``datefmt`` the text depends only on those
    three; the output is the stdlib's, byte for byte. Without a ``datefmt`` (milliseconds included) it
    defers to the stdlib every time, and so it does while
    ``logging.Formatter.formatTime`` is not the stdlib's (a library patched it). Saves about 0.9 µs per record, an eighth of a logged line.
    """

    _last_time: tuple[int, Any, str, str] | None = None

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        if not datefmt or _Formatter.formatTime is not _STDLIB_FORMAT_TIME:
            return super().formatTime(record, datefmt)
        second = int(record.created)
        converter = self.converter
        last = self._last_time
        if last is not None and last[0] == second and last[1] is converter and last[2] == datefmt:
            return last[3]
        text = super().formatTime(record, datefmt)
        self._last_time = (second, converter, datefmt, text)
        return text


class TextFormatter(_SecondCachedTimeFormatter):
    """A ``logging.Formatter`` with the per-second time-string cache. The root handler's formatter in
    TEXT format is a plain ``logging.Formatter`` (awslambdaric's exact type); the handler formats
    through a :class:`TextFormatter` twin of it while that formatter is untouched (see
    :func:`attach_fast_twin`)."""


class _FastTwin:
    """The cached-time twin of the plain ``logging.Formatter`` a root handler was given.

    ``original`` is that formatter, ``snapshot`` a copy of its instance attributes when the twin was
    made; ``twin`` a :class:`TextFormatter` sharing its ``_style`` object (so a change to the style
    reaches both)."""

    __slots__ = ("original", "snapshot", "twin")

    def __init__(self, original: logging.Formatter) -> None:
        self.original = original
        self.snapshot = dict(original.__dict__)
        twin = TextFormatter.__new__(TextFormatter)
        twin.__dict__.update(original.__dict__)
        self.twin = twin


def attach_fast_twin(handler: logging.Handler) -> None:
    """Let ``handler`` format through a :class:`TextFormatter` twin of its current formatter (a plain
    ``logging.Formatter``) for as long as that formatter is the handler's, is still exactly a
    ``logging.Formatter`` with the same instance attributes (``_fmt``, ``datefmt``, ``_style``, no
    instance ``converter`` or method), and ``logging.Formatter.formatTime`` is the stdlib's. Anything
    else (a formatter set by the user or a library, a changed attribute) is used as is, from the next
    record on. Same bytes either way (tests/test_log_time_cache.py)."""
    handler._fastric_twin = _FastTwin(handler.formatter)  # type: ignore[attr-defined]


def _format(handler: Any, record: logging.LogRecord) -> str:
    # handler.format(record), through the cached twin when the formatter is the untouched original.
    fast = handler._fastric_twin
    if fast is not None:
        fmt = handler.formatter
        if (
            fmt is fast.original
            and type(fmt) is _Formatter
            and fmt.__dict__ == fast.snapshot
            and _Formatter.formatTime is _STDLIB_FORMAT_TIME
        ):
            return fast.twin.format(record)
    return handler.format(record)


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

    _fastric_twin: _FastTwin | None = None

    def __init__(self, log_sink: Any) -> None:
        super().__init__()
        self.log_sink = log_sink

    def emit(self, record: logging.LogRecord) -> None:
        self.log_sink.log(_format(self, record))


class LambdaLoggerHandlerWithFrameType(logging.Handler):
    """Root handler for JSON format or when a level is configured: the frame type follows the
    record's level (the formatter's ``record._frame_type`` first, else the TEXT type of the level)."""

    _fastric_twin: _FastTwin | None = None

    def __init__(self, log_sink: Any) -> None:
        super().__init__()
        self.log_sink = log_sink

    def emit(self, record: logging.LogRecord) -> None:
        msg = _format(self, record)
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


class JsonFormatter(_SecondCachedTimeFormatter):
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
