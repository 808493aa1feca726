"""Response streaming through fastric-rie: time to first byte, throughput and per-chunk cost.

The runtime is fastric (``python -m fastric``) behind ``fastric-rie`` in both cases; what differs is the
path: the classic buffered ``Invoke`` endpoint with a handler returning the whole body, against
``InvokeWithResponseStream`` with a ``@fastric.response_stream`` handler yielding the same bytes in
64 KiB chunks. Time to first byte is from sending the request to receiving the first body bytes of the
answer (for the buffered path that is the whole response: nothing arrives earlier). Throughput is body
bytes over the time to the last byte. Per-chunk cost is (10,000 one-byte chunks − one one-byte chunk) /
9,999. Bandwidth shaping is off (the default). Run alone: ``python benches/streaming_bench.py [--quick]``;
``benches/run.py`` runs it as the ``stream`` figure.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
HANDLERS = HERE / "handlers"
STREAM_PATH = "/2021-11-15/functions/function/response-streaming-invocations"
INVOKE_PATH = "/2015-03-31/functions/function/invocations"
CHUNK = 64 * 1024

FULL = {"rounds": 30, "mb": 4, "big_mb": 50, "tiny_rounds": 5}
QUICK = {"rounds": 3, "mb": 1, "big_mb": 4, "tiny_rounds": 1}


class Emulator:
    """``fastric-rie -- python -m fastric HANDLER`` on a free port, eager init."""

    def __init__(self, handler: str, python: str = sys.executable) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_LAMBDA_")}
        env["AWS_LAMBDA_FUNCTION_TIMEOUT"] = "120"
        argv = [python, "-m", "fastric.rie", "--runtime-interface-emulator-address", "127.0.0.1:0"]
        argv += [
            "--runtime-api-address",
            "127.0.0.1:0",
            "--eager-init",
            "--",
            python,
            "-m",
            "fastric",
            handler,
        ]
        self.proc = subprocess.Popen(
            argv,
            cwd=HANDLERS,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for raw in self.proc.stderr:
            m = re.search(rb"listening: invoke=http://127\.0\.0\.1:(\d+)/", raw)
            if m:
                self.port = int(m.group(1))
                break
        else:
            raise RuntimeError("fastric-rie did not start")
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)

    def timed(self, path: str, event: dict) -> tuple[float, float, int]:
        """``(seconds to the first body bytes, seconds to the last, body bytes)`` for one invoke."""
        body = json.dumps(event).encode()
        t0 = time.perf_counter()
        self.conn.request("POST", path, body=body)
        resp = self.conn.getresponse()
        first = resp.read1(1 << 20)
        t_first = time.perf_counter()
        total = len(first)
        while True:
            data = resp.read1(1 << 20)
            if not data:
                break
            total += len(data)
        t_last = time.perf_counter()
        resp.read()  # finishes the response so the connection can be reused
        if resp.status != 200 or resp.getheader("X-Amz-Function-Error"):
            raise RuntimeError(f"invoke answered {resp.status}")
        return t_first - t0, t_last - t0, total

    def close(self) -> None:
        self.conn.close()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def run(cfg: dict | None = None, log=print) -> dict:
    """Measures and returns the figures (times in ms, throughput in MB/s, per-chunk cost in µs)."""
    cfg = cfg or FULL
    count = cfg["mb"] * 1024 * 1024 // CHUNK
    event = {"size": CHUNK, "count": count}
    out: dict = {"mb": cfg["mb"], "chunk_bytes": CHUNK, "rounds": cfg["rounds"]}
    rows = {}
    for name, handler, path in (
        ("buffered", "stream_bench.buffered", INVOKE_PATH),
        ("streamed", "stream_bench.streamed", STREAM_PATH),
    ):
        emu = Emulator(handler)
        try:
            emu.timed(path, event)  # warm
            samples = [emu.timed(path, event) for _ in range(cfg["rounds"])]
        finally:
            emu.close()
        ttfb = _median([s[0] for s in samples])
        last = _median([s[1] for s in samples])
        rows[name] = {
            "ttfb_ms": ttfb * 1e3,
            "total_ms": last * 1e3,
            "mb_per_s": samples[0][2] / 1e6 / last,
        }
        log(f"stream: {name} ok")
    rows["streamed"]["ttfb_ratio_vs_buffered"] = rows["streamed"]["ttfb_ms"] / rows["buffered"]["ttfb_ms"]
    rows["streamed"]["throughput_ratio_vs_buffered"] = (
        rows["streamed"]["mb_per_s"] / rows["buffered"]["mb_per_s"]
    )
    out["rows"] = rows
    emu = Emulator("stream_bench.streamed")
    try:
        big = {"size": CHUNK, "count": cfg["big_mb"] * 1024 * 1024 // CHUNK}
        _, last, total = emu.timed(STREAM_PATH, big)
        out["big"] = {"mb": cfg["big_mb"], "mb_per_s": total / 1e6 / last}
        one, many = [], []
        for _ in range(cfg["tiny_rounds"]):
            one.append(emu.timed(STREAM_PATH, {"size": 1, "count": 1})[1])
            many.append(emu.timed(STREAM_PATH, {"size": 1, "count": 10_000})[1])
        out["per_chunk_us"] = (_median(many) - _median(one)) / 9_999 * 1e6
    finally:
        emu.close()
    log("stream: big stream and per-chunk cost ok")
    return out


def markdown(figure: dict | None) -> str:
    """The ``## Response streaming`` section of docs/BENCHMARKS.md ("" when the figure was not run)."""
    if not figure:
        return ""
    rows = figure["rows"]
    lines = [
        "\n## Response streaming (fastric behind fastric-rie)\n",
        f"{figure['mb']} MB response; streamed in {figure['chunk_bytes'] // 1024} KiB chunks through "
        "`InvokeWithResponseStream`, buffered as one result through `Invoke`; medians of "
        f"{figure['rounds']} invokes. Module: `benches/streaming_bench.py`.\n",
        "| path | time to first byte (ms) | time to last byte (ms) | throughput (MB/s) |",
        "|---|---|---|---|",
    ]
    for name in ("buffered", "streamed"):
        r = rows[name]
        lines.append(f"| {name} | {r['ttfb_ms']:.2f} | {r['total_ms']:.2f} | {r['mb_per_s']:.0f} |")
    s = rows["streamed"]
    lines.append(
        f"\nStreamed/buffered: time to first byte ×{s['ttfb_ratio_vs_buffered']:.3f}, throughput "
        f"×{s['throughput_ratio_vs_buffered']:.2f}. A {figure['big']['mb']} MB stream: "
        f"{figure['big']['mb_per_s']:.0f} MB/s. Per-chunk cost (1-byte chunks): {figure['per_chunk_us']:.1f} µs.\n"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    result = run(QUICK if "--quick" in sys.argv else FULL)
    print(json.dumps(result, indent=1))
    print(markdown(result))
