"""A sample Lambda handler: summarises whichever AWS event it receives.

Run it locally with `make demo`, or by hand: `fastric-rie python -m fastric app.handler` from this
folder, then `curl -d @events/s3-put.json localhost:8080/2015-03-31/functions/function/invocations`.
"""

import logging

logger = logging.getLogger()
logger.setLevel(logging.INFO)


def _source(event):
    """Names the AWS service that sent `event`, from the shape of the event."""
    if "requestContext" in event:
        return "apigateway-v2" if event.get("version") == "2.0" else "apigateway-v1"
    records = event.get("Records") or [{}]
    first = records[0]
    if "s3" in first:
        return "s3"
    if first.get("eventSource") == "aws:sqs":
        return "sqs"
    if "detail-type" in event:
        return "eventbridge"
    return "unknown"


def handler(event, context):
    """Returns a small summary of `event`; logs one line per invocation."""
    source = _source(event)
    logger.info("event from %s", source)
    return {
        "source": source,
        "records": len(event.get("Records", [])),
        "request_id": context.aws_request_id,
        "function": context.function_name,
        "remaining_ms_positive": context.get_remaining_time_in_millis() > 0,
    }
