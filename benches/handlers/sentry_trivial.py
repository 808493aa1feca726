"""Benchmark handler with sentry-sdk's ``AwsLambdaIntegration`` active (errors only, no tracing, as
many functions run it): the runtime's ``handle_event_request`` and post methods are patched."""

import os

import sentry_sdk
from sentry_sdk.integrations.aws_lambda import AwsLambdaIntegration

sentry_sdk.init(
    dsn=os.environ["SENTRY_DSN"],
    integrations=[AwsLambdaIntegration()],
    release="bench",
    auto_session_tracking=False,
)


def handler(event, context):
    """Returns ``{"statusCode": 200}`` whatever the event."""
    return {"statusCode": 200}
