"""Acceptance: the observability and framework libraries Lambda functions import work unchanged.

``tests/acceptance/app/observability_app.py`` sets up, at import, sentry-sdk (``AwsLambdaIntegration``
with the timeout warning, a loopback DSN), aws-lambda-powertools (Logger, Tracer, Metrics), aws-xray-sdk
(through the Tracer; segments to a loopback UDP "daemon"), datadog-lambda's wrapper (metrics flushed to
the log, its log injection), mangum + FastAPI, and OpenTelemetry's ``AwsLambdaInstrumentor`` with an
in-memory exporter; versions pinned in ``tests/acceptance/requirements.txt``, installed into two venvs
(``support.acceptance.venvs``; one with awslambdaric 4.2.2 and simplejson, the other runs fastric, with
no simplejson). Each configuration runs one process per client against the same recording fake Runtime
API and the same script (one scenario per invocation: plain, Powertools ok/failing, Datadog, a handler
exception, an API Gateway v2 request through mangum, Sentry's timeout warning, the OTel spans so far).

Configurations: TEXT and JSON log format × with/without the telemetry fd × ``AWS_EXECUTION_ENV`` unset
and ``AWS_Lambda_python3.12``; plus an init error after the libraries were set up (TEXT/stdout and
JSON/framed).

Compared between the two clients, after normalising only what :data:`NORMALISED` lists (timestamps,
trace/span/event/segment ids, durations, pids and thread ids, memory addresses, the venv and runtime
paths): responses and error documents (the whole Runtime API traffic), stdout, stderr, telemetry frames,
the Sentry envelope items, the X-Ray segments and the OTel spans. Each library's own effect is checked
on the reference run, so the comparison is not vacuous. Listed differences (docs/DIFFERENCES-python.md,
each with its own test): the init-error ``LAMBDA_WARNING`` wording (test_differential_logging.py) and
Sentry's init-error event, which fastric builds from the live exception (test below and
test_bootstrap_patch_points.py).
"""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path

import pytest
from conftest import REF_MISSING_REASON, REF_PYTHON, TESTS_DIR
from support.acceptance import SentryServer, UdpListener, fastric_path_dir, venvs
from support.runtime_api_fake import FakeRuntimeAPI, Invocation, run_runtime

if REF_PYTHON is None:
    pytest.skip(REF_MISSING_REASON, allow_module_level=True)

APP_DIR = TESTS_DIR / "acceptance" / "app"
HANDLER = "observability_app.handler"
TRACE_HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
HTTP_EVENT = {
    "version": "2.0",
    "routeKey": "$default",
    "rawPath": "/hello/world",
    "rawQueryString": "",
    "headers": {"host": "example.test"},
    "requestContext": {
        "http": {"method": "GET", "path": "/hello/world", "sourceIp": "192.0.2.1", "protocol": "HTTP/1.1"},
        "requestId": "req",
        "stage": "$default",
        "routeKey": "$default",
        "accountId": "000000000000",
        "apiId": "api",
        "domainName": "example.test",
        "domainPrefix": "example",
        "time": "03/Dec/2026:00:00:00 +0000",
        "timeEpoch": 0,
    },
    "isBase64Encoded": False,
}
EVENTS = [
    {"scenario": "plain", "text": "caf\u00e9"},
    {"scenario": "powertools"},
    {"scenario": "powertools", "fail": True},
    {"scenario": "datadog"},
    {"scenario": "raise"},
    HTTP_EVENT,
    {"scenario": "timeout", "sleep_s": 0.9},  # deadline 2.1 s: Sentry warns 1.5 s before it
    {"scenario": "otel_spans"},
]
ENV = {
    "_HANDLER": HANDLER,
    "DD_FLUSH_TO_LOG": "true",
    "DD_TRACE_ENABLED": "false",
    "DD_INSTRUMENTATION_TELEMETRY_ENABLED": "false",
    "DD_REMOTE_CONFIGURATION_ENABLED": "false",
    "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
}

