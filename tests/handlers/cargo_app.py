"""Handlers used under cargo-lambda's Runtime API emulator."""


def handler(event, context):
    """Echo the event with what the context saw (the deadline reduced to a range check)."""
    remaining = context.get_remaining_time_in_millis()
    return {
        "event": event,
        "remaining_ok": 0 < remaining <= 600000,
        "remaining_type": type(remaining).__name__,
        "arn": context.invoked_function_arn,
        "function_name": context.function_name,
    }


def fail(event, context):
    """Raise a ValueError."""
    raise ValueError("boom from cargo-lambda")


def client_context(event, context):
    """Return what the context saw of the client context."""
    cc = context.client_context
    return {"custom": None if cc is None else cc.custom}
