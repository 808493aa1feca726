"""fastric's exception types.

- :class:`FaultException` is the runtime-side fault (bad handler string, unmarshal/marshal failure,
  unparsable context headers, SnapStart hook failures). Its ``exception_type`` strings are
  awslambdaric 4.2.2's ``Runtime.*`` error types, verbatim; they end up as ``errorType`` in the error
  documents posted to the Runtime API.
- :class:`FastricError` / :class:`RuntimeApiError` are raised by the Runtime API client. They come
  from the native module ``fastric._fastric`` when it defines them; otherwise (native module absent or
  older) Python classes with the same names and bases stand in, so ``except fastric.errors.X`` works
  either way.
"""

from __future__ import annotations

import os

__all__ = [
    "FastricError",
    "FaultException",
    "RuntimeApiError",
    "build_fault_result",
    "error_result_for",
    "extract_frames",
    "format_frames",
    "make_error",
    "make_xray_fault",
    "safe_str",
    "to_json",
    "to_json_bytes",
]

# Message reported when str(exception) itself raises (CPython's traceback module uses the same words).
STR_FAILED = "<exception str() failed>"

# X-Ray cause documents of this many encoded bytes or more are not sent (awslambdaric's limit).
XRAY_CAUSE_LIMIT = 1024 * 1024

# Frames of fastric's streaming and async-handler adapters, and of the asyncio (or uvloop) machinery
# they drive, lead the trace of an error raised by a streamed or async handler: stripped like
# awslambdaric's bootstrap.py frames.
_ADAPTER_SUFFIXES = tuple(os.sep + os.path.join("fastric", name) for name in ("streaming.py", "_aio.py"))
_ASYNCIO_DIR = os.path.join(os.path.dirname(os.__file__), "asyncio") + os.sep


class FaultException(Exception):
    """A fault detected by the runtime itself rather than raised by the user's handler.

    Attributes (same names as awslambdaric's ``FaultException``, which third parties read):
        exception_type: the ``errorType`` to report, e.g. ``"Runtime.ImportModuleError"``.
        msg: the ``errorMessage`` to report.
        trace: a list of ``traceback.format_list``-style strings for ``stackTrace``, or ``None``
            (reported as ``[]``).
    """

    MARSHAL_ERROR = "Runtime.MarshalError"
    UNMARSHAL_ERROR = "Runtime.UnmarshalError"
    USER_CODE_SYNTAX_ERROR = "Runtime.UserCodeSyntaxError"
    HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
    IMPORT_MODULE_ERROR = "Runtime.ImportModuleError"
    BUILT_IN_MODULE_CONFLICT = "Runtime.BuiltInModuleConflict"
    MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"
    BEFORE_SNAPSHOT_ERROR = "Runtime.BeforeSnapshotError"
    AFTER_RESTORE_ERROR = "Runtime.AfterRestoreError"
    LAMBDA_CONTEXT_UNMARSHAL_ERROR = "Runtime.LambdaContextUnmarshalError"
    LAMBDA_RUNTIME_CLIENT_ERROR = "Runtime.LambdaRuntimeClientError"

    def __init__(self, exception_type: str, msg: str, trace: list[str] | None = None) -> None:
        super().__init__(exception_type, msg)
        self.exception_type = exception_type
        self.msg = msg
        self.trace = trace

    def __str__(self) -> str:
        return self.msg


try:
    from ._fastric import FastricError, RuntimeApiError  # type: ignore[attr-defined]
except ImportError:  # native module absent, or built without these names

    class FastricError(Exception):  # type: ignore[no-redef]
        """Base class of the errors raised by fastric's own machinery (not by user code)."""

    class RuntimeApiError(FastricError, ConnectionError):  # type: ignore[no-redef]
        """A Runtime API request failed: connection error or an unexpected HTTP status.

        The message names the endpoint, the status and the response body, in awslambdaric's words:
        ``Request to Lambda Runtime '<endpoint>' endpoint failed. Reason: '<status>'. Response body: '<body>'``.
        """


def safe_str(value: object) -> str:
    """``str(value)``; :data:`STR_FAILED` when that raises (awslambdaric would crash instead)."""
    try:
        return str(value)
    except Exception:  # noqa: BLE001
        return STR_FAILED


def _is_runtime_frame(filename: str) -> bool:
    return (
        "/bootstrap.py" in filename
        or filename.endswith(_ADAPTER_SUFFIXES)
        or filename.startswith(_ASYNCIO_DIR)
        or "uvloop" + os.sep in filename
    )