#: What is normalised before comparing, and nothing else (regex → replacement, on bytes and strings).
NORMALISED = {
    "venv and runtime paths": (rb"/[^\s\"']*/acceptance-[0-9a-f]+/(fastric|awslambdaric)/", b"<VENV>/"),
    "runtime entry point in sys.argv": (
        rb"[^\s\"']*/(fastric|awslambdaric)/__main__\.py",
        b"<RUNTIME>/__main__.py",
    ),
    "ISO timestamps": (rb"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d([.,]\d{1,6})?(Z|\+0000|\+00:00)?", b"<TS>"),
    "X-Ray trace ids": (rb"1-[0-9a-f]{8}-[0-9a-f]{24}", b"<XRAY-TRACE>"),
    "trace/span/event/segment ids (hex)": (rb"(?<![0-9a-f])([0-9a-f]{32}|[0-9a-f]{16})(?![0-9a-f])", b"<ID>"),
    "epoch timestamps (s, ms, floats)": (rb"(?<![\w.])1[6-9]\d{8}(\d{3})?(\.\d+)?(?![\w.])", b"<EPOCH>"),
    "memory addresses": (rb"0x[0-9a-f]{6,16}", b"<ADDR>"),
    "Sentry's rounded remaining time": (
        rb"Configured timeout duration = \d+ seconds",
        b"Configured timeout duration = <N> seconds",
    ),
}
#: JSON keys whose values are durations, counters of time, pids or thread ids (replaced by ``"<N>"``).
NORMALISED_KEYS = frozenset(
    (
        "duration", "execution_duration_in_millis", "remaining_time_in_millis", "start_time", "end_time",
        "timestamp", "start_timestamp", "sent_at", "started", "pid", "thread.id", "tid", "thread_id",
        "Timestamp", "e", "quantity", "exited",
    )
)  # fmt: skip
#: Installed-package entries that differ by construction (the reference venv has awslambdaric).
REF_ONLY_MODULES = frozenset(("awslambdaric", "simplejson", "snapshot-restore-py"))
_PATTERNS = [(re.compile(p), r) for p, r in NORMALISED.values()]


def norm(data: bytes) -> bytes:
    for pattern, replacement in _PATTERNS:
        data = pattern.sub(replacement, data)
    return data


def norm_json(value: object) -> object:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in NORMALISED_KEYS and isinstance(item, (int, float, str)) and not isinstance(item, bool):
                out[key] = "<N>"
            elif key == "modules" and isinstance(item, dict):
                out[key] = {k: v for k, v in item.items() if k not in REF_ONLY_MODULES}
            else:
                out[key] = norm_json(item)
        return out
    if isinstance(value, list):
        return [norm_json(v) for v in value]
    if isinstance(value, str):
        return norm(value.encode("utf-8", "surrogateescape")).decode("utf-8", "surrogateescape")
    return value


def _script() -> list[Invocation]:
    return [
        Invocation(
            body=json.dumps(e).encode(),
            trace_id=TRACE_HEADER,
            deadline_ms=2100 if e.get("scenario") == "timeout" else 60_000,
        )
        for e in EVENTS
    ]


def _run(
    client: str, env: dict[str, str | None], invocations: list[Invocation], framed: bool, tmp: Path
) -> dict:
    python = venvs()[client] / "bin" / "python"
    with SentryServer() as sentry, UdpListener() as udp:
        full = {**ENV, **env, "SENTRY_DSN": sentry.dsn, "AWS_XRAY_DAEMON_ADDRESS": udp.address}
        if client == "fastric":
            full["PYTHONPATH"] = str(fastric_path_dir(tmp))
        with FakeRuntimeAPI(invocations) as api:
            result = run_runtime(
                [str(python), "-m", client, HANDLER], api, env=full, cwd=str(APP_DIR), telemetry_fd=framed,
                timeout_s=120, settle_s=1.0,
            )  # fmt: skip
        return {"result": result, "sentry": sentry.take(), "xray": udp.take()}


