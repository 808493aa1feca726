"""fastric-rie end to end with a real runtime (parametrized; see ``test_rie_fixtures.RUNTIMES``)."""

from __future__ import annotations

import base64
import json
import re
import signal
import subprocess
import threading
import time

import httpx
import pytest
from test_rie_fixtures import RUNTIMES, UUID4, pid_alive, rie_factory, wait_dead  # noqa: F401

APP = r"""
import os, subprocess, sys, time
MARK = os.environ.get("RIE_TEST_MARK")
if MARK:
    with open(MARK, "a") as f:
        f.write("init\n")
if os.environ.get("RIE_TEST_INIT_FAIL"):
    raise RuntimeError("init failed on purpose")

def handler(event, context):
    action = event.get("action") if isinstance(event, dict) else None
    if action == "sleep":
        time.sleep(event["seconds"])
    elif action == "exit":
        os._exit(event["code"])
    elif action == "kill":
        os.kill(os.getpid(), 9)
    elif action == "raise":
        raise ValueError("boom")
    elif action == "big":
        return "x" * event["n"]
    elif action == "child":
        child = subprocess.Popen(["sleep", "1000"])
        return {"child": child.pid, "pid": os.getpid()}
    elif action == "context":
        cc = context.client_context
        return {
            "custom": cc.custom if cc else None,
            "trace": os.environ.get("_X_AMZN_TRACE_ID"),
            "tenant": getattr(context, "tenant_id", None),
            "arn": context.invoked_function_arn,
            "name": context.function_name,
            "memory": context.memory_limit_in_mb,
            "version": context.function_version,
            "group": context.log_group_name,
            "remaining_ok": 0 < context.get_remaining_time_in_millis() <= 300000,
        }
    elif action == "print":
        print(event["text"])
        sys.stderr.write(event.get("err", ""))
        sys.stderr.flush()
    elif action == "barrier":
        with open(os.path.join(event["dir"], context.aws_request_id), "w") as f:
            f.write(str(os.getpid()))
        deadline = time.time() + 60
        while not os.path.exists(os.path.join(event["dir"], "go")) and time.time() < deadline:
            time.sleep(0.01)
    elif action == "touch":
        with open(event["path"], "w") as f:
            f.write(context.aws_request_id)
    return {"pid": os.getpid(), "rid": context.aws_request_id}
"""

pytestmark = pytest.mark.skipif(not RUNTIMES, reason="no runtime available")


@pytest.fixture(params=sorted(RUNTIMES))
def runtime(request):
    return RUNTIMES[request.param]


@pytest.fixture
def app_dir(tmp_path):
    (tmp_path / "app.py").write_text(APP)
    return tmp_path


def start(rie_factory, runtime, app_dir, *opts, env=None):  # noqa: F811
    return rie_factory([*opts, *runtime, "app.handler"], env=env, cwd=app_dir)


def post(rie, payload, headers=None, timeout=30):
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return httpx.post(rie.invoke_url, content=data, headers=headers or {}, timeout=timeout)


def report_line(rid: str, tail: str) -> str:
    """The REPORT line pattern of ``rid`` (3008 MB, a non-zero Max Memory Used), ``tail`` the fields after it."""
    return (
        rf"REPORT RequestId: {rid}\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\tMemory Size: 3008 MB\t"
        r"Max Memory Used: [1-9]\d* MB" + tail + r"\n"
    )


def test_success_headers_body_and_logs(rie_factory, runtime, app_dir):  # noqa: F811
    rie = start(rie_factory, runtime, app_dir)
    r = post(rie, {"a": 1})
    assert r.status_code == 200
    rid = r.headers["x-amzn-requestid"]
    assert UUID4.match(rid)
    assert r.headers["content-type"] == "application/json"
    assert "x-amz-function-error" not in r.headers
    assert r.headers["x-amz-executed-version"] == "$LATEST"
    pid = r.json()["pid"]
    assert r.content == ('{"pid": %d, "rid": "%s"}' % (pid, rid)).encode()
    r2 = post(rie, {"a": 2})
    assert r2.json()["pid"] == pid  # same runtime, warm
    reports = rie.wait_stdout(r"^REPORT RequestId: ", 2)
    assert re.match(
        rf"^REPORT RequestId: {rid}\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\tMemory Size: 3008 MB\t"
        r"Max Memory Used: \d+ MB\tInit Duration: \d+\.\d\d ms\n$",
        reports[0],
    )
    assert "Init Duration" not in reports[1]
    assert f"START RequestId: {rid} Version: $LATEST\n" in rie.stdout
    assert f"END RequestId: {rid}\n" in rie.stdout


