"""Replaces the runtime's ``handle_event_request`` from inside an invocation (``event["patch"]``):
``wrap`` (prints ``WRAPPED <request id>`` and serves), ``raise`` (raises) or ``twice`` (serves, then
posts the result a second time)."""

import sys


def _bootstrap():
    main = sys.modules["__main__"]
    if hasattr(main, "awslambdaricmain"):
        return main.awslambdaricmain.bootstrap
    return main.bootstrap


def handler(event, context):
    kind = event.get("patch")
    if kind:
        bs = _bootstrap()
        original = bs.handle_event_request

        def patched(client, request_handler, invoke_id, *args, **kwargs):
            sys.stdout.write(f"WRAPPED {invoke_id}\n")
            sys.stdout.flush()
            if kind == "raise":
                raise RuntimeError("patched handle_event_request failed")
            original(client, request_handler, invoke_id, *args, **kwargs)
            if kind == "twice":
                client.post_invocation_result(invoke_id, '"again"', "application/json")
            return None

        bs.handle_event_request = patched
    return {"n": event.get("n")}
