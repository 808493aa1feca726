"""Under FASTRIC_ASYNC_HANDLERS=1: ``{"legacy": true}`` runs the pre-3.7 pattern
(``get_event_loop()``, ``run_until_complete``, ``close()``) on the environment's loop; otherwise the
handler returns a coroutine for the runtime to await."""

import asyncio


async def work(n):
    await asyncio.sleep(0)
    return {"n": n}


def handler(event, context):
    if event.get("legacy"):
        loop = asyncio.get_event_loop()
        result = loop.run_until_complete(work(event["n"]))
        loop.close()
        return result
    return work(event["n"])