def test_success_with_curl(rie_factory, runtime, app_dir):  # noqa: F811
    rie = start(rie_factory, runtime, app_dir)
    out = subprocess.run(
        [
            "curl",
            "-s",
            "-i",
            "-X",
            "POST",
            rie.invoke_url.replace("/function/", "/any-name/"),
            "-d",
            '{"x":1}',
        ],
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout.decode()
    head, body = out.split("\r\n\r\n", 1)
    assert head.startswith("HTTP/1.1 200 OK\r\n")
    assert "Content-Type: application/json\r\n" in head + "\r\n"
    assert json.loads(body)["rid"] in head


def test_function_error(rie_factory, runtime, app_dir):  # noqa: F811
    rie = start(rie_factory, runtime, app_dir)
    r = post(rie, {"action": "raise"})
    assert r.status_code == 200
    assert r.headers["x-amz-function-error"] == "Unhandled"
    doc = r.json()
    assert (doc["errorType"], doc["errorMessage"], doc["requestId"]) == (
        "ValueError",
        "boom",
        r.headers["x-amzn-requestid"],
    )
    assert rie.wait_stdout(r"Status: error\tError Type: Unhandled")


def test_timeout_then_reinit(rie_factory, runtime, app_dir):  # noqa: F811
    rie = start(rie_factory, runtime, app_dir, env={"AWS_LAMBDA_FUNCTION_TIMEOUT": "1"})
    pid = post(rie, {}).json()["pid"]
    r = post(rie, {"action": "sleep", "seconds": 30})
    rid = r.headers["x-amzn-requestid"]
    assert r.status_code == 200
    assert r.headers["x-amz-function-error"] == "Unhandled"
    assert r.content == (
        b'{"errorType":"Sandbox.Timedout","errorMessage":"RequestId: %s Error: Task timed out after 1.00 seconds"}'
        % rid.encode()
    )
    assert wait_dead(pid)
    r = post(rie, {})
    assert r.status_code == 200 and r.json()["pid"] != pid
    assert rie.wait_stdout(rf"{rid} Task timed out after 1.00 seconds")
    assert rie.wait_stdout(rf"REPORT RequestId: {rid}\t.*\tStatus: timeout\n")


@pytest.mark.parametrize(
    ("action", "detail"),
    [
        ({"action": "exit", "code": 7}, "exit status 7"),
        ({"action": "kill"}, "signal: killed"),
    ],
)
def test_crash_then_reinit(rie_factory, runtime, app_dir, action, detail):  # noqa: F811
    rie = start(rie_factory, runtime, app_dir)
    pid = post(rie, {}).json()["pid"]
    r = post(rie, action)
    rid = r.headers["x-amzn-requestid"]
    assert r.status_code == 200
    assert r.headers["x-amz-function-error"] == "Unhandled"
    assert r.content == (
        b'{"errorType":"Runtime.ExitError","errorMessage":"RequestId: %s Error: Runtime exited with error: %s"}'
        % (rid.encode(), detail.encode())
    )
    r = post(rie, {})
    assert r.status_code == 200 and r.json()["pid"] != pid
    assert rie.wait_stdout(rf"^RequestId: {rid} Error: Runtime exited with error: {detail}\n")
    (report,) = rie.wait_stdout(rf"^REPORT RequestId: {rid}\t")
    assert re.fullmatch(report_line(rid, r"\tStatus: error\tError Type: Runtime.ExitError"), report)


def test_first_invoke_timeout_reports_the_memory_used(rie_factory, runtime, app_dir):  # noqa: F811
    rie = start(rie_factory, runtime, app_dir, env={"AWS_LAMBDA_FUNCTION_TIMEOUT": "1"})
    r = post(rie, {"action": "sleep", "seconds": 30})
    rid = r.headers["x-amzn-requestid"]
    assert r.headers["x-amz-function-error"] == "Unhandled"
    (report,) = rie.wait_stdout(rf"^REPORT RequestId: {rid}\t")
    assert re.fullmatch(report_line(rid, r"\tInit Duration: \d+\.\d\d ms\tStatus: timeout"), report)


def test_init_error_then_reinit(rie_factory, runtime, app_dir):  # noqa: F811
    mark = app_dir / "inits.txt"
    rie = start(rie_factory, runtime, app_dir, env={"RIE_TEST_INIT_FAIL": "1", "RIE_TEST_MARK": str(mark)})
    for n in (1, 2):
        r = post(rie, {})
        assert r.status_code == 200
        assert r.headers["x-amz-function-error"] == "Unhandled"
        doc = r.json()
        assert doc["errorType"] == "Runtime.ImportModuleError" or doc["errorType"] == "RuntimeError"
        assert "init failed on purpose" in doc["errorMessage"]
        assert mark.read_text() == "init\n" * n  # every invoke ran a fresh init


def test_eager_init(rie_factory, runtime, app_dir):  # noqa: F811
    mark = app_dir / "inits.txt"
    rie = start(rie_factory, runtime, app_dir, "--eager-init", env={"RIE_TEST_MARK": str(mark)})
    deadline = time.monotonic() + 20
    while not mark.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert mark.read_text() == "init\n"
    assert post(rie, {}).status_code == 200
    assert rie.wait_stdout(r"Init Duration: ")


def test_request_too_large(rie_factory, runtime, app_dir):  # noqa: F811
    rie = start(rie_factory, runtime, app_dir)
    r = post(rie, b"x" * 6291457)
    assert r.status_code == 413
    assert r.headers["x-amzn-errortype"] == "RequestEntityTooLargeException"
    assert r.content == (
        b'{"Type":"User","message":"Request must be smaller than 6291456 bytes '
        b'for the InvokeFunction operation"}'
    )
    r = post(rie, b"x" * 1048577, headers={"X-Amz-Invocation-Type": "Event"})
    assert r.status_code == 413
    assert r.headers["x-amzn-errortype"] == "RequestEntityTooLargeException"
    assert r.content == (
        b'{"Type":"User","message":"1048577 byte payload is too large for the Event '
        b'invocation type (limit 1048576 bytes)"}'
    )
    assert post(rie, {}).status_code == 200


def test_response_too_large(rie_factory, runtime, app_dir):  # noqa: F811
    rie = start(rie_factory, runtime, app_dir)
    r = post(rie, {"action": "big", "n": 6291556})
    assert r.status_code == 200
    assert r.headers["x-amz-function-error"] == "Unhandled"
    assert r.content == (
        b'{"errorMessage":"Response payload size exceeded maximum allowed payload size '
        b'(6291556 bytes).","errorType":"Function.ResponseSizeTooLarge"}'
    )
    # awslambdaric exits after the 413 on its response, possibly after this invoke arrived: the invoke is
    # served (by a fresh runtime then), never charged for the dead one.
    r = post(rie, {})
    assert r.status_code == 200 and "x-amz-function-error" not in r.headers
    (report,) = rie.wait_stdout(rf"^REPORT RequestId: {r.headers['x-amzn-requestid']}\t")
    assert "Status:" not in report
    assert not [line for line in rie.stdout if "Runtime.ExitError" in line]


def test_event_and_dry_run(rie_factory, runtime, app_dir):  # noqa: F811
    rie = start(rie_factory, runtime, app_dir)
    r = post(rie, {}, headers={"X-Amz-Invocation-Type": "DryRun"})
    assert (r.status_code, r.content) == (204, b"")
    target = app_dir / "event.txt"
    r = post(rie, {"action": "touch", "path": str(target)}, headers={"X-Amz-Invocation-Type": "Event"})
    assert (r.status_code, r.content) == (202, b"")
    rid = r.headers["x-amzn-requestid"]
    deadline = time.monotonic() + 20
    while not (target.exists() and target.read_text()) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert target.read_text() == rid
    r = post(rie, {}, headers={"X-Amz-Invocation-Type": "Bogus"})
    assert r.status_code == 400 and r.headers["x-amzn-errortype"] == "ValidationException"


def test_context_headers_pass_through(rie_factory, runtime, app_dir):  # noqa: F811
    rie = start(
        rie_factory, runtime, app_dir, env={"AWS_REGION": "eu-west-3", "AWS_LAMBDA_FUNCTION_NAME": "fn"}
    )
    cc = base64.b64encode(json.dumps({"custom": {"k": "v"}, "env": {}, "client": {}}).encode()).decode()
    r = post(
        rie,
        {"action": "context"},
        headers={
            "X-Amz-Client-Context": cc,
            "X-Amzn-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
            "X-Amz-Tenant-Id": "tenant-7",
        },
    )
    assert r.status_code == 200
    assert r.json() == {
        "custom": {"k": "v"},
        "trace": "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
        "tenant": "tenant-7",
        "arn": "arn:aws:lambda:eu-west-3:012345678912:function:fn",
        "name": "fn",
        "memory": "3008",
        "version": "$LATEST",
        "group": "/aws/lambda/Functions",
        "remaining_ok": True,
    }
    r = post(rie, {}, headers={"X-Amz-Client-Context": "%%%"})
    assert r.status_code == 400
    assert r.headers["x-amzn-errortype"] == "InvalidRequestContentException"


def test_concurrent_invokes_are_queued(rie_factory, runtime, app_dir):  # noqa: F811
    rie = start(rie_factory, runtime, app_dir)
    results = []

    def one(i):
        results.append(post(rie, {"action": "sleep", "seconds": 0.1, "i": i}))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in results] == [200] * 6
    assert len({r.headers["x-amzn-requestid"] for r in results}) == 6
    assert len({r.json()["pid"] for r in results}) == 1
    assert all("x-amz-function-error" not in r.headers for r in results)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_runtime_group_without_orphans(rie_factory, runtime, app_dir, sig):  # noqa: F811
    rie = start(rie_factory, runtime, app_dir)
    pids = post(rie, {"action": "child"}).json()
    assert pid_alive(pids["pid"]) and pid_alive(pids["child"])
    assert rie.stop(sig) == 0
    assert wait_dead(pids["pid"]) and wait_dead(pids["child"])


