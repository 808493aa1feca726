"""fastric-rie's command line: help, refusals, the `python -m fastric HANDLER` fallback."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time

from fastric.rie import native_executable
from test_rie_fixtures import rie_factory  # noqa: F401


def run(args, env=None):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_LAMBDA_") and k != "_HANDLER"}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "fastric.rie", *args], capture_output=True, env=full_env, timeout=30
    )


def test_help_and_version():
    r = run(["--help"])
    assert r.returncode == 0 and r.stdout.startswith(b"usage: fastric-rie [options]")
    r = run(["--version"])
    assert r.returncode == 0 and r.stdout.startswith(b"fastric-rie ")


def test_refusals():
    r = run(["--enable-init-caching", "x"])
    assert r.returncode == 2 and b"--enable-init-caching" in r.stderr
    r = run(["x"], env={"AWS_LAMBDA_MAX_CONCURRENCY": "4"})
    assert r.returncode == 2 and b"AWS_LAMBDA_MAX_CONCURRENCY" in r.stderr
    r = run(["--no-such-option", "x"])
    assert r.returncode == 2 and b"unknown option --no-such-option" in r.stderr
    r = run(
        [
            "--runtime-api-address",
            "127.0.0.1:0",
            "--runtime-interface-emulator-address",
            "127.0.0.1:0",
            "--log-level",
            "loud",
            "x",
        ]
    )
    assert r.returncode == 2


def test_no_command_falls_back_to_python_m_fastric(rie_factory):  # noqa: F811
    if any(os.path.exists(p) for p in ("/var/task/bootstrap", "/opt/bootstrap", "/var/runtime/bootstrap")):
        return
    rie = rie_factory(["--log-level", "debug", "--eager-init", "--handler", "app.handler"])
    # The native executable takes the interpreter next to it (this environment's); in process, this one.
    native = native_executable()
    python = os.path.join(os.path.dirname(native), "python3") if native else sys.executable
    expected = f'exec ["{python}", "-m", "fastric", "app.handler"]'
    deadline = time.monotonic() + 10
    while not any(expected in line for line in rie.stderr) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert any(expected in line for line in rie.stderr)
    r = run([])
    assert r.returncode == 2 and b"no COMMAND" in r.stderr


def test_known_options_are_read_after_the_command(rie_factory):  # noqa: F811
    """As aws-lambda-rie: its own options count anywhere; the runtime's (`-x`) and everything after `--`
    are passed on untouched."""
    sleep = shutil.which("sleep") or "/bin/sleep"
    rie = rie_factory(
        [sleep, "1000", "--log-level", "debug", "-x", "--eager-init", "--", "--handler", "h"],
    )
    expected = f'[fastric-rie] debug: exec ["{sleep}", "1000", "-x", "--handler", "h"] (pid '
    deadline = time.monotonic() + 10
    while not any(line.startswith(expected) for line in rie.stderr) and time.monotonic() < deadline:
        time.sleep(0.02)
    (line,) = [line for line in rie.stderr if line.startswith(expected)]
    assert re.fullmatch(re.escape(expected) + r'\d+, handler Some\("h"\)\)\n', line)
