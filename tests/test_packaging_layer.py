"""The Lambda layer (``scripts/build-layer.sh``): layout, and both uses under ``fastric-rie``.

The layer zip is unpacked into a temporary ``opt/`` (modes kept, as Lambda does), a handler goes into
a temporary ``var/task/``, and the runtime gets the environment Lambda sets. The interpreter is this
machine's Python *without* fastric installed, so the fastric that runs is the layer's
(the handler reports ``fastric.__file__``). Needs the wheel from ``make wheel`` (skips otherwise).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from packaging_support import (
    ROOT,
    Emulator,
    base_python,
    built_wheel,
    clean_env,
    extract_with_modes,
    fastric_rie_command,
)

HANDLER = """\
import os, sys
import fastric


def handler(event, context):
    return {
        "event": event,
        "fastric": fastric.__file__,
        "python": sys.executable,
        "exec_env": os.environ.get("AWS_EXECUTION_ENV"),
    }
"""


@pytest.fixture(scope="module")
def layer(tmp_path_factory) -> Path:
    """The layer zip built from this run's wheel, unpacked into ``<tmp>/opt``; returns ``<tmp>``."""
    wheel = built_wheel()
    tmp = tmp_path_factory.mktemp("lambda")
    dist = tmp / "dist"
    dist.mkdir()
    os.link(wheel, dist / wheel.name)
    zip_path = tmp / "layer.zip"
    subprocess.run(
        ["bash", str(ROOT / "scripts/build-layer.sh"), "--dist", str(dist), "--out", str(zip_path)],
        check=True,
        env=dict(os.environ, PYTHON=sys.executable),
    )
    extract_with_modes(zip_path, tmp / "opt")
    (tmp / "var/task").mkdir(parents=True)
    (tmp / "var/task/app.py").write_text(HANDLER)
    (tmp / "var/runtime").mkdir(parents=True)
    return tmp


def lambda_env(root: Path, **extra: str) -> dict[str, str]:
    """The variables Lambda sets for the runtime process (the emulator adds AWS_LAMBDA_RUNTIME_API)."""
    return clean_env(
        _HANDLER="app.handler",
        LAMBDA_TASK_ROOT=str(root / "var/task"),
        LAMBDA_RUNTIME_DIR=str(root / "var/runtime"),
        AWS_LAMBDA_FUNCTION_NAME="fn",
        AWS_REGION="us-east-1",
        **extra,
    )


def expected(root: Path, python: str, event: str, exec_env: str | None = None) -> bytes:
    so_dir = str(root / "opt/python/fastric/__init__.py")
    body = {"event": json.loads(event), "fastric": so_dir, "python": python, "exec_env": exec_env}
    return json.dumps(body, ensure_ascii=exec_env is None).encode()


def test_layer_layout(layer: Path) -> None:
    opt = layer / "opt"
    top = sorted(p.name for p in opt.iterdir())
    assert top == ["bootstrap", "fastric-exec-wrapper", "python"]
    assert (opt / "bootstrap").stat().st_mode & 0o777 == 0o755
    assert (opt / "fastric-exec-wrapper").stat().st_mode & 0o777 == 0o755
    tag = "cpython-%d%d-%s-linux-gnu" % (*sys.version_info[:2], os.uname().machine)
    assert (opt / f"python/fastric/_fastric.{tag}.so").is_file()
    assert (opt / "python/fastric/__main__.py").is_file()
    assert (opt / "python/snapshot_restore_py.py").is_file()
    assert not (opt / "python/bin").exists()
    assert not list(opt.rglob("__pycache__"))


def _run_bootstrap(layer: Path, env: dict[str, str], python_reported: str) -> None:
    event = '{"n": 1, "s": "café"}'
    with Emulator(fastric_rie_command(), [str(layer / "opt/bootstrap")], env, layer / "var/task") as rie:
        for _ in range(2):
            status, headers, body = rie.invoke(event.encode())
            assert (status, headers.get("x-amz-function-error"), body) == (
                200,
                None,
                expected(layer, python_reported, event),
            )


def test_bootstrap_fastric_python(layer: Path) -> None:
    py = base_python()
    _run_bootstrap(layer, lambda_env(layer, FASTRIC_PYTHON=py), py)