#: Sentry items left out of the comparison: client reports (counters of dropped items) and release-health
#: session aggregates, bucketed by the wall-clock minute, so how many items a run sends depends on when
#: the minute turns.
SENTRY_TIMING_ITEMS = frozenset(("client_report", "sessions"))


def _sentry_view(items: list) -> list:
    return sorted(
        json.dumps(norm_json(payload), sort_keys=True)
        for _type, payload in items
        if _type not in SENTRY_TIMING_ITEMS
    )


def _xray_view(datagrams: list[bytes]) -> list:
    return sorted(json.dumps(norm_json(json.loads(d.split(b"\n", 1)[1])), sort_keys=True) for d in datagrams)


def _frames(result) -> list:
    return [(f.type, norm(f.message)) for f in result.frames]


def _requests(result) -> list:
    return [(r.method, r.endpoint, norm(r.body)) for r in result.requests]


CONFIGS = [
    (f"{'json' if fmt else 'text'}-{'framed' if framed else 'stdout'}-{env or 'env-unset'}", fmt, framed, env)
    for fmt in (None, "JSON")
    for framed in (False, True)
    for env in (None, "AWS_Lambda_python3.12")
]


@pytest.fixture(scope="module", params=CONFIGS, ids=[c[0] for c in CONFIGS])
def runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[tuple, dict]:
    _id, fmt, framed, execution_env = request.param
    env = {"AWS_LAMBDA_LOG_FORMAT": fmt, "AWS_EXECUTION_ENV": execution_env}
    tmp = tmp_path_factory.mktemp("acceptance")
    return request.param, {c: _run(c, env, _script(), framed, tmp) for c in ("fastric", "awslambdaric")}


def test_runtime_api_traffic_identical(runs) -> None:
    _config, out = runs
    got, ref = out["fastric"]["result"], out["awslambdaric"]["result"]
    assert not ref.timed_out and not got.timed_out, got.describe()
    assert _requests(got) == _requests(ref)
    assert [r.endpoint for r in ref.posts] == ["response", "response", "error", "response", "error"] + [
        "response"
    ] * 3


def test_logs_identical(runs) -> None:
    _config, out = runs
    got, ref = out["fastric"]["result"], out["awslambdaric"]["result"]
    assert norm(got.stdout) == norm(ref.stdout)
    assert norm(got.stderr) == norm(ref.stderr)
    assert _frames(got) == _frames(ref)
    assert got.frame_tail == ref.frame_tail == b""


def test_sentry_envelopes_identical(runs) -> None:
    _config, out = runs
    got, ref = _sentry_view(out["fastric"]["sentry"]), _sentry_view(out["awslambdaric"]["sentry"])
    if got != ref:
        diff = difflib.unified_diff(ref, got, "awslambdaric", "fastric", lineterm="", n=0)
        pytest.fail("Sentry items differ:\n" + "\n".join(line[:3000] for line in diff), pytrace=False)


def test_xray_segments_identical(runs) -> None:
    _config, out = runs
    assert _xray_view(out["fastric"]["xray"]) == _xray_view(out["awslambdaric"]["xray"])


