"""Logging for fastric: write-through stdout/stderr, log sinks (stdout or telemetry-fd frames), the
root-logger handler with awslambdaric's TEXT and JSON formats, the unhandled-error log record and
fastric's own diagnostic lines.

Behaviour follows awslambdaric 4.2.2 (``bootstrap.py`` and ``lambda_runtime_log_utils.py``; sections 7.1
to 7.7 of the behaviour reference). Byte formats (format strings, frame layout, frame types) are exact.

This module does not import :mod:`logging` (it costs several ms of cold start with what it drags in).
:func:`install_logging` sets the root logger up at once when ``logging`` is already imported, and
otherwise at the moment something first imports it. The ``logging`` classes live in
:mod:`fastric._log_handlers` and are reachable here by name (``fastric.log.JsonFormatter``, ...).
"""

from __future__ import annotations

import io
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
    "JsonFormatter",  # noqa: F822 - resolved by __getattr__ (fastric._log_handlers)
    "LambdaLoggerFilter",  # noqa: F822
    "LambdaLoggerHandler",  # noqa: F822
    "LambdaLoggerHandlerWithFrameType",  # noqa: F822
    "TextFormatter",  # noqa: F822
    "StandardLogSink",
    "Unbuffered",
    "WriteThroughTextIO",
    "create_log_sink",
    "diagnostic",
    "error_log_lines",
    "install_logging",
    "level_from_env",
    "log_format_is_json",
    "make_write_through",
    "pending_log_sink",
    "setup_logging",
]

# When the runtime started, as ``time.time_ns()``: logging's ``_startTime`` (the base of
# ``LogRecord.relativeCreated``) is set to it when logging is imported late (see install_logging).
_START_NS = time.time_ns()

_WARNING = 30  # logging.WARNING, without importing logging

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


