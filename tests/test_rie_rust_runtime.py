"""fastric-rie with a runtime client we did not write: the Rust ``lambda_runtime`` crate (1.5.0).

The function is ``tests/rust_function`` (a standalone Cargo package, see its ``src/main.rs`` for the
actions). A session fixture builds it once with ``cargo build --release --locked`` into
``target/rust_function`` (cargo reuses an up-to-date build) and skips every test when ``cargo`` is not
on ``PATH``. The binary is the emulator's COMMAND, started on free ports like the other RIE tests.

What lambda_runtime 1.5.0 sends (read from its source, checked here on the wire):

- every request: ``User-Agent: aws-lambda-rust/<lambda_runtime_api_client version>``;
- ``/response``: the handler's value as compact JSON, **no Content-Type**, ``Lambda-Runtime-Invocation-Id``
  echoed from ``/next``;
- ``/error``: ``Lambda-Runtime-Function-Error-Type: unhandled`` (lower case) and
  ``{"errorType":…,"errorMessage":…}`` (``Diagnostic``; its default ``errorType`` is
  ``std::any::type_name`` of the error, e.g. ``&alloc::boxed::Box<dyn core::error::Error + …>``, which
  rustc does not promise to keep stable, so only those are matched by pattern);
- a panic in the handler is caught and reported as ``Lambda panicked: <message>``; the process lives on;
- an error before ``lambda_runtime::run`` posts **nothing**: ``main`` returns ``Err`` and the process
  exits 1 (101 for a panic), which the emulator reports as ``Runtime.ExitError``;
- ``/runtime/init/error`` is posted only on the SnapStart path (a failing ``before_snapshot`` hook with
  ``AWS_LAMBDA_INITIALIZATION_TYPE=snap-start``), with ``Lambda-Runtime-Function-Error-Type:
  Runtime.InitError``; the process then exits 1.
"""

from __future__ import annotations

import http.client
import json
import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from conftest import REPO_ROOT
from test_rie_fixtures import UUID4, rie_factory, wait_dead  # noqa: F401

PACKAGE = REPO_ROOT / "tests" / "rust_function"
TARGET_DIR = REPO_ROOT / "target" / "rust_function"
BINARY = TARGET_DIR / "release" / "rie-rust-function"
TRACE = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
ARN = "arn:aws:lambda:us-east-1:012345678912:function:test_function"
BOX_ERROR_TYPE = (
    r"&alloc::boxed::Box<dyn (core|std)::error::Error \+ core::marker::Send \+ core::marker::Sync>"
)
BOX_ANY_TYPE = r"&alloc::boxed::Box<dyn core::any::Any \+ core::marker::Send>"
#: The runtime's environment on top of the emulator's: deterministic panic output.
BASE_ENV = {"RUST_BACKTRACE": "0"}


def locked_version(crate: str) -> str:
    """The version of ``crate`` in ``tests/rust_function/Cargo.lock``."""
    text = (PACKAGE / "Cargo.lock").read_text()
    m = re.search(r'\[\[package\]\]\nname = "%s"\nversion = "([^"]+)"' % re.escape(crate), text)
    assert m, f"{crate} not in Cargo.lock"
    return m.group(1)


USER_AGENT = f"aws-lambda-rust/{locked_version('lambda_runtime_api_client')}"


