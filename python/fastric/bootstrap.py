"""fastric's start-up sequence and the Python hooks of the invoke loop.

:func:`run` does what awslambdaric 4.2.2's ``bootstrap.run`` does, in the same order (section 1.2 of
the behaviour reference): write-through ``sys.stdout``/``sys.stderr``, log sink, logging set-up, the
preview warning, eager handler import with awslambdaric's init-error types and messages (section 3.2),
the SnapStart hooks (section 8.2), then the invoke loop: ``fastric._fastric.run_invoke_loop`` when the
native module has it, otherwise :func:`fastric._pyloop.run`.

This module's globals are the loop's ``state`` dict: ``_GLOBAL_AWS_REQUEST_ID`` and
``_GLOBAL_TENANT_ID`` hold the current invocation's ids (they stay set after the invocation, as in
awslambdaric) and feed the logging filter. Start-up imports are kept small: ``logging`` (the root
handler is installed when something first imports it, see :func:`fastric.log.install_logging`),
``json``, ``traceback``, ``http.client`` and ``importlib`` machinery beyond what Python loads anyway are
imported only on the paths that need them.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is not imported at run time (start-up cost)
    from collections.abc import Callable
    from typing import Any, NoReturn

from . import log as _log
from .errors import (
    XRAY_CAUSE_LIMIT,
    FastricError,
    FaultException,
    build_fault_result,
    error_result_for,
    make_error,
    safe_str,
    to_json,
    to_json_bytes,
)
from .lambda_context import LambdaContext

__all__ = ["Hooks", "create_lambda_context", "load_handler", "log_error", "run"]

_GLOBAL_AWS_REQUEST_ID: str | None = None
_GLOBAL_TENANT_ID: str | None = None

# AWS_EXECUTION_ENV values for which awslambdaric encodes JSON with ensure_ascii=False.
_NON_ASCII_ENVS = frozenset(
    ("AWS_Lambda_python3.12", "AWS_Lambda_python3.13", "AWS_Lambda_python3.14", "AWS_Lambda_python3.15")
)
PREVIEW_RUNTIME_ENVS = frozenset(("AWS_Lambda_python3.15",))
INIT_TYPE_SNAP_START = "snap-start"
_ERROR = 40  # logging.ERROR, without importing logging

# fastric's wording after awslambdaric's "LAMBDA_WARNING: " prefix; same placement, level and final "\r".
UNHANDLED_INIT_WARNING = (
    "LAMBDA_WARNING: Unhandled exception while initializing the function. This is almost always caused by "
    "the function code or its dependencies; the error record below has the details. If the failure began "
    "right after a runtime update (compare the runtime version in the INIT_START log entry), rolling back "
    "to the previous runtime version may work around it. See "
    "https://docs.aws.amazon.com/lambda/latest/dg/runtimes-update.html\r"
)


def _preview_warning() -> str:
    host = (
        "docs.amazonaws.cn" if os.environ.get("AWS_REGION", "").startswith("cn-") else "docs.aws.amazon.com"
    )
    return (
        "LAMBDA_WARNING: This Python runtime version is a preview; do not use it for production workloads. "
        f"Details and feedback: https://{host}/lambda/latest/dg/lambda-runtimes.html\r"
    )


# Set by run() from the environment, before any user code runs.
_json_format = False
_log_level = ""
_ensure_ascii = True
_log_sink: Any = None


def ensure_ascii_for_env(execution_env: str | None) -> bool:
    """False when ``AWS_EXECUTION_ENV`` is one of the Python 3.12–3.15 managed runtimes (JSON then keeps
    non-ASCII characters raw), True otherwise; as awslambdaric 4.2.2."""
    return execution_env not in _NON_ASCII_ENVS


# --------------------------------------------------------------------------------------------------
# handler loading


def _get_handler(handler: str) -> Callable[..., Any]:
    """Import the handler named ``module.function`` (``/`` in the module part counts as ``.``).

    Raises :class:`FaultException` with awslambdaric's types and messages:
    ``Runtime.MalformedHandlerName``, ``Runtime.BuiltInModuleConflict``, ``Runtime.ImportModuleError``,
    ``Runtime.UserCodeSyntaxError`` (one-element stack trace), ``Runtime.HandlerNotFound``. Any other
    exception raised while importing the module propagates unchanged. Only one attribute level is
    looked up, and callability is not checked (awslambdaric parity).
    """
    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as e:
        raise FaultException(FaultException.MALFORMED_HANDLER_NAME, f"Bad handler '{handler}': {e}") from None

    if modname.split(".")[0] in sys.builtin_module_names:
        raise FaultException(
            FaultException.BUILT_IN_MODULE_CONFLICT,
            f"Cannot use built-in module {modname} as a handler module",
        )
    try:
        import importlib

        module = importlib.import_module(modname.replace("/", "."))
    except ImportError as e:
        raise FaultException(
            FaultException.IMPORT_MODULE_ERROR, f"Unable to import module '{modname}': {safe_str(e)}"
        ) from None
    except SyntaxError as e:
        trace = [f'  File "{e.filename}" Line {e.lineno}\n    {e.text}']
        raise FaultException(
            FaultException.USER_CODE_SYNTAX_ERROR, f"Syntax error in module '{modname}': {safe_str(e)}", trace
        ) from None
    try:
        return getattr(module, fname)
    except AttributeError:
        raise FaultException(
            FaultException.HANDLER_NOT_FOUND, f"Handler '{fname}' missing on module '{modname}'"
        ) from None


def load_handler(handler_name: str) -> tuple[Callable[..., Any] | None, dict[str, Any] | None]:
    """``(handler, None)``, or ``(None, error document)`` for an init error (``requestId`` ``""``):
    :class:`FaultException`s give their type/message/trace, any other ``Exception`` raised by the
    import its class name, message and stack trace (leading runtime frames stripped)."""
    try:
        return _get_handler(handler_name), None
    except FaultException as e:
        return None, make_error(e.msg, e.exception_type, e.trace)
    except Exception as e:  # noqa: BLE001 - any exception from the user's module is an init error
        return None, build_fault_result(e)


# --------------------------------------------------------------------------------------------------
# error reporting


def _to_json(obj: Any) -> str:
    return to_json(obj, _ensure_ascii)


def log_error(error_result: dict[str, Any], log_sink: Any) -> None:
    """Log an unhandled-error record (TEXT or JSON per ``AWS_LAMBDA_LOG_FORMAT``) to ``log_sink``, as
    awslambdaric's ``log_error``: ``\\r``-joined lines on stdout, or one frame on the telemetry fd."""
    log_sink.log_error(_log.error_log_lines(error_result, _json_format, _to_json))