def test_each_library_had_its_effect(runs) -> None:
    """On both runs: what each library is for actually happened (so the comparison is not vacuous)."""
    (_id, fmt, framed, _env), out = runs
    for client in ("fastric", "awslambdaric"):
        run = out[client]
        result = run["result"]
        logs = result.stdout + b"\n".join(f.message for f in result.frames)
        # Sentry: the handler exception, one transaction per invocation, the timeout warning
        events = [p for t, p in run["sentry"] if t == "event"]
        values = [v for e in events for v in e["exception"]["values"]]
        assert {"type": "aws_lambda", "handled": False} in [v["mechanism"] for v in values], client
        assert "ValueError" in [v["type"] for v in values]
        assert "ServerlessTimeoutWarning" in [v["type"] for v in values]
        transactions = [p for t, p in run["sentry"] if t == "transaction"]
        assert len(transactions) == len(EVENTS) + 1, client  # + the FastAPI route transaction
        assert {t["contexts"]["trace"]["op"] for t in transactions} >= {"function.aws"}
        # X-Ray (via the Powertools Tracer): the handler subsegment under the Lambda facade segment
        segments = [json.loads(d.split(b"\n", 1)[1]) for d in run["xray"]]
        assert {s["name"] for s in segments} == {"## powertools_handler", "## inner"}, client
        assert {s["trace_id"] for s in segments} == {"1-5759e988-bd862e3fe1be46a994272793"}
        # OpenTelemetry: one SERVER span per invocation before the probe, with the Lambda attributes
        spans = json.loads(result.posts[-1].body)["spans"]
        assert len(spans) == len(EVENTS) - 1
        assert spans[0]["attributes"]["faas.invocation_id"] == "11111111-1111-4111-8111-000000000001"
        # Datadog: the custom metric line, and its log injection in TEXT format
        assert b'{"m":"acceptance.hits","v":1,' in logs
        if fmt is None:
            assert b"[dd.trace_id=0 dd.span_id=0]\tdatadog record" in logs
        # Powertools: the JSON log record and the EMF metrics document
        assert b'"message":"powertools record"' in logs and b'"answer":42' in logs
        assert b'"CloudWatchMetrics":[{"Namespace":"Acceptance"' in logs
        # mangum + FastAPI
        assert json.loads(result.posts[5].body)["body"] == '{"hello":"world"}'


INIT_CONFIGS = [("text-stdout", None, False), ("json-framed", "JSON", True)]
WARNING_WORDING = re.compile(rb"LAMBDA_WARNING: [^\r\\]*(?=\r|\\r)")


@pytest.mark.parametrize(("fmt", "framed"), [c[1:] for c in INIT_CONFIGS], ids=[c[0] for c in INIT_CONFIGS])
def test_init_error_after_the_libraries_were_set_up(fmt, framed, tmp_path: Path) -> None:
    env = {"AWS_LAMBDA_LOG_FORMAT": fmt, "ACCEPTANCE_INIT_FAIL": "1"}
    out = {c: _run(c, env, [], framed, tmp_path) for c in ("fastric", "awslambdaric")}
    got, ref = out["fastric"]["result"], out["awslambdaric"]["result"]
    assert got.returncode == ref.returncode == 1
    assert _requests(got) == _requests(ref)
    assert [r.endpoint for r in ref.requests] == ["init_error"]

    def wording(data: bytes) -> bytes:  # listed difference: the LAMBDA_WARNING wording
        return WARNING_WORDING.sub(b"LAMBDA_WARNING: <WORDING>", norm(data))

    assert wording(got.stdout) == wording(ref.stdout)
    assert [(t, wording(m)) for t, m in _frames(got)] == [(t, wording(m)) for t, m in _frames(ref)]
    # Sentry's init-error event: both report it; fastric calls post_init_error inside the except
    # block, so the SDK builds the event from the live exception (real frames with source lines),
    # awslambdaric's from the error document's JSON (frames parsed from stackTrace, no source).
    events = {c: [p for t, p in out[c]["sentry"] if t == "event"] for c in out}
    for client, evs in events.items():
        (event,) = evs
        (value,) = event["exception"]["values"]
        assert (value["type"], value["value"]) == (
            "RuntimeError",
            "init failed after the libraries were set up",
        )
        assert value["mechanism"] == {"type": "aws_lambda", "handled": False}, client
    got_frames = events["fastric"][0]["exception"]["values"][0]["stacktrace"]["frames"]
    ref_frames = events["awslambdaric"][0]["exception"]["values"][0]["stacktrace"]["frames"]
    assert got_frames[-1]["context_line"].strip().startswith('raise RuntimeError("init failed')
    assert ref_frames[-1]["context_line"] is None
    assert got_frames[-1]["function"] == ref_frames[-1]["function"] == "<module>"
