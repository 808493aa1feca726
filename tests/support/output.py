"""Collecting a child process's output lines while a test runs, and waiting for one of them."""

from __future__ import annotations

import re
import subprocess
import threading
import time


class OutputLines:
    """Reads ``proc``'s stdout and stderr (both ``PIPE``) on two daemon threads into ``stdout`` and
    ``stderr``, lists of decoded lines (``\\n`` kept), so that a full pipe never blocks the child."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self.readers = [
            threading.Thread(target=self._pump, args=(proc.stdout, self.stdout), daemon=True),
            threading.Thread(target=self._pump, args=(proc.stderr, self.stderr), daemon=True),
        ]
        for reader in self.readers:
            reader.start()

    @staticmethod
    def _pump(stream, sink: list[str]) -> None:
        for raw in iter(stream.readline, b""):
            sink.append(raw.decode("utf-8", "replace"))

    def wait_stderr(self, pattern: re.Pattern[str], timeout: float) -> re.Match[str] | None:
        """The first stderr line matching ``pattern``, waiting up to ``timeout`` s; None if the process
        exits or the time runs out first."""
        deadline = time.monotonic() + timeout
        while True:
            match = next((m for m in map(pattern.search, list(self.stderr)) if m), None)
            if match or self.proc.poll() is not None or time.monotonic() > deadline:
                return match
            time.sleep(0.01)