def create_lambda_context(
    client_context_json: str | None,
    cognito_identity_json: str | None,
    epoch_deadline_time_in_ms: int,
    invoke_id: str,
    invoked_function_arn: str,
    tenant_id: str | None,
) -> LambdaContext:
    """Build the :class:`LambdaContext` from the raw header values (awslambdaric's signature).

    The JSON headers are parsed with the stdlib ``json.loads``, only when non-empty. Raises
    ``FaultException("Runtime.LambdaContextUnmarshalError", "Unable to parse Client Context JSON: <e>")``
    (or ``Cognito Identity``) on invalid JSON."""
    client_context = (
        _parse_json_header(client_context_json, "Client Context") if client_context_json else None
    )
    cognito = _parse_json_header(cognito_identity_json, "Cognito Identity") if cognito_identity_json else None
    return LambdaContext(
        invoke_id, client_context, cognito, epoch_deadline_time_in_ms, invoked_function_arn, tenant_id
    )


def _parse_json_header(value: str, name: str) -> Any:
    import json

    try:
        return json.loads(value)
    except Exception as e:  # noqa: BLE001 - awslambdaric maps every failure the same way
        raise FaultException(
            FaultException.LAMBDA_CONTEXT_UNMARSHAL_ERROR, f"Unable to parse {name} JSON: {safe_str(e)}"
        ) from None


