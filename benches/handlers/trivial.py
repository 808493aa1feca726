"""Benchmark handler: does nothing and returns a small constant object (per-invoke and cold start)."""


def handler(event, context):
    """Returns ``{"statusCode": 200}`` whatever the event."""
    return {"statusCode": 200}
