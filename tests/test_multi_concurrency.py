"""Multi-concurrency (``AWS_LAMBDA_MAX_CONCURRENCY``, Lambda Managed Instances): the forked worker pool.

Reference behaviour: section 8.1 of the awslambdaric behaviour reference; fastric's differences are in
docs/DIFFERENCES-python.md. Each test starts a recording fake Runtime API and the runtime process in
its own session, waits until every worker is parked in ``/next`` (or the process ended), and asserts
exact bytes, request sequences and exit statuses.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import HANDLERS_DIR, REF_MISSING_REASON, REF_PYTHON, client_cmd
from support.cases import normalise_ts
from support.compare import normalise_requests
from support.runtime_api_fake import (
    FakeRuntimeAPI,
    Fault,
    Frame,
    Invocation,
    Request,
    build_env,
    decode_frames,
    spawn_collecting,
)

FASTRIC_ERROR_BODY = (
    b"{\"errorMessage\": \"Unable to import module 'pool_missing': No module named 'pool_missing'\", "
    b'"errorType": "Runtime.ImportModuleError", "requestId": "", "stackTrace": []}'
)


@dataclass
class PoolRun:
    """What one pool process did (see :func:`run_pool`)."""

    requests: list[Request]
    stdout: bytes
    stderr: bytes
    frames: list[Frame]
    returncode: int | None  # None: still running when the test ended (then killed)
    pid: int

    def describe(self) -> str:
        lines = [f"returncode={self.returncode}"]
        lines += [
            f"  #{r.seq} conn{r.conn} {r.method} {r.path} -> {r.status} {r.body[:200]!r}"
            for r in self.requests
        ]
        lines.append(f"stdout={self.stdout[-2000:]!r}")
        lines.append(f"stderr={self.stderr[-2000:]!r}")
        return "\n".join(lines)


def run_pool(
    cmd: Sequence[str],
    api: FakeRuntimeAPI,
    workers: int,
    *,
    env: Mapping[str, str | None],
    telemetry_fd: bool = False,
    before_stop: object = None,
    send_signal: int | None = None,
    timeout_s: float = 30.0,
) -> PoolRun:
    """Run ``cmd`` with ``AWS_LAMBDA_MAX_CONCURRENCY=workers`` against ``api`` in ``HANDLERS_DIR``.

    Waits until the process exited, or every scripted invocation was answered and ``workers`` ``/next``
    calls are parked. Then calls ``before_stop(pid)`` if given, sends ``send_signal`` to the parent
    only (not its group) and waits for it to exit (at most ``timeout_s``). Whatever still runs in the
    process group at the end is killed."""
    full_env = build_env(api.address, str(HANDLERS_DIR), {"AWS_LAMBDA_MAX_CONCURRENCY": str(workers), **env})
    spawned = spawn_collecting(cmd, full_env, HANDLERS_DIR, telemetry_fd=telemetry_fd)
    proc, out, err, tel, readers = (
        spawned.proc,
        spawned.stdout,
        spawned.stderr,
        spawned.telemetry,
        spawned.readers,
    )
    try:
        deadline = time.monotonic() + timeout_s
        while proc.poll() is None and not (api.all_answered() and api.parked >= workers):
            if time.monotonic() > deadline:
                pytest.fail(f"the pool did not settle within {timeout_s} s (parked={api.parked})")
            time.sleep(0.01)
        if proc.poll() is None:
            if callable(before_stop):
                before_stop(proc.pid)
            if send_signal is not None:
                proc.send_signal(send_signal)
                try:
                    proc.wait(timeout=timeout_s)
                except subprocess.TimeoutExpired:
                    pass
        returncode = proc.poll()
        requests = api.snapshot()
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the group this helper created
        except ProcessLookupError:
            pass
        proc.wait()
        api.stop()
        for reader in readers:
            reader.join(timeout=5)
    frames, _ = decode_frames(bytes(tel))
    return PoolRun(requests, bytes(out), bytes(err), frames, returncode, proc.pid)


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _pids(pool_dir: Path, prefix: str) -> set[int]:
    return {int(p.name.split("-")[1]) for p in pool_dir.iterdir() if p.name.startswith(prefix + "-")}


def _cmd(client: str, handler: str) -> list[str]:
    return client_cmd(client, handler)


@pytest.fixture
def pool_dir(tmp_path: Path) -> Path:
    d = tmp_path / "pool"
    d.mkdir()
    return d


# --------------------------------------------------------------------------------------------------
# concurrency


@pytest.mark.parametrize("client", ["fastric", "awslambdaric"])
def test_workers_poll_concurrently_and_answer_each_invocation_once(client: str, pool_dir: Path) -> None:
    if client == "awslambdaric" and REF_PYTHON is None:
        pytest.skip(REF_MISSING_REASON)
    n = 3
    invocations = [Invocation(body=json.dumps({"n": n}).encode()) for _ in range(n)]
    with FakeRuntimeAPI(invocations) as api:
        run = run_pool(_cmd(client, "pool_app.barrier"), api, n, env={"POOL_DIR": str(pool_dir)})
    assert run.returncode is None, run.describe()
    imported = _pids(pool_dir, "import")
    assert len(imported) == n
    # Each invocation was answered exactly once, by a different worker, while all n were in flight.
    responses = [r for r in run.requests if r.endpoint == "response"]
    assert sorted(r.request_id for r in responses) == sorted(
        f"11111111-1111-4111-8111-{i:012d}" for i in (1, 2, 3)
    )
    docs = [json.loads(r.body) for r in responses]
    assert all(doc["met"] is True for doc in docs), run.describe()
    assert {doc["pid"] for doc in docs} == imported
    assert not [r for r in run.requests if r.endpoint not in ("next", "response")]
    # One keep-alive connection per worker; in the end all n workers wait in /next at once.
    nexts = [r for r in run.requests if r.endpoint == "next"]
    assert len(nexts) == 2 * n
    assert len({r.conn for r in nexts}) == n
    assert Counter(r.conn for r in run.requests) == Counter({conn: 3 for conn in {r.conn for r in nexts}})
    # Without a log level the parent logs nothing; workers print their import lines.
    assert sorted(run.stdout.splitlines()) == sorted(f"import {pid}".encode() for pid in imported)
    assert sorted(run.stderr.splitlines()) == sorted(f"ierr {pid}".encode() for pid in imported)


# --------------------------------------------------------------------------------------------------
# stdout / stderr through _LAMBDA_TELEMETRY_LOG_FD_PROVIDER_SOCKET


class _ProviderSocket:
    """A test-side AF_UNIX stream server recording the raw bytes of every connection."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen(16)
        self.server.settimeout(0.1)
        self.received: list[bytearray] = []
        self.stopped = False
        self.threads: list[threading.Thread] = []
        self.accept_thread = threading.Thread(target=self._accept, daemon=True)
        self.accept_thread.start()

    def _accept(self) -> None:
        while not self.stopped:
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            buf = bytearray()
            self.received.append(buf)
            t = threading.Thread(target=self._read, args=(conn, buf), daemon=True)
            t.start()
            self.threads.append(t)

    @staticmethod
    def _read(conn: socket.socket, buf: bytearray) -> None:
        with conn:
            while data := conn.recv(65536):
                buf += data

    def close(self) -> list[bytes]:
        """Stop accepting; wait until every connection was closed by the peer; the payloads."""
        self.stopped = True
        self.accept_thread.join(timeout=5)
        for t in self.threads:
            t.join(timeout=5)
        self.server.close()
        return [bytes(b) for b in self.received]


