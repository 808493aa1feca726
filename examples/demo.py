"""README's first command: serve examples/app.py with fastric's built-in emulator and invoke it once
per sample event in examples/events/, printing each response.

Run with `make demo`, or `python examples/demo.py` inside the venv. Exits 0 when every invocation
answered 200 without `X-Amz-Function-Error`, 1 otherwise.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent
LISTENING = re.compile(r"listening: invoke=(\S+) runtime-api=(\S+)")


def start_emulator() -> tuple[subprocess.Popen[bytes], str]:
    """Starts `fastric-rie` on free loopback ports; returns the process and the invoke URL."""
    command = [
        sys.executable,
        "-m",
        "fastric.rie",
        "--runtime-interface-emulator-address",
        "127.0.0.1:0",
        "--runtime-api-address",
        "127.0.0.1:0",
        "--eager-init",
        sys.executable,
        "-m",
        "fastric",
        "app.handler",
    ]
    emulator = subprocess.Popen(
        command, cwd=EXAMPLES, stderr=subprocess.PIPE, env={**os.environ, "AWS_LAMBDA_FUNCTION_NAME": "demo"}
    )
    assert emulator.stderr is not None
    for raw in emulator.stderr:
        line = raw.decode(errors="replace")
        sys.stderr.write(line)
        match = LISTENING.search(line)
        if match:
            # Keep relaying the emulator's stderr so a chatty runtime never fills the pipe.
            threading.Thread(target=_relay, args=(emulator.stderr,), daemon=True).start()
            return emulator, match.group(1)
    raise SystemExit(f"fastric-rie exited before listening (status {emulator.wait()})")


def _relay(stream) -> None:
    for raw in stream:
        sys.stderr.write(raw.decode(errors="replace"))


def main() -> int:
    emulator, invoke_url = start_emulator()
    failures = 0
    try:
        for event_file in sorted((EXAMPLES / "events").glob("*.json")):
            request = urllib.request.Request(invoke_url, data=event_file.read_bytes(), method="POST")
            with urllib.request.urlopen(request, timeout=30) as response:
                body = response.read().decode()
                failed = response.status != 200 or response.headers.get("X-Amz-Function-Error")
            failures += bool(failed)
            print(f"{event_file.name}: {body}", flush=True)
    finally:
        emulator.send_signal(signal.SIGTERM)
        emulator.wait(timeout=10)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
