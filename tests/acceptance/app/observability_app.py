"""A function that imports the observability and framework libraries real Lambda functions use.

Set up at import, as their documentation says: sentry-sdk with ``AwsLambdaIntegration(timeout_warning=
True)`` (DSN from ``SENTRY_DSN``), Powertools Logger/Tracer/Metrics (X-Ray segments to
``AWS_XRAY_DAEMON_ADDRESS``), datadog-lambda's wrapper with ``DD_FLUSH_TO_LOG`` metrics, mangum + FastAPI,
and OpenTelemetry's ``AwsLambdaInstrumentor`` with an in-memory exporter (last: it wraps ``handler``).
One scenario per invocation, chosen by ``event["scenario"]`` (an API Gateway v2 event goes to mangum).
``ACCEPTANCE_INIT_FAIL=1`` raises at the end of the import (an init error, after Sentry is set up).
"""

import json
import logging
import os
import time

import sentry_sdk
from sentry_sdk.integrations.aws_lambda import AwsLambdaIntegration

sentry_sdk.init(
    dsn=os.environ["SENTRY_DSN"],
    integrations=[AwsLambdaIntegration(timeout_warning=True)],
    traces_sample_rate=1.0,
    release="acceptance",
    environment="test",
    server_name="acceptance-host",
)

from aws_lambda_powertools import Logger, Metrics, Tracer  # noqa: E402
from datadog_lambda.metric import lambda_metric  # noqa: E402
from datadog_lambda.wrapper import datadog_lambda_wrapper  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from mangum import Mangum  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402

pt_logger = Logger(service="acceptance")
pt_tracer = Tracer(service="acceptance")
pt_metrics = Metrics(namespace="Acceptance", service="acceptance")


@pt_logger.inject_lambda_context
@pt_tracer.capture_lambda_handler
@pt_metrics.log_metrics
def powertools_handler(event, context):
    pt_logger.info("powertools record", extra={"answer": 42})
    pt_metrics.add_metric(name="Hits", unit="Count", value=1)
    pt_tracer.put_annotation(key="scenario", value="powertools")
    with pt_tracer.provider.in_subsegment("## inner"):
        pass
    if event.get("fail"):
        raise RuntimeError("powertools handler failed")
    return {"powertools": True}


@datadog_lambda_wrapper
def datadog_handler(event, context):
    lambda_metric("acceptance.hits", 1, tags=["scenario:datadog"])
    logging.getLogger().warning("datadog record")
    return {"datadog": True}


api = FastAPI()


@api.get("/hello/{name}")
def hello(name: str):
    return {"hello": name}


mangum_handler = Mangum(api, lifespan="off")

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))


def _span_view(span):
    return {
        "name": span.name,
        "kind": str(span.kind),
        "status": str(span.status.status_code),
        "has_parent": span.parent is not None,
        "attributes": {k: v for k, v in sorted(span.attributes.items())},
        "events": [e.name for e in span.events],
    }


def handler(event, context):
    scenario = event.get("scenario") if isinstance(event, dict) else None
    if isinstance(event, dict) and "requestContext" in event:
        return mangum_handler(event, context)
    if scenario == "powertools":
        return powertools_handler(event, context)
    if scenario == "datadog":
        return datadog_handler(event, context)
    if scenario == "otel_spans":
        spans = [_span_view(s) for s in exporter.get_finished_spans()]
        exporter.clear()
        return {"spans": spans}
    if scenario == "raise":
        raise ValueError("handler failed: caf\u00e9")
    if scenario == "timeout":
        time.sleep(event["sleep_s"])
        return {"slept": event["sleep_s"]}
    print("plain print", json.dumps(event, sort_keys=True))
    logging.getLogger("app").warning("plain warning for %s", context.aws_request_id)
    return {"echo": event}


from opentelemetry.instrumentation.aws_lambda import AwsLambdaInstrumentor  # noqa: E402

AwsLambdaInstrumentor().instrument(tracer_provider=provider)

if os.environ.get("ACCEPTANCE_INIT_FAIL") == "1":
    raise RuntimeError("init failed after the libraries were set up")
