"""Response streaming for Python handlers: :func:`response_stream` and :class:`HttpResponseStream`.

A handler decorated with :func:`response_stream` has its result sent to the Runtime API as a streamed
response (``Lambda-Runtime-Function-Response-Mode: streaming``, HTTP/1.1 chunks, errors after the first
byte as HTTP trailers), the wire format of AWS's "Building a custom runtime" page
(docs.aws.amazon.com/lambda/latest/dg/runtimes-custom.html, "Response streaming"). The native invoke
loop (``rust/response_stream.rs``) recognises the :class:`ResponseStream` the decorated handler
returns, asks :func:`open_stream` for the content type and the items, and writes each item as one
chunk as soon as it is produced. awslambdaric 4.2.2 has no streaming; undecorated handlers behave
exactly as there (a generator result is a ``Runtime.MarshalError``).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is not imported at run time (start-up cost)
    from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
    from typing import Any

from .errors import FaultException, safe_str

__all__ = [
    "DEFAULT_CONTENT_TYPE",
    "HTTP_INTEGRATION_CONTENT_TYPE",
    "HttpResponseStream",
    "ResponseStream",
    "open_stream",
    "response_stream",
]

#: Content type of a streamed response when the decorator names none.
DEFAULT_CONTENT_TYPE = "application/octet-stream"
#: Content type of a Function URL (HTTP integration) streamed response: JSON prelude, 8 NUL bytes, body.
HTTP_INTEGRATION_CONTENT_TYPE = "application/vnd.awslambda.http-integration-response"
#: Separates the JSON prelude from the body in an HTTP integration response.
PRELUDE_SEPARATOR = b"\0" * 8


class ResponseStream:
    """What a :func:`response_stream` handler hands to the invoke loop: the handler's ``result`` and the
    decorator's ``content_type``. Not meant to be built by user code."""

    __slots__ = ("content_type", "result")

    def __init__(self, result: Any, content_type: str) -> None:
        self.result = result
        self.content_type = content_type

    def __repr__(self) -> str:
        return f"<ResponseStream content_type={self.content_type!r} result={type(self.result).__name__}>"


