#!/usr/bin/env python3
"""Soak: a long-lived execution environment, fastric and awslambdaric side by side (``make soak``).

    python benches/soak.py [--invocations 1000000] [--mix 10000] [--clients fastric,awslambdaric]
                           [--out docs/BENCHMARKS.md] [--json benches/results/soak.json]

Phase 1: ``--invocations`` invocations of a small event, each ``/next`` carrying what Lambda sends on
a busy function: a unique ``Lambda-Runtime-Trace-Id``, a client context (mobile SDK shape, unique
values), a Cognito identity and a tenant id, all different on every invocation. Phase 2, in the same
process: ``--mix`` invocations of a mix of events (90% 1 KB, 9% 100 KB, 1% 1 MB, echoed back) whose
handler logs one line per invocation. VmRSS, open file descriptors and threads of the client are
sampled over time (every ``--sample-every`` invocations, read from ``/proc`` between invocations).

The report is the "Soak" section of ``docs/BENCHMARKS.md`` (between the ``<!-- soak -->`` markers;
``benches/run.py`` keeps the section when it regenerates the rest of the file). Not part of
``benches/run.py``'s budget: 10^6 invocations take several minutes per client.

Units: kB (VmRSS as /proc reports it), invocations, seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import payloads  # noqa: E402
from server import ACCEPTED, ClientGone, Connection  # noqa: E402

BEGIN, END = "<!-- soak -->", "<!-- /soak -->"
HANDLERS = HERE / "handlers"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:soak"
SMALL_EVENT = b'{"key1": "value1", "key2": "value2", "key3": "value3"}'


def headers_for(i: int) -> bytes:
    """The per-invocation ``Lambda-Runtime-*`` headers of invocation ``i``: every value unique."""
    trace = f"Root=1-{0x65000000 + i // 1000:08x}-{i:024x};Parent={i * 7919:016x};Sampled=1;Lineage=a87bd80c:{i % 10}"
    client_context = json.dumps(
        {
            "client": {
                "installation_id": f"{i:08x}-8a4b-4c1d-9e2f-3a4b5c6d7e8f",
                "app_title": "Soak",
                "app_version_name": f"1.{i % 97}",
                "app_version_code": str(i),
                "app_package_name": "com.example.soak",
            },
            "custom": {"session": f"s-{i}", "cart": [i, i + 1]},
            "env": {"platform": "Android", "model": "Pixel", "make": "Google", "locale": "en_US"},
        },
        separators=(",", ":"),
    )
    cognito = json.dumps(
        {
            "cognitoIdentityId": f"us-east-1:{i:08x}-aaaa-bbbb-cccc-dddddddddddd",
            "cognitoIdentityPoolId": "us-east-1:pool",
        }
    )
    return (
        f"Lambda-Runtime-Trace-Id: {trace}\r\n"
        f"Lambda-Runtime-Client-Context: {client_context}\r\n"
        f"Lambda-Runtime-Cognito-Identity: {cognito}\r\n"
        f"Lambda-Runtime-Aws-Tenant-Id: tenant-{i}\r\n"
    ).encode()


def proc_sample(pid: int) -> dict:
    """VmRSS (kB), Threads and the number of open file descriptors of ``pid``."""
    out = {}
    with open(f"/proc/{pid}/status", "rb") as f:
        for line in f:
            if line.startswith((b"VmRSS:", b"Threads:")):
                key, value = line.split(b":")
                out[key.decode()] = int(value.split()[0])
    out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    return out


class Soak:
    """One client process served over one keep-alive connection by a minimal Runtime API.

    Args:
        argv: the client command (handler appended by the caller).
        env: the complete environment of the client (``AWS_LAMBDA_RUNTIME_API`` is added).
        timeout_s: how long to wait for the client to (re)connect.
    """

    def __init__(self, argv: list[str], env: dict[str, str], timeout_s: float = 60.0) -> None:
        import socket

        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.listener.settimeout(timeout_s)
        address = f"127.0.0.1:{self.listener.getsockname()[1]}"
        self.proc = subprocess.Popen(
            argv,
            env={**env, "AWS_LAMBDA_RUNTIME_API": address},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=env.get("LAMBDA_TASK_ROOT"),
        )
        self.conn: Connection | None = None
        self.seq = 0
        self.deadline = int(time.time() * 1000) + 86_400_000

    def _request(self) -> tuple[bytes, bytes]:
        while True:
            if self.conn is None:
                sock, _ = self.listener.accept()
                sock.settimeout(None)
                self.conn = Connection(sock)
            try:
                first, _headers, body, _t = self.conn.read_request()
                return first, body
            except ClientGone:
                self.conn.close()
                self.conn = None
                if self.proc.poll() is not None:
                    raise

    def invoke(self, event: bytes) -> bytes:
        """Serves one invocation of ``event`` (waiting for the client's ``/next`` first); returns the result."""
        while True:
            first, _ = self._request()
            if b"/invocation/next" in first:
                break
            raise ClientGone(f"unexpected request {first!r}")
        self.seq += 1
        rid = f"5a0c6b1e-0000-4000-8000-{self.seq:012d}"
        head = (
            f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: {rid}\r\n"
            f"Lambda-Runtime-Deadline-Ms: {self.deadline}\r\nLambda-Runtime-Invoked-Function-Arn: {FUNCTION_ARN}\r\n"
        ).encode() + headers_for(self.seq)
        self.conn.send(head + b"Content-Length: %d\r\n\r\n" % len(event), event)
        first, body = self._request()
        self.conn.send(ACCEPTED)
        if rid.encode() not in first or not first.split(b" ")[1].endswith(b"/response"):
            raise ClientGone(f"unexpected result {first!r}: {body[:200]!r}")
        return body

    def close(self) -> None:
        """Kills the client and closes the sockets."""
        self.proc.kill()
        self.proc.wait()
        if self.conn is not None:
            self.conn.close()
        self.listener.close()


def client_env(handler: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The minimal Lambda-like environment (as benches/run.py gives every client)."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "AWS_LAMBDA_FUNCTION_NAME": "soak",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/soak",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]soak",
        "AWS_REGION": "us-east-1",
        "LAMBDA_TASK_ROOT": str(HANDLERS),
        "_HANDLER": handler,
        **(extra or {}),
    }