@pytest.fixture(scope="session")
def rust_function() -> Path:
    """Builds ``tests/rust_function`` once per session (``cargo build --release --locked``; cargo itself
    skips an up-to-date build) and returns the binary's path. Skips when cargo is missing; a failed
    build fails the tests with cargo's output."""
    cargo = shutil.which("cargo")
    if cargo is None:
        pytest.skip(
            "cargo not on PATH: the lambda_runtime test function (tests/rust_function) cannot be built"
        )
    started = time.monotonic()
    proc = subprocess.run(
        [
            cargo,
            "build",
            "--release",
            "--locked",
            "--manifest-path",
            str(PACKAGE / "Cargo.toml"),
            "--target-dir",
            str(TARGET_DIR),
        ],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(f"cargo build of tests/rust_function failed ({proc.returncode}):\n{proc.stderr}")
    print(f"tests/rust_function built in {time.monotonic() - started:.1f} s")
    return BINARY


def start(rie_factory, binary: Path, *opts: str, env: dict[str, str] | None = None, command=None):  # noqa: F811
    return rie_factory([*opts, *(command or [str(binary)])], env={**BASE_ENV, **(env or {})})


def invoke(rie, payload, headers=None) -> httpx.Response:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return httpx.post(rie.invoke_url, content=data, headers=headers or {}, timeout=60)


def compact(value) -> bytes:
    """``value`` as serde_json writes a ``serde_json::Value``: compact, keys sorted, UTF-8."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def exit_error(rid: str, detail: str) -> bytes:
    return (
        b'{"errorType":"Runtime.ExitError","errorMessage":"RequestId: %s Error: Runtime exited with error: %s"}'
        % (rid.encode(), detail.encode())
    )


def test_success_echoes_event_request_id_and_deadline(rie_factory, rust_function):  # noqa: F811
    rie = start(rie_factory, rust_function, env={"AWS_LAMBDA_FUNCTION_TIMEOUT": "7"})
    event = {"hello": "wörld", "n": [1, 2, {"z": None, "a": True}]}
    before_ms = time.time() * 1000
    r = invoke(rie, event, {"X-Amzn-Trace-Id": TRACE})
    after_ms = time.time() * 1000
    assert r.status_code == 200
    rid = r.headers["x-amzn-requestid"]
    assert UUID4.match(rid)
    assert r.headers["content-type"] == "application/json"  # lambda_runtime sends none: the default
    assert "x-amz-function-error" not in r.headers
    doc = r.json()
    deadline, pid = doc["deadlineMs"], doc["pid"]
    # Deadline = the moment of delivery + 7 s, in epoch ms (1 ms of slack for rounding).
    assert before_ms - 1 <= deadline - 7000 <= after_ms + 1
    assert r.content == compact(
        {
            "deadlineMs": deadline,
            "event": event,
            "invokedFunctionArn": ARN,
            "pid": pid,
            "requestId": rid,
            "xrayTraceId": TRACE,
        }
    )
    r2 = invoke(rie, {"second": 2})
    assert r2.status_code == 200
    assert r2.json()["pid"] == pid  # warm: the same process
    assert r2.json()["event"] == {"second": 2}
    assert re.match(
        r"^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0$", r2.json()["xrayTraceId"]
    )
    reports = rie.wait_stdout(r"^REPORT RequestId: ", 2)
    assert reports[0].startswith(f"REPORT RequestId: {rid}\t")
    assert re.search(r"\tInit Duration: \d+\.\d\d ms\n$", reports[0])
    assert "Init Duration" not in reports[1] and "Status" not in reports[1]


def test_function_error_custom_diagnostic(rie_factory, rust_function):  # noqa: F811
    rie = start(rie_factory, rust_function)
    r = invoke(rie, {"action": "error"})
    rid = r.headers["x-amzn-requestid"]
    assert r.status_code == 200
    assert r.headers["x-amz-function-error"] == "Unhandled"
    assert r.headers["content-type"] == "application/json"
    assert (
        r.content
        == b'{"errorType":"RustFunctionError","errorMessage":"failed on purpose in %s"}' % rid.encode()
    )
    assert rie.wait_stdout(rf"^REPORT RequestId: {rid}\t.*\tStatus: error\tError Type: Unhandled\n$")
    pid = invoke(rie, {}).json()["pid"]
    assert invoke(rie, {}).json()["pid"] == pid  # an error keeps the runtime


@pytest.mark.parametrize(
    ("action", "pattern"),
    [
        (
            "boxed_error",
            rb'^\{"errorType":"' + BOX_ERROR_TYPE.encode() + rb'","errorMessage":"boxed failure"\}$',
        ),
        (
            "panic",
            rb'^\{"errorType":"'
            + BOX_ANY_TYPE.encode()
            + rb'","errorMessage":"Lambda panicked: panicked on purpose"\}$',
        ),
    ],
)
def test_function_error_default_diagnostics(rie_factory, rust_function, action, pattern):  # noqa: F811
    rie = start(rie_factory, rust_function)
    pid = invoke(rie, {}).json()["pid"]
    r = invoke(rie, {"action": action})
    assert r.status_code == 200
    assert r.headers["x-amz-function-error"] == "Unhandled"
    assert re.match(pattern, r.content), r.content
    assert invoke(rie, {}).json()["pid"] == pid  # lambda_runtime caught the panic: same process
    if action == "panic":
        assert any("panicked on purpose" in line for line in rie.stderr)


def test_timeout_then_reinit(rie_factory, rust_function):  # noqa: F811
    rie = start(rie_factory, rust_function, env={"AWS_LAMBDA_FUNCTION_TIMEOUT": "1"})
    pid = invoke(rie, {}).json()["pid"]
    r = invoke(rie, {"action": "sleep", "seconds": 30})
    rid = r.headers["x-amzn-requestid"]
    assert r.status_code == 200
    assert r.headers["x-amz-function-error"] == "Unhandled"
    assert r.content == (
        b'{"errorType":"Sandbox.Timedout","errorMessage":"RequestId: %s Error: Task timed out after 1.00 seconds"}'
        % rid.encode()
    )
    assert wait_dead(pid)
    r = invoke(rie, {"after": "timeout"})
    assert r.status_code == 200
    assert r.json()["pid"] != pid and r.json()["event"] == {"after": "timeout"}
    assert rie.wait_stdout(rf"{rid} Task timed out after 1.00 seconds")
    assert rie.wait_stdout(rf"^REPORT RequestId: {rid}\t.*\tStatus: timeout\n$")


def test_exit_mid_invoke_then_reinit(rie_factory, rust_function):  # noqa: F811
    rie = start(rie_factory, rust_function)
    pid = invoke(rie, {}).json()["pid"]
    r = invoke(rie, {"action": "exit", "code": 9})
    rid = r.headers["x-amzn-requestid"]
    assert (r.status_code, r.headers["x-amz-function-error"]) == (200, "Unhandled")
    assert r.content == exit_error(rid, "exit status 9")
    assert invoke(rie, {}).json()["pid"] != pid


@pytest.mark.parametrize(
    ("mode", "status", "stderr_line"),
    [
        ("1", "exit status 1", 'Error: "init failed on purpose"\n'),
        ("panic", "exit status 101", "init panicked on purpose\n"),
    ],
)
def test_init_failure_before_run_is_an_exit_then_reinit(
    rie_factory,  # noqa: F811
    rust_function,
    tmp_path,
    mode,
    status,
    stderr_line,
):
    """lambda_runtime has no hook for errors before ``run``: nothing is posted, the process exits."""
    mark, stop = tmp_path / "inits.txt", tmp_path / "stop"
    rie = start(
        rie_factory,
        rust_function,
        env={"FAIL_INIT": mode, "RUST_FN_MARK": str(mark), "FAIL_INIT_STOP_FILE": str(stop)},
    )
    for n in (1, 2):
        r = invoke(rie, {})
        rid = r.headers["x-amzn-requestid"]
        assert (r.status_code, r.headers["x-amz-function-error"]) == (200, "Unhandled")
        assert r.content == exit_error(rid, status)
        assert mark.read_text() == "init\n" * n  # every invoke ran a fresh init
        assert rie.wait_stdout(
            rf"^REPORT RequestId: {rid}\t.*\tStatus: error\tError Type: Runtime.ExitError\n$"
        )
        assert f"RequestId: {rid} Error: Runtime exited with error: {status}\n" in rie.stdout
    assert stderr_line in rie.stderr
    stop.touch()
    r = invoke(rie, {"fixed": True})
    assert r.status_code == 200 and r.json()["event"] == {"fixed": True}
    assert mark.read_text() == "init\n" * 3


def test_snapstart_init_error_is_posted_then_reinit(rie_factory, rust_function, tmp_path):  # noqa: F811
    """The one path on which lambda_runtime posts /runtime/init/error."""
    mark, stop = tmp_path / "inits.txt", tmp_path / "stop"
    rie = start(
        rie_factory,
        rust_function,
        env={
            "FAIL_INIT": "snapshot",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start",
            "RUST_FN_MARK": str(mark),
            "FAIL_INIT_STOP_FILE": str(stop),
        },
    )
    pattern = (
        rb'^\{"errorType":"'
        + BOX_ERROR_TYPE.encode()
        + rb'","errorMessage":"before_snapshot failed on purpose"\}$'
    )
    for n in (1, 2):
        r = invoke(rie, {})
        rid = r.headers["x-amzn-requestid"]
        assert (r.status_code, r.headers["x-amz-function-error"]) == (200, "Unhandled")
        assert re.match(pattern, r.content), r.content
        assert mark.read_text() == "init\n" * n
        assert rie.wait_stdout(
            rf"^REPORT RequestId: {rid}\t.*\tStatus: error\tError Type: Runtime.InitError\n$"
        )
    assert 'Error: "before_snapshot failed on purpose"\n' in rie.stderr
    stop.touch()
    # Still snap-start, no failing hook: lambda_runtime calls /restore/next, which fastric-rie does not
    # serve (404), and reports that as an init error too.
    r = invoke(rie, {})
    assert (r.status_code, r.headers["x-amz-function-error"]) == (200, "Unhandled")
    assert r.json()["errorMessage"] == "/restore/next returned a non-success status: 404 Not Found"
    assert mark.read_text() == "init\n" * 3


def test_eager_init_error_is_served_to_the_first_invoke(rie_factory, rust_function, tmp_path):  # noqa: F811
    """An /init/error posted before any invoke (``--eager-init``) answers the next invoke; the invoke
    after that starts a fresh init."""
    mark = tmp_path / "inits.txt"
    rie = start(
        rie_factory,
        rust_function,
        "--eager-init",
        env={
            "FAIL_INIT": "snapshot",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start",
            "RUST_FN_MARK": str(mark),
        },
    )
    deadline = time.monotonic() + 10
    while not any("exited: exit status 1" in line for line in rie.stderr) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert mark.read_text() == "init\n"
    pattern = (
        rb'^\{"errorType":"'
        + BOX_ERROR_TYPE.encode()
        + rb'","errorMessage":"before_snapshot failed on purpose"\}$'
    )
    for n in (1, 2):
        r = invoke(rie, {})
        assert (r.status_code, r.headers["x-amz-function-error"]) == (200, "Unhandled")
        assert re.match(pattern, r.content), r.content
        assert mark.read_text() == "init\n" * n


def test_event_that_is_not_json_is_refused(rie_factory, rust_function):  # noqa: F811
    """An invoke body that is not JSON gets the Invoke API's 400 ``InvalidRequestContentException`` and
    never reaches lambda_runtime (aws-lambda-rie passes it on)."""
    rie = start(rie_factory, rust_function)
    r = invoke(rie, b"not json")
    assert (r.status_code, r.headers["x-amzn-errortype"]) == (400, "InvalidRequestContentException")
    assert r.content == (
        b'{"Type":"User","message":"Could not parse request body into json: Could not parse payload into json: '
        b"unexpected 'n' at offset 0, expected a JSON value\"}"
    )
    assert not [line for line in rie.stdout if line.startswith("START ")]
    assert invoke(rie, {}).status_code == 200


# ----------------------------------------------------------------------------------------------------
# The wire between lambda_runtime and the emulator, through a recording proxy.


@dataclass
class Exchange:
    """One request from the runtime and the emulator's answer, as the proxy forwarded them."""

    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes
    status: int = 0
    answer_headers: list[tuple[str, str]] = field(default_factory=list)
    answer: bytes = b""

    def header(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name]

    def answer_header(self, name: str) -> list[str]:
        return [v for k, v in self.answer_headers if k.lower() == name]


class RecordingProxy:
    """An HTTP/1.1 proxy on 127.0.0.1:0 in front of fastric-rie's Runtime API. The runtime is pointed
    at it with ``env AWS_LAMBDA_RUNTIME_API=<proxy> BINARY``; ``upstream`` is set once the emulator has
    printed its port (the runtime starts on the first invoke). Bodies are read by Content-Length
    (lambda_runtime sends chunked bodies only for streaming responses, which this function does not
    use). Every exchange is kept in ``exchanges``."""

    def __init__(self) -> None:
        self.upstream: str | None = None
        self.exchanges: list[Exchange] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                self._forward()

            def do_POST(self) -> None:
                self._forward()

            def _forward(self) -> None:
                assert proxy.upstream is not None
                length = int(self.headers.get("Content-Length", "0"))
                ex = Exchange(self.command, self.path, list(self.headers.items()), self.rfile.read(length))
                proxy.exchanges.append(ex)
                conn = getattr(self, "_upstream", None)
                if conn is None:
                    conn = self._upstream = http.client.HTTPConnection(proxy.upstream, timeout=None)
                conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for name, value in ex.headers:
                    conn.putheader(name, value)
                conn.endheaders(ex.body if length else None)
                answer = conn.getresponse()
                ex.answer = answer.read()
                ex.status, ex.answer_headers = answer.status, answer.getheaders()
                self.send_response_only(ex.status)
                for name, value in ex.answer_headers:
                    if name.lower() not in ("content-length", "connection", "transfer-encoding", "date"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(ex.answer)))
                self.end_headers()
                self.wfile.write(ex.answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxied(rie_factory, rust_function):  # noqa: F811
    """(rie, proxy) factory: the function under fastric-rie, its Runtime API traffic through a proxy."""
    proxies: list[RecordingProxy] = []

    def make(env: dict[str, str] | None = None):
        proxy = RecordingProxy()
        proxies.append(proxy)
        command = ["env", f"AWS_LAMBDA_RUNTIME_API={proxy.address}", str(rust_function)]
        rie = start(rie_factory, rust_function, env=env, command=command)
        proxy.upstream = rie.runtime_api
        return rie, proxy

    yield make
    for proxy in proxies:
        proxy.close()


def test_wire_headers_reach_the_emulator_and_are_accepted(proxied):
    rie, proxy = proxied()
    ok = invoke(rie, {"a": 1})
    err = invoke(rie, {"action": "error"})
    panic = invoke(rie, {"action": "panic"})
    assert ok.status_code == 200 and "x-amz-function-error" not in ok.headers
    assert err.headers["x-amz-function-error"] == panic.headers["x-amz-function-error"] == "Unhandled"
    deadline = time.monotonic() + 10
    while len(proxy.exchanges) < 7 and time.monotonic() < deadline:  # 3 x (next, post) + the parked next
        time.sleep(0.01)
    ex = proxy.exchanges
    assert [(e.method, e.path) for e in ex] == [
        ("GET", "/2018-06-01/runtime/invocation/next"),
        ("POST", f"/2018-06-01/runtime/invocation/{ok.headers['x-amzn-requestid']}/response"),
        ("GET", "/2018-06-01/runtime/invocation/next"),
        ("POST", f"/2018-06-01/runtime/invocation/{err.headers['x-amzn-requestid']}/error"),
        ("GET", "/2018-06-01/runtime/invocation/next"),
        ("POST", f"/2018-06-01/runtime/invocation/{panic.headers['x-amzn-requestid']}/error"),
        ("GET", "/2018-06-01/runtime/invocation/next"),
    ]
    for e in ex:
        assert e.header("user-agent") == [USER_AGENT]
        assert e.header("host") == [proxy.address]
    nexts, posts = ex[0:6:2], ex[1:6:2]
    for n, p in zip(nexts, posts, strict=True):
        assert n.status == 200 and n.body == b""
        assert sorted(k.lower() for k, _ in n.headers) == ["host", "user-agent"]
        # The invocation id from /next is echoed on the post, and the emulator accepts the post.
        assert p.header("lambda-runtime-invocation-id") == n.answer_header("lambda-runtime-invocation-id")
        assert UUID4.match(p.header("lambda-runtime-invocation-id")[0])
        assert (p.status, p.answer) == (202, b'{"status":"OK"}')
        assert p.header("content-type") == []  # lambda_runtime sends no Content-Type
        assert p.header("content-length") == [str(len(p.body))]
    assert sorted(k.lower() for k, _ in posts[0].headers) == [
        "content-length",
        "host",
        "lambda-runtime-invocation-id",
        "user-agent",
    ]
    assert posts[0].body == ok.content
    for p, answer in ((posts[1], err), (posts[2], panic)):
        assert p.header("lambda-runtime-function-error-type") == ["unhandled"]
        assert sorted(k.lower() for k, _ in p.headers) == [
            "content-length",
            "host",
            "lambda-runtime-function-error-type",
            "lambda-runtime-invocation-id",
            "user-agent",
        ]
        assert p.body == answer.content  # the emulator passes the error document through unchanged
    assert not [line for line in rie.stderr if "error" in line.lower() and "[fastric-rie]" in line]


def test_wire_init_error_reaches_the_emulator(proxied):
    rie, proxy = proxied({"FAIL_INIT": "snapshot", "AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start"})
    r = invoke(rie, {})
    assert r.headers["x-amz-function-error"] == "Unhandled"
    assert [(e.method, e.path) for e in proxy.exchanges] == [("POST", "/2018-06-01/runtime/init/error")]
    (e,) = proxy.exchanges
    assert e.header("user-agent") == [USER_AGENT]
    assert e.header("lambda-runtime-function-error-type") == ["Runtime.InitError"]
    # The invoker is answered as soon as the emulator takes the document; the proxy records the
    # emulator's 202 to the runtime just after that.
    deadline = time.monotonic() + 10
    while e.status == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert (e.status, e.answer) == (202, b'{"status":"OK"}')
    assert e.body == r.content
