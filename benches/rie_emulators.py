"""Figure 8: the emulators themselves, start-up, cold and warm (issue 14).

Measured in one run, each emulator spawned by absolute path on the client CPU:

- **spawn → listening**: the emulator process started until its invoke port accepts a TCP connection
  (polled every 100 µs), beside ``python -c pass`` of fastric's interpreter;
- **cold**: emulator spawn → the first invoke's answer (lazy init: no eager-init flag; the runtime
  starts on that invoke), echo handler, small event;
- **warm**: then, on the same keep-alive connection (a raw socket with ``TCP_NODELAY`` writing one
  pre-built request), ``rie_n`` invocations one after another; p50 of each round trip.

Rows: the native ``fastric-rie`` with fastric behind it, and, when ``--aws-lambda-rie PATH`` is given,
aws-lambda-rie with awslambdaric behind it (same-run ratios). Without it the ratios are against the
**reference figures** below, measured on another day, and labelled as such.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import stats

#: aws-lambda-rie v1.30 (built from its source) with awslambdaric 4.2.2 behind it, echo handler, lazy
#: init, raw keep-alive client with TCP_NODELAY; measured 2026-12-02 on the 2-core development VM.
REFERENCE = {
    "cold_ms": (44.4, 44.7),
    "warm_p50_us": (593.0, 627.0),
    "source": "aws-lambda-rie v1.30 + awslambdaric 4.2.2, measured 2026-12-02 on the 2-core development VM "
    "(issue 14), not in this run",
}
PATH = "/2015-03-31/functions/function/invocations"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def native_fastric_rie(python: str) -> list[str] | None:
    """The native ``fastric-rie`` installed beside ``python`` (an ELF file), else None."""
    path = Path(python).parent / "fastric-rie"
    try:
        with open(path, "rb") as f:
            return [str(path)] if f.read(4) == b"\x7fELF" else None
    except OSError:
        return None


class Emulator:
    """One emulator process on fixed free ports, and a raw keep-alive client."""

    def __init__(self, bench, argv: list[str], runtime: list[str], env: dict[str, str]):
        self.port, api = free_port(), free_port()
        full = [
            *argv,
            "--runtime-interface-emulator-address",
            f"127.0.0.1:{self.port}",
            "--runtime-api-address",
            f"127.0.0.1:{api}",
            *runtime,
        ]
        self.proc, self.t0 = bench.spawn(full, env, log_name="rie-" + Path(argv[0]).name)
        self.sock: socket.socket | None = None

    def wait_listening(self, timeout: float = 20.0) -> int:
        """Connects (polling every 100 µs); returns the ns from spawn to the accepted connection."""
        deadline = time.monotonic() + timeout
        while True:
            s = socket.socket()
            try:
                s.connect(("127.0.0.1", self.port))
            except OSError:
                s.close()
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{self.proc.args[0]} did not listen") from None
                time.sleep(0.0001)
                continue
            t = time.perf_counter_ns()
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sock = s
            return t - self.t0

    def invoke(self, request: bytes) -> bytes:
        """Sends one pre-built request; returns the body of a 200 answer (raises otherwise)."""
        assert self.sock is not None
        self.sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("connection closed")
            data += chunk
        head, body = data.split(b"\r\n\r\n", 1)
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(body) < length:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("connection closed")
            body += chunk
        if not head.startswith(b"HTTP/1.1 200") or b"x-amz-function-error" in head.lower():
            raise RuntimeError(f"invoke answered {head[:60]!r} {body[:100]!r}")
        return body

    def stop(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def measure(bench, argv, runtime, env, cold_n: int, warm_n: int, event: bytes) -> dict:
    request = (
        f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(event)}\r\n\r\n"
    ).encode() + event
    listening, cold, warm = [], [], []
    for i in range(cold_n):
        emu = Emulator(bench, argv, runtime, env)
        try:
            listening.append(emu.wait_listening() / 1e6)
            assert emu.invoke(request) == event
            cold.append((time.perf_counter_ns() - emu.t0) / 1e6)
            if i == cold_n - 1:
                for j in range(warm_n + max(10, warm_n // 10)):
                    t = time.perf_counter_ns()
                    emu.invoke(request)
                    if j >= max(10, warm_n // 10):
                        warm.append((time.perf_counter_ns() - t) / 1000)
        finally:
            emu.stop()
    return {
        "listening_ms": stats.summary(listening),
        "cold_ms": stats.summary(cold),
        "warm_us": stats.summary(warm),
    }


def python_pass_ms(bench, python: str, n: int) -> dict:
    samples = []
    for _ in range(n):
        proc, t0 = bench.spawn([python, "-c", "pass"], {"PATH": "/usr/bin:/bin"})
        proc.wait()
        samples.append((time.perf_counter_ns() - t0) / 1e6)
    return stats.summary(samples)


def figure(bench, aws_lambda_rie: str | None) -> dict:
    """Runs figure 8 (see the module docstring); returns its results."""
    import payloads

    cold_n, warm_n = max(3, bench.cfg["cold"]), bench.cfg["rie_n"]
    event = payloads.small_event()
    out: dict = {"reference": REFERENCE, "rows": {}, "cold_n": cold_n, "warm_n": warm_n}
    fastric = next((p for p in bench.live(bench.clients) if p.name == "fastric"), None)
    ref = next((p for p in bench.live(bench.clients) if p.name == "awslambdaric"), None)
    runs = []
    if fastric is not None:
        native = native_fastric_rie(fastric.python)
        argv = native or [fastric.python, "-m", "fastric.rie"]
        label = (
            "fastric-rie (native) + fastric" if native else "fastric-rie (python -m fastric.rie) + fastric"
        )
        runs.append((label, argv, fastric))
        out["python_pass_ms"] = python_pass_ms(bench, fastric.python, max(10, cold_n))
    if aws_lambda_rie and ref is not None:
        runs.append(("aws-lambda-rie + awslambdaric", [os.path.abspath(aws_lambda_rie)], ref))
    for label, argv, p in runs:
        env = {**bench.base_env("echo.handler"), **p.env, "AWS_LAMBDA_FUNCTION_TIMEOUT": "60"}
        env.pop("AWS_LAMBDA_RUNTIME_API", None)
        try:
            out["rows"][label] = measure(bench, argv, p.command("echo.handler"), env, cold_n, warm_n, event)
        except (RuntimeError, OSError, AssertionError) as exc:
            out["rows"][label] = {"failed": str(exc)}
    out["throughput"] = throughput(bench)
    return out


def _median(row: dict, key: str) -> float | None:
    return None if row.get("failed") else row[key]["median"]


def table(fig: dict) -> str:
    """The Markdown section of figure 8."""
    ref = fig["reference"]
    lines = [
        f"Each emulator spawned {fig['cold_n']} times (lazy init, echo handler, small event); warm: "
        f"{fig['warm_n']} invocations on one keep-alive raw socket with `TCP_NODELAY` after the last cold one. "
        "Medians (p90 for warm too).\n",
        "| emulator + runtime | spawn → listening (ms) | cold: spawn → first answer (ms) | warm p50 (µs) | warm p90 (µs) |",
        "|---|---|---|---|---|",
    ]
    for name, row in fig["rows"].items():
        if row.get("failed"):
            lines.append(f"| {name} | failed: {row['failed']} | — | — | — |")
            continue
        lines.append(
            f"| {name} | {row['listening_ms']['median']:.2f} | {row['cold_ms']['median']:.1f} | "
            f"{row['warm_us']['median']:.0f} | {row['warm_us']['p90']:.0f} |"
        )
    if fig.get("python_pass_ms"):
        lines.append(
            f"| `python -c pass` (fastric's interpreter) | {fig['python_pass_ms']['median']:.2f} | — | — | — |"
        )
    lines.append("")
    native = next(
        (r for n, r in fig["rows"].items() if n.startswith("fastric-rie") and not r.get("failed")), None
    )
    aws = fig["rows"].get("aws-lambda-rie + awslambdaric")
    if native and fig.get("python_pass_ms"):
        lines.append(
            f"- Same run: fastric-rie spawn → listening = "
            f"{native['listening_ms']['median'] / fig['python_pass_ms']['median']:.3f}× `python -c pass` "
            "(required ≤ 0.25×)."
        )
    if native and aws and not aws.get("failed"):
        lines.append(
            f"- Same run against aws-lambda-rie + awslambdaric: cold "
            f"{native['cold_ms']['median'] / aws['cold_ms']['median']:.2f}×, warm p50 "
            f"{native['warm_us']['median'] / aws['warm_us']['median']:.2f}×."
        )
    if native:
        lo, hi = ref["cold_ms"]
        wlo, whi = ref["warm_p50_us"]
        c, w = native["cold_ms"]["median"], native["warm_us"]["median"]
        lines.append(
            f"- Against the **reference figures** ({ref['source']}: cold {lo}–{hi} ms, warm p50 {wlo:.0f}–{whi:.0f} µs): "
            f"cold {c / hi:.2f}–{c / lo:.2f}× (required ≤ 0.8×), warm p50 {w / whi:.2f}–{w / wlo:.2f}× "
            "(required ≤ 0.2×, goal 0.15×). These are not same-run ratios."
        )
    text = "\n".join(lines) + "\n"
    if fig.get("throughput", {}).get("rows"):
        text += throughput_table(fig["throughput"])
    return text


def target_rows(fig: dict) -> list[list[str]]:
    """Rows for the targets table: same-run where aws-lambda-rie ran, else against the labelled reference."""
    rows = []
    native = next(
        (r for n, r in fig["rows"].items() if n.startswith("fastric-rie") and not r.get("failed")), None
    )
    if native is None:
        return rows
    if fig.get("python_pass_ms"):
        r = native["listening_ms"]["median"] / fig["python_pass_ms"]["median"]
        rows.append(
            [
                "fastric-rie spawn → listening vs `python -c pass` (same run)",
                "≤ 0.25×",
                f"{r:.3f}×",
                "met" if r <= 0.25 else "**not met**",
            ]
        )
    aws = fig["rows"].get("aws-lambda-rie + awslambdaric")
    for key, limit, what in (("cold_ms", 0.8, "cold"), ("warm_us", 0.2, "warm p50")):
        if aws and not aws.get("failed"):
            r = native[key]["median"] / aws[key]["median"]
            label = f"fastric-rie + fastric {what} vs aws-lambda-rie + awslambdaric (same run)"
        else:
            ref = fig["reference"]["cold_ms" if key == "cold_ms" else "warm_p50_us"]
            r = native[key]["median"] / ref[0]
            label = (
                f"fastric-rie + fastric {what} vs the reference figure {ref[0]:g}–{ref[1]:g} "
                f"({fig['reference']['source']})"
            )
        rows.append([label, f"≤ {limit}×", f"{r:.2f}×", "met" if r <= limit else "**not met**"])
    return rows


def throughput(bench, clients: int = 8, per_client: int | None = None) -> dict:
    """Invocations per second through the native fastric-rie with ``clients`` concurrent keep-alive
    clients (one thread each, echo handler), for ``--max-environments`` 1, 2 and 4, with fastric and
    awslambdaric behind it. Each configuration starts warm: one invoke per environment first."""
    import threading

    import payloads

    per_client = per_client or max(20, bench.cfg["rie_n"] // 10)
    event = payloads.small_event()
    request = (
        f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(event)}\r\n\r\n"
    ).encode() + event
    out: dict = {"clients": clients, "per_client": per_client, "rows": {}}
    runtimes = [p for p in bench.live(bench.clients) if p.name in ("fastric", "awslambdaric")]
    fastric = next((p for p in runtimes if p.name == "fastric"), None)
    native = native_fastric_rie(fastric.python) if fastric else None
    if native is None:
        return out
    for p in runtimes:
        for n in (1, 2, 4):
            env = {**bench.base_env("echo.handler"), **p.env, "AWS_LAMBDA_FUNCTION_TIMEOUT": "60"}
            env.pop("AWS_LAMBDA_RUNTIME_API", None)
            argv = [*native, "--max-environments", str(n)]
            emu = Emulator(bench, argv, p.command("echo.handler"), env)
            label = f"{p.name}, --max-environments {n}"
            cpus = {c for c in (bench.server_cpu, bench.client_cpu) if c is not None}
            if cpus:
                # Parallel environments need both CPUs: the emulator (and the runtimes it forks) unpinned.
                os.sched_setaffinity(emu.proc.pid, cpus)
            try:
                emu.wait_listening()
                emu.sock.close()
                socks = []
                for _ in range(clients):
                    s = socket.create_connection(("127.0.0.1", emu.port), timeout=60)
                    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    socks.append(s)
                errors = []

                def run(sock, count, errors=errors):
                    worker = Emulator.__new__(Emulator)
                    worker.sock = sock
                    try:
                        for _ in range(count):
                            worker.invoke(request)
                    except (RuntimeError, OSError) as exc:
                        errors.append(str(exc))

                warm = [threading.Thread(target=run, args=(s, 1)) for s in socks]
                for t in warm:
                    t.start()
                for t in warm:
                    t.join()
                t0 = time.perf_counter()
                threads = [threading.Thread(target=run, args=(s, per_client)) for s in socks]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                elapsed = time.perf_counter() - t0
                for s in socks:
                    s.close()
                out["rows"][label] = (
                    {"failed": errors[0]} if errors else {"invocations_per_s": clients * per_client / elapsed}
                )
            except (RuntimeError, OSError) as exc:
                out["rows"][label] = {"failed": str(exc)}
            finally:
                emu.sock = None
                emu.stop()
    return out


def throughput_table(fig: dict) -> str:
    """The Markdown lines of the throughput measurement."""
    lines = [
        f"\nThroughput through the native fastric-rie: {fig['clients']} concurrent keep-alive clients, "
        f"{fig['per_client']} echo invocations each, after one warm-up invocation each.\n",
        "| runtime, environments | invocations/s |",
        "|---|---|",
    ]
    for name, row in fig["rows"].items():
        value = f"failed: {row['failed']}" if row.get("failed") else f"{row['invocations_per_s']:.0f}"
        lines.append(f"| {name} | {value} |")
    return "\n".join(lines) + "\n"