def test_runtime_env(rie_factory, app_dir):  # noqa: F811
    script = app_dir / "env.sh"
    script.write_text('#!/bin/sh\nenv > "$OUT"\nexec sleep 1000\n')
    script.chmod(0o755)
    out = app_dir / "env.txt"
    rie = rie_factory(["--eager-init", str(script), "my.handler"], env={"OUT": str(out)}, cwd=app_dir)
    deadline = time.monotonic() + 10
    while not (out.exists() and out.read_text()) and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.1)
    env = dict(line.split("=", 1) for line in out.read_text().splitlines() if "=" in line)
    assert env["AWS_LAMBDA_RUNTIME_API"] == rie.runtime_api
    assert env["_HANDLER"] == "my.handler"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "test_function"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "3008"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/Functions"
    assert re.match(r"^\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}$", env["AWS_LAMBDA_LOG_STREAM_NAME"])
    assert env["OUT"] == str(out)


def test_log_type_tail_returns_the_invocation_log(rie_factory, runtime, app_dir):  # noqa: F811
    """``X-Amz-Log-Type: Tail``: ``X-Amz-Log-Result`` is base64 of the invocation's log (START … REPORT,
    the runtime's stdout and stderr between them), its last 4 KB; the emulator still prints all of it."""
    rie = start(rie_factory, runtime, app_dir)
    assert "x-amz-log-result" not in post(rie, {}).headers
    r = post(
        rie,
        {"action": "print", "text": "hello from the handler", "err": "on stderr\n"},
        headers={"X-Amz-Log-Type": "Tail"},
    )
    rid = r.headers["x-amzn-requestid"]
    log = base64.b64decode(r.headers["x-amz-log-result"]).decode()
    assert re.fullmatch(
        rf"START RequestId: {rid} Version: \$LATEST\n"
        r"(hello from the handler\non stderr\n|on stderr\nhello from the handler\n)"
        rf"END RequestId: {rid}\n" + report_line(rid, ""),
        log,
    ), log
    assert rie.wait_stdout(rf"^END RequestId: {rid}$")
    assert "hello from the handler\n" in rie.stdout
    assert rie.output.wait_stderr(re.compile(r"^on stderr\n$"), 10)
    assert rie.stdout.index("hello from the handler\n") < rie.stdout.index(f"END RequestId: {rid}\n")

    # More than 4 KB: the last 4,096 bytes, ending with REPORT.
    r = post(
        rie,
        {"action": "print", "text": "\n".join(f"line {i:05d}" for i in range(1000))},
        headers={"X-Amz-Log-Type": "Tail"},
    )
    rid = r.headers["x-amzn-requestid"]
    log = base64.b64decode(r.headers["x-amz-log-result"])
    assert len(log) == 4096
    report = rie.wait_stdout(rf"^REPORT RequestId: {rid}\t")
    assert log.endswith(f"line 00999\nEND RequestId: {rid}\n{report[0]}".encode())
    # Event ignores Tail; other values are refused.
    r = post(rie, {}, headers={"X-Amz-Log-Type": "Tail", "X-Amz-Invocation-Type": "Event"})
    assert r.status_code == 202 and "x-amz-log-result" not in r.headers
    r = post(rie, {}, headers={"X-Amz-Log-Type": "All"})
    assert (r.status_code, r.headers["x-amzn-errortype"]) == (400, "ValidationException")
    assert r.content == (
        b'{"Type":"User","message":"1 validation error detected: Value \'All\' at \'logType\' failed to satisfy '
        b'constraint: Member must satisfy enum value set: [Tail, None]"}'
    )


