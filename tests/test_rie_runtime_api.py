"""fastric-rie's Runtime API, driven by the test acting as the runtime (COMMAND is ``sleep``)."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest
from test_rie_fixtures import UUID4, pid_alive, rie_factory, wait_dead  # noqa: F401

SLEEP = shutil.which("sleep") or "/bin/sleep"


def transition(src: str, dst: str) -> bytes:
    return (
        b'{"errorMessage":"State transition from %s to %s failed for runtime. Error: State transition is not '
        b'allowed","errorType":"InvalidStateTransition"}' % (src.encode(), dst.encode())
    )


ACCEPTED = b'{"status":"OK"}'


class Invoke(threading.Thread):
    """An invoke running in the background; ``response`` is set when it returns."""

    def __init__(self, rie, body: bytes = b'{"hello": "world"}', headers=None):
        super().__init__(daemon=True)
        self.rie, self.body, self.headers, self.response = rie, body, headers or {}, None
        self.start()

    def run(self):
        self.response = httpx.post(self.rie.invoke_url, content=self.body, headers=self.headers, timeout=60)

    def result(self) -> httpx.Response:
        self.join(30)
        assert self.response is not None
        return self.response


@pytest.fixture
def fake(rie_factory):  # noqa: F811
    def start(*opts, env=None):
        rie = rie_factory(["--eager-init", *opts, SLEEP, "1000"], env=env)
        rie.client = httpx.Client(base_url=rie.base, timeout=30)
        return rie

    return start


def test_next_headers_and_response(fake):
    rie = fake(env={"AWS_LAMBDA_FUNCTION_TIMEOUT": "30", "AWS_LAMBDA_FUNCTION_NAME": "fn"})
    cc = base64.b64encode(b'{"custom":{"a":"b"}}').decode()
    inv = Invoke(
        rie,
        b'{"k": [1, 2]}',
        {
            "X-Amz-Client-Context": cc,
            "X-Amzn-Trace-Id": "Root=1-abc;Sampled=1",
            "X-Amz-Tenant-Id": "t-1",
            "X-Amz-Cognito-Identity": '{"cognitoIdentityId":"i"}',
        },
    )
    before = time.time() * 1000
    nxt = rie.client.get("/runtime/invocation/next")
    assert nxt.status_code == 200
    assert nxt.content == b'{"k": [1, 2]}'
    h = nxt.headers
    rid = h["lambda-runtime-aws-request-id"]
    assert UUID4.match(rid) and UUID4.match(h["lambda-runtime-invocation-id"])
    assert h["content-type"] == "application/json"
    assert h["lambda-runtime-invoked-function-arn"] == "arn:aws:lambda:us-east-1:012345678912:function:fn"
    assert h["lambda-runtime-trace-id"] == "Root=1-abc;Sampled=1"
    assert h["lambda-runtime-client-context"] == '{"custom":{"a":"b"}}'
    assert h["lambda-runtime-cognito-identity"] == '{"cognitoIdentityId":"i"}'
    assert h["lambda-runtime-aws-tenant-id"] == "t-1"
    assert before + 29_000 <= int(h["lambda-runtime-deadline-ms"]) <= time.time() * 1000 + 30_000
    # wrong request id
    r = rie.client.post("/runtime/invocation/not-the-id/response", content=b"x")
    assert (r.status_code, r.content) == (
        400,
        b'{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}',
    )
    # a second /next while running
    r = rie.client.get("/runtime/invocation/next")
    assert (r.status_code, r.content) == (403, transition("Running", "Ready"))
    # a stale invocation id
    r = rie.client.post(
        f"/runtime/invocation/{rid}/response",
        content=b"x",
        headers={"Lambda-Runtime-Invocation-Id": "00000000-0000-4000-8000-000000000000"},
    )
    assert r.status_code == 410 and r.json()["errorType"] == "InvokeTimeout"
    r = rie.client.post(
        f"/runtime/invocation/{rid}/response",
        content=b"plain bytes",
        headers={
            "Content-Type": "text/plain",
            "Lambda-Runtime-Invocation-Id": h["lambda-runtime-invocation-id"],
        },
    )
    assert (r.status_code, r.content) == (202, ACCEPTED)
    resp = inv.result()
    assert (resp.status_code, resp.content, resp.headers["content-type"]) == (
        200,
        b"plain bytes",
        "text/plain",
    )
    assert resp.headers["x-amzn-requestid"] == rid
    # posting twice, or /error after the response
    r = rie.client.post(f"/runtime/invocation/{rid}/response", content=b"again")
    assert (r.status_code, r.content) == (403, transition("RuntimeResponseSentState", "InvocationResponse"))
    r = rie.client.post(f"/runtime/invocation/{rid}/error", content=b"{}")
    assert (r.status_code, r.content) == (
        403,
        transition("RuntimeResponseSentState", "InvocationErrorResponse"),
    )
    r = rie.client.post("/runtime/init/error", content=b"{}")
    assert (r.status_code, r.content) == (403, transition("RuntimeResponseSentState", "InitError"))
    r = rie.client.get("/runtime/unknown")
    assert (r.status_code, r.content) == (404, b"404 page not found\n")


def test_post_before_next(fake):
    rie = fake()
    r = rie.client.post("/runtime/invocation/some-id/response", content=b"x")
    assert (r.status_code, r.content) == (403, transition("Started", "InvocationResponse"))


def test_error_post_and_error_type_header(fake):
    rie = fake()
    for body, expected in [
        (b'{"errorMessage":"m","errorType":"E"}', b'{"errorMessage":"m","errorType":"E"}'),
        (b"", b'{"errorMessage":"","errorType":"Function.Custom"}'),
    ]:
        inv = Invoke(rie)
        rid = rie.client.get("/runtime/invocation/next").headers["lambda-runtime-aws-request-id"]
        r = rie.client.post(
            f"/runtime/invocation/{rid}/error",
            content=body,
            headers={"Lambda-Runtime-Function-Error-Type": "Function.Custom"},
        )
        assert (r.status_code, r.content) == (202, ACCEPTED)
        resp = inv.result()
        assert (resp.status_code, resp.headers["x-amz-function-error"], resp.content) == (
            200,
            "Unhandled",
            expected,
        )


def test_response_too_large(fake):
    rie = fake()
    inv = Invoke(rie)
    rid = rie.client.get("/runtime/invocation/next").headers["lambda-runtime-aws-request-id"]
    r = rie.client.post(f"/runtime/invocation/{rid}/response", content=b"x" * 6291557)
    assert (r.status_code, r.content) == (
        413,
        b'{"errorMessage":"Exceeded maximum allowed payload size (6291556 bytes).","errorType":"RequestEntityTooLarge"}',
    )
    resp = inv.result()
    assert resp.headers["x-amz-function-error"] == "Unhandled"
    assert resp.json()["errorType"] == "Function.ResponseSizeTooLarge"
    # exactly at the limit is accepted
    inv = Invoke(rie)
    rid = rie.client.get("/runtime/invocation/next").headers["lambda-runtime-aws-request-id"]
    r = rie.client.post(f"/runtime/invocation/{rid}/response", content=b"y" * 6291556)
    assert r.status_code == 202
    assert len(inv.result().content) == 6291556


def test_init_error_kills_runtime_and_next_invoke_reinits(fake):
    rie = fake()
    r = rie.client.post(
        "/runtime/init/error",
        content=b'{"errorMessage":"bad","errorType":"Runtime.ImportModuleError"}',
        headers={"Lambda-Runtime-Function-Error-Type": "Runtime.ImportModuleError"},
    )
    assert (r.status_code, r.content) == (202, ACCEPTED)
    r = rie.client.get("/runtime/invocation/next")
    assert (r.status_code, r.content) == (403, transition("InitError", "Ready"))
    resp = httpx.post(rie.invoke_url, content=b"{}", timeout=30)
    assert (resp.status_code, resp.headers["x-amz-function-error"], resp.content) == (
        200,
        "Unhandled",
        b'{"errorMessage":"bad","errorType":"Runtime.ImportModuleError"}',
    )
    # a fresh runtime (a new `sleep`) serves the next invoke, once the failed one is stopped
    # (it gets 2 s to exit by itself, then SIGKILL)
    inv = Invoke(rie)
    deadline = time.monotonic() + 10
    while (
        nxt := rie.client.get("/runtime/invocation/next")
    ).status_code == 403 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert nxt.status_code == 200
    rid = nxt.headers["lambda-runtime-aws-request-id"]
    assert rie.client.post(f"/runtime/invocation/{rid}/response", content=b"1").status_code == 202
    assert inv.result().content == b"1"


def test_timeout_kills_sleep_and_keep_runtime_gives_410(fake):
    rie = fake("--keep-runtime-on-timeout", env={"AWS_LAMBDA_FUNCTION_TIMEOUT": "0.5"})
    inv = Invoke(rie)
    first = rie.client.get("/runtime/invocation/next").headers
    resp = inv.result()
    rid = first["lambda-runtime-aws-request-id"]
    assert resp.content == (
        b'{"errorType":"Sandbox.Timedout","errorMessage":"RequestId: %s Error: Task timed out '
        b'after 0.50 seconds"}' % rid.encode()
    )
    inv2 = Invoke(rie, b'"second"')
    time.sleep(0.2)
    r = rie.client.post(
        f"/runtime/invocation/{rid}/response",
        content=b"late",
        headers={"Lambda-Runtime-Invocation-Id": first["lambda-runtime-invocation-id"]},
    )
    assert r.status_code == 410
    nxt = rie.client.get("/runtime/invocation/next")
    assert nxt.content == b'"second"'
    rid2 = nxt.headers["lambda-runtime-aws-request-id"]
    assert rie.client.post(f"/runtime/invocation/{rid2}/response", content=b"ok").status_code == 202
    assert inv2.result().content == b"ok"


def test_sleep_runtime_killed_on_timeout(fake):
    rie = fake(env={"AWS_LAMBDA_FUNCTION_TIMEOUT": "0.5"})
    children = Path(f"/proc/{rie.proc.pid}/task/{rie.proc.pid}/children")
    deadline = time.monotonic() + 10
    while not (pids := [int(p) for p in children.read_text().split()]) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(pids) == 1 and pid_alive(pids[0])
    inv = Invoke(rie)
    rie.client.get("/runtime/invocation/next")
    assert inv.result().json()["errorType"] == "Sandbox.Timedout"
    assert wait_dead(pids[0])


def test_crash_without_next_reports_exit(rie_factory):  # noqa: F811
    rie = rie_factory(["sh", "-c", "exit 3"])
    r = httpx.post(rie.invoke_url, content=b"{}", timeout=30)
    assert r.json()["errorMessage"].endswith("Error: Runtime exited with error: exit status 3")
    rie2 = rie_factory(["/nonexistent/bootstrap"])
    r = httpx.post(rie2.invoke_url, content=b"{}", timeout=30)
    assert (r.status_code, r.headers["x-amz-function-error"], r.json()["errorType"]) == (
        200,
        "Unhandled",
        "Runtime.InvalidEntrypoint",
    )


def test_concurrent_invokes_queue_behind_one_runtime(fake):
    rie = fake()
    invokes = [Invoke(rie, json.dumps(i).encode()) for i in range(4)]
    seen = []
    for _ in invokes:
        nxt = rie.client.get("/runtime/invocation/next")
        seen.append(nxt.content)
        rid = nxt.headers["lambda-runtime-aws-request-id"]
        assert rie.client.post(f"/runtime/invocation/{rid}/response", content=nxt.content).status_code == 202
    assert sorted(seen) == [b"0", b"1", b"2", b"3"]
    assert sorted(i.result().content for i in invokes) == [b"0", b"1", b"2", b"3"]


def test_invoke_waiting_when_the_runtime_exits_gets_a_fresh_runtime(fake):
    """A runtime that exits after answering (awslambdaric does after a 413) never saw the invocation
    waiting for its /next: that one is not charged for the dead process but served by a fresh runtime,
    with its own Init Duration."""
    rie = fake("--log-level", "debug")
    exec_line = re.compile(r"^\[fastric-rie\] debug: exec .* \(pid (\d+), ")

    def runtimes() -> list[int]:
        return [int(m.group(1)) for line in list(rie.stderr) if (m := exec_line.match(line))]

    first = Invoke(rie, b'{"n": 1}')
    nxt = rie.client.get("/runtime/invocation/next")
    rid1 = nxt.headers["lambda-runtime-aws-request-id"]
    assert rie.client.post(f"/runtime/invocation/{rid1}/response", content=b'"one"').status_code == 202
    assert first.result().content == b'"one"'
    second = Invoke(rie, b'{"n": 2}')
    rie.output.wait_stderr(re.compile(r"debug: invocation \S+ waits for the runtime's /next"), timeout=10)
    (pid,) = runtimes()
    os.kill(pid, signal.SIGKILL)
    rie.output.wait_stderr(re.compile(r"starting a fresh runtime for the invocation that was waiting"), 10)
    deadline = time.monotonic() + 10
    while len(runtimes()) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    nxt = rie.client.get("/runtime/invocation/next")
    assert nxt.content == b'{"n": 2}'
    rid2 = nxt.headers["lambda-runtime-aws-request-id"]
    assert rie.client.post(f"/runtime/invocation/{rid2}/response", content=b'"two"').status_code == 202
    r = second.result()
    assert (r.status_code, r.content, r.headers["x-amzn-requestid"]) == (200, b'"two"', rid2)
    assert "x-amz-function-error" not in r.headers
    assert len(runtimes()) == 2 and runtimes()[0] == pid
    (report,) = rie.wait_stdout(rf"^REPORT RequestId: {rid2}\t")
    assert re.fullmatch(
        rf"REPORT RequestId: {rid2}\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\tMemory Size: 3008 MB\t"
        r"Max Memory Used: [1-9]\d* MB\tInit Duration: \d+\.\d\d ms\n",
        report,
    )
    assert not [line for line in rie.stdout if "ExitError" in line or "Status:" in line]