@pytest.mark.parametrize("client", ["fastric", "awslambdaric"])
def test_provider_socket_gets_each_workers_raw_stdout_and_stderr(client: str, pool_dir: Path) -> None:
    if client == "awslambdaric" and REF_PYTHON is None:
        pytest.skip(REF_MISSING_REASON)
    provider = _ProviderSocket(pool_dir / "provider.sock")
    try:
        with FakeRuntimeAPI([Invocation(), Invocation()]) as api:
            run = run_pool(
                _cmd(client, "pool_app.talk"),
                api,
                2,
                env={
                    "POOL_DIR": str(pool_dir),
                    "_LAMBDA_TELEMETRY_LOG_FD_PROVIDER_SOCKET": str(provider.path),
                },
            )
    finally:
        payloads = provider.close()
    assert run.returncode is None, run.describe()
    # Nothing reaches the parent's own stdout/stderr: the workers write to the socket only.
    assert (run.stdout, run.stderr) == (b"", b""), run.describe()
    served = {r.request_id: json.loads(r.body)["pid"] for r in run.requests if r.endpoint == "response"}
    assert len(served) == 2
    expected: list[bytes] = []
    for pid in _pids(pool_dir, "import"):
        rids = sorted(rid for rid, p in served.items() if p == pid)
        expected.append(f"import {pid}\n".encode() + b"".join(f"out {pid} {rid}\n".encode() for rid in rids))
        expected.append(f"ierr {pid}\n".encode() + b"".join(f"err {pid} {rid}\n".encode() for rid in rids))
    # Two connections per worker (stdout, stderr), raw unframed bytes.
    assert sorted(payloads) == sorted(expected)


