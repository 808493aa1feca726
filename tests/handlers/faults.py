"""Handlers for the fault-injection tests."""


def echo(event, context):
    """Return the event unchanged."""
    return event


def slow_echo(event, context):
    """Return the event after 0.3 s: long enough for a connection the server closed meanwhile to be
    seen as closed before the result is posted."""
    import time

    time.sleep(0.3)
    return event


def remaining(event, context):
    """Return the remaining time (ms) and its type."""
    value = context.get_remaining_time_in_millis()
    return {"remaining": value, "type": type(value).__name__}


def big(event, context):
    """Return a string of ``event["n"]`` characters (JSON size n + 2 bytes)."""
    return "z" * event["n"]


def fail(event, context):
    """Raise a ValueError (posted to /error)."""
    raise ValueError("boom " + str(event.get("i")))


def trace(event, context):
    """Return the event type and the trace id the runtime exported."""
    import os

    return {"event_type": type(event).__name__, "trace": os.environ.get("_X_AMZN_TRACE_ID")}