def test_log_tail_of_a_crash(rie_factory, runtime, app_dir):  # noqa: F811
    rie = start(rie_factory, runtime, app_dir)
    post(rie, {})
    r = post(rie, {"action": "exit", "code": 3}, headers={"X-Amz-Log-Type": "Tail"})
    rid = r.headers["x-amzn-requestid"]
    log = base64.b64decode(r.headers["x-amz-log-result"]).decode()
    assert re.fullmatch(
        rf"START RequestId: {rid} Version: \$LATEST\n"
        rf"RequestId: {rid} Error: Runtime exited with error: exit status 3\nRuntime.ExitError\n"
        rf"END RequestId: {rid}\n" + report_line(rid, r"\tStatus: error\tError Type: Runtime.ExitError"),
        log,
    ), log


def test_max_environments_runs_invocations_in_parallel(rie_factory, runtime, app_dir):  # noqa: F811
    """``--max-environments 2``: two concurrent invocations run at once in two environments (each
    started on demand, each REPORT with its Init Duration); a third waits until one is idle."""
    rie = start(rie_factory, runtime, app_dir, "--max-environments", "2")
    barrier = app_dir / "barrier"
    barrier.mkdir()
    results = {}

    def one(i):
        results[i] = post(rie, {"action": "barrier", "dir": str(barrier)})

    threads = [threading.Thread(target=one, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while len(list(barrier.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    inside = sorted(p.name for p in barrier.iterdir())
    assert len(inside) == 2, inside  # both environments hold an invocation; the third one waits
    (barrier / "go").touch()
    for t in threads:
        t.join(60)
    assert sorted(r.status_code for r in results.values()) == [200, 200, 200]
    ids = [r.headers["x-amzn-requestid"] for r in results.values()]
    pids = {int((barrier / rid).read_text()) for rid in ids}
    assert len(pids) == 2
    reports = rie.wait_stdout(r"^REPORT RequestId: ", 3)
    assert sorted(line.split("\t")[0] for line in reports) == sorted(
        f"REPORT RequestId: {rid}" for rid in ids
    )
    assert sum("\tInit Duration: " in line for line in reports) == 2
