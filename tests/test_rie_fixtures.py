"""Helpers shared by the fastric-rie tests: start the emulator on free ports and read its output.

The runtime under the emulator is a parameter: ``RUNTIMES`` maps a name to the command prefix
(the handler name is appended). fastric's own runtime (``python -m fastric``) is added here once
it exists.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REF_PYTHON
from support.output import OutputLines

RUNTIMES: dict[str, list[str]] = {}
if REF_PYTHON is not None:
    RUNTIMES["awslambdaric"] = [REF_PYTHON, "-m", "awslambdaric"]
if os.environ.get("FASTRIC_RIE_TEST_FASTRIC_RUNTIME"):
    RUNTIMES["fastric"] = [sys.executable, "-m", "fastric"]

LISTENING = re.compile(r"\[fastric-rie\] listening: invoke=(http://\S+) runtime-api=(\S+)")
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


class Rie:
    """A running ``python -m fastric.rie`` process; ``invoke_url`` and ``runtime_api`` are set."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None, cwd: str | Path | None = None):
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_LAMBDA_")}
        full_env.pop("_HANDLER", None)
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "fastric.rie",
                "--runtime-interface-emulator-address",
                "127.0.0.1:0",
                "--runtime-api-address",
                "127.0.0.1:0",
                *args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=full_env,
            cwd=cwd,
        )
        self.output = OutputLines(self.proc)
        self.stdout, self.stderr, self._readers = self.output.stdout, self.output.stderr, self.output.readers
        m = self.output.wait_stderr(LISTENING, timeout=20)
        if m is None:
            self.stop()
            raise AssertionError(f"fastric-rie did not start: {self.stderr}")
        self.invoke_url, self.runtime_api = m.group(1), m.group(2)
        self.base = f"http://{self.runtime_api}/2018-06-01"

    def wait_stdout(self, pattern: str, count: int = 1, timeout: float = 10.0) -> list[str]:
        """Wait until ``count`` stdout lines match ``pattern``; return the matching lines."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            found = [line for line in list(self.stdout) if rx.search(line)]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.01)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for t in self._readers:
            t.join(timeout=2)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream:
                stream.close()
        client = getattr(self, "client", None)
        if client is not None:
            client.close()
        return self.proc.returncode


@pytest.fixture
def rie_factory():
    started: list[Rie] = []

    def start(args: list[str], env: dict[str, str] | None = None, cwd: str | Path | None = None) -> Rie:
        rie = Rie(args, env, cwd)
        started.append(rie)
        return rie

    yield start
    for rie in started:
        rie.stop()


def pid_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


def wait_dead(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True
