"""Streamed and async handlers under sentry-sdk's AwsLambdaIntegration (tests/test_streaming_sentry.py)."""

import asyncio
import os

import fastric
import sentry_sdk
from sentry_sdk.integrations.aws_lambda import AwsLambdaIntegration

sentry_sdk.init(
    dsn=os.environ["SENTRY_DSN"],
    integrations=[AwsLambdaIntegration()],
    traces_sample_rate=1.0,
    release="streaming",
)


def _tokens(fail):
    yield "one "
    yield b"two "
    if fail:
        raise ValueError("mid-stream failure")


@fastric.response_stream(content_type="text/plain")
def stream(event, context):
    if event.get("raise"):
        raise KeyError("before the stream")
    return _tokens(event.get("fail", False))


async def handler(event, context):
    await asyncio.sleep(0)
    if event.get("raise"):
        raise RuntimeError("async failure")
    return {"async": True, "request_id": context.aws_request_id}