class Hooks:
    """The Python side of the invoke loop (``docs/ARCHITECTURE.md``, "hooks"). All methods are called
    with the GIL held.

    Attributes:
        state: this module's globals; the loop sets ``_GLOBAL_AWS_REQUEST_ID``/``_GLOBAL_TENANT_ID``.
        environ: ``os.environ`` as it is now (a property: a handler may have replaced it, and
            awslambdaric writes to the current one); the loop sets or removes ``_X_AMZN_TRACE_ID``.
        ensure_ascii: whether JSON output escapes non-ASCII (see :func:`ensure_ascii_for_env`).
    """

    def __init__(self, log_sink: Any, ensure_ascii: bool) -> None:
        self.state: dict[str, Any] = globals()
        #: called as ``context_class(request_id, None, None, deadline_ms, arn, tenant_id)`` when
        #: there are no client-context or Cognito headers to parse
        self.context_class = LambdaContext
        self.ensure_ascii = ensure_ascii
        self._log_sink = log_sink

    @property
    def environ(self) -> Any:
        """The current ``os.environ`` (looked up on each access)."""
        return os.environ

    def make_context(
        self,
        request_id: str,
        deadline_ms: int | None,
        invoked_function_arn: str | None,
        client_context: str | None,
        cognito_identity: str | None,
        tenant_id: str | None,
    ) -> LambdaContext:
        """The handler's context. ``deadline_ms`` None → 0; ``invoked_function_arn`` None → ``''``;
        ``client_context``/``cognito_identity`` are the raw header strings (None when absent).
        Raises ``FaultException("Runtime.LambdaContextUnmarshalError", ...)`` for unparsable JSON, and
        ``AttributeError`` for JSON that is not an object (reported as a user error, as awslambdaric)."""
        return create_lambda_context(
            client_context,
            cognito_identity,
            deadline_ms if deadline_ms is not None else 0,
            request_id,
            invoked_function_arn if invoked_function_arn is not None else "",
            tenant_id,
        )

    def unmarshal_fallback(self, body: bytes) -> Any:
        """Decode an event the native decoder declined, with simplejson's semantics and messages
        (``fastric._json_compat.loads``). Raises
        ``FaultException("Runtime.UnmarshalError", "Unable to unmarshal input: <message>")``."""
        from ._json_compat import loads  # the rare path: only when the Rust decoder declined

        try:
            return loads(body)
        except Exception as e:  # noqa: BLE001 - awslambdaric wraps every decoder failure
            raise FaultException(
                FaultException.UNMARSHAL_ERROR, "Unable to unmarshal input: " + safe_str(e)
            ) from None

    def marshal_error(self, exc: BaseException) -> FaultException:
        """The fault to report when the result could not be encoded:
        ``FaultException("Runtime.MarshalError", "Unable to marshal response: <str(exc)>")``."""
        return FaultException(FaultException.MARSHAL_ERROR, "Unable to marshal response: " + safe_str(exc))

    def handle_error(self, exc: BaseException, request_id: str) -> tuple[bytes, str | None]:
        """Log the error record and build what to post to ``/invocation/{id}/error``.

        Returns ``(body, xray_cause)``: ``body`` is the UTF-8 error document
        ``{"errorMessage", "errorType", "requestId", "stackTrace"}``; ``xray_cause`` the X-Ray cause
        JSON, or None when it would be 1 MiB or more (the header is then omitted). Never raises: an
        exception whose ``str()`` fails is reported with ``errorMessage`` ``"<exception str() failed>"``.
        """
        ensure_ascii = self.ensure_ascii
        try:
            error_result, xray = error_result_for(exc, request_id)
        except Exception as e:  # noqa: BLE001 - last resort, must still post something
            error_result = make_error(safe_str(e), type(exc).__name__, [], request_id)
            xray = None
        try:
            log_error(error_result, self._log_sink)
        except Exception as e:  # noqa: BLE001 - a broken stdout must not stop the error post
            _log.diagnostic(f"could not write the error record: {type(e).__name__}: {safe_str(e)}")
        body = to_json_bytes(error_result, ensure_ascii)
        cause: str | None = None
        if xray is not None:
            cause = to_json(xray, ensure_ascii)
            if len(cause.encode("utf-8", "surrogateescape")) >= XRAY_CAUSE_LIMIT:
                cause = None
        return body, cause