def test_provider_socket_missing_keeps_the_inherited_streams(pool_dir: Path) -> None:
    with FakeRuntimeAPI([Invocation()]) as api:
        run = run_pool(
            _cmd("fastric", "pool_app.talk"),
            api,
            1,
            env={
                "POOL_DIR": str(pool_dir),
                "_LAMBDA_TELEMETRY_LOG_FD_PROVIDER_SOCKET": str(pool_dir / "absent.sock"),
            },
        )
    assert run.returncode is None, run.describe()
    path = str(pool_dir / "absent.sock").encode()
    lines = run.stderr.splitlines(keepends=True)
    assert [
        re.sub(rb"^\[fastric\] ERROR worker \d+:", b"[fastric] ERROR worker <pid>:", line) for line in lines
    ] == [
        b"[fastric] ERROR worker <pid>: cannot connect %s to _LAMBDA_TELEMETRY_LOG_FD_PROVIDER_SOCKET='%s' "
        b"(FileNotFoundError: [Errno 2] No such file or directory); keeping the inherited descriptor\n"
        % (name, path)
        for name in (b"stdout", b"stderr")
    ] + [b"ierr %d\n" % pid for pid in _pids(pool_dir, "import")] + [
        b"err %d 11111111-1111-4111-8111-000000000001\n" % pid for pid in _pids(pool_dir, "import")
    ]
    assert [r.endpoint for r in run.requests] == ["next", "response", "next"]


# --------------------------------------------------------------------------------------------------
# init errors in the workers


@pytest.mark.parametrize("client", ["fastric", "fastric-pure", "awslambdaric"])
def test_init_error_is_posted_by_every_worker_and_a_403_is_ignored(client: str) -> None:
    if client == "awslambdaric" and REF_PYTHON is None:
        pytest.skip(REF_MISSING_REASON)
    # fastric-pure: the pure-Python client, whose error carries no status (the 403 is read from the message)
    env = {"FASTRIC_PURE_PYTHON": "1"} if client == "fastric-pure" else {}
    faults = [Fault("init_error", nth=1, action="status", status=403)]
    with FakeRuntimeAPI([], faults=faults) as api:
        run = run_pool(_cmd(client.removesuffix("-pure"), "pool_missing.handler"), api, 2, env=env)
    posts = [r for r in run.requests if r.endpoint == "init_error"]
    assert [r.endpoint for r in run.requests] == ["init_error", "init_error"], run.describe()
    assert [r.status for r in posts] == [202, 403]
    assert [r.body for r in posts] == [FASTRIC_ERROR_BODY] * 2
    assert [r.header("Lambda-Runtime-Function-Error-Type") for r in posts] == [
        b"Runtime.ImportModuleError"
    ] * 2
    record = (
        b"[ERROR] Runtime.ImportModuleError: Unable to import module 'pool_missing': No module named "
        b"'pool_missing'\rTraceback (most recent call last):\n"
    )
    assert run.stdout.count(record) == 2, run.describe()
    if client == "awslambdaric":
        assert (run.returncode, run.stderr) == (0, b"")
        return
    # fastric: the 403 is silent; the parent names each worker that ended and exits with its status.
    assert run.returncode == 1
    assert re.fullmatch(
        rb"\[fastric\] WARNING worker [12] \(pid \d+\) exited with status 1; it is not replaced: 1 of 2 workers remain\n"
        rb"\[fastric\] WARNING worker [12] \(pid \d+\) exited with status 1; it is not replaced: 0 of 2 workers remain\n",
        run.stderr,
    ), run.stderr


