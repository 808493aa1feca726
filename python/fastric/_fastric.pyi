"""Type stubs for ``fastric._fastric``, fastric's native core (see ``docs/ARCHITECTURE.md``).

Only modules inside the ``fastric`` package import it. Names other than ``VERSION`` may be missing from
an older or partial build; the Python side checks with ``getattr``/``ImportError`` where it can fall
back (the stdlib ``json`` module for error documents).
"""

from typing import Any, NoReturn, Protocol, final

__all__ = [
    "VERSION",
    "FastricError",
    "Invocation",
    "RuntimeApiClient",
    "RuntimeApiError",
    "WriteThroughStream",
    "json_dumps",
    "json_loads",
    "rie_main",
    "run_invoke_loop",
    "set_diagnostic_fd",
    "stream_invocation_response",
]

VERSION: str
"""The package version (single source: ``Cargo.toml``)."""

class FastricError(Exception):
    """Base class of the errors raised by fastric's own machinery (not by user code)."""

class RuntimeApiError(FastricError):
    """A Runtime API request failed: connection error (the ``OSError`` is the ``__cause__``), an
    unexpected HTTP status, or ``/next`` unusable after its retries.

    Attributes: ``status`` (int, or None for transport failures), ``body`` (the response body, bytes),
    ``fatal`` (True when Lambda expects the runtime to exit: a 500, or retries exhausted)."""

    status: int | None
    body: bytes
    fatal: bool

def json_loads(data: bytes) -> Any:
    """Decode a JSON event with ``simplejson.loads`` semantics (floats as ``float``, big integers as
    ``int``, duplicate keys last-wins, NaN/Infinity rejected).

    Raises ``ValueError`` (a ``JSONDecodeError``-like subclass) with simplejson's message text. The invoke
    loop then asks ``hooks.unmarshal_fallback`` for the exact awslambdaric error."""

def json_dumps(obj: Any, ensure_ascii: bool) -> bytes:
    """Encode ``obj`` to the exact bytes awslambdaric's ``Encoder`` produces: separators ``", "`` and
    ``": "``, insertion order, ``Decimal`` raw (NaN → ``NaN``), ``NaN``/``Infinity`` floats, objects
    with ``_asdict()`` as objects, tuples as lists, nested ``bytes`` decoded as UTF-8 text.

    ``ensure_ascii=True`` escapes every non-ASCII character as ``\\uXXXX``. Raises ``TypeError``/
    ``ValueError`` with simplejson's messages (e.g. ``Object of type set is not JSON serializable``,
    ``Circular reference detected``)."""

@final
class Invocation:
    """One ``GET /2018-06-01/runtime/invocation/next`` response."""

    request_id: str
    """``Lambda-Runtime-Aws-Request-Id`` (required)."""
    deadline_ms: int
    """``Lambda-Runtime-Deadline-Ms``, ms since the Unix epoch; 0 when absent."""
    invoked_function_arn: str
    """``Lambda-Runtime-Invoked-Function-Arn``; ``''`` when absent."""
    trace_id: str | None
    """``Lambda-Runtime-Trace-Id``."""
    client_context: str | None
    """``Lambda-Runtime-Client-Context``, raw JSON text."""
    cognito_identity: str | None
    """``Lambda-Runtime-Cognito-Identity``, raw JSON text."""
    tenant_id: str | None
    """``Lambda-Runtime-Aws-Tenant-Id``."""
    content_type: str | None
    """``Content-Type`` of the event."""
    invocation_id: str | None
    """``Lambda-Runtime-Invocation-Id``, echoed on the response/error posts."""
    body: bytes
    """The event payload, as received."""

