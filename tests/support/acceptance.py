"""Support for the library acceptance suite (``tests/test_acceptance_libraries.py``).

- :func:`venvs`: the two venvs with ``tests/acceptance/requirements.txt`` (one also with
  ``constraints-ref.txt``: awslambdaric 4.2.2 and simplejson), cached in
  ``~/.cache/fastric/acceptance-<hash>`` keyed by the hash of both pin files and the Python version;
  built once (a lock file serialises concurrent builders; a ``.complete`` stamp marks a usable venv).
  fastric is not installed into its venv: the runtime under test is put on ``PYTHONPATH`` through a
  directory holding only a ``fastric`` link to the package this test session imports.
- :class:`SentryServer`: a loopback HTTP server that accepts Sentry envelopes (``POST
  /api/<project>/envelope/``, gzip/deflate/brotli bodies) and keeps every item as ``(type, payload)``.
- :class:`UdpListener`: a loopback UDP socket keeping X-Ray daemon datagrams.
"""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
REQUIREMENTS = REPO / "tests" / "acceptance" / "requirements.txt"
REF_CONSTRAINTS = REPO / "constraints-ref.txt"


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    digest = hashlib.sha256()
    for path in (REQUIREMENTS, REF_CONSTRAINTS):
        digest.update(path.read_bytes())
    digest.update(sys.version.encode())
    return Path(base) / "fastric" / f"acceptance-{digest.hexdigest()[:16]}"


def _base_python() -> str:
    return getattr(sys, "_base_executable", None) or sys.executable


def _build(target: Path, requirement_files: list[Path]) -> None:
    stamp = target / ".complete"
    if stamp.exists():
        return
    shutil.rmtree(target, ignore_errors=True)
    subprocess.run([_base_python(), "-m", "venv", str(target)], check=True)
    args = [str(target / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    for req in requirement_files:
        args += ["-r", str(req)]
    subprocess.run(args, check=True)
    stamp.write_text("ok\n")


def venvs() -> dict[str, Path]:
    """``{"fastric": <venv>, "awslambdaric": <venv>}``, built on first use (about a minute cold)."""
    root = _cache_root()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _build(root / "fastric", [REQUIREMENTS])
        _build(root / "awslambdaric", [REQUIREMENTS, REF_CONSTRAINTS])
    return {"fastric": root / "fastric", "awslambdaric": root / "awslambdaric"}


def fastric_path_dir(tmp: Path) -> Path:
    """A directory holding only a ``fastric`` link to the package this session imports."""
    import fastric

    target = tmp / "fastric-only"
    target.mkdir(exist_ok=True)
    link = target / "fastric"
    if not link.exists():
        link.symlink_to(Path(fastric.__file__).resolve().parent)
    return target


class SentryServer:
    """Loopback Sentry ingestion endpoint; :attr:`items` are ``(item type, parsed payload)`` in arrival
    order (JSON payloads parsed, others kept as bytes). :attr:`dsn` is the DSN to give the SDK."""

    def __init__(self) -> None:
        self.items: list[tuple[str, object]] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                encoding = self.headers.get("Content-Encoding", "")
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                elif encoding == "br":
                    import brotli  # type: ignore[import-not-found]

                    body = brotli.decompress(body)
                outer._add(body)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.dsn = f"http://public@127.0.0.1:{self._server.server_address[1]}/1"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _add(self, body: bytes) -> None:
        lines = body.split(b"\n")
        i = 1  # envelope header first
        items = []
        while i < len(lines):
            if not lines[i].strip():
                i += 1
                continue
            header = json.loads(lines[i])
            payload = lines[i + 1] if i + 1 < len(lines) else b""
            i += 2
            try:
                items.append((header.get("type", ""), json.loads(payload)))
            except ValueError:
                items.append((header.get("type", ""), payload))
        with self._lock:
            self.items.extend(items)

    def take(self) -> list[tuple[str, object]]:
        with self._lock:
            items, self.items = self.items, []
        return items

    def __enter__(self) -> SentryServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class UdpListener:
    """Loopback UDP socket (the X-Ray daemon's address); :meth:`take` returns the datagrams so far."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self.address = "127.0.0.1:%d" % self._sock.getsockname()[1]
        self._data: list[bytes] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while True:
            try:
                data = self._sock.recv(65536)
            except OSError:
                return
            with self._lock:
                self._data.append(data)

    def take(self) -> list[bytes]:
        with self._lock:
            data, self._data = self._data, []
        return data

    def __enter__(self) -> UdpListener:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._sock.close()