def extract_frames(tb: object) -> list[tuple[str, int | None, str, str | None]]:
    """``(filename, lineno, function, source line)`` for each frame of traceback ``tb``, with the
    leading runtime frames removed: as awslambdaric, leading frames whose file name contains
    ``/bootstrap.py`` (fastric's ``handle_event_request`` lives in ``fastric/bootstrap.py`` too);
    fastric also drops the frames of its streaming and async adapters and the asyncio machinery they
    drive. When every frame is a runtime frame, none is dropped (as in awslambdaric)."""
    import traceback

    frames = [(f.filename, f.lineno, f.name, f.line) for f in traceback.extract_tb(tb)]  # type: ignore[arg-type]
    for i, frame in enumerate(frames):
        if not _is_runtime_frame(frame[0]):
            return frames[i:]
    return frames


def format_frames(frames: list[tuple[str, int | None, str, str | None]]) -> list[str]:
    """The ``stackTrace`` strings: ``'  File "<file>", line <n>, in <func>\\n    <source>\\n'`` per
    frame (``traceback.format_list`` of plain tuples, so no caret lines)."""
    import traceback

    return traceback.format_list(frames)  # type: ignore[arg-type]


def make_error(
    error_message: str | None,
    error_type: str | None,
    stack_trace: list[str] | None,
    request_id: str | None = None,
) -> dict[str, object]:
    """The error document, keys in awslambdaric's order:
    ``{"errorMessage", "errorType", "requestId", "stackTrace"}``; falsy values become ``""``/``[]``
    (``requestId`` only when None)."""
    return {
        "errorMessage": error_message if error_message else "",
        "errorType": error_type if error_type else "",
        "requestId": request_id if request_id is not None else "",
        "stackTrace": stack_trace if stack_trace else [],
    }


def make_xray_fault(
    error_type: str, message: str, working_dir: str, frames: list[tuple[str, int | None, str, str | None]]
) -> dict[str, object]:
    """The X-Ray cause document:
    ``{"working_directory", "exceptions": [{"message", "type", "stack": [{"label", "path", "line"}]}], "paths"}``.

    ``paths`` holds each file once, in order of first appearance (awslambdaric uses a set, whose order
    varies with hash randomisation; any fixed order is one of its possible outputs)."""
    stack = [{"label": name, "path": filename, "line": lineno} for filename, lineno, name, _ in frames]
    paths = list(dict.fromkeys(filename for filename, _, _, _ in frames))
    return {
        "working_directory": working_dir,
        "exceptions": [{"message": message, "type": error_type, "stack": stack}],
        "paths": paths,
    }


def error_result_for(
    exc: BaseException, request_id: str | None
) -> tuple[dict[str, object], dict[str, object]]:
    """``(error document, X-Ray cause document)`` for an exception caught around a handler call.

    :class:`FaultException` → its type/message/trace, X-Ray type ``LambdaValidationError`` with no
    stack; any other exception → class ``__name__`` (not module-qualified), ``str(exc)`` and the
    stripped stack (see :func:`extract_frames`)."""
    cwd = os.getcwd()
    if isinstance(exc, FaultException):
        return (
            make_error(exc.msg, exc.exception_type, exc.trace, request_id),
            make_xray_fault("LambdaValidationError", exc.msg, cwd, []),
        )
    frames = extract_frames(exc.__traceback__)
    name = type(exc).__name__
    message = safe_str(exc)
    return make_error(message, name, format_frames(frames), request_id), make_xray_fault(
        name, message, cwd, frames
    )


def build_fault_result(exc: BaseException, msg: str | None = None) -> dict[str, object]:
    """Error document for an init or SnapStart failure (``requestId`` ``""``): ``msg`` or
    ``str(exc)``, the class name and the stripped stack trace."""
    frames = extract_frames(exc.__traceback__)
    return make_error(msg if msg else safe_str(exc), type(exc).__name__, format_frames(frames))


def to_json_bytes(obj: object, ensure_ascii: bool) -> bytes:
    """Encode an error/X-Ray document as awslambdaric's ``to_json`` does (separators ``", "`` and
    ``": "``, insertion order), as UTF-8 bytes.

    Uses ``fastric._fastric.json_dumps`` when the native module has it, else the stdlib encoder
    (identical bytes for str/int/list/dict/None). With ``ensure_ascii=False``, a string that cannot be
    encoded as UTF-8 (lone surrogate) makes the whole document fall back to ASCII escapes instead of
    failing."""
    try:
        from . import _fastric

        native = getattr(_fastric, "json_dumps", None)
    except ImportError:
        native = None
    if native is not None:
        try:
            return native(obj, ensure_ascii)
        except Exception:  # noqa: BLE001 - fall through to the stdlib encoder
            pass
    import json

    text = json.dumps(obj, ensure_ascii=ensure_ascii, separators=(", ", ": "))
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(obj, ensure_ascii=True, separators=(", ", ": ")).encode("ascii")


def to_json(obj: object, ensure_ascii: bool) -> str:
    """:func:`to_json_bytes` as ``str``."""
    return to_json_bytes(obj, ensure_ascii).decode("utf-8", "surrogateescape")
