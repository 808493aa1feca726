"""Benchmark handler: returns the event unchanged, so the client decodes and re-encodes it (payloads)."""


def handler(event, context):
    """Returns ``event`` as received (a dict decoded from the JSON body)."""
    return event