def test_init_error_wire_matches_awslambdaric() -> None:
    if REF_PYTHON is None:
        pytest.skip(REF_MISSING_REASON)
    runs = {}
    for client in ("fastric", "awslambdaric"):
        with FakeRuntimeAPI([]) as api:
            runs[client] = run_pool(_cmd(client, "pool_missing.handler"), api, 3, env={})
    assert normalise_requests(runs["fastric"].requests) == normalise_requests(runs["awslambdaric"].requests)


# --------------------------------------------------------------------------------------------------
# the parent's DEBUG record


@pytest.mark.parametrize("telemetry_fd", [False, True], ids=["stdout", "telemetry-fd"])
@pytest.mark.parametrize("log_format", ["TEXT", "JSON"])
@pytest.mark.parametrize("level", ["DEBUG", "INFO"])
def test_pool_record_matches_awslambdaric(log_format: str, telemetry_fd: bool, level: str) -> None:
    if REF_PYTHON is None:
        pytest.skip(REF_MISSING_REASON)
    env = {"AWS_LAMBDA_LOG_FORMAT": log_format, "AWS_LAMBDA_LOG_LEVEL": level}
    runs = {}
    for client in ("fastric", "awslambdaric"):
        with FakeRuntimeAPI([]) as api:
            runs[client] = run_pool(_cmd(client, "echo.handler"), api, 2, env=env, telemetry_fd=telemetry_fd)
    got, ref = runs["fastric"], runs["awslambdaric"]
    assert (got.returncode, ref.returncode) == (None, None)
    assert normalise_ts(got.stdout) == normalise_ts(ref.stdout)
    assert got.stderr == ref.stderr == b""
    assert [(f.type, normalise_ts(f.message)) for f in got.frames] == [
        (f.type, normalise_ts(f.message)) for f in ref.frames
    ]
    text = b"{'event': 'runtime_worker_pool_initializing', 'workerCount': 2, 'executionEnvironmentMaxConcurrency': 2}"
    json_record = (
        b'{"timestamp": "<JTS>", "level": "DEBUG", "message": {"event": "runtime_worker_pool_initializing", '
        b'"workerCount": 2, "executionEnvironmentMaxConcurrency": 2}, "logger": "root", "requestId": ""}\n'
    )
    expected = (
        b""
        if level == "INFO"
        else json_record
        if log_format == "JSON"
        else b"[DEBUG]\t<TS>\t\t" + text + b"\n"
    )
    if telemetry_fd:
        assert got.stdout == b""
        frame_type = 0xA55A000A if log_format == "JSON" else 0xA55A000B
        assert [(f.type, normalise_ts(f.message)) for f in got.frames] == (
            [(frame_type, expected)] if expected else []
        )
    else:
        assert normalise_ts(got.stdout) == expected
        assert got.frames == []


# --------------------------------------------------------------------------------------------------
# exit status, bad values


