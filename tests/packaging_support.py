"""Helpers for the packaging tests (``tests/test_packaging_*.py``).

- :func:`built_wheel` finds the wheel for this interpreter that ``make wheel`` built in this run
  (newer than every source file), else ``pytest.skip`` with the reason.
- :class:`Emulator` starts a ``fastric-rie`` command on free loopback ports with a runtime command and
  an environment, and invokes it.
- :func:`base_python` is this machine's interpreter *without* fastric installed (the venv's base), so
  that a test sees only the fastric copy it put in place.
"""

from __future__ import annotations

import http.client
import os
import re
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from support.output import OutputLines

ROOT = Path(__file__).resolve().parent.parent
LISTENING = re.compile(r"\[fastric-rie\] listening: invoke=http://([0-9.]+):(\d+)(/\S+) runtime-api=(\S+)")
INVOKE_PATH = "/2015-03-31/functions/function/invocations"
#: podman reads the repository's containers.conf (runc as the runtime, no default ulimits): through
#: CONTAINERS_CONF in podman 4.3 (Debian 12), CONTAINERS_CONF_OVERRIDE in later versions.
PODMAN_ENV = {
    name: str(ROOT / "docker/containers.conf") for name in ("CONTAINERS_CONF", "CONTAINERS_CONF_OVERRIDE")
}
SOURCES = ("Cargo.toml", "Cargo.lock", "pyproject.toml", "rust", "python/fastric")


def base_python() -> str:
    """Path of the interpreter this venv was made from (same version; fastric not installed there)."""
    base = getattr(sys, "_base_executable", None) or sys.executable
    name = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    candidate = Path(base).with_name(name)
    return str(candidate if candidate.exists() else base)


def newest_source_mtime() -> float:
    """The newest modification time (epoch seconds) of the files a wheel or sdist is built from."""
    newest = 0.0
    for name in SOURCES:
        path = ROOT / name
        paths = (
            [path] if path.is_file() else [p for p in path.rglob("*") if p.suffix in {".rs", ".py", ".pyi"}]
        )
        newest = max([newest, *(p.stat().st_mtime for p in paths)])
    return newest


def built_wheel(arch: str | None = None, tag: str | None = None) -> Path:
    """The manylinux wheel for this interpreter (or CPython ``tag``, e.g. ``cp314``) in
    ``$FASTRIC_WHEEL_DIR`` (default ``dist/``).

    Skips the test when there is none, or when it is older than a source file (not built in this run).
    """
    arch = arch or os.uname().machine
    tag = tag or "cp%d%d" % sys.version_info[:2]
    wheel_dir = Path(os.environ.get("FASTRIC_WHEEL_DIR", ROOT / "dist"))
    wheels = sorted(
        wheel_dir.glob(f"fastric-*-{tag}-{tag}-manylinux*_{arch}.whl"), key=lambda p: p.stat().st_mtime
    )
    if not wheels:
        pytest.skip(
            f"no {tag} {arch} wheel in {wheel_dir}: run `make wheel` first (`make test-wheels` for every version)"
        )
    wheel = wheels[-1]
    if wheel.stat().st_mtime < newest_source_mtime():
        pytest.skip(f"{wheel.name} is older than the sources (not built in this run): run `make wheel`")
    return wheel


def extract_with_modes(archive: Path, dest: Path) -> None:
    """Unzip ``archive`` into ``dest`` keeping the Unix permission bits, as Lambda does for layers."""
    with zipfile.ZipFile(archive) as z:
        for info in z.infolist():
            z.extract(info, dest)
            mode = info.external_attr >> 16 & 0o777
            if mode:
                os.chmod(dest / info.filename, mode)


def clean_env(**extra: str) -> dict[str, str]:
    """A minimal environment like Lambda's (no AWS_*, no PYTHON*, no VIRTUAL_ENV) plus ``extra``."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "PYTHONNOUSERSITE": "1",
    }
    env.update(extra)
    return env


class Emulator:
    """``rie_command`` (e.g. ``[python, -m, fastric.rie]``) serving ``runtime`` on 127.0.0.1 free ports.

    ``options`` are inserted before ``runtime`` (pass ``[]`` when the command already chooses the
    addresses). Use as a context manager; ``stdout``/``stderr`` collect the output lines.
    """

    def __init__(self, rie_command: list[str], runtime: list[str], env: dict[str, str], cwd: Path,
                 options: list[str] | None = None) -> None:  # fmt: skip
        if options is None:
            options = [
                "--runtime-interface-emulator-address",
                "127.0.0.1:0",
                "--runtime-api-address",
                "127.0.0.1:0",
            ]
        self.proc = subprocess.Popen(
            [*rie_command, *options, *runtime],
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.output = OutputLines(self.proc)
        self.stdout, self.stderr = self.output.stdout, self.output.stderr
        match = self.output.wait_stderr(LISTENING, timeout=30)
        if match is None:
            self.close()
            raise AssertionError(f"fastric-rie did not start: {self.stderr}")
        self.host, self.port, self.runtime_api = match.group(1), int(match.group(2)), match.group(4)

    def invoke(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
        """POST ``body`` to the invoke endpoint; returns (status, headers with lower-case names, body)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            conn.request("POST", INVOKE_PATH, body)
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def close(self) -> int:
        """SIGTERM the emulator (it stops the runtime) and return its exit code."""
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            return self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(10)

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def fastric_rie_command(python: str = sys.executable) -> list[str]:
    """The ``fastric-rie`` command of the environment of ``python``."""
    return [python, "-m", "fastric.rie"]


def site_packages() -> str:
    """This venv's site-packages directory."""
    return sysconfig.get_paths()["purelib"]