class HttpResponseStream:
    """A streamed HTTP response for a Function URL (``InvokeMode: RESPONSE_STREAM``).

    Return it from a :func:`response_stream` handler. ``body`` is what the handler would otherwise
    return (a generator, an async generator, an iterable of ``bytes``/``str``, ``bytes``, ``str`` or
    None); ``status_code`` the HTTP status; ``headers`` a mapping of header name to value (str);
    ``cookies`` a list of ``Set-Cookie`` values. The stream's content type is
    ``application/vnd.awslambda.http-integration-response`` and its bytes are the JSON prelude
    ``{"statusCode": …, "headers": {…}, "cookies": […]}``, eight NUL bytes, then the body items, the
    format Lambda's Function URLs read (as aws-lambda-rust-runtime's ``StreamResponse`` writes it).
    """

    __slots__ = ("body", "cookies", "headers", "status_code")

    def __init__(
        self,
        body: Any,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        cookies: Sequence[str] | None = None,
    ) -> None:
        self.body = body
        self.status_code = status_code
        self.headers = dict(headers) if headers is not None else {}
        self.cookies = list(cookies) if cookies is not None else []

    def prelude(self) -> bytes:
        """The JSON metadata prelude followed by the eight NUL bytes (UTF-8). Raises
        ``FaultException`` (``Runtime.MarshalError``) for metadata that is not JSON: a value JSON
        cannot encode, a lone surrogate, or a NaN/infinite float (``json`` would write the non-JSON ``NaN``)."""
        import json

        meta = {"statusCode": self.status_code, "headers": self.headers, "cookies": self.cookies}
        try:
            text = json.dumps(meta, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
        except (TypeError, ValueError) as e:  # UnicodeEncodeError (a lone surrogate) included
            raise _marshal_error(e) from None
        return text + PRELUDE_SEPARATOR


def _check_content_type(content_type: object) -> str:
    if not isinstance(content_type, str) or not content_type:
        raise TypeError(f"content_type must be a non-empty str, not {content_type!r}")
    if any(c in content_type for c in "\r\n\0") or not content_type.isascii():
        raise ValueError(f"content_type {content_type!r} contains CR, LF, NUL or non-ASCII characters")
    return content_type


def response_stream(
    handler: Callable[..., Any] | None = None, *, content_type: str = DEFAULT_CONTENT_TYPE
) -> Any:
    """Mark ``handler`` as a streaming handler: ``@fastric.response_stream`` or
    ``@fastric.response_stream(content_type="text/plain")``.

    The handler (``def`` or ``async def``) may return:

    - a generator, an async generator, or any iterable of ``bytes``/``str`` (str is sent as UTF-8):
      each item is one HTTP chunk, written as soon as it is produced; empty items are skipped;
    - ``bytes`` or ``str``: one chunk; ``None``: an empty stream;
    - any other object (a ``dict`` included): marshalled as a buffered result would be (awslambdaric's
      JSON bytes) and sent as one chunk; a marshalling failure is a ``Runtime.MarshalError``;
    - an :class:`HttpResponseStream` wrapping any of the above, for a Function URL.

    An exception before the first byte is posted to ``/invocation/{id}/error`` as for a buffered
    handler; after it, the stream ends with the ``Lambda-Runtime-Function-Error-Type`` and
    ``Lambda-Runtime-Function-Error-Body`` (base64 of the same error document) trailers. An item
    that is neither ``bytes`` nor ``str`` is a ``Runtime.MarshalError`` naming its type. An ``async def``
    handler and an async generator run on the execution environment's one event loop
    (:func:`fastric._aio.get_loop`), with or without ``FASTRIC_ASYNC_HANDLERS``.

    Raises ``TypeError``/``ValueError`` at decoration time for a content type that is not a
    non-empty ASCII str without CR/LF/NUL.
    """
    content_type = _check_content_type(content_type)

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        import functools

        @functools.wraps(function)
        def streaming_handler(event: Any, context: Any) -> ResponseStream:
            return ResponseStream(function(event, context), content_type)

        streaming_handler.__fastric_response_stream__ = content_type  # type: ignore[attr-defined]
        return streaming_handler

    if handler is None:
        return decorate
    return decorate(handler)


def _marshal_error(exc: BaseException) -> FaultException:
    return FaultException(FaultException.MARSHAL_ERROR, "Unable to marshal response: " + safe_str(exc))


def item_error(item: object) -> FaultException:
    """The error that ends a stream whose item is neither ``bytes`` nor ``str``:
    ``Runtime.MarshalError`` ``Unable to marshal response: response_stream items must be bytes or str,
    not <type name>``."""
    return FaultException(
        FaultException.MARSHAL_ERROR,
        f"Unable to marshal response: response_stream items must be bytes or str, not {type(item).__name__}",
    )


def _iterate_async(agen: Any) -> Iterator[Any]:
    """Drive the async iterator ``agen`` on the environment's event loop, one item per ``next()``."""
    from ._aio import get_loop

    loop = get_loop()
    anext = agen.__anext__
    try:
        while True:
            try:
                item = loop.run_until_complete(anext())
            except StopAsyncIteration:
                return
            yield item
    finally:
        aclose = getattr(agen, "aclose", None)
        if aclose is not None:
            loop.run_until_complete(aclose())


def _items(body: Any, ensure_ascii: bool) -> Iterable[Any]:
    if body is None:
        return ()
    if isinstance(body, (bytes, str)):
        return (body,)
    if hasattr(body, "__await__"):
        from ._aio import resolve

        return _items(resolve(body), ensure_ascii)
    if hasattr(body, "__aiter__"):
        return _iterate_async(body.__aiter__())
    if hasattr(body, "__iter__") and not hasattr(body, "keys"):
        return body
    from ._fastric import json_dumps  # type: ignore[attr-defined]

    try:
        return (json_dumps(body, ensure_ascii),)
    except Exception as e:  # noqa: BLE001 - every encoder failure is a marshal error, as buffered
        raise _marshal_error(e) from None


def _with_prelude(prelude: bytes, body: Iterator[Any]) -> Iterator[Any]:
    """``prelude``, then the items of ``body``; closing this generator early closes ``body`` (its
    ``close()``, when it has one), as the invoke loop closes a plain stream's iterator."""
    try:
        yield prelude
    except GeneratorExit:
        close = getattr(body, "close", None)
        if close is not None:
            close()
        raise
    yield from body  # a close() during the body is passed on to body.close() by `yield from`


def open_stream(stream: ResponseStream, ensure_ascii: bool) -> tuple[str, Iterator[Any]]:
    """``(content type, iterator of items)`` for a :class:`ResponseStream` (called by the invoke loop
    with the GIL held). Awaits a coroutine result; an :class:`HttpResponseStream` gives its prelude as
    the first item. Raises what the handler's coroutine raises, or ``FaultException``
    (``Runtime.MarshalError``) for a result that cannot be marshalled."""
    result = stream.result
    if hasattr(result, "__await__"):
        from ._aio import resolve

        result = resolve(result)
    if isinstance(result, HttpResponseStream):
        body = _items(result.body, ensure_ascii)
        return HTTP_INTEGRATION_CONTENT_TYPE, _with_prelude(result.prelude(), iter(body))
    return stream.content_type, iter(_items(result, ensure_ascii))