def test_bootstrap_task_root_python(layer: Path, tmp_path: Path) -> None:
    task_bin = layer / "var/task/bin"
    task_bin.mkdir(exist_ok=True)
    (task_bin / "python3").symlink_to(base_python())
    try:
        _run_bootstrap(layer, lambda_env(layer), str(task_bin / "python3"))
    finally:
        (task_bin / "python3").unlink()


def test_bootstrap_layer_python(layer: Path) -> None:
    opt_bin = layer / "opt/python/bin"
    opt_bin.mkdir()
    (opt_bin / "python3").symlink_to(base_python())
    try:
        _run_bootstrap(layer, lambda_env(layer), str(opt_bin / "python3"))
    finally:
        (opt_bin / "python3").unlink()
        opt_bin.rmdir()


def test_bootstrap_python_on_path(layer: Path, tmp_path: Path) -> None:
    (tmp_path / "python3").symlink_to(base_python())
    env = lambda_env(layer)
    env["PATH"] = f"{tmp_path}:/usr/bin:/bin"
    _run_bootstrap(layer, env, str(tmp_path / "python3"))


def test_bootstrap_without_python(layer: Path, tmp_path: Path) -> None:
    env = lambda_env(layer, AWS_LAMBDA_RUNTIME_API="127.0.0.1:9")
    env["PATH"] = str(tmp_path)  # nothing on PATH: the script uses only shell built-ins before exec
    proc = subprocess.run(
        ["/bin/sh", str(layer / "opt/bootstrap")], env=env, capture_output=True, cwd=tmp_path
    )
    task = layer / "var/task"
    assert (proc.returncode, proc.stdout, proc.stderr.decode()) == (
        127,
        b"",
        f"[fastric] bootstrap: no Python interpreter: set FASTRIC_PYTHON, or ship one as {task}/bin/python3 "
        f"or {layer}/opt/python/bin/python3\n",
    )


def test_exec_wrapper_replaces_managed_client(layer: Path) -> None:
    """The managed runtime passes its command (interpreter + its own client) to the wrapper."""
    managed = layer / "var/runtime/bootstrap.py"
    managed.write_text("raise SystemExit('the managed client ran')\n")
    py = base_python()
    env = lambda_env(layer, AWS_EXECUTION_ENV="AWS_Lambda_python3.12")
    runtime = [str(layer / "opt/fastric-exec-wrapper"), py, str(managed)]
    event = '{"s": "café"}'
    with Emulator(fastric_rie_command(), runtime, env, layer / "var/task") as rie:
        status, headers, body = rie.invoke(event.encode())
    # AWS_Lambda_python3.12: ensure_ascii=False, as awslambdaric does for that runtime.
    assert (status, headers.get("x-amz-function-error"), body) == (
        200,
        None,
        expected(layer, py, event, "AWS_Lambda_python3.12"),
    )
    assert "café".encode() in body


@pytest.mark.parametrize(
    ("extra", "command", "out"),
    [
        ({"FASTRIC_DISABLE": "1"}, ["PY", "MANAGED"], b"managed client\n"),
        ({}, ["/bin/echo", "not", "python"], b"not python\n"),
    ],
    ids=["disabled", "not-python"],
)
def test_exec_wrapper_falls_back(layer: Path, extra: dict[str, str], command: list[str], out: bytes) -> None:
    managed = layer / "var/runtime/managed.py"
    managed.write_text("print('managed client')\n")
    argv = [{"PY": base_python(), "MANAGED": str(managed)}.get(a, a) for a in command]
    env = lambda_env(layer, **extra)
    proc = subprocess.run([str(layer / "opt/fastric-exec-wrapper"), *argv], env=env, capture_output=True)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, out, b"")


def test_exec_wrapper_without_command(layer: Path) -> None:
    proc = subprocess.run(
        [str(layer / "opt/fastric-exec-wrapper")], env=lambda_env(layer), capture_output=True
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        2,
        b"",
        b"[fastric] exec wrapper: no command given (AWS_LAMBDA_EXEC_WRAPPER passes the runtime's command)\n",
    )