# --------------------------------------------------------------------------------------------------
# start-up


def _user_agent() -> str:
    v = sys.version_info
    try:
        from ._fastric import VERSION
    except ImportError:
        from . import __version__ as VERSION
    return f"fastric-python/{v.major}.{v.minor}.{v.micro}-{VERSION}"


def _make_client(address: str) -> Any:
    if os.environ.get("FASTRIC_PURE_PYTHON") != "1":
        try:
            from ._fastric import RuntimeApiClient  # type: ignore[attr-defined]
        except ImportError:
            pass
        else:
            try:
                return RuntimeApiClient(address, _user_agent())
            except ValueError as e:
                _log.diagnostic(f"AWS_LAMBDA_RUNTIME_API={address!r} is not a usable address: {e}", _ERROR)
                sys.exit(1)
    from ._pyloop import HttpRuntimeApiClient

    return HttpRuntimeApiClient(address, _user_agent())


def _on_init_complete(client: Any, log_sink: Any) -> None:
    # SnapStart: before-snapshot hooks, wait for the restore, after-restore hooks (exit 64 / 65).
    from ._snapstart import run_after_restore, run_before_snapshot

    try:
        run_before_snapshot()
        client.restore_next()
    except Exception as e:  # noqa: BLE001
        error_result = build_fault_result(e)
        log_error(error_result, log_sink)
        _post_init_error(client, error_result, FaultException.BEFORE_SNAPSHOT_ERROR)
        sys.exit(64)
    try:
        run_after_restore()
    except Exception as e:  # noqa: BLE001
        error_result = build_fault_result(e)
        log_error(error_result, log_sink)
        try:
            client.post_restore_error(
                to_json_bytes(error_result, _ensure_ascii), FaultException.AFTER_RESTORE_ERROR
            )
        except Exception as post_exc:  # noqa: BLE001
            _log.diagnostic(
                f"could not post the restore error: {type(post_exc).__name__}: {safe_str(post_exc)}"
            )
        sys.exit(65)


def _is_forbidden(exc: BaseException) -> bool:
    # A 403 answer: the native RuntimeApiError carries `status`; the pure-Python stand-in only the
    # message (awslambdaric's wording, "... Reason: '403'. ...").
    status = getattr(exc, "status", None)
    if status is not None:
        return status == 403
    return "Reason: '403'." in safe_str(exc)


def _post_init_error(
    client: Any, error_result: dict[str, Any], error_type: str | None = None, *, pool_worker: bool = False
) -> None:
    try:
        client.post_init_error(
            to_json_bytes(error_result, _ensure_ascii), error_type or error_result["errorType"]
        )
    except Exception as e:  # noqa: BLE001 - we exit non-zero anyway; say why the post failed
        if pool_worker and _is_forbidden(e):
            # Multi-concurrency: another worker already posted the init error (awslambdaric ignores it).
            return
        _log.diagnostic(f"could not post the init error: {type(e).__name__}: {safe_str(e)}")


def _select_loop() -> Callable[[Any, Any, Any], Any]:
    if os.environ.get("FASTRIC_PURE_PYTHON") != "1":
        try:
            from ._fastric import run_invoke_loop  # type: ignore[attr-defined]
        except ImportError:
            pass
        else:
            return run_invoke_loop
    from ._pyloop import run as run_pure

    return run_pure