@final
class RuntimeApiClient:
    """The Runtime API transport: one keep-alive HTTP/1.1 connection for next/response/error, a fresh
    connection for init/restore calls (which send no User-Agent), as awslambdaric does.

    Args:
        address: ``AWS_LAMBDA_RUNTIME_API`` (``host:port``, ``[v6]:port``, optionally ``/prefix``).
        user_agent: sent on next/response/error, e.g. ``fastric-python/3.11.7-0.1.0``.
    """

    def __new__(cls, address: str, user_agent: str) -> RuntimeApiClient: ...
    # GET /2018-06-01/runtime/invocation/next
    def next_invocation(self) -> Invocation:
        """Block (without the GIL) until the next invocation. Raises :class:`RuntimeApiError`."""
    # POST /2018-06-01/runtime/invocation/{AwsRequestId}/response
    def post_invocation_response(
        self, request_id: str, body: bytes, content_type: str, invocation_id: str | None = None
    ) -> None:
        """Post a result with ``content-type: content_type`` (``application/json`` or
        ``application/unknown``) and ``lambda-runtime-invocation-id`` when given."""
    # POST /2018-06-01/runtime/invocation/{AwsRequestId}/error
    def post_invocation_error(
        self, request_id: str, body: bytes, xray_cause: str | None = None, invocation_id: str | None = None
    ) -> None:
        """Post an error document (``content-type: application/json``, no error-type header);
        ``lambda-runtime-function-xray-error-cause: xray_cause`` only when it is non-empty."""
    # POST /2018-06-01/runtime/init/error
    def post_init_error(self, body: bytes, error_type: str) -> None:
        """Post an init error with ``Lambda-Runtime-Function-Error-Type: error_type``; expects 202,
        otherwise raises :class:`RuntimeApiError`."""
    # GET /2018-06-01/runtime/restore/next
    def restore_next(self) -> None:
        """SnapStart: block until the snapshot is restored; expects 200."""
    # POST /2018-06-01/runtime/restore/error
    def post_restore_error(self, body: bytes, error_type: str) -> None:
        """SnapStart: post an after-restore error; expects 202."""

@final
class WriteThroughStream:
    """The write-through ``sys.stdout``/``sys.stderr`` (awslambdaric's ``Unbuffered`` guarantee: every
    ``write`` reaches the file descriptor before it returns), built by
    ``fastric.log.make_write_through`` for a UTF-8 ``io.TextIOWrapper`` over a file descriptor.

    ``stream`` is that original wrapper (made ``write_through`` by ``make_write_through``); its buffer
    must write straight to ``stream.fileno()`` without newline translation. Not an
    ``io.TextIOWrapper`` (nor is awslambdaric's ``Unbuffered``); registered as an ``io.TextIOBase``.
    Every attribute not listed here (``flush``, ``fileno``, ``isatty``, ``encoding``, ``errors``,
    ``buffer``, ``closed``, ``writable``, ``mode``, ``name``, ...) is ``stream``'s.
    """

    def __new__(cls, stream: Any) -> WriteThroughStream:
        """Wrap ``stream``; raises what ``stream.fileno()`` raises, or ``LookupError`` for an unknown
        ``stream.encoding``."""
    @property
    def stream(self) -> Any:
        """The original stream (awslambdaric's ``Unbuffered.stream``)."""
    def write(self, s: str) -> int:
        """Flush ``stream`` (bytes pending in its buffer go out first), then write ``s`` as UTF-8 to the
        descriptor, every byte, without the GIL; returns ``len(s)`` (characters). One call's bytes stay
        contiguous among threads. After a partial write or ``EINTR`` the signal handlers run (their
        exception propagates), as with ``BufferedWriter``; ``EAGAIN`` is waited out.

        Raises ``OSError(errno, strerror)`` (``BrokenPipeError`` for ``EPIPE``, ...) as ``FileIO``
        does, and ``stream``'s ``ValueError`` when it is closed. Not a ``str``, a ``str`` with lone
        surrogates, or a non-UTF-8 ``stream.encoding`` (after ``reconfigure``): ``stream.write(s)``
        then ``stream.flush()``, with ``TextIOWrapper``'s result and errors (``TypeError: write()
        argument must be str, not bytes``, the ``errors`` handler)."""
    def writelines(self, lines: Any) -> None:
        """``stream.writelines(lines)`` then ``stream.flush()``."""
    def reconfigure(self, *args: Any, **kwargs: Any) -> None:
        """``stream.reconfigure(...)``; ``write`` then follows the new encoding."""
    def _after_fork_in_child(self) -> None:
        """Free the writer lock (its holder may be a thread that does not exist after ``fork``);
        registered with ``os.register_at_fork`` by ``make_write_through``."""
    # (any other attribute is looked up on ``stream`` by the native getattr slot, which stubtest cannot
    # see as a ``__getattr__`` method)
    def __enter__(self) -> WriteThroughStream: ...
    def __exit__(self, *_args: object) -> None:
        """Does nothing (the stream is not closed), as awslambdaric's ``Unbuffered``."""