def mix_event(i: int, sized: dict[str, bytes]) -> bytes:
    """Invocation ``i`` of the mix: 1% 1 MB, 9% 100 KB, 90% 1 KB."""
    r = i % 100
    return sized["1MB"] if r == 0 else sized["100KB"] if r <= 9 else sized["1KB"]


def run_client(argv: list[str], n: int, mix: int, sample_every: int, marks: tuple[int, ...]) -> dict:
    """Phase 1 (``n`` small invocations) then phase 2 (``mix`` mixed, logging) in one process."""
    soak = Soak([*argv, "soak_handler.handler"], client_env("soak_handler.handler"))
    samples: list[dict] = []
    at: dict[int, dict] = {}
    sized = {name: payloads.sized_event(name) for name in ("1KB", "100KB", "1MB")}
    t0 = time.monotonic()
    try:
        for i in range(1, n + mix + 1):
            event = SMALL_EVENT if i <= n else mix_event(i - n, sized)
            soak.invoke(event)
            if i % sample_every == 0 or i in marks or i == n or i == n + mix:
                sample = {"i": i, "t": round(time.monotonic() - t0, 2), **proc_sample(soak.proc.pid)}
                if i % sample_every == 0 or i == n + mix:
                    samples.append(sample)
                at[i] = sample
    finally:
        soak.close()
    return {"samples": samples, "at": at, "seconds": round(time.monotonic() - t0, 1)}