def _level_bucket(record: Any) -> int:
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

    The pure-Python write-through ``sys.stdout``/``sys.stderr`` (nothing printed is lost when the process
    dies: awslambdaric's ``Unbuffered`` guarantee), used by :func:`make_write_through` for text streams
    the native ``WriteThroughStream`` does not take (not UTF-8, no file descriptor, native module
    missing). It is an ``io.TextIOWrapper`` over the original binary buffer.
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


def _native_stream_class() -> Any:
    """``fastric._fastric.WriteThroughStream`` (registered as an ``io.TextIOBase``), or None when the
    native module is missing or older."""
    try:
        from ._fastric import WriteThroughStream  # type: ignore[attr-defined]
    except ImportError:
        return None
    if not issubclass(WriteThroughStream, io.TextIOBase):
        io.TextIOBase.register(WriteThroughStream)
    return WriteThroughStream


def _writes_straight_to_fd(stream: io.TextIOWrapper) -> bool:
    """True when bytes written to ``os.write(stream.fileno())`` are what ``stream`` itself would send:
    a UTF-8 ``TextIOWrapper`` over a plain ``BufferedWriter`` over a ``FileIO`` (or over the ``FileIO``
    itself, as with ``python -u``), on a system whose line separator is ``\n`` (no newline
    translation)."""
    import codecs

    try:
        raw = stream.buffer
        if type(raw) is io.BufferedWriter:
            raw = raw.raw
        return (
            os.linesep == "\n"
            and type(raw) is io.FileIO
            and codecs.lookup(stream.encoding).name == "utf-8"
            and stream.fileno() == raw.fileno()
        )
    except (AttributeError, ValueError, OSError, LookupError):
        return False


def make_write_through(stream: Any) -> Any:
    """Return a write-through replacement for ``stream`` (``sys.stdout`` or ``sys.stderr``).

    ``stream`` is first made ``write_through`` (and flushed) when it is a real ``io.TextIOWrapper``, so
    text written to it directly (``sys.__stdout__``) reaches its binary buffer at once and comes out in
    order with ours. Then:

    - a UTF-8 ``io.TextIOWrapper`` over a file descriptor becomes a native
      ``fastric._fastric.WriteThroughStream`` (``write`` encodes and ``write(2)``s the text itself, after
      flushing ``stream``; every other attribute is ``stream``'s, as with awslambdaric's ``Unbuffered``);
    - another ``io.TextIOWrapper`` (other encoding, no descriptor, native module missing) becomes a
      :class:`WriteThroughTextIO` over the same binary buffer, encoding and errors;
    - anything else is wrapped in :class:`Unbuffered`. ``None`` (and an already wrapped stream) is
      returned unchanged.
    """
    native = _native_stream_class()
    done = (WriteThroughTextIO, Unbuffered) if native is None else (WriteThroughTextIO, Unbuffered, native)
    if stream is None or isinstance(stream, done):
        return stream
    if type(stream) is io.TextIOWrapper:
        try:
            # The original stream stays reachable as sys.__stdout__/__stderr__ and shares the binary
            # buffer: let its writes reach that buffer at once, so our next flush sends them in order
            # (as awslambdaric's wrapper does) instead of leaving them in its own pending text.
            stream.reconfigure(write_through=True)
            stream.flush()
            if native is not None and _writes_straight_to_fd(stream):
                new_stream = native(stream)
                if hasattr(os, "register_at_fork"):
                    os.register_at_fork(after_in_child=new_stream._after_fork_in_child)
                return new_stream
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


def write_escaped(stream: Any, text: str) -> None:
    """``stream.write(text)``; when the stream cannot encode some of it (``PYTHONIOENCODING=ascii``,
    a lone surrogate), the text is written again with those characters as backslash escapes
    (``\\xe9``, ``\\u2603``, ``\\udc80``), so nothing is dropped. For the lines the runtime writes
    itself (error records, diagnostics); a user's ``print()`` keeps CPython's ``UnicodeEncodeError``.
    ``TextIOWrapper`` encodes the whole text before writing any of it, so nothing is written twice."""
    try:
        stream.write(text)
    except UnicodeEncodeError:
        encoding = getattr(stream, "encoding", None) or "utf-8"
        try:
            safe = text.encode(encoding, "backslashreplace").decode(encoding, "replace")
        except LookupError:
            safe = text.encode("ascii", "backslashreplace").decode("ascii")
        stream.write(safe)


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
        """Write one unhandled-error record: lines joined with ``\\r``, plus ``\\n``; what the stream
        cannot encode is written as backslash escapes (:func:`write_escaped`)."""
        write_escaped(sys.stdout, "\r".join(message_lines) + "\n")


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


_DIAGNOSTIC_LEVEL_NAMES = {0: "DEBUG", 10: "DEBUG", 20: "INFO", 30: "WARNING", 40: "ERROR", 50: "CRITICAL"}


def diagnostic(message: str, level: int = _WARNING) -> None:
    """Write one fastric diagnostic line, ``[fastric] <LEVEL> <message>\\n`` (the format of the native
    core's lines, ``rust/diagnostics.rs``): as a TEXT frame of the level's type on the telemetry fd when
    it is in use, otherwise to stderr. ``level`` is a ``logging`` level number (default 30, WARNING),
    named by its 0–50 bucket. Never raises."""
    bucket = max(0, min(50, level)) // 10 * 10
    line = f"[fastric] {_DIAGNOSTIC_LEVEL_NAMES[bucket]} {message}\n"
    try:
        sink = _diagnostic_sink
        if sink is not None and sink.file is not None and not sink.file.closed:
            sink.log(line, TEXT_FRAME_TYPES[bucket])
        else:
            write_escaped(sys.stderr, line)
            sys.stderr.flush()
    except Exception:  # noqa: BLE001 - diagnostics must never take the runtime down
        pass


# --------------------------------------------------------------------------------------------------
# the root-logger handler


_HANDLER_NAMES = frozenset(
    (
        "JsonFormatter",
        "LambdaLoggerFilter",
        "LambdaLoggerHandler",
        "LambdaLoggerHandlerWithFrameType",
        "TextFormatter",
    )
)


def __getattr__(name: str) -> Any:
    # The logging classes live in fastric._log_handlers (it imports logging); keep them reachable here.
    if name in _HANDLER_NAMES:
        from . import _log_handlers

        return getattr(_log_handlers, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def setup_logging(json_format: bool, log_level: str, log_sink: Any, state: dict[str, Any]) -> Any:
    """Install fastric's handler on the root logger, as awslambdaric's ``_setup_logging`` does.

    - ``logging.Formatter.converter`` becomes ``time.gmtime`` (process-wide);
    - one handler is added (existing ones are kept): :class:`LambdaLoggerHandlerWithFrameType` for
      JSON or when ``log_level`` is non-empty, else :class:`LambdaLoggerHandler`; formatter JSON or
      :data:`TEXT_FORMAT`; the request-id filter on the handler;
    - the root level is set only when ``log_level`` is a known level name (otherwise WARNING stays);
    - the sink's ``error_frame_type`` is set for the format.

    Imports :mod:`logging`. Returns the handler (a ``logging.Handler``).
    """
    import logging

    from ._log_handlers import (
        JsonFormatter,
        LambdaLoggerFilter,
        LambdaLoggerHandler,
        LambdaLoggerHandlerWithFrameType,
        attach_fast_twin,
    )

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
        # Exactly logging.Formatter, as awslambdaric (libraries check the type); the speed comes from
        # the handler's cached-time twin, used while this formatter stays untouched.
        handler.setFormatter(logging.Formatter(TEXT_FORMAT, TEXT_DATEFMT))
        attach_fast_twin(handler)
        log_sink.error_frame_type = TEXT_FRAME_TYPES[40]
    if log_level in logging._nameToLevel:  # noqa: SLF001 - the same table logging itself uses
        root.setLevel(log_level)
    handler.addFilter(LambdaLoggerFilter(state))
    root.addHandler(handler)
    return handler


class _LoaderThenSetup:
    """Wraps the real loader of ``logging``: runs the module, then the pending set-up, before the
    import statement that triggered it returns. It puts the real loader back on the module and its
    spec first, so nothing of it stays visible afterwards."""

    def __init__(self, loader: Any, pending: _PendingSetup) -> None:
        self._loader = loader
        self._pending = pending

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)

    def create_module(self, spec: Any) -> Any:
        create = getattr(self._loader, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module: Any) -> None:
        loader = self._loader
        spec = getattr(module, "__spec__", None)
        if spec is not None and spec.loader is self:
            spec.loader = loader
        if getattr(module, "__loader__", None) is self:
            module.__loader__ = loader
        loader.exec_module(module)
        self._pending.run(module)


class _PendingSetup:
    """A ``sys.meta_path`` finder that waits for the first import of ``logging`` (also as the parent of
    ``logging.config``/``logging.handlers``, from any thread): it asks the finders after it for the
    spec and wraps the loader (:class:`_LoaderThenSetup`); the set-up then runs right after the module
    body, under the import lock of ``logging``, so concurrent importers wait for it. Other names: None.
    """

    def __init__(self, json_format: bool, log_level: str, log_sink: Any, state: dict[str, Any]) -> None:
        self.json_format = json_format
        self.log_level = log_level
        self.log_sink = log_sink
        self.state = state
        self.done = False

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        """The spec of ``logging`` with its loader wrapped; None for any other module (or when the
        set-up already ran)."""
        if fullname != "logging" or self.done:
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None) if finder is not self else None
            if find is None:
                continue
            spec = find(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _LoaderThenSetup(spec.loader, self)
                return spec
        return None

    def run(self, logging_module: Any) -> None:
        """Run the set-up once: logging's ``_startTime`` back-dated to the runtime start (so
        ``relativeCreated`` counts from there, as when logging is imported at start), then
        :func:`setup_logging`. The finder leaves ``sys.meta_path``. A failure is a diagnostic line."""
        global _pending
        if self.done:
            return
        self.done = True
        try:
            sys.meta_path.remove(self)
        except ValueError:
            pass
        try:
            start = logging_module.__dict__.get("_startTime")
            if isinstance(start, float):  # Python <= 3.12: time.time()
                logging_module._startTime = _START_NS / 1e9
            elif isinstance(start, int):  # Python >= 3.13: time.time_ns()
                logging_module._startTime = _START_NS
            setup_logging(self.json_format, self.log_level, self.log_sink, self.state)
        except Exception as e:  # noqa: BLE001 - must not break the user's `import logging`
            diagnostic(f"could not set up logging: {type(e).__name__}: {e}", 40)
        finally:
            if _pending is self:
                _pending = None


_pending: _PendingSetup | None = None


def install_logging(
    json_format: bool, log_level: str, log_sink: Any, state: dict[str, Any], now: bool = False
) -> bool:
    """Set up the root logger as :func:`setup_logging` does, now or when ``logging`` is first imported.

    The sink's ``error_frame_type`` is set at once. When ``now`` is true or ``logging`` is already in
    ``sys.modules`` (e.g. imported by ``sitecustomize``), :func:`setup_logging` runs now and its
    exceptions propagate; returns True. Otherwise a finder is put first on ``sys.meta_path`` that runs
    the set-up as soon as ``logging`` has been imported by anyone, before the importing code continues
    (handler, level, formatter, filter, converter and records are the same as with an eager set-up);
    returns False. Until then :func:`pending_log_sink` returns ``log_sink``.
    """
    global _pending
    log_sink.error_frame_type = JSON_FRAME_TYPES[40] if json_format else TEXT_FRAME_TYPES[40]
    if now or "logging" in sys.modules:
        setup_logging(json_format, log_level, log_sink, state)
        return True
    pending = _PendingSetup(json_format, log_level, log_sink, state)
    _pending = pending
    sys.meta_path.insert(0, pending)
    return False


def finish_pending_setup() -> None:
    """Safety net, called at the end of init: when ``logging`` got imported without passing through
    the finder (another finder in front of it answered for it), run the set-up now."""
    pending = _pending
    if pending is None:
        return
    module = sys.modules.get("logging")
    spec = getattr(module, "__spec__", None)
    if module is not None and not getattr(spec, "_initializing", False):
        pending.run(module)


def pending_log_sink() -> Any:
    """The sink the root handler will write to while its set-up waits for ``logging`` to be
    imported; None when no set-up is pending (then the root logger's handlers hold the sink)."""
    pending = _pending
    return pending.log_sink if pending is not None else None


# --------------------------------------------------------------------------------------------------
# the unhandled-error record


def _converter() -> Callable[[float], Any]:
    # logging.Formatter.converter; time.gmtime (what the set-up installs) while logging is not imported
    # or its set-up has not run yet.
    logging = sys.modules.get("logging")
    if logging is None or _pending is not None:
        return time.gmtime
    return logging.Formatter.converter


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
            "timestamp": time.strftime(JSON_DATEFMT, _converter()(time.time())),
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
