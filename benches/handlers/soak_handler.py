"""Soak handler (benches/soak.py): logs one line per invocation through the root logger and returns
the event, so every event size is decoded, logged about and encoded back."""

import logging

_logger = logging.getLogger()


def handler(event, context):
    """Returns ``event`` after one WARNING line naming the request id."""
    _logger.warning("soak %s", context.aws_request_id)
    return event