def section(results: dict) -> str:
    """The Markdown "Soak" section for ``results`` (the JSON this script writes)."""
    n, mix = results["invocations"], results["mix"]
    lines = [
        BEGIN,
        "## Soak: a long-lived execution environment (`make soak`)\n",
        f"One process per client serves {n:,} invocations of a small event, every `/next` carrying a unique "
        "trace id, client context, Cognito identity and tenant id (as a busy function sees them), then "
        f"{mix:,} invocations of a mix (90% 1 KB, 9% 100 KB, 1% 1 MB, echoed) whose handler logs one line "
        "each. VmRSS (kB), open fds and threads are read from `/proc` between invocations. "
        f"Run {results['date']} on {results['machine']}; default arena-cache setting "
        "(`FASTRIC_ARENA_CACHE_MB` unset).\n",
        "| client | VmRSS @10^4 | VmRSS @"
        + f"{n:,}"
        + " | growth | growth per invocation | VmRSS after the mix | "
        "fds (min–max) | threads (min–max) | wall time |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, row in results["clients"].items():
        if "failed" in row:
            lines.append(f"| {name} | failed: {row['failed']} | | | | | | | |")
            continue
        at = {int(k): v for k, v in row["at"].items()}
        mark = min(10_000, n)
        a, b, end = at[mark]["VmRSS"], at[n]["VmRSS"], at[n + mix]["VmRSS"]
        fds = [s["fds"] for s in row["samples"]]
        threads = [s["Threads"] for s in row["samples"]]
        per = (b - a) * 1024 / max(n - mark, 1)
        lines.append(
            f"| {name} | {a:,} kB | {b:,} kB | {b - a:+,} kB | {per:.1f} B | {end:,} kB | "
            f"{min(fds)}–{max(fds)} | {min(threads)}–{max(threads)} | {row['seconds']:.0f} s |"
        )
    lines.append("")
    lines.append(
        "Samples (invocation: VmRSS kB / fds / threads), every "
        f"{results['sample_every']:,} invocations (the whole series: `benches/results/soak.json` after a run). "
        "The step after the mix is the 1 MB events' working set (event and result buffers kept for reuse, "
        "pymalloc arenas), not growth: it is reached within the first 1 MB invocations and stays.\n"
    )
    for name, row in results["clients"].items():
        if "failed" in row:
            continue
        picks = row["samples"][:: max(1, len(row["samples"]) // 10)]
        if picks[-1] is not row["samples"][-1]:
            picks.append(row["samples"][-1])
        series = ", ".join(f"{s['i']:,}: {s['VmRSS']:,}/{s['fds']}/{s['Threads']}" for s in picks)
        lines.append(f"- {name}: {series}")
    lines.append(END)
    return "\n".join(lines) + "\n"


def keep_section(path: Path, text: str) -> str:
    """``text`` (a freshly generated BENCHMARKS.md) with the soak section of the file at ``path``
    appended when it has one (``benches/run.py`` calls this, so a full run keeps the soak figures)."""
    try:
        old = path.read_text(encoding="utf-8")
    except OSError:
        return text
    start, end = old.find(BEGIN), old.find(END)
    if start < 0 or end < start or BEGIN in text:
        return text
    return text.rstrip("\n") + "\n\n" + old[start : end + len(END)] + "\n"


def write_section(path: Path, block: str) -> None:
    """Replaces (or appends) the soak section of ``path``."""
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    start, end = old.find(BEGIN), old.find(END)
    if start >= 0 and end > start:
        new = old[:start] + block.rstrip("\n") + old[end + len(END) :]
    else:
        new = old.rstrip("\n") + "\n\n" + block
    path.write_text(new, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--invocations", type=int, default=1_000_000)
    ap.add_argument("--mix", type=int, default=10_000)
    ap.add_argument("--sample-every", type=int, default=10_000)
    ap.add_argument("--clients", default="fastric,awslambdaric")
    ap.add_argument("--fastric-python", default=sys.executable)
    ap.add_argument(
        "--ref-python", default=os.environ.get("FASTRIC_REF_PYTHON", str(ROOT / ".venv-ref/bin/python"))
    )
    ap.add_argument("--out", type=Path, default=ROOT / "docs/BENCHMARKS.md")
    ap.add_argument("--json", type=Path, default=HERE / "results/soak.json")
    args = ap.parse_args()
    commands = {
        "fastric": [args.fastric_python, "-m", "fastric"],
        "awslambdaric": [args.ref_python, "-m", "awslambdaric"],
    }
    results = {
        "invocations": args.invocations,
        "mix": args.mix,
        "sample_every": args.sample_every,
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{os.cpu_count()} CPUs, {os.uname().machine}, Linux {os.uname().release}",
        "clients": {},
    }
    for name in [c.strip() for c in args.clients.split(",") if c.strip()]:
        print(f"[soak] {name}: {args.invocations:,} + {args.mix:,} invocations", file=sys.stderr, flush=True)
        try:
            results["clients"][name] = run_client(
                commands[name],
                args.invocations,
                args.mix,
                args.sample_every,
                (min(10_000, args.invocations),),
            )
        except (ClientGone, OSError) as exc:
            results["clients"][name] = {"failed": str(exc)[:300]}
        print(f"[soak] {name}: done", file=sys.stderr, flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1) + "\n")
    block = section(results)
    write_section(args.out, block)
    print(block)


if __name__ == "__main__":
    main()
