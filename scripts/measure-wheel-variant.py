"""Per-invoke cost of one installed fastric build: run it with the venv that has the wheel installed.

Usage: ``VENV/bin/python scripts/measure-wheel-variant.py [--invokes N]``

Prints one line per measurement (µs, the best of 5 repeats, so that noise from other processes on a
shared machine counts as little as possible):

- ``json_loads``/``json_dumps`` of a small API Gateway event (``examples/events``) and of a ~1 MB
  event (the SQS sample with its record repeated);
- ``invoke``: wall time per invocation through ``fastric-rie`` (HTTP invoke → runtime → response)
  with an echo handler and a 300-byte event, over one keep-alive connection, N invocations (default
  2000) after 50 warm-up ones.

It was used to choose between an abi3 wheel and per-version wheels (docs/DEPLOY.md). It asserts
nothing about time; it is not a test.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path

from fastric import _fastric

ROOT = Path(__file__).resolve().parent.parent


def _best_us(stmt, number: int) -> float:
    return min(timeit.repeat(stmt, number=number, repeat=5)) / number * 1e6


def _json(small: bytes, big: bytes) -> None:
    for name, data, number in (("small", small, 20000), ("1MB", big, 20)):
        obj = _fastric.json_loads(data)
        print(
            f"json_loads {name} ({len(data)} B): {_best_us(lambda d=data: _fastric.json_loads(d), number):.2f} us"
        )
        print(f"json_dumps {name}: {_best_us(lambda o=obj: _fastric.json_dumps(o, True), number):.2f} us")


def _invoke_loop(invokes: int) -> None:
    with tempfile.TemporaryDirectory() as task:
        Path(task, "app.py").write_text("def handler(event, context):\n    return event\n")
        rie = Path(sys.executable).with_name("fastric-rie")
        env = dict(os.environ, LAMBDA_TASK_ROOT=task)
        proc = subprocess.Popen(
            [str(rie), "--runtime-interface-emulator-address", "127.0.0.1:0", "--runtime-api-address",
             "127.0.0.1:0", "--log-level", "error", sys.executable, "-m", "fastric", "app.handler"],
            cwd=task, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            assert proc.stderr is not None
            line = proc.stderr.readline().decode()
            port = int(re.search(r"invoke=http://127\.0\.0\.1:(\d+)/", line).group(1))
            conn = http.client.HTTPConnection("127.0.0.1", port)
            body = json.dumps({"key": "x" * 280}).encode()

            def one() -> None:
                conn.request("POST", "/2015-03-31/functions/function/invocations", body)
                resp = conn.getresponse()
                if resp.read() != body.replace(b'":"', b'": "'):
                    raise SystemExit("unexpected response")

            for _ in range(50):
                one()
            best = float("inf")
            for _ in range(5):
                start = time.perf_counter()
                for _ in range(invokes // 5):
                    one()
                best = min(best, (time.perf_counter() - start) / (invokes // 5) * 1e6)
            print(f"invoke via fastric-rie: {best:.1f} us")
        finally:
            proc.terminate()
            proc.wait(10)


def main() -> None:
    """Print the measurements for the interpreter running this script."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--invokes", type=int, default=2000)
    args = parser.parse_args()
    print(f"{_fastric.__file__} on Python {sys.version.split()[0]}")
    small = (ROOT / "examples/events/apigateway-aws-proxy.json").read_bytes()
    sqs = json.loads((ROOT / "examples/events/sqs-receive-message.json").read_bytes())
    record = sqs["Records"][0]
    sqs["Records"] = [dict(record, messageId=str(i)) for i in range(1_000_000 // len(json.dumps(record)))]
    _json(small, json.dumps(sqs).encode())
    _invoke_loop(args.invokes)


if __name__ == "__main__":
    main()