def test_parent_exit_status_is_the_first_failing_workers() -> None:
    invocations = [Invocation(body=b'{"code": 3}'), Invocation(body=b'{"code": 3}')]
    with FakeRuntimeAPI(invocations) as api:
        run = run_pool(_cmd("fastric", "pool_app.leave"), api, 2, env={})
    assert run.returncode == 3, run.describe()
    assert [r.endpoint for r in run.requests] == ["next", "next"]
    stderr = b"".join(line for line in run.stderr.splitlines(keepends=True) if line.startswith(b"[fastric]"))
    assert re.fullmatch(
        rb"\[fastric\] WARNING worker [12] \(pid \d+\) exited with status 3; it is not replaced: 1 of 2 workers remain\n"
        rb"\[fastric\] WARNING worker [12] \(pid \d+\) exited with status 3; it is not replaced: 0 of 2 workers remain\n",
        stderr,
    ), run.stderr


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "two",
            "AWS_LAMBDA_MAX_CONCURRENCY='two' is not an integer: it must be the number of worker processes "
            "(concurrent invocations) to run",
        ),
        (
            "",
            "AWS_LAMBDA_MAX_CONCURRENCY='' is not an integer: it must be the number of worker processes "
            "(concurrent invocations) to run",
        ),
        ("0", "AWS_LAMBDA_MAX_CONCURRENCY='0' must be at least 1 (the number of worker processes to run)"),
    ],
)
def test_unusable_max_concurrency_is_one_line_and_exit_1(value: str, message: str) -> None:
    with FakeRuntimeAPI([]) as api:
        env = build_env(api.address, str(HANDLERS_DIR), {"AWS_LAMBDA_MAX_CONCURRENCY": value})
        proc = subprocess.run(
            [sys.executable, "-m", "fastric", "echo.handler"],
            cwd=HANDLERS_DIR,
            env=env,
            capture_output=True,
            timeout=30,
            check=False,
        )
        assert api.snapshot() == []
    assert (proc.returncode, proc.stdout, proc.stderr) == (1, b"", f"[fastric] {message}\n".encode())


# --------------------------------------------------------------------------------------------------
# signals


def _wait_gone(pids: set[int], timeout_s: float = 10.0) -> set[int]:
    deadline = time.monotonic() + timeout_s
    while (alive := {p for p in pids if _alive(p)}) and time.monotonic() < deadline:
        time.sleep(0.02)
    return alive


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_to_parent_stops_the_workers_and_leaves_no_orphans(pool_dir: Path, signum: int) -> None:
    seen: dict[str, set[int]] = {}

    def before_stop(pid: int) -> None:
        seen["workers"] = _pids(pool_dir, "import")

    with FakeRuntimeAPI([]) as api:
        run = run_pool(
            _cmd("fastric", "pool_app.talk"),
            api,
            3,
            env={"POOL_DIR": str(pool_dir)},
            before_stop=before_stop,
            send_signal=signum,
        )
    assert run.returncode == -signum, run.describe()
    assert len(seen["workers"]) == 3
    assert {p for p in seen["workers"] if _alive(p)} == set()
    assert b"[fastric]" not in run.stderr


def test_sigterm_reaches_the_users_handler_in_every_worker(pool_dir: Path) -> None:
    with FakeRuntimeAPI([Invocation(), Invocation()]) as api:
        run = run_pool(
            _cmd("fastric", "pool_app.talk"),
            api,
            2,
            env={"POOL_DIR": str(pool_dir), "INSTALL_SIGTERM": "1"},
            send_signal=signal.SIGTERM,
        )
    # Each worker's handler ran (and exited 0); the parent then dies by the SIGTERM it forwarded.
    assert run.returncode == -signal.SIGTERM, run.describe()
    assert _pids(pool_dir, "sigterm") == _pids(pool_dir, "import")
    assert len(_pids(pool_dir, "import")) == 2


def test_sigkill_to_parent_takes_the_workers_down(pool_dir: Path) -> None:
    left: dict[str, set[int]] = {}

    def before_stop(pid: int) -> None:
        workers = _pids(pool_dir, "import")
        left["workers"] = workers
        os.kill(pid, signal.SIGKILL)
        left["alive"] = _wait_gone(workers)

    with FakeRuntimeAPI([]) as api:
        run_pool(
            _cmd("fastric", "pool_app.talk"), api, 2, env={"POOL_DIR": str(pool_dir)}, before_stop=before_stop
        )
    assert len(left["workers"]) == 2
    assert left["alive"] == set()