class _Hooks(Protocol):
    """The Python callbacks ``run_invoke_loop`` uses (built by ``fastric.bootstrap.Hooks``)."""

    state: dict[str, Any]
    environ: Any
    context_class: Any
    ensure_ascii: bool
    force_python: bool
    runtime_client: Any
    originals: tuple[Any, Any, Any]
    def invoke(self, invocation: Invocation, request_handler: Any) -> None: ...
    def make_context(
        self,
        request_id: str,
        deadline_ms: int | None,
        invoked_function_arn: str | None,
        client_context: str | None,
        cognito_identity: str | None,
        tenant_id: str | None,
    ) -> Any: ...
    def unmarshal_fallback(self, body: bytes) -> Any: ...
    def handle_error(self, exc: BaseException, request_id: str) -> tuple[bytes, str | None]: ...
    def marshal_error(self, exc: BaseException) -> Exception: ...

def run_invoke_loop(client: RuntimeApiClient, handler: Any, hooks: _Hooks) -> NoReturn:
    """Serve invocations forever: ``/next`` (GIL released) → state and ``_X_AMZN_TRACE_ID`` →
    ``hooks.make_context`` → decode (``application/json`` or no content type → JSON, else bytes) →
    ``handler(event, context)`` → encode → ``/response``; an ``Exception`` → ``hooks.handle_error`` →
    ``/error``. Once ``hooks.state["handle_event_request"]`` is not ``hooks.originals[0]`` (or with
    ``hooks.force_python``) an invocation is served by ``hooks.invoke(invocation, handler)`` instead; once
    ``type(hooks.runtime_client).post_invocation_result`` / ``post_invocation_error`` is not
    ``originals[1]`` / ``[2]``, the native path posts through that method. Returns only by raising: a non-``Exception`` ``BaseException`` from the handler
    (``SystemExit``, ``KeyboardInterrupt``), or a fatal :class:`RuntimeApiError`."""

def set_diagnostic_fd(fd: int | None) -> None:
    """Send native ``[fastric] `` diagnostic lines to the telemetry fd ``fd`` (as TEXT frames) instead
    of stderr."""

def stream_invocation_response(
    client: RuntimeApiClient,
    request_id: str,
    stream: Any,
    ensure_ascii: bool,
    handle_error: Any,
    invocation_id: str | None = None,
) -> None:
    """Stream ``stream`` (a ``fastric.streaming.ResponseStream``) as invocation ``request_id``'s result,
    as the native loop does: chunks with the GIL released, errors before the first byte to ``/error``,
    after it as trailers. ``handle_error(exc, request_id) -> (document bytes, xray cause or None)``
    builds and logs error documents. Raises ``TypeError`` for another object, ``RuntimeApiError`` when
    the post failed (never re-sent), and ``BaseException``s from the stream or signal handlers."""

def rie_main(argv: list[str], python_executable: str | None = None) -> int:
    """Run the ``fastric-rie`` Runtime Interface Emulator with command-line ``argv``; returns the exit
    status. ``python_executable`` runs ``python -m fastric HANDLER`` when no command is given
    (default: ``sys.executable``)."""
