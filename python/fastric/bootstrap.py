"""fastric's start-up sequence, the Python hooks of the invoke loop, and awslambdaric's patch points.

:func:`run` does what awslambdaric 4.2.2's ``bootstrap.run`` does, in the same order (section 1.2 of
the behaviour reference): write-through ``sys.stdout``/``sys.stderr``, log sink, logging set-up, the
preview warning, eager handler import with awslambdaric's init-error types and messages (section 3.2),
the SnapStart hooks (section 8.2), then the invoke loop ``fastric._fastric.run_invoke_loop``.

Patch points (awslambdaric 4.2.2's ``bootstrap.py`` and ``lambda_runtime_client.py`` names and call
protocol, which APM agents such as sentry-sdk's ``AwsLambdaIntegration`` replace): this module is
reachable as ``sys.modules["__main__"].bootstrap``; it has :func:`handle_event_request` and
:class:`LambdaRuntimeClient` (``post_init_error``, ``post_invocation_result``,
``post_invocation_error``, ...). While none of them is replaced, the native loop serves each
invocation itself (it compares the current ``handle_event_request`` and the client class's post
methods with the originals: pointer comparisons, no Python call). Once one is replaced, every
invocation goes through ``handle_event_request`` as looked up at that invocation, and every post
through the client method looked up at that moment; ``FASTRIC_PURE_PYTHON=1`` forces this path.
Either way the bytes sent to the Runtime API and the logs are the same.

This module's globals are the loop's ``state`` dict: ``_GLOBAL_AWS_REQUEST_ID`` and
``_GLOBAL_TENANT_ID`` hold the current invocation's ids (they stay set after the invocation, as in
awslambdaric) and feed the logging filter. Start-up imports are kept small: ``logging`` (the root
handler is installed when something first imports it, see :func:`fastric.log.install_logging`),
``json``, ``traceback`` and ``importlib`` machinery beyond what Python loads anyway are imported only
on the paths that need them.
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
    RuntimeApiError,
    build_fault_result,
    error_result_for,
    make_error,
    safe_str,
    to_json,
    to_json_bytes,
)
from .lambda_context import LambdaContext

__all__ = [
    "Hooks",
    "LambdaRuntimeClient",
    "create_lambda_context",
    "handle_event_request",
    "load_handler",
    "log_error",
    "run",
]

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


def _init_error_document(exc: Exception) -> dict[str, Any]:
    """The ``/init/error`` document (``requestId`` ``""``) for an exception of the init phase: a
    :class:`FaultException` gives its type/message/trace, any other ``Exception`` (raised by the
    handler module's import) its class name, message and stack trace (leading runtime frames
    stripped), as awslambdaric 4.2.2."""
    if isinstance(exc, FaultException):
        return make_error(exc.msg, exc.exception_type, exc.trace)
    return build_fault_result(exc)


def load_handler(handler_name: str) -> tuple[Callable[..., Any] | None, dict[str, Any] | None]:
    """``(handler, None)``, or ``(None, _init_error_document(exception))`` for an init error."""
    try:
        return _get_handler(handler_name), None
    except Exception as e:  # noqa: BLE001 - any exception from the user's module is an init error
        return None, _init_error_document(e)


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

    def __init__(
        self,
        log_sink: Any,
        ensure_ascii: bool,
        runtime_client: LambdaRuntimeClient | None = None,
        *,
        force_python: bool = False,
    ) -> None:
        self.state: dict[str, Any] = globals()
        #: called as ``context_class(request_id, None, None, deadline_ms, arn, tenant_id)`` when
        #: there are no client-context or Cognito headers to parse
        self.context_class = LambdaContext
        self.ensure_ascii = ensure_ascii
        self._log_sink = log_sink
        #: the :class:`LambdaRuntimeClient` given to ``handle_event_request`` and posted through once
        #: its class's post methods are replaced
        self.runtime_client = runtime_client
        #: serve every invocation through :meth:`invoke` (``FASTRIC_PURE_PYTHON=1``)
        self.force_python = force_python
        #: the originals the native loop compares the current patch points with:
        #: ``(handle_event_request, post_invocation_result, post_invocation_error)``
        self.originals = (_ORIGINAL_HANDLE_EVENT_REQUEST, _ORIGINAL_POST_RESULT, _ORIGINAL_POST_ERROR)

    def invoke(self, invocation: Any, request_handler: Callable[..., Any]) -> None:
        """Serve one invocation through the current module-level :func:`handle_event_request` (looked
        up now, as awslambdaric's loop does), after the loop set ``_GLOBAL_*`` and ``_X_AMZN_TRACE_ID``.
        ``invocation`` is a ``fastric._fastric.Invocation``. Raises what the (possibly patched)
        function raises; the loop ends the process on it."""
        handle_event_request(
            self.runtime_client,
            request_handler,
            invocation.request_id,
            invocation.body,
            invocation.content_type,
            invocation.client_context,
            invocation.cognito_identity,
            invocation.invoked_function_arn,
            invocation.deadline_ms,
            invocation.tenant_id,
            self._log_sink,
            invocation.invocation_id,
        )

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


def _make_transport(address: str) -> Any:
    """The native Runtime API client for ``address``; exits 1 with a diagnostic for an unusable one."""
    from ._fastric import RuntimeApiClient  # type: ignore[attr-defined]

    try:
        return RuntimeApiClient(address, _user_agent())
    except ValueError as e:
        _log.diagnostic(f"AWS_LAMBDA_RUNTIME_API={address!r} is not a usable address: {e}", _ERROR)
        sys.exit(1)


def _is_forbidden(exc: BaseException) -> bool:
    return getattr(exc, "status", None) == 403


class InvocationRequest:
    """One ``/next`` answer in awslambdaric's shape (``LambdaRuntimeClient.wait_next_invocation``):
    attributes ``invoke_id``, ``x_amzn_trace_id``, ``invoked_function_arn``, ``deadline_time_in_ms``,
    ``client_context``, ``cognito_identity``, ``tenant_id``, ``content_type``, ``event_body`` (bytes),
    ``invocation_id``."""

    def __init__(self, **kwds: Any) -> None:
        self.__dict__.update(kwds)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, InvocationRequest) and self.__dict__ == other.__dict__


class LambdaRuntimeClient:
    """awslambdaric 4.2.2's ``LambdaRuntimeClient`` interface over fastric's native transport.

    The runtime creates one and posts through its methods, looked up on each call, so a replacement
    on the class (``LambdaRuntimeClient.post_invocation_result = wrapper(...)``, as sentry-sdk does) is
    called from the next post on. ``lambda_runtime_address`` is ``AWS_LAMBDA_RUNTIME_API``;
    ``use_thread_for_polling_next`` is kept for the signature (the native wait never blocks signals).

    Post failures behave as fastric's native loop (docs/RELIABILITY.md): a refused post
    (400/403/410/413) is a ``[fastric]`` ERROR diagnostic and the runtime carries on; a fatal one (a
    500, retries exhausted) raises :class:`fastric.errors.RuntimeApiError` and ends the process.
    """

    def __init__(self, lambda_runtime_address: str, use_thread_for_polling_next: bool = False) -> None:
        self.lambda_runtime_address = lambda_runtime_address
        self.use_thread_for_polling_next = use_thread_for_polling_next
        self._transport = _make_transport(lambda_runtime_address)
        self._pool_worker = False

    @classmethod
    def _over(cls, transport: Any, *, pool_worker: bool = False) -> LambdaRuntimeClient:
        """An instance over an existing native ``RuntimeApiClient`` (``run``'s ``client`` argument)."""
        self = cls.__new__(cls)
        self.lambda_runtime_address = os.environ.get("AWS_LAMBDA_RUNTIME_API", "")
        self.use_thread_for_polling_next = False
        self._transport = transport
        self._pool_worker = pool_worker
        return self

    # POST /2018-06-01/runtime/init/error
    def post_init_error(self, error_response_data: Any, error_type_override: str | None = None) -> None:
        """Post an init error document (a dict, or its JSON text/bytes) with
        ``Lambda-Runtime-Function-Error-Type: error_type_override`` or its ``errorType``. The runtime
        calls it while the init exception is being handled (``sys.exc_info()`` is that exception). A
        failed post is a ``[fastric]`` diagnostic (the process exits 1 anyway); in a multi-concurrency
        worker a 403 (another worker posted first) is ignored."""
        if isinstance(error_response_data, dict):
            body = to_json_bytes(error_response_data, _ensure_ascii)
            error_type = error_type_override or error_response_data.get("errorType") or ""
        else:
            body = (
                error_response_data
                if isinstance(error_response_data, bytes)
                else error_response_data.encode()
            )
            error_type = error_type_override or ""
        try:
            self._transport.post_init_error(body, error_type)
        except Exception as e:  # noqa: BLE001 - we exit non-zero anyway; say why the post failed
            if self._pool_worker and _is_forbidden(e):
                return
            _log.diagnostic(f"could not post the init error: {type(e).__name__}: {safe_str(e)}")

    # GET /2018-06-01/runtime/restore/next
    def restore_next(self) -> None:
        """SnapStart: wait until the snapshot is restored. Raises ``RuntimeApiError``."""
        self._transport.restore_next()

    # POST /2018-06-01/runtime/restore/error
    def report_restore_error(self, restore_error_data: Any) -> None:
        """SnapStart: post an after-restore error document (``Runtime.AfterRestoreError``). Raises
        ``RuntimeApiError``."""
        body = (
            to_json_bytes(restore_error_data, _ensure_ascii)
            if isinstance(restore_error_data, dict)
            else restore_error_data
        )
        self._transport.post_restore_error(body, FaultException.AFTER_RESTORE_ERROR)

    # GET /2018-06-01/runtime/invocation/next
    def wait_next_invocation(self) -> InvocationRequest:
        """Wait for the next invocation (signal handlers run meanwhile). Raises ``RuntimeApiError``."""
        inv = self._transport.next_invocation()
        return InvocationRequest(
            invoke_id=inv.request_id,
            x_amzn_trace_id=inv.trace_id,
            invoked_function_arn=inv.invoked_function_arn,
            deadline_time_in_ms=inv.deadline_ms,
            client_context=inv.client_context,
            cognito_identity=inv.cognito_identity,
            tenant_id=inv.tenant_id,
            content_type=inv.content_type,
            event_body=inv.body,
            invocation_id=inv.invocation_id,
        )

    # POST /2018-06-01/runtime/invocation/{AwsRequestId}/response
    def post_invocation_result(
        self,
        invoke_id: str,
        result_data: bytes | str,
        content_type: str = "application/json",
        invocation_id: str | None = None,
    ) -> None:
        """Post a result (``str`` is sent as UTF-8) with ``Content-Type: content_type``."""
        if not isinstance(result_data, bytes):
            result_data = result_data.encode("utf-8", "surrogateescape")
        try:
            self._transport.post_invocation_response(invoke_id, result_data, content_type, invocation_id)
        except RuntimeApiError as e:
            _post_refused(e, invoke_id)

    # POST /2018-06-01/runtime/invocation/{AwsRequestId}/error
    def post_invocation_error(
        self,
        invoke_id: str,
        error_response_data: bytes | str,
        xray_fault: str | None,
        invocation_id: str | None = None,
    ) -> None:
        """Post an error document; the X-Ray cause header is sent only when ``xray_fault`` is
        non-empty and under 1 MiB encoded."""
        if not isinstance(error_response_data, bytes):
            error_response_data = error_response_data.encode("utf-8", "surrogateescape")
        try:
            self._transport.post_invocation_error(
                invoke_id, error_response_data, xray_fault or None, invocation_id
            )
        except RuntimeApiError as e:
            _post_refused(e, invoke_id)

    # POST /2018-06-01/runtime/invocation/{AwsRequestId}/response, streamed (fastric's own)
    def post_invocation_stream(self, invoke_id: str, stream: Any, invocation_id: str | None = None) -> None:
        """Stream a ``fastric.streaming.ResponseStream`` as the native loop does
        (``fastric._fastric.stream_invocation_response``): errors inside the stream are logged and
        posted (``/error`` before the first byte, trailers after it) through ``Hooks.handle_error``."""
        from ._fastric import stream_invocation_response  # type: ignore[attr-defined]

        try:
            stream_invocation_response(
                self._transport, invoke_id, stream, _hooks.ensure_ascii, _hooks.handle_error, invocation_id
            )
        except RuntimeApiError as e:
            _post_refused(e, invoke_id)


def _post_refused(exc: Any, invoke_id: str) -> None:
    # The native loop's rule and words (rust/event_loop.rs): fatal → raise, refused → say so, carry on.
    if getattr(exc, "fatal", True):
        raise exc
    _log.diagnostic(f"posting the result of invocation {invoke_id} failed: {exc}; continuing", _ERROR)


_ORIGINAL_POST_RESULT = LambdaRuntimeClient.post_invocation_result
_ORIGINAL_POST_ERROR = LambdaRuntimeClient.post_invocation_error


def _codec() -> tuple[Any, Any]:
    from ._fastric import json_dumps, json_loads  # type: ignore[attr-defined]

    return json_loads, json_dumps


def _unmarshal(event_body: bytes, content_type: str | None, hooks: Hooks) -> Any:
    # As the native loop: JSON for application/json or no content type, else the raw bytes.
    if content_type is not None and content_type != "application/json":
        return event_body
    try:
        return _json_loads(event_body)
    except Exception:  # noqa: BLE001 - the fallback reports simplejson's exact message
        return hooks.unmarshal_fallback(event_body)


def _marshal_response(response: Any, hooks: Hooks) -> tuple[bytes, str]:
    """The one place a handler's result becomes what is posted: ``(body, content type)``; ``bytes``
    are sent as ``application/unknown``, anything else JSON-encoded as awslambdaric's marshaller.
    Raises ``FaultException("Runtime.MarshalError", ...)``."""
    if isinstance(response, bytes):
        return response, "application/unknown"
    try:
        return _json_dumps(response, hooks.ensure_ascii), "application/json"
    except Exception as e:  # noqa: BLE001
        raise hooks.marshal_error(e) from None


def handle_event_request(
    lambda_runtime_client: LambdaRuntimeClient,
    request_handler: Callable[..., Any],
    invoke_id: str,
    event_body: bytes,
    content_type: str | None,
    client_context_json: str | None,
    cognito_identity_json: str | None,
    invoked_function_arn: str,
    epoch_deadline_time_in_ms: int,
    tenant_id: str | None,
    log_sink: Any,
    invocation_id: str | None = None,
) -> None:
    """Serve one invocation, as awslambdaric 4.2.2's function of that name (same parameters):
    context, event, ``request_handler(event, context)``, result; then
    ``lambda_runtime_client.post_invocation_result(invoke_id, body, content_type, invocation_id)``, or
    for an ``Exception`` the error record on ``log_sink`` and
    ``lambda_runtime_client.post_invocation_error(invoke_id, error_document_json, xray_cause_json,
    invocation_id)``. ``SystemExit``/``KeyboardInterrupt`` propagate unposted.

    The bytes posted and logged are those of fastric's native loop: its JSON codec, error documents
    and X-Ray cause (empty when it would be 1 MiB or more). Called by the runtime only once this
    function or a client post method was replaced, or with ``FASTRIC_PURE_PYTHON=1``.
    """
    hooks = _hooks
    try:
        lambda_context = create_lambda_context(
            client_context_json,
            cognito_identity_json,
            epoch_deadline_time_in_ms,
            invoke_id,
            invoked_function_arn,
            tenant_id,
        )
        event = _unmarshal(event_body, content_type, hooks)
        response = request_handler(event, lambda_context)
        streaming = sys.modules.get("fastric.streaming")
        if streaming is not None and isinstance(response, streaming.ResponseStream):
            stream = response  # a @fastric.response_stream result: streamed below
        else:
            stream = None
            result, result_content_type = _marshal_response(response, hooks)
    except Exception as exc:  # noqa: BLE001 - every Exception becomes an /error post
        body, xray_cause = hooks.handle_error(exc, invoke_id)
        del exc
        lambda_runtime_client.post_invocation_error(
            invoke_id, body.decode("utf-8", "surrogateescape"), xray_cause or "", invocation_id
        )
        return
    if stream is not None:
        lambda_runtime_client.post_invocation_stream(invoke_id, stream, invocation_id)
        return
    if result_content_type == "application/json":
        # awslambdaric hands its post method the JSON text (its encoder returns str)
        result = result.decode("utf-8", "surrogateescape")
    lambda_runtime_client.post_invocation_result(invoke_id, result, result_content_type, invocation_id)


_ORIGINAL_HANDLE_EVENT_REQUEST = handle_event_request
_json_loads: Any = None
_json_dumps: Any = None
_hooks: Any = None


def _on_init_complete(runtime_client: LambdaRuntimeClient, log_sink: Any) -> None:
    # SnapStart: before-snapshot hooks, wait for the restore, after-restore hooks (exit 64 / 65).
    from ._snapstart import run_after_restore, run_before_snapshot

    try:
        run_before_snapshot()
        runtime_client.restore_next()
    except Exception as e:  # noqa: BLE001
        error_result = build_fault_result(e)
        log_error(error_result, log_sink)
        runtime_client.post_init_error(error_result, FaultException.BEFORE_SNAPSHOT_ERROR)
        sys.exit(64)
    try:
        run_after_restore()
    except Exception as e:  # noqa: BLE001
        error_result = build_fault_result(e)
        log_error(error_result, log_sink)
        try:
            runtime_client.report_restore_error(error_result)
        except Exception as post_exc:  # noqa: BLE001
            _log.diagnostic(
                f"could not post the restore error: {type(post_exc).__name__}: {safe_str(post_exc)}"
            )
        sys.exit(65)


def _init_failed(
    runtime_client: LambdaRuntimeClient, error_result: dict[str, Any], log_sink: Any
) -> NoReturn:
    # Called inside the `except` that caught the init error, so that `post_init_error` (and whatever
    # wraps it) sees the exception in sys.exc_info().
    _log.finish_pending_setup()
    import logging

    logging.warning(UNHANDLED_INIT_WARNING)
    log_error(error_result, log_sink)
    runtime_client.post_init_error(error_result)
    sys.exit(1)


def _expose_as_main_bootstrap() -> None:
    # sentry-sdk and other agents find the runtime's bootstrap module as `__main__.bootstrap` (the
    # awslambdaric container layout). `python -m fastric` binds it in fastric.__main__; a different
    # `__main__` (a script calling run()) gets the attribute unless it has one already.
    main = sys.modules.get("__main__")
    if main is not None and getattr(main, "bootstrap", None) is None:
        try:
            main.bootstrap = sys.modules[__name__]  # type: ignore[attr-defined]
        except (AttributeError, TypeError):
            pass


def run(handler_name: str, client: Any = None, *, pool_worker: bool = False) -> NoReturn:
    """Start the runtime for ``handler_name`` (``"module.function"``) and serve invocations forever.

    ``client`` defaults to the native ``RuntimeApiClient`` for ``AWS_LAMBDA_RUNTIME_API``; the runtime
    wraps it in a :class:`LambdaRuntimeClient`. Exits the process with status 1 after an init error
    (posted to ``/runtime/init/error`` through ``LambdaRuntimeClient.post_init_error`` while the
    exception is being handled), 64/65 after a SnapStart before-snapshot/after-restore failure;
    ``SystemExit``/``KeyboardInterrupt`` raised by the handler propagate. Does not return.

    This is one runtime process: ``AWS_LAMBDA_MAX_CONCURRENCY`` is not read here (``python -m fastric``
    starts the worker pool of :mod:`fastric._multi_concurrency`, whose workers call this).
    ``pool_worker=True`` marks such a worker: a 403 answer to its ``/init/error`` post is ignored
    silently (another worker posted first; awslambdaric's multi-concurrent client does the same).
    """
    global _json_format, _log_level, _ensure_ascii, _log_sink, _json_loads, _json_dumps, _hooks

    sys.stdout = _log.make_write_through(sys.stdout)
    sys.stderr = _log.make_write_through(sys.stderr)
    _expose_as_main_bootstrap()

    environ = os.environ
    _json_format = _log.log_format_is_json(environ.get("AWS_LAMBDA_LOG_FORMAT"))
    _log_level = _log.level_from_env(environ.get("AWS_LAMBDA_LOG_LEVEL"))
    _ensure_ascii = ensure_ascii_for_env(environ.get("AWS_EXECUTION_ENV"))
    async_handlers = environ.get("FASTRIC_ASYNC_HANDLERS") == "1"  # fastric._aio: opt-in awaiting

    with _log.create_log_sink() as log_sink:
        _log_sink = log_sink
        if client is None:
            client = _make_transport(environ["AWS_LAMBDA_RUNTIME_API"])
        runtime_client = LambdaRuntimeClient._over(client, pool_worker=pool_worker)
        _json_loads, _json_dumps = _codec()
        _hooks = Hooks(
            log_sink, _ensure_ascii, runtime_client, force_python=environ.get("FASTRIC_PURE_PYTHON") == "1"
        )

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
            if async_handlers:
                from ._aio import get_loop  # the loop exists before the handler module's import

                get_loop()
            request_handler = _get_handler(handler_name)
        except Exception as e:  # noqa: BLE001 - any exception from the user's module is an init error
            _init_failed(runtime_client, _init_error_document(e), log_sink)
        _log.finish_pending_setup()

        if environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == INIT_TYPE_SNAP_START:
            _on_init_complete(runtime_client, log_sink)

        from ._fastric import run_invoke_loop  # type: ignore[attr-defined]

        if async_handlers:
            from ._aio import wrap_handler

            request_handler = wrap_handler(request_handler)
        try:
            run_invoke_loop(client, request_handler, _hooks)
        except Exception as e:  # noqa: BLE001 - a fatal Runtime API failure ends the process
            if not isinstance(e, FastricError):
                # Raised by user code outside an invocation (e.g. a signal handler while waiting on
                # /next) or by a replaced patch point: show where, as an uncaught exception would.
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