def run(handler_name: str, client: Any = None, *, pool_worker: bool = False) -> NoReturn:
    """Start the runtime for ``handler_name`` (``"module.function"``) and serve invocations forever.

    ``client`` defaults to a Runtime API client for ``AWS_LAMBDA_RUNTIME_API`` (the native
    ``RuntimeApiClient``; the pure-Python stand-in when it is unavailable). Exits the process with
    status 1 after an init error (posted to ``/runtime/init/error``), 64/65 after a SnapStart
    before-snapshot/after-restore failure; ``SystemExit``/``KeyboardInterrupt`` raised by the handler
    propagate. Does not return.

    This is one runtime process: ``AWS_LAMBDA_MAX_CONCURRENCY`` is not read here (``python -m fastric``
    starts the worker pool of :mod:`fastric._multi_concurrency`, whose workers call this).
    ``pool_worker=True`` marks such a worker: a 403 answer to its ``/init/error`` post is ignored
    silently (another worker posted first; awslambdaric's multi-concurrent client does the same).
    """
    global _json_format, _log_level, _ensure_ascii, _log_sink

    sys.stdout = _log.make_write_through(sys.stdout)
    sys.stderr = _log.make_write_through(sys.stderr)

    environ = os.environ
    _json_format = _log.log_format_is_json(environ.get("AWS_LAMBDA_LOG_FORMAT"))
    _log_level = _log.level_from_env(environ.get("AWS_LAMBDA_LOG_LEVEL"))
    _ensure_ascii = ensure_ascii_for_env(environ.get("AWS_EXECUTION_ENV"))

    with _log.create_log_sink() as log_sink:
        _log_sink = log_sink
        if client is None:
            client = _make_client(environ["AWS_LAMBDA_RUNTIME_API"])

        request_handler = None
        error_result: dict[str, Any] | None
        try:
            # The preview warning is logged now, so logging is needed now; otherwise the set-up waits
            # for the first `import logging` (by the handler module, a library, or the lines below).
            preview = not environ.get("LAMBDA_DISABLE_PREVIEW_WARN", "") and environ.get(
                "AWS_EXECUTION_ENV", ""
            ) in (PREVIEW_RUNTIME_ENVS)
            _log.install_logging(_json_format, _log_level, log_sink, globals(), now=preview)
            if preview:
                import logging

                logging.warning(_preview_warning())
        except Exception as e:  # noqa: BLE001 - reported like any init error, as awslambdaric does
            error_result = build_fault_result(e)
        else:
            if environ.get("FASTRIC_ASYNC_HANDLERS") == "1":
                from ._aio import get_loop  # the loop exists before the handler module's import

                get_loop()
            request_handler, error_result = load_handler(handler_name)
        _log.finish_pending_setup()

        if error_result is not None:
            import logging

            logging.warning(UNHANDLED_INIT_WARNING)
            log_error(error_result, log_sink)
            _post_init_error(client, error_result, pool_worker=pool_worker)
            sys.exit(1)

        if environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == INIT_TYPE_SNAP_START:
            _on_init_complete(client, log_sink)

        if environ.get("FASTRIC_ASYNC_HANDLERS") == "1":
            from ._aio import wrap_handler

            request_handler = wrap_handler(request_handler)
        hooks = Hooks(log_sink, _ensure_ascii)
        loop = _select_loop()
        try:
            loop(client, request_handler, hooks)
        except Exception as e:  # noqa: BLE001 - a fatal Runtime API failure ends the process
            if not isinstance(e, FastricError):
                # Raised by user code outside an invocation (e.g. a signal handler while waiting on
                # /next): show where, as an uncaught exception would.
                import traceback

                traceback.print_exception(e, file=sys.stderr)
            _log.diagnostic(
                f"fatal: the invoke loop stopped: {type(e).__name__}: {safe_str(e)} "
                f"(AWS_LAMBDA_RUNTIME_API={environ.get('AWS_LAMBDA_RUNTIME_API')!r})",
                _ERROR,
            )
            sys.exit(1)
        _log.diagnostic("fatal: the invoke loop returned", _ERROR)
        sys.exit(1)
