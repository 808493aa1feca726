"""Benchmark handler: logs 100 WARNING records per invocation through the root logger.

WARNING is used because it is above the root logger's default level, so no AWS_LAMBDA_LOG_LEVEL is
needed and every record is emitted in both TEXT and JSON formats.
"""

import logging

_logger = logging.getLogger()


def handler(event, context):
    """Logs ``bench-log <i>`` at WARNING for i in 0..99."""
    for i in range(100):
        _logger.warning("bench-log %d", i)
    return {"statusCode": 200}
