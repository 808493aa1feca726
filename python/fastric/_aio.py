"""The execution environment's one asyncio event loop, and the ``async def`` handler adapter.

awslambdaric 4.2.2 calls an ``async def`` handler like a plain function and reports the coroutine as a
``Runtime.MarshalError`` (case C26); fastric keeps that by default. With ``FASTRIC_ASYNC_HANDLERS=1``
:func:`wrap_handler` awaits the coroutine on one loop that lives as long as the process, so async
clients made during init or an earlier invocation stay bound to a running-capable loop (``asyncio.run``
per invocation would close it; motor PR #187). uvloop is used when it is importable. Streamed async
generators (:mod:`fastric.streaming`) use the same loop without the flag.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is not imported at run time (start-up cost)
    from collections.abc import Callable
    from typing import Any

__all__ = ["get_loop", "resolve", "wrap_handler"]

_loop: Any = None


def get_loop() -> Any:
    """The process's event loop, created on first use (uvloop's when uvloop is installed, else
    asyncio's default) and set as the current loop of the main thread, so ``asyncio.get_event_loop()``
    at import time of the handler module returns it. Never closed."""
    global _loop
    if _loop is None or _loop.is_closed():
        import asyncio

        try:
            import uvloop  # type: ignore[import-not-found]
        except ImportError:
            loop = asyncio.new_event_loop()
        else:
            loop = uvloop.new_event_loop()
        asyncio.set_event_loop(loop)
        _loop = loop
    return _loop


def resolve(value: Any) -> Any:
    """``value`` run to completion on :func:`get_loop`'s loop when it is awaitable (a coroutine), else
    ``value`` itself. The loop is looked up per call: user code may have closed it (a new one is made)."""
    if hasattr(value, "__await__"):
        return get_loop().run_until_complete(value)
    return value


def wrap_handler(handler: Callable[..., Any]) -> Callable[..., Any]:
    """``handler`` wrapped so that an awaitable result (an ``async def`` handler's coroutine) is run to
    completion on :func:`get_loop`'s loop and its value returned; other results pass through. The
    wrapper's frame (and asyncio's) are runtime frames, dropped from ``stackTrace``
    (:func:`fastric.errors.extract_frames`), so errors read as for a sync handler."""
    if not callable(handler):
        return handler
    get_loop()  # the loop exists before the first invocation

    def async_handler(event: Any, context: Any) -> Any:
        return resolve(handler(event, context))

    import functools

    return functools.update_wrapper(async_handler, handler)
