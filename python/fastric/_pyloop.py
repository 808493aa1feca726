"""The pure-Python invoke loop, and a small ``http.client`` Runtime API client.

Used when the native module has no ``run_invoke_loop`` (or ``FASTRIC_PURE_PYTHON=1``), and, for the
client, when it has no ``RuntimeApiClient``. Same contract as the native loop
(``docs/ARCHITECTURE.md``): per invocation ``/next`` → ``_GLOBAL_*`` state and ``_X_AMZN_TRACE_ID`` →
``hooks.make_context`` → decode → ``handler(event, context)`` → encode → ``/response``; an
``Exception`` goes through ``hooks.handle_error`` to ``/error``; any other ``BaseException``
(``SystemExit``, ``KeyboardInterrupt``) propagates unposted, as in awslambdaric.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is not imported at run time (start-up cost)
    from typing import Any, NoReturn

from .errors import RuntimeApiError

__all__ = ["HttpRuntimeApiClient", "Invocation", "run"]

_API = "/2018-06-01/runtime"
_ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"


class Invocation:
    """One ``/next`` response. Header-derived fields are None when the header is absent, except
    ``invoked_function_arn`` (``''``) and ``deadline_ms`` (0), as awslambdaric reports them.

    Attributes: ``request_id`` (str), ``deadline_ms`` (int, ms since the epoch),
    ``invoked_function_arn``, ``trace_id``, ``client_context``, ``cognito_identity`` (raw JSON text),
    ``tenant_id``, ``content_type``, ``invocation_id`` (str or None), ``body`` (bytes).
    """

    __slots__ = (
        "request_id",
        "deadline_ms",
        "invoked_function_arn",
        "trace_id",
        "client_context",
        "cognito_identity",
        "tenant_id",
        "content_type",
        "invocation_id",
        "body",
    )

    def __init__(self, body: bytes, header: Any) -> None:
        # `header(name)` returns the value of a header (case-insensitive) or None; empty means absent.
        self.body = body
        self.request_id = header("Lambda-Runtime-Aws-Request-Id")
        self.invoked_function_arn = header("Lambda-Runtime-Invoked-Function-Arn") or ""
        deadline = header("Lambda-Runtime-Deadline-Ms")
        try:
            self.deadline_ms = int(deadline) if deadline else 0
        except ValueError:
            self.deadline_ms = 0
        self.trace_id = header("Lambda-Runtime-Trace-Id") or None
        self.client_context = header("Lambda-Runtime-Client-Context") or None
        self.cognito_identity = header("Lambda-Runtime-Cognito-Identity") or None
        self.tenant_id = header("Lambda-Runtime-Aws-Tenant-Id") or None
        self.content_type = header("Content-Type")
        self.invocation_id = header("Lambda-Runtime-Invocation-Id") or None


class HttpRuntimeApiClient:
    """Stand-in for ``fastric._fastric.RuntimeApiClient`` built on ``http.client`` (same methods).

    ``address`` is ``AWS_LAMBDA_RUNTIME_API``: ``host:port`` (``[v6]:port`` too), optionally followed
    by a path prefix (``127.0.0.1:9001/fn-a``). next/response/error share one keep-alive connection
    (re-opened once if the server closed it); init/restore calls use a fresh connection each, without
    User-Agent, like awslambdaric. Raises :class:`fastric.errors.RuntimeApiError` on an unexpected
    status or a missing request id; socket errors (``OSError``) propagate.
    """

    def __init__(self, address: str, user_agent: str) -> None:
        import http.client

        self._http = http.client
        host, _, prefix = address.partition("/")
        self._host = host
        self._base = ("/" + prefix.strip("/") if prefix.strip("/") else "") + _API
        self._user_agent = user_agent
        self._conn: Any = None

    def _request(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, Any, bytes]:
        for attempt in (0, 1):
            if self._conn is None:
                self._conn = self._http.HTTPConnection(self._host)
            try:
                self._conn.request(method, path, body, headers)
                response = self._conn.getresponse()
                data = response.read()
            except (self._http.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self._conn.close()
                self._conn = None
                if attempt:
                    raise
                continue
            if response.will_close:
                self._conn.close()
                self._conn = None
            return response.status, response, data
        raise AssertionError("unreachable")

    def _one_shot(
        self, method: str, endpoint: str, expected: int, body: bytes | None, headers: dict[str, str]
    ) -> None:
        conn = self._http.HTTPConnection(self._host)
        try:
            conn.request(method, self._base + endpoint, body, headers)
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        if response.status != expected:
            raise RuntimeApiError(
                f"Request to Lambda Runtime '{_API}{endpoint}' endpoint failed. "
                f"Reason: '{response.status}'. Response body: '{data!r}'"
            )

    # GET /2018-06-01/runtime/invocation/next
    def next_invocation(self) -> Invocation:
        """Wait for the next invocation (blocks without timeout)."""
        status, response, body = self._request(
            "GET", self._base + "/invocation/next", None, {"User-Agent": self._user_agent}
        )
        if status != 200:
            raise RuntimeApiError(f"Failed to get next invocation. Http Response code: {status}")
        invocation = Invocation(body, lambda name: _utf8_header(response.getheader(name)))
        if not invocation.request_id:
            raise RuntimeApiError("Failed to find header lambda-runtime-aws-request-id in response")
        return invocation

    def _post(self, path: str, body: bytes, headers: dict[str, str]) -> None:
        status, _, data = self._request("POST", path, body, headers)
        if not 200 <= status < 300:
            from .log import diagnostic

            diagnostic(f"POST {path} answered {status}: {data[:200]!r}")

    # POST /2018-06-01/runtime/invocation/{AwsRequestId}/response
    def post_invocation_response(
        self, request_id: str, body: bytes, content_type: str, invocation_id: str | None = None
    ) -> None:
        """Post a result. A non-2xx answer is logged as a diagnostic, not raised."""
        headers = {"Content-Type": content_type, "User-Agent": self._user_agent}
        if invocation_id is not None:
            headers["lambda-runtime-invocation-id"] = invocation_id
        self._post(f"{self._base}/invocation/{_quote(request_id)}/response", body, headers)

    # POST /2018-06-01/runtime/invocation/{AwsRequestId}/error
    def post_invocation_error(
        self, request_id: str, body: bytes, xray_cause: str | None = None, invocation_id: str | None = None
    ) -> None:
        """Post an error document; the X-Ray cause header is sent only when non-empty."""
        headers = {"Content-Type": "application/json", "User-Agent": self._user_agent}
        if xray_cause:
            headers["lambda-runtime-function-xray-error-cause"] = xray_cause
        if invocation_id is not None:
            headers["lambda-runtime-invocation-id"] = invocation_id
        self._post(f"{self._base}/invocation/{_quote(request_id)}/error", body, headers)

    # POST /2018-06-01/runtime/init/error
    def post_init_error(self, body: bytes, error_type: str) -> None:
        """Post an init error (expects 202) with ``Lambda-Runtime-Function-Error-Type: error_type``."""
        self._one_shot("POST", "/init/error", 202, body, {_ERROR_TYPE_HEADER: error_type})

    # GET /2018-06-01/runtime/restore/next
    def restore_next(self) -> None:
        """Wait for the SnapStart restore (expects 200; the body is ignored)."""
        self._one_shot("GET", "/restore/next", 200, None, {})

    # POST /2018-06-01/runtime/restore/error
    def post_restore_error(self, body: bytes, error_type: str = "Runtime.AfterRestoreError") -> None:
        """Post an after-restore error (expects 202)."""
        self._one_shot("POST", "/restore/error", 202, body, {_ERROR_TYPE_HEADER: error_type})


def _utf8_header(value: str | None) -> str | None:
    # http.client decodes header bytes as Latin-1; the Runtime API sends UTF-8 (e.g. a tenant id `é`).
    # Undecodable bytes become U+FFFD, as in the native client (`String::from_utf8_lossy`).
    if value is None or value.isascii():
        return value
    try:
        return value.encode("latin-1").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return value


def _quote(request_id: str) -> str:
    # Request ids are UUIDs in practice; anything else is percent-encoded so it stays one path segment.
    if request_id.isascii() and "/" not in request_id and "%" not in request_id and "." not in request_id:
        return request_id
    from urllib.parse import quote

    return quote(request_id, safe="")


def _as_invocation(raw: Any) -> Any:
    # Accept awslambdaric's `(body, headers_dict)` shape too, in case the native client returns it.
    if isinstance(raw, tuple):
        body, headers = raw
        lowered = {str(k).lower(): v for k, v in headers.items()}
        return Invocation(body, lambda name: _str_or_none(lowered.get(name.lower())))
    return raw


def _str_or_none(value: Any) -> Any:
    return None if value is None else str(value)


def _codec() -> tuple[Any, Any]:
    try:
        from . import _fastric
    except ImportError:
        _fastric = None  # type: ignore[assignment]
    loads = getattr(_fastric, "json_loads", None)
    dumps = getattr(_fastric, "json_dumps", None)
    if dumps is None:
        try:
            from . import _json_compat

            compat_dumps = getattr(_json_compat, "dumps", None)
        except ImportError:
            compat_dumps = None
        if compat_dumps is not None:
            dumps = compat_dumps
        else:
            import json

            def dumps(obj: Any, ensure_ascii: bool) -> bytes:
                text = json.dumps(obj, ensure_ascii=ensure_ascii, separators=(", ", ": "), allow_nan=True)
                return text.encode("utf-8")

    return loads, dumps


def run(client: Any, handler: Any, hooks: Any) -> NoReturn:
    """Serve invocations forever with ``handler(event, context)``.

    Raises whatever ``client.next_invocation()`` or a post raises (fatal Runtime API failures), and
    any non-``Exception`` ``BaseException`` from the handler, unposted.
    """
    state = hooks.state
    make_context = hooks.make_context
    unmarshal_fallback = hooks.unmarshal_fallback
    handle_error = hooks.handle_error
    marshal_error = hooks.marshal_error
    ensure_ascii = hooks.ensure_ascii
    loads, dumps = _codec()
    next_invocation = client.next_invocation
    post_response = client.post_invocation_response
    post_error = client.post_invocation_error

    while True:
        inv = _as_invocation(next_invocation())
        request_id = inv.request_id
        state["_GLOBAL_AWS_REQUEST_ID"] = request_id
        state["_GLOBAL_TENANT_ID"] = inv.tenant_id
        environ = hooks.environ  # the current os.environ: a handler may have replaced it
        if inv.trace_id is not None:
            environ["_X_AMZN_TRACE_ID"] = inv.trace_id
        else:
            environ.pop("_X_AMZN_TRACE_ID", None)

        try:
            context = make_context(
                request_id,
                inv.deadline_ms,
                inv.invoked_function_arn,
                inv.client_context,
                inv.cognito_identity,
                inv.tenant_id,
            )
            content_type = inv.content_type
            body = inv.body
            if content_type is None or content_type == "application/json":
                if loads is None:
                    event = unmarshal_fallback(body)
                else:
                    try:
                        event = loads(body)
                    except Exception:  # noqa: BLE001 - the fallback reports simplejson's exact message
                        event = unmarshal_fallback(body)
            else:
                event = body

            result = handler(event, context)

            if isinstance(result, bytes):
                payload, result_type = result, "application/unknown"
            else:
                try:
                    payload = dumps(result, ensure_ascii)
                except Exception as e:  # noqa: BLE001
                    raise marshal_error(e) from None
                result_type = "application/json"
        except Exception as exc:  # noqa: BLE001 - user errors become /error posts; BaseException escapes
            error_body, xray_cause = handle_error(exc, request_id)
            del exc
            post_error(request_id, error_body, xray_cause, inv.invocation_id)
            continue
        post_response(request_id, payload, result_type, inv.invocation_id)
