#!/usr/bin/env python3
"""fastric vs awslambdaric, side by side in one run: the one benchmark command.

    python benches/run.py [--quick] [--out docs/BENCHMARKS.md] [--clients fastric,awslambdaric,...]

Every client and floor is spawned by absolute interpreter path with the same minimal environment,
against the same in-process Runtime API server (benches/server.py), alternating clients round by round
so machine drift cancels. Figures: cold start, per-invoke overhead, payloads, logging, memory. Writes
the Markdown report (``--out``), a PNG chart beside it (if matplotlib is importable) and the raw
results as JSON (``--json``, default ``benches/results/latest.json``).

Exit status: 0 when the run completed (even if some client failed: failures are reported in the
tables), 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
HANDLERS = HERE / "handlers"
sys.path.insert(0, str(HERE))

import payloads
import report
import rie_emulators
import sentry_invoke
import soak
import stats
import streaming_bench
from server import ClientGone, RuntimeApiServer, Samples, Session, run_loop

REF_CANDIDATES = [ROOT / ".venv-ref/bin/python"]
THREAD_ENV = "AWS_Lambda_python3.12"

#: iteration counts; --quick uses the second set. Cold starts ≥ 20 and invocations ≥ 20,000 in full.
FULL = {
    "cold": 25,
    "invocations": 20_000,
    "rounds": 4,
    "warmup": 500,
    "payload": {
        "1KB": 5000,
        "100KB": 1000,
        "1MB": 200,
        "5MB": 40,
        "5MB-response": 40,
        **payloads.realistic_counts(60, 12),
    },
    "payload_rounds": 2,
    "log_n": 1000,
    "log_rounds": 2,
    "mem_n": 20_000,
    "mem_mark": 1000,
    "rie_n": 5000,
    "timeout": 120.0,
}
QUICK = {
    "cold": 3,
    "invocations": 400,
    "rounds": 2,
    "warmup": 30,
    "payload": {
        "1KB": 20,
        "100KB": 6,
        "1MB": 3,
        "5MB": 2,
        "5MB-response": 2,
        **payloads.realistic_counts(2, 1),
    },
    "payload_rounds": 1,
    "log_n": 8,
    "log_rounds": 1,
    "mem_n": 300,
    "mem_mark": 100,
    "rie_n": 100,
    "timeout": 60.0,
}

#: how long the server spins waiting for each request before it blocks (ms), with --server-wait spin.
SPIN_MS = 20.0

# The Python cold-start floor: the same GET /next and POST /response over a raw socket, no runtime.
FLOOR_PY = r"""
import os, socket
api = os.environ["AWS_LAMBDA_RUNTIME_API"]
h, p = api.rsplit(":", 1)
s = socket.create_connection((h, int(p)))
s.sendall(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: " + api.encode() + b"\r\n\r\n")
b = b""
while b"\r\n\r\n" not in b:
    b += s.recv(65536)
head, _, body = b.partition(b"\r\n\r\n")
hs = dict(l.split(b": ", 1) for l in head.split(b"\r\n")[1:])
hs = {k.lower(): v for k, v in hs.items()}
n = int(hs[b"content-length"])
while len(body) < n:
    body += s.recv(65536)
out = b'{"statusCode": 200}'
s.sendall(b"POST /2018-06-01/runtime/invocation/" + hs[b"lambda-runtime-aws-request-id"] + b"/response HTTP/1.1\r\nHost: "
          + api.encode() + b"\r\nContent-Type: application/json\r\nContent-Length: 19\r\n\r\n" + out)
s.recv(65536)
"""


class Participant:
    """A client or floor under test.

    Attributes:
        name: label in the tables (``fastric``, ``awslambdaric``, ``awslambdaric-thread``, ``c-floor``…).
        argv: the command prefix (absolute interpreter path first); the handler string is appended for
            clients; floors get ``mode`` arguments instead.
        env: extra environment on top of the common minimal one.
        python: the interpreter path (None for the C floor).
        kind: ``"client"`` or ``"floor"``.
        failed: None, or why it could not run (then it is skipped and reported as failed).
    """

    def __init__(self, name, argv, env=None, python=None, kind="client"):
        self.name = name
        self.argv = list(argv)
        self.env = dict(env or {})
        self.python = python
        self.kind = kind
        self.failed: str | None = None

    def command(self, handler: str) -> list[str]:
        """The full argv for ``handler`` (``module.function``; for the C floor: trivial/echo/file)."""
        if self.kind == "pyfloor":
            return list(self.argv)
        if self.kind == "floor":
            if handler == "echo.handler":
                return self.argv + ["echo"]
            if handler == "big_response.handler":
                return self.argv + ["file", os.environ.get("BENCH_RESPONSE_FILE", "")]
            if handler == "ddb_items.handler":
                return self.argv + ["file", os.environ.get("BENCH_DDB_FLOOR_FILE", "")]
            return self.argv + ["trivial"]
        return self.argv + [handler]


class Bench:
    """The run: server, pinning, spawning, and one method per figure. Results go to ``self.results``."""

    def __init__(self, args, cfg, participants):
        self.args = args
        self.cfg = cfg
        self.clients = [p for p in participants if p.kind == "client"]
        self.floor = next((p for p in participants if p.kind == "floor"), None)
        self.results: dict = {"figures": {}}
        self.workdir = Path(args.workdir)
        self.logdir = self.workdir / "logs"
        self.logdir.mkdir(parents=True, exist_ok=True)
        allowed = sorted(os.sched_getaffinity(0))
        if len(allowed) >= 2 and not args.no_pin:
            self.server_cpu, self.client_cpu = allowed[0], allowed[1]
            os.sched_setaffinity(0, {self.server_cpu})
            self.pinning = f"server (this process) on CPU {self.server_cpu}, client on CPU {self.client_cpu}"
        else:
            self.server_cpu = self.client_cpu = None
            self.pinning = "not pinned (fewer than 2 CPUs allowed, or --no-pin)"
        # Spinning only makes sense with the server on a core of its own.
        spin = args.server_wait == "spin" and self.server_cpu is not None
        self.server = RuntimeApiServer(spin_ms=SPIN_MS if spin else 0)
        self.server_wait = (
            f"spins up to {SPIN_MS:g} ms on a non-blocking recv before blocking (see benches/server.py)"
            if spin
            else "blocks in recv"
        )
        self.clk_tck = os.sysconf("SC_CLK_TCK")
        self.page_kb = os.sysconf("SC_PAGE_SIZE") // 1024

    # -- spawning -------------------------------------------------------------------------------

    def base_env(self, handler: str) -> dict[str, str]:
        """The minimal environment every client and floor gets."""
        return {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "AWS_LAMBDA_RUNTIME_API": self.server.address,
            "AWS_LAMBDA_FUNCTION_NAME": "bench",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bench",
            "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]bench",
            "AWS_REGION": "us-east-1",
            "LAMBDA_TASK_ROOT": str(HANDLERS),
            "_HANDLER": handler,
            "BENCH_RESPONSE_FILE": os.environ.get("BENCH_RESPONSE_FILE", ""),
            "BENCH_DDB_FILE": os.environ.get("BENCH_DDB_FILE", ""),
        }

    def spawn(self, argv, env, stdout=subprocess.DEVNULL, pass_fds=(), log_name="spawn"):
        """Starts a process on the client CPU; returns ``(Popen, t0_ns)``, t0 taken just before."""
        with open(self.logdir / f"{_safe(log_name)}.stderr", "ab") as stderr:
            if self.client_cpu is not None:
                os.sched_setaffinity(0, {self.client_cpu})
            try:
                t0 = time.perf_counter_ns()
                proc = subprocess.Popen(
                    argv,
                    cwd=HANDLERS,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=stdout,
                    stderr=stderr,
                    pass_fds=pass_fds,
                )
            finally:
                if self.server_cpu is not None:
                    os.sched_setaffinity(0, {self.server_cpu})
        return proc, t0

    def stderr_tail(self, log_name: str) -> str:
        """The last 400 characters of a participant's stderr log, one line."""
        try:
            data = (self.logdir / f"{_safe(log_name)}.stderr").read_bytes()[-400:]
        except OSError:
            return ""
        return " | ".join(data.decode("utf-8", "replace").strip().splitlines()[-4:])

    def start(self, p: Participant, handler: str, extra_env=None, stdout=subprocess.DEVNULL, pass_fds=()):
        """Spawns ``p`` with ``handler``; returns ``(proc, session, t0, watchdog)``."""
        env = self.base_env(handler) | p.env | (extra_env or {})
        proc, t0 = self.spawn(p.command(handler), env, stdout=stdout, pass_fds=pass_fds, log_name=p.name)
        session = Session(self.server, self.cfg["timeout"], lambda: proc.poll() is None)
        watchdog = threading.Timer(self.cfg["timeout"] * 3, _kill, (proc,))
        watchdog.daemon = True
        watchdog.start()
        return proc, session, t0, watchdog

    @staticmethod
    def stop(proc, session, watchdog):
        """Kills the process (SIGKILL, as Lambda's shutdown does after its grace period) and cleans up."""
        watchdog.cancel()
        _kill(proc)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        session.close()

    def failure(self, p: Participant, exc: BaseException, proc) -> str:
        """A one-line failure description: the exception, the exit code and the stderr tail."""
        time.sleep(0.05)
        code = proc.poll() if proc is not None else None
        msg = f"{exc}"
        if code is not None:
            msg += f" (exit {code})"
        tail = self.stderr_tail(p.name)
        return msg + (f"; stderr: {tail}" if tail else "")

    def cpu_ticks(self, pid: int) -> int:
        """utime + stime of ``pid`` (all threads), in clock ticks."""
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return int(fields[11]) + int(fields[12])

    @staticmethod
    def status_kb(pid: int, key: bytes) -> int | None:
        """A ``kB`` field of /proc/<pid>/status (VmRSS, VmHWM), or None."""
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(key + b":"):
                    return int(line.split()[1])
        return None

    def order(self, items, r):
        """Rotates ``items`` by ``r`` so each gets each position across rounds (A B C, B C A, …)."""
        items = list(items)
        if not items:
            return items
        r %= len(items)
        return items[r:] + items[:r]

    def live(self, ps):
        return [p for p in ps if p is not None and p.failed is None]

    # -- preflight ------------------------------------------------------------------------------

    def preflight(self):
        """Runs one invocation per client; a client that cannot is marked failed and skipped."""
        ev = payloads.small_event()
        for p in self.clients + ([self.floor] if self.floor else []):
            if p.failed:
                continue
            proc = None
            try:
                proc, session, _, wd = self.start(p, "trivial.handler")
                try:
                    session.wait_next()
                    _, _, _, body = session.invoke(ev)
                    if body != b'{"statusCode": 200}':
                        raise ClientGone(f"unexpected result body {body[:100]!r}")
                finally:
                    self.stop(proc, session, wd)
            except (ClientGone, OSError) as exc:
                p.failed = "preflight: " + self.failure(p, exc, proc)
            log(f"preflight {p.name}: {'ok' if not p.failed else 'FAILED: ' + p.failed}")

    # -- figure 1: cold start -------------------------------------------------------------------

    def cold_start(self):
        """Spawn → first /next and → first result, per client; floors: raw-socket Python, C, ``-c pass``."""
        ev = payloads.small_event()
        pythons = sorted({p.python for p in self.clients if p.python and not p.failed})
        floors = []
        for py in pythons:
            label = self.python_label(py)
            floors.append(
                Participant(f"python-socket ({label})", [py, "-c", FLOOR_PY], python=py, kind="pyfloor")
            )
        data = {
            p.name: {"first_next_ms": [], "first_result_ms": [], "failed": None}
            for p in self.clients + floors + ([self.floor] if self.floor else [])
        }
        pass_data = {py: [] for py in pythons}
        exchangers = self.live(self.clients) + floors + self.live([self.floor])
        for rep in range(self.cfg["cold"]):
            for p in self.order(exchangers, rep):
                if data[p.name]["failed"]:
                    continue
                proc = None
                try:
                    proc, session, t0, wd = self.start(p, "trivial.handler")
                    try:
                        t_next = session.wait_next()
                        _, t_res, _, _ = session.invoke(ev)
                    finally:
                        self.stop(proc, session, wd)
                    data[p.name]["first_next_ms"].append((t_next - t0) / 1e6)
                    data[p.name]["first_result_ms"].append((t_res - t0) / 1e6)
                except (ClientGone, OSError) as exc:
                    data[p.name]["failed"] = self.failure(p, exc, proc)
            for py in self.order(pythons, rep):
                proc, t0 = self.spawn(
                    [py, "-c", "pass"], self.base_env("trivial.handler"), log_name="python-pass"
                )
                proc.wait()
                pass_data[py].append((time.perf_counter_ns() - t0) / 1e6)
        for p in self.clients:
            if p.failed:
                data[p.name]["failed"] = p.failed
        out = {"rows": {}, "pass_exit_ms": {}}
        for py, xs in pass_data.items():
            out["pass_exit_ms"][self.python_label(py)] = {"samples": xs, **stats.summary(xs)} if xs else None
        for name, d in data.items():
            row = {
                "failed": d["failed"],
                "samples_next": d["first_next_ms"],
                "samples_result": d["first_result_ms"],
            }
            if d["first_next_ms"] and not d["failed"]:
                row["first_next"] = stats.summary(d["first_next_ms"])
                row["first_result"] = stats.summary(d["first_result_ms"])
            out["rows"][name] = row
        # init overhead = first /next minus the same interpreter's bare exit time
        for p in self.clients:
            row = out["rows"][p.name]
            if "first_next" in row and p.python in pass_data and pass_data[p.python]:
                row["python"] = self.python_label(p.python)
                row["init_overhead_ms"] = row["first_next"]["median"] - stats.percentile(
                    pass_data[p.python], 50
                )
        ref = self.reference()
        for p in self.clients:
            row = out["rows"][p.name]
            if (
                ref is None
                or p is ref
                or "init_overhead_ms" not in row
                or "init_overhead_ms" not in out["rows"][ref.name]
            ):
                continue
            rrow = out["rows"][ref.name]
            row["ratio_first_next"] = stats.ratio(row["samples_next"], rrow["samples_next"])
            denom = rrow["init_overhead_ms"]
            if denom > 0:
                ci = stats.bootstrap_ci(
                    [row["samples_next"], pass_data[p.python], rrow["samples_next"], pass_data[ref.python]],
                    lambda a, b, c, d: (a - b) / (c - d),
                )
                row["ratio_init_overhead"] = {
                    "ratio": row["init_overhead_ms"] / denom,
                    "low": ci[0] if ci else None,
                    "high": ci[1] if ci else None,
                }
        self.results["figures"]["cold_start"] = out

    def python_label(self, py: str) -> str:
        """A short name for an interpreter: which participant uses it."""
        names = [p.name for p in self.clients if p.python == py]
        return "python of " + (names[0] if names else py)

    def reference(self) -> Participant | None:
        """awslambdaric in its default mode, when it is in the run and did not fail."""
        return next((p for p in self.clients if p.name == "awslambdaric" and not p.failed), None)

    # -- shared measured loop -------------------------------------------------------------------

    def measure(
        self,
        p,
        handler,
        events,
        n,
        warmup,
        samples,
        extra_env=None,
        stdout=subprocess.DEVNULL,
        pass_fds=(),
        marks=None,
    ):
        """Spawns ``p``, runs ``warmup + n`` invocations into ``samples``; returns a dict of extras.

        ``marks``: invocation numbers at which to read VmRSS (kB). The dict has ``cpu_ticks`` (client,
        measured part), ``server_cpu_ns``, ``rss_kb`` (mark → kB), ``hwm_kb``, ``rss_end_kb``.
        """
        proc, session, _, wd = self.start(p, handler, extra_env, stdout=stdout, pass_fds=pass_fds)
        extras = {"rss_kb": {}}
        state = {}
        marks = set(marks or ())

        def on_inv(i):
            if i == warmup:
                state["ticks0"] = self.cpu_ticks(proc.pid)
                state["srv0"] = time.process_time_ns()
            if i in marks:
                extras["rss_kb"][i] = self.status_kb(proc.pid, b"VmRSS")

        try:
            session.wait_next()
            if warmup == 0:
                state["ticks0"] = self.cpu_ticks(proc.pid)
                state["srv0"] = time.process_time_ns()
            gc.disable()
            try:
                run_loop(session, events, n, warmup, samples, on_inv)
            finally:
                gc.enable()
            extras["server_cpu_ns"] = time.process_time_ns() - state["srv0"]
            extras["cpu_ticks"] = self.cpu_ticks(proc.pid) - state["ticks0"]
            extras["hwm_kb"] = self.status_kb(proc.pid, b"VmHWM")
            extras["rss_end_kb"] = self.status_kb(proc.pid, b"VmRSS")
        except (ClientGone, OSError) as exc:
            self.stop(proc, session, wd)
            raise ClientGone(self.failure(p, exc, proc)) from None
        self.stop(proc, session, wd)
        return extras

    # -- figure 2: per-invoke overhead ----------------------------------------------------------

    def per_invoke(self):
        """Round trip per invocation, trivial handler, small event, over ``invocations`` in rounds."""
        ev = [payloads.small_event()]
        ps = self.live(self.clients) + self.live([self.floor])
        n_total, rounds = self.cfg["invocations"], self.cfg["rounds"]
        per_round = max(1, n_total // rounds)
        acc = {p.name: {"samples": Samples(), "ticks": 0, "server_cpu_ns": 0, "failed": None} for p in ps}
        for r in range(rounds):
            for p in self.order(ps, r):
                a = acc[p.name]
                if a["failed"]:
                    continue
                try:
                    ex = self.measure(p, "trivial.handler", ev, per_round, self.cfg["warmup"], a["samples"])
                    a["ticks"] += ex["cpu_ticks"]
                    a["server_cpu_ns"] += ex["server_cpu_ns"]
                except ClientGone as exc:
                    a["failed"] = str(exc)
                log(f"per-invoke round {r + 1}/{rounds}: {p.name} {'ok' if not a['failed'] else 'FAILED'}")
        out = {"rows": {}, "invocations": per_round * rounds}
        for p in self.clients + ([self.floor] if self.floor else []):
            a = acc.get(p.name)
            if a is None or a["failed"] or not a["samples"].rtt:
                out["rows"][p.name] = {"failed": (a or {}).get("failed") or p.failed or "not run"}
                continue
            s = a["samples"]
            n = len(s.rtt)
            rtt_us = [x / 1000 for x in s.rtt]
            out["rows"][p.name] = {
                "failed": None,
                "rtt_us": stats.summary(rtt_us),
                "samples_us": rtt_us,
                "invocations_per_s": len(s.cycle) / (sum(s.cycle) / 1e9) if s.cycle else None,
                "client_cpu_us": a["ticks"] / self.clk_tck * 1e6 / n,
                "server_us": stats.summary([x / 1000 for x in s.server]),
                "server_cpu_us": a["server_cpu_ns"] / 1000 / n,
            }
        self.add_ratios(out["rows"], keys=(("ratio_p50", 50), ("ratio_p99", 99)))
        if self.floor and not out["rows"].get(self.floor.name, {}).get("failed"):
            fl = out["rows"][self.floor.name]
            for p in self.clients:
                row = out["rows"][p.name]
                if not row.get("failed"):
                    row["vs_floor_p50"] = row["rtt_us"]["median"] / fl["rtt_us"]["median"]
        fastric = next((p for p in self.live(self.clients) if p.name == "fastric" and p.python), None)
        if fastric is not None:
            out["python_minimum_us"] = self.python_minimum(fastric.python, ev[0])
        self.results["figures"]["per_invoke"] = out

    def python_minimum(self, python: str, event: bytes) -> float | None:
        """The least Python work any runtime must do per invocation of the per-invoke figure, in µs:
        decode the event into Python objects, call the handler, encode its result to awslambdaric's
        bytes — with fastric's codec (the fastest that gives those bytes), in one process, no context,
        no network. Best of 7 runs of 20,000 calls, on the client CPU. None if it cannot run."""
        code = (
            "import sys, timeit\n"
            f"sys.path.insert(0, {str(HANDLERS)!r})\n"
            "from trivial import handler\n"
            "from fastric._fastric import json_loads, json_dumps\n"
            f"ev = {event!r}\n"
            "ctx = object()\n"
            "f = lambda: json_dumps(handler(json_loads(ev), ctx), True)\n"
            "print(min(timeit.repeat(f, number=20000, repeat=7)) / 20000 * 1e6)\n"
        )
        try:
            proc, _ = self.spawn([python, "-c", code], {"PATH": "/usr/bin:/bin"}, stdout=subprocess.PIPE)
            text, _ = proc.communicate(timeout=120)
            return float(text) if proc.returncode == 0 else None
        except (OSError, ValueError, subprocess.TimeoutExpired):
            return None

    def emulator(self):
        """End to end through ``fastric-rie``: a keep-alive HTTP client posts invocations one after
        another to the invoke endpoint (trivial handler, small event), for each runtime behind it.
        The C floor as the runtime shows the emulator's own share (everything but the floor's own
        loop). The comparison with aws-lambda-rie is figure 8 (``benches/rie_emulators.py``)."""
        import http.client
        import re

        n, warm = self.cfg["rie_n"], max(10, self.cfg["rie_n"] // 10)
        event = payloads.small_event()
        out = {"rows": {}, "invocations": n}
        for p in self.live(self.clients) + self.live([self.floor]):
            argv = [
                sys.executable,
                "-m",
                "fastric.rie",
                "--runtime-interface-emulator-address",
                "127.0.0.1:0",
                "--runtime-api-address",
                "127.0.0.1:0",
                "--eager-init",
                "--",
                *p.command("trivial.handler"),
            ]
            env = {**self.base_env("trivial.handler"), **p.env}
            env.pop("AWS_LAMBDA_RUNTIME_API", None)
            env["AWS_LAMBDA_FUNCTION_TIMEOUT"] = "60"
            if self.client_cpu is not None:
                os.sched_setaffinity(0, {self.client_cpu})
            try:
                proc = subprocess.Popen(
                    argv,
                    cwd=HANDLERS,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
            finally:
                if self.server_cpu is not None:
                    os.sched_setaffinity(0, {self.server_cpu})
            try:
                port = None
                for raw in proc.stderr:
                    m = re.search(rb"listening: invoke=http://127\.0\.0\.1:(\d+)/", raw)
                    if m:
                        port = int(m.group(1))
                        break
                if port is None:
                    raise ClientGone("fastric-rie did not start")
                threading.Thread(target=lambda f=proc.stderr: f.read(), daemon=True).start()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                conn.connect()
                conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                samples = []
                for i in range(warm + n):
                    t0 = time.perf_counter_ns()
                    conn.request("POST", "/2015-03-31/functions/function/invocations", body=event)
                    resp = conn.getresponse()
                    body = resp.read()
                    t1 = time.perf_counter_ns()
                    if resp.status != 200 or resp.getheader("X-Amz-Function-Error"):
                        raise ClientGone(f"invoke answered {resp.status}: {body[:200]!r}")
                    if i >= warm:
                        samples.append((t1 - t0) / 1000)
                conn.close()
                out["rows"][p.name] = {
                    "failed": None,
                    "e2e_us": stats.summary(samples),
                    "samples_us": samples,
                    "invocations_per_s": 1e6 * len(samples) / sum(samples),
                }
            except (ClientGone, OSError) as exc:
                out["rows"][p.name] = {"failed": str(exc)}
            finally:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
            log(f"emulator: {p.name} {'ok' if not out['rows'][p.name].get('failed') else 'FAILED'}")
        self.add_ratios(out["rows"], keys=(("ratio_p50", 50), ("ratio_p99", 99)))
        floor = out["rows"].get("c-floor", {})
        per_invoke = self.results["figures"].get("per_invoke", {}).get("rows", {}).get("c-floor", {})
        if not floor.get("failed") and floor.get("e2e_us") and per_invoke.get("rtt_us"):
            out["emulator_share_us"] = floor["e2e_us"]["median"] - per_invoke["rtt_us"]["median"]
        self.results["figures"]["emulator"] = out

    def add_ratios(self, rows, keys, field="samples_us"):
        """Adds ``{key: stats.ratio(row, reference)}`` for each client row with samples."""
        ref = self.reference()
        if ref is None or rows.get(ref.name, {}).get("failed"):
            return
        for p in self.clients:
            row = rows.get(p.name)
            if p is ref or not row or row.get("failed"):
                continue
            for key, q in keys:
                row[key] = stats.ratio(row[field], rows[ref.name][field], q)

    # -- figure 3: payloads ---------------------------------------------------------------------

    def payloads(self):
        """Echo of 1 KB … 5 MB events and a 5 MB response; result bytes compared with awslambdaric."""
        ps = self.live(self.clients) + self.live([self.floor])
        out = {}
        resp_file = self.workdir / "response-5mb.json"
        resp_file.write_bytes(payloads.big_response())
        os.environ["BENCH_RESPONSE_FILE"] = str(resp_file)
        for size, n_total in self.cfg["payload"].items():
            if size == "5MB-response":
                handler, events = "big_response.handler", [payloads.small_event()]
                in_bytes = len(events[0])
            elif size.endswith(" ddb-items"):
                handler, events = "ddb_items.handler", [payloads.small_event()]
                in_bytes = len(events[0])
                payloads.write_ddb_files(size, self.workdir)
            else:
                handler, events = "echo.handler", [payloads.sized_event(size)]
                in_bytes = len(events[0])
            rounds = self.cfg["payload_rounds"]
            per_round = max(1, n_total // rounds)
            warm = max(1, per_round // 10)
            acc = {p.name: {"samples": Samples(), "failed": None, "hashes": set()} for p in ps}
            for r in range(rounds):
                for p in self.order(ps, r):
                    a = acc[p.name]
                    if a["failed"]:
                        continue
                    try:
                        self.measure(p, handler, events, per_round, warm, a["samples"])
                        a["hashes"].update({a["samples"].first_hash, a["samples"].last_hash})
                    except ClientGone as exc:
                        a["failed"] = str(exc)
            rows = {}
            for p in self.clients + ([self.floor] if self.floor else []):
                a = acc.get(p.name)
                if a is None or a["failed"] or not a["samples"].rtt:
                    rows[p.name] = {"failed": (a or {}).get("failed") or p.failed or "not run"}
                    continue
                ms = [x / 1e6 for x in a["samples"].rtt]
                rows[p.name] = {
                    "failed": None,
                    "rtt_ms": stats.summary(ms),
                    "samples_us": ms,
                    "result_bytes": a["samples"].result_len,
                    "hashes": sorted(a["hashes"]),
                }
            self.add_ratios(rows, keys=(("ratio_p50", 50),))
            ref = self.reference()
            for name, row in rows.items():
                if row.get("failed"):
                    continue
                if self.floor and name == self.floor.name:
                    row["identical"] = None
                elif ref is not None and not rows.get(ref.name, {}).get("failed"):
                    row["identical"] = row["hashes"] == rows[ref.name]["hashes"] and len(row["hashes"]) == 1
            out[size] = {"event_bytes": in_bytes, "invocations": per_round * rounds, "rows": rows}
            log(f"payload {size}: done")
        self.results["figures"]["payloads"] = out

    def codec(self):
        """The JSON codec matrix (benches/codec_matrix.py), under the reference interpreter."""
        import codec_matrix

        ref = self.reference()
        fastric = next((p for p in self.clients if p.name == "fastric" and not p.failed), None)
        if ref is None or fastric is None:
            self.results["figures"]["codec"] = {"failed": "needs both fastric and awslambdaric"}
            return
        try:
            self.results["figures"]["codec"] = codec_matrix.run(ref.python, fastric.python, self.args.quick)
        except (OSError, subprocess.CalledProcessError, ValueError) as exc:
            self.results["figures"]["codec"] = {"failed": str(exc)}

    # -- figure 4: logging ----------------------------------------------------------------------

    def logging(self):
        """print / logging × TEXT / JSON × with / without the telemetry fd; lines counted after."""
        ev = [payloads.small_event()]
        ps = self.live(self.clients)
        out = {}
        trivial = self.results["figures"].get("per_invoke", {}).get("rows", {})
        for kind, handler, marker in (
            ("print", "print_lines.handler", b"bench-print "),
            ("logging", "log_lines.handler", b"bench-log "),
        ):
            for fmt in ("TEXT", "JSON"):
                for fd in (False, True):
                    key = f"{kind} {fmt}{' +telemetry fd' if fd else ''}"
                    rounds, n = self.cfg["log_rounds"], self.cfg["log_n"]
                    per_round = max(1, n // rounds)
                    warm = max(1, per_round // 10)
                    acc = {
                        p.name: {
                            "samples": Samples(),
                            "failed": None,
                            "expected": 0,
                            "counted": 0,
                            "frames_ok": True,
                        }
                        for p in ps
                    }
                    for r in range(rounds):
                        for p in self.order(ps, r):
                            a = acc[p.name]
                            if a["failed"]:
                                continue
                            try:
                                counted, frames_ok = self.log_run(
                                    p, handler, ev, per_round, warm, a["samples"], fmt, fd, marker
                                )
                                a["expected"] += (per_round + warm) * 100
                                a["counted"] += counted
                                a["frames_ok"] &= frames_ok
                            except ClientGone as exc:
                                a["failed"] = str(exc)
                    rows = {}
                    for p in self.clients:
                        a = acc.get(p.name)
                        if a is None or a["failed"] or not a["samples"].rtt:
                            rows[p.name] = {"failed": (a or {}).get("failed") or p.failed or "not run"}
                            continue
                        us = [x / 1000 for x in a["samples"].rtt]
                        row = {
                            "failed": None,
                            "rtt_us": stats.summary(us),
                            "samples_us": us,
                            "lines_expected": a["expected"],
                            "lines_counted": a["counted"],
                            "frames_ok": a["frames_ok"],
                        }
                        t = trivial.get(p.name, {})
                        if not t.get("failed") and "samples_us" in t:
                            row["per_line_us"] = (row["rtt_us"]["median"] - t["rtt_us"]["median"]) / 100
                        rows[p.name] = row
                    ref = self.reference()
                    if ref is not None and "per_line_us" in rows.get(ref.name, {}):
                        for p in self.clients:
                            row = rows[p.name]
                            if p is ref or "per_line_us" not in row:
                                continue
                            denom = rows[ref.name]["per_line_us"]
                            ci = stats.bootstrap_ci(
                                [
                                    row["samples_us"],
                                    trivial[p.name]["samples_us"],
                                    rows[ref.name]["samples_us"],
                                    trivial[ref.name]["samples_us"],
                                ],
                                lambda a, b, c, d: (a - b) / (c - d),
                            )
                            row["ratio_per_line"] = {
                                "ratio": row["per_line_us"] / denom if denom else None,
                                "low": ci[0] if ci else None,
                                "high": ci[1] if ci else None,
                            }
                    out[key] = {"rows": rows, "invocations": per_round * rounds}
                    log(f"logging {key}: done")
        self.results["figures"]["logging"] = out

    def log_run(self, p, handler, ev, n, warm, samples, fmt, with_fd, marker):
        """One logging measurement; stdout (and the telemetry fd) are pipes drained by ``cat``.

        Returns ``(marker occurrences found, telemetry framing well-formed)``.
        """
        tag = f"{p.name}-{handler.split('.')[0]}-{fmt}-{int(with_fd)}".replace("/", "_")
        out_path = self.workdir / f"log-{tag}.stdout"
        tel_path = self.workdir / f"log-{tag}.telemetry"
        drains = []

        def drain(path):
            r, w = os.pipe()
            with open(path, "wb") as f:
                d = subprocess.Popen(["cat"], stdin=r, stdout=f)
            os.close(r)
            drains.append(d)
            return w

        w_out = drain(out_path)
        env = {"AWS_LAMBDA_LOG_FORMAT": "JSON"} if fmt == "JSON" else {}
        fds = ()
        w_tel = None
        if with_fd:
            w_tel = drain(tel_path)
            env["_LAMBDA_TELEMETRY_LOG_FD"] = str(w_tel)
            fds = (w_tel,)
        try:
            self.measure(p, handler, ev, n, warm, samples, extra_env=env, stdout=w_out, pass_fds=fds)
        finally:
            for fd in [w_out] + ([w_tel] if w_tel is not None else []):
                try:
                    os.close(fd)
                except OSError:
                    pass
            for d in drains:
                d.wait(timeout=60)
        data = out_path.read_bytes()
        counted = data.count(marker)
        frames_ok = True
        if with_fd:
            tel = tel_path.read_bytes()
            pos = 0
            while pos + 16 <= len(tel):
                length = int.from_bytes(tel[pos + 4 : pos + 8], "big")
                frame_type = int.from_bytes(tel[pos : pos + 4], "big")
                if frame_type >> 16 != 0xA55A:
                    frames_ok = False
                    break
                counted += tel[pos + 16 : pos + 16 + length].count(marker)
                pos += 16 + length
            if pos != len(tel):
                frames_ok = False
        for path in (out_path, tel_path):
            path.unlink(missing_ok=True)
        return counted, frames_ok

    # -- figure 5: memory -----------------------------------------------------------------------

    def memory(self):
        """VmHWM after N invocations of the 1 KB echo, and VmRSS growth from invocation ``mem_mark`` to N."""
        ev = [payloads.sized_event("1KB")]
        n, mark = self.cfg["mem_n"], self.cfg["mem_mark"]
        rows = {}
        ps = self.live(self.clients) + self.live([self.floor])
        for p in ps:
            try:
                ex = self.measure(p, "echo.handler", ev, n, 0, Samples(), marks=(mark,))
                rss_mark = ex["rss_kb"].get(mark)
                rows[p.name] = {
                    "failed": None,
                    "hwm_kb": ex["hwm_kb"],
                    "rss_mark_kb": rss_mark,
                    "rss_end_kb": ex["rss_end_kb"],
                    "growth_kb": (ex["rss_end_kb"] - rss_mark) if rss_mark is not None else None,
                }
            except ClientGone as exc:
                rows[p.name] = {"failed": str(exc)}
            log(f"memory {p.name}: done")
        for p in self.clients + ([self.floor] if self.floor else []):
            rows.setdefault(p.name, {"failed": p.failed or "not run"})
        self.results["figures"]["memory"] = {"invocations": n, "mark": mark, "rows": rows}


def _safe(name: str) -> str:
    """``name`` with anything but letters, digits, ``-`` and ``_`` replaced by ``_`` (for file names)."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


def _kill(proc):
    try:
        proc.send_signal(signal.SIGKILL)
    except (ProcessLookupError, OSError):
        pass


def log(msg: str) -> None:
    """Progress line on stderr."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def build_floor(workdir: Path) -> tuple[str | None, str | None]:
    """Compiles benches/floor_client.c with ``$CC`` (default ``cc``) -O2; returns ``(path, error)``."""
    exe = workdir / "floor_client"
    cc = os.environ.get("CC", "cc")
    try:
        res = subprocess.run(
            [cc, "-O2", "-o", str(exe), str(HERE / "floor_client.c")],
            check=False,
            capture_output=True,
            text=True,
            timeout=120,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"{cc}: {exc}"
    if res.returncode != 0:
        return None, f"{cc} failed: {res.stderr.strip()[-300:]}"
    return str(exe), None


def find_ref_python() -> str | None:
    """``$FASTRIC_REF_PYTHON``, else the repository's ``.venv-ref``, else /work/main/.venv-ref."""
    env = os.environ.get("FASTRIC_REF_PYTHON")
    if env:
        return env
    for cand in REF_CANDIDATES:
        if cand.exists():
            return str(cand)
    return None


def make_participants(args) -> list[Participant]:
    """The clients named by ``--clients`` and the C floor (unless ``--no-floor``)."""
    ref_py = args.ref_python or find_ref_python()
    fastric_py = args.fastric_python or os.environ.get("FASTRIC_PYTHON") or sys.executable
    out = []
    for name in [c.strip() for c in args.clients.split(",") if c.strip()]:
        if name == "fastric":
            argv = shlex.split(args.fastric_cmd) if args.fastric_cmd else [fastric_py, "-m", "fastric"]
            p = Participant("fastric", argv, python=argv[0])
        elif name in ("awslambdaric", "awslambdaric-thread"):
            env = {"AWS_EXECUTION_ENV": THREAD_ENV} if name == "awslambdaric-thread" else {}
            p = Participant(
                name, [ref_py or "python-ref-not-found", "-m", "awslambdaric"], env, python=ref_py
            )
            if ref_py is None:
                p.failed = "preflight: no reference interpreter (set FASTRIC_REF_PYTHON)"
        else:
            raise SystemExit(f"unknown client {name!r}")
        if p.python and not Path(p.python).is_absolute():
            p.failed = f"preflight: interpreter path {p.python!r} is not absolute"
        elif p.python and not Path(p.python).exists():
            p.failed = p.failed or f"preflight: interpreter {p.python} not found"
        out.append(p)
    return out


def interpreter_info(py: str) -> str:
    """``sys.version`` and the implementation of interpreter ``py`` (one line), or the error."""
    try:
        res = subprocess.run(
            [
                py,
                "-c",
                "import sys, platform; print(platform.python_implementation(), sys.version.split()[0])",
            ],
            check=False,
            capture_output=True,
            text=True,
            timeout=30,
        )
        return res.stdout.strip() or res.stderr.strip()[-200:]
    except OSError as exc:
        return str(exc)


def module_version(py: str, module: str) -> str:
    """``importlib.metadata.version(module)`` in interpreter ``py``, or ``"not installed"``."""
    try:
        res = subprocess.run(
            [py, "-c", f"import importlib.metadata as m; print(m.version({module!r}))"],
            check=False,
            capture_output=True,
            text=True,
            timeout=30,
        )
        return res.stdout.strip() or "not installed"
    except OSError:
        return "not installed"


def machine_info(bench: Bench, participants) -> dict:
    """CPU model, core counts, OS, kernel, interpreters, git commit."""
    cpu = platform.machine()
    model = None
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    if model is None:
        try:
            res = subprocess.run(["lscpu"], check=False, capture_output=True, text=True, timeout=10)
            for line in res.stdout.splitlines():
                if line.startswith("Model name:"):
                    model = line.split(":", 1)[1].strip()
        except OSError:
            pass
    os_name = platform.platform()
    try:
        with open("/etc/os-release", encoding="utf-8") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    os_name = line.split("=", 1)[1].strip().strip('"') + f" (kernel {platform.release()})"
    except OSError:
        pass
    try:
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            check=False,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except OSError:
        commit = ""
    pythons = {}
    for p in participants:
        if p.python and p.python not in pythons:
            pythons[p.python] = interpreter_info(p.python)
    versions = {}
    for p in participants:
        if p.name == "fastric" and p.python:
            versions["fastric"] = module_version(p.python, "fastric")
        if p.name.startswith("awslambdaric") and p.python:
            versions["awslambdaric"] = module_version(p.python, "awslambdaric")
            versions["simplejson"] = module_version(p.python, "simplejson")
    return {
        "arch": cpu,
        "cpu_model": model or "unknown",
        "cpus_online": os.cpu_count(),
        "cpus_allowed": len(os.sched_getaffinity(0)) if bench.server_cpu is None else None,
        "os": os_name,
        "pythons": pythons,
        "versions": versions,
        "commit": commit,
        "pinning": bench.pinning,
        "server_wait": bench.server_wait,
    }


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--quick", action="store_true", help="tiny iteration counts (smoke test); timings are noise"
    )
    ap.add_argument("--out", default=str(ROOT / "docs/BENCHMARKS.md"), help="Markdown report path")
    ap.add_argument("--json", default=None, help="raw results path (default: benches/results/latest.json)")
    ap.add_argument(
        "--clients",
        default="fastric,awslambdaric,awslambdaric-thread",
        help="comma-separated: fastric, awslambdaric, awslambdaric-thread",
    )
    ap.add_argument("--fastric-python", help="fastric's interpreter (default $FASTRIC_PYTHON, else this one)")
    ap.add_argument("--fastric-cmd", help="override fastric's command prefix (e.g. to dry-run the column)")
    ap.add_argument(
        "--ref-python", help="awslambdaric's interpreter (default $FASTRIC_REF_PYTHON, .venv-ref)"
    )
    ap.add_argument(
        "--invocations", type=int, help="per-invoke invocations in total (default 20000; quick 400)"
    )
    ap.add_argument(
        "--cold-starts", type=int, help="spawns per client for the cold start (default 25; quick 3)"
    )
    ap.add_argument(
        "--figures",
        default="cold,invoke,payload,logging,memory,rie,sentry,stream,codec,emulators",
        help="subset of figures to run",
    )
    ap.add_argument(
        "--server-wait",
        choices=("spin", "block"),
        default="spin",
        help="how the Runtime API server waits for requests (spin needs pinning; default spin)",
    )
    ap.add_argument(
        "--aws-lambda-rie", help="an aws-lambda-rie binary to measure beside fastric-rie (figure 8)"
    )
    ap.add_argument("--no-floor", action="store_true", help="skip the C floor client")
    ap.add_argument("--no-pin", action="store_true", help="do not pin the server and clients to CPUs")
    ap.add_argument("--no-chart", action="store_true", help="do not draw the PNG chart")
    ap.add_argument("--workdir", default=str(HERE / "results"), help="scratch directory (floor binary, logs)")
    return ap.parse_args(argv)


def main(argv=None) -> int:
    """Runs the benchmark; see the module docstring."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    cfg = dict(QUICK if args.quick else FULL)
    if args.invocations:
        cfg["invocations"] = args.invocations
    if args.cold_starts:
        cfg["cold"] = args.cold_starts
    figures = {f.strip() for f in args.figures.split(",")}
    Path(args.workdir).mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    participants = make_participants(args)
    if not args.no_floor:
        exe, err = build_floor(Path(args.workdir))
        floor = Participant("c-floor", [exe or "floor_client"], kind="floor")
        floor.failed = f"preflight: {err}" if err else None
        participants.append(floor)
    bench = Bench(args, cfg, participants)
    command = "python benches/run.py " + " ".join(
        shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv)
    )
    bench.results.update(
        {
            "command": command.strip(),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "quick": args.quick,
            "config": cfg,
            "machine": machine_info(bench, participants),
            "participants": [
                {"name": p.name, "kind": p.kind, "argv": p.argv, "env": p.env, "python": p.python}
                for p in participants
            ],
        }
    )
    bench.preflight()
    steps = [
        ("cold", bench.cold_start),
        ("invoke", bench.per_invoke),
        ("payload", bench.payloads),
        ("logging", bench.logging),
        ("memory", bench.memory),
        ("rie", bench.emulator),
        ("sentry", lambda: sentry_invoke.figure(bench, Participant)),
        (
            "stream",
            lambda: bench.results["figures"].update(
                streaming=streaming_bench.run(streaming_bench.QUICK if args.quick else None, log)
            ),
        ),
        ("codec", bench.codec),
        (
            "emulators",
            lambda: bench.results["figures"].update(
                emulators=rie_emulators.figure(bench, args.aws_lambda_rie)
            ),
        ),
    ]
    for key, fn in steps:
        if key in figures:
            log(f"figure {key}")
            fn()
    bench.results["failed"] = {p.name: p.failed for p in participants if p.failed}
    bench.results["elapsed_s"] = time.monotonic() - started
    bench.server.close()
    out = Path(args.out)
    json_path = Path(args.json) if args.json else Path(args.workdir) / "latest.json"
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(report.strip_samples(bench.results), indent=1, default=str) + "\n")
    chart = None if args.no_chart else report.chart(bench.results, out.parent / (out.stem.lower() + ".png"))
    out.parent.mkdir(parents=True, exist_ok=True)
    # soak.keep_section: the Soak section `make soak` wrote stays in the regenerated file.
    text = (
        report.markdown(bench.results, chart)
        + sentry_invoke.markdown(bench.results)
        + streaming_bench.markdown(bench.results["figures"].get("streaming"))
    )
    out.write_text(soak.keep_section(out, text))
    log(f"wrote {out} and {json_path} in {bench.results['elapsed_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
