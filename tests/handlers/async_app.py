"""``async def`` handlers for tests/test_async_handlers.py (run with ``FASTRIC_ASYNC_HANDLERS=1``)."""

import asyncio
import logging

INIT_LOOP = asyncio.get_event_loop()  # what a client made at import time binds to


class Client:
    """Stands for an async SDK client: bound to the loop it was made on, usable only there."""

    def __init__(self):
        self.loop = asyncio.get_event_loop()
        self.calls = 0
        self.lock = asyncio.Lock()

    async def call(self):
        assert asyncio.get_running_loop() is self.loop, "client used on another event loop"
        async with self.lock:
            await asyncio.sleep(0)
            self.calls += 1
            return self.calls


CLIENT = Client()
_state = {}


async def handler(event, context):
    if event.get("fail"):
        await asyncio.sleep(0)
        raise ValueError("async failure")
    loop = asyncio.get_running_loop()
    _state.setdefault("client", Client())  # made in the first invocation, reused by the next
    logging.getLogger().warning("inside %s", context.aws_request_id)
    return {
        "init_calls": await CLIENT.call(),
        "warm_calls": await _state["client"].call(),
        "same_loop_as_init": loop is INIT_LOOP,
        "loop_type": type(loop).__module__ + "." + type(loop).__name__,
        "request_id": context.aws_request_id,
        "remaining_positive": context.get_remaining_time_in_millis() > 0,
    }


def sync_handler(event, context):
    return {"sync": True}
