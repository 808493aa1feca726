"""Every wheel with its own interpreter (make test-wheels): CPython 3.10-3.14 on x86_64.

For each version, the wheel built for it (``dist/fastric-*-cp3XX-*manylinux*_x86_64.whl``, built in this
run) is installed into a fresh venv of that version, next to a second venv with the reference client
(``constraints-ref.txt``: awslambdaric 4.2.2, which publishes wheels for every one of these versions).
Then: an invocation and a handler error served through that venv's ``fastric-rie``, exact bytes; and two
differential scripts (return values, handler exceptions) against awslambdaric on the *same*
interpreter, whole request sequences and exit status compared.

Interpreters: 3.10-3.13 from pyenv (``~/.pyenv/versions/3.X.*``) or ``python3.X`` on PATH. 3.14 is
Debian testing's (this machine has none): the venvs are made and every process runs inside a podman
container of that root filesystem (``scripts/standin-rootfs.sh``), with host networking so the
processes reach this test's fake Runtime API and emulator ports on 127.0.0.1. Paths are mounted at the
same place inside, so stack traces and ``LAMBDA_TASK_ROOT`` are identical to a host run.

A version whose wheel was not built in this run skips with the reason (``make test-wheels`` builds
them all); a version whose interpreter is missing skips too.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import HANDLERS_DIR
from packaging_support import PODMAN_ENV, ROOT, Emulator, built_wheel, clean_env
from support.differential import assert_same_run, run_pair
from support.runtime_api_fake import Invocation

VERSIONS = ["3.10", "3.11", "3.12", "3.13", "3.14"]
#: Versions this machine lacks, from a Debian release that ships them: version -> suite.
DEBIAN_SUITES = {"3.14": "testing"}
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
LABEL = f"fastric-test={uuid.uuid4().hex[:12]}"

APP = """\
def handler(event, context):
    if event.get("fail"):
        raise ValueError("failed on purpose")
    return {"echo": event, "request_id": context.aws_request_id}
"""


def host_python(version: str) -> str | None:
    """``python3.X`` from pyenv, else from PATH; None when neither exists."""
    found = sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}.*/bin/python{version}")))
    return found[-1] if found else shutil.which(f"python{version}")


@dataclass
class Target:
    """One interpreter, ``python``; with ``image``, inside a podman container of that image."""

    version: str
    python: str
    image: str | None = None
    options: list[str] = field(default_factory=list)

    def command(self, argv: list[str], cwd: Path) -> list[str]:
        """``argv`` run where the interpreter lives, in ``cwd`` there (the host's ``cwd`` is mounted)."""
        if self.image is None:
            return argv
        return ["podman", "run", "--rm", *self.options, "-w", str(cwd), self.image, *argv]

    def run(self, argv: list[str], cwd: Path) -> None:
        proc = subprocess.run(self.command(argv, cwd), cwd=cwd, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"{argv}: {proc.stdout}{proc.stderr}"


def debian_target(version: str, suite: str, workdir: Path) -> Target:
    """A podman container of Debian ``suite``'s root filesystem, with ``version`` (image cached)."""
    if shutil.which("podman") is None:
        pytest.skip(
            "podman is not installed (scripts/install-podman.sh installs it; make test-wheels runs it)"
        )
    os.environ.update(PODMAN_ENV)
    proc = subprocess.run(
        [str(ROOT / "scripts/standin-rootfs.sh"), suite, f"python{version},python{version}-venv"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    options = ["--label", LABEL, "--network", "host", "--env-host"]
    for path in (workdir, HANDLERS_DIR):
        options += ["-v", f"{path}:{path}"]
    if os.path.exists(CA_BUNDLE):  # this machine's trust store (pip reaches PyPI through it)
        options += ["-v", f"{CA_BUNDLE}:{CA_BUNDLE}:ro"]
    return Target(version, f"python{version}", proc.stdout.split()[-1], options)


@pytest.fixture(scope="module", params=VERSIONS, ids=[f"py{v}" for v in VERSIONS])
def venvs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Fresh venvs of one version: ``fastric`` (its wheel) and ``awslambdaric`` (the reference)."""
    version = request.param
    wheel = built_wheel(tag="cp" + version.replace(".", ""))
    workdir = tmp_path_factory.mktemp(f"py{version}")
    if version in DEBIAN_SUITES:
        target = debian_target(version, DEBIAN_SUITES[version], workdir)
    else:
        python = host_python(version)
        if python is None:
            pytest.skip(f"no CPython {version} here (pyenv or python{version} on PATH)")
        target = Target(version, python)
    shutil.copy(wheel, workdir)
    shutil.copy(ROOT / "constraints-ref.txt", workdir)
    (workdir / "app.py").write_text(APP)
    out = {"target": target, "workdir": workdir}
    for name, requirement in (
        ("fastric", [str(workdir / wheel.name)]),
        ("awslambdaric", ["-r", str(workdir / "constraints-ref.txt")]),
    ):
        venv = workdir / f"venv-{name}"
        target.run([target.python, "-m", "venv", str(venv)], workdir)
        target.run([str(venv / "bin/python"), "-m", "pip", "install", "-q", *requirement], workdir)
        out[name] = venv
    yield out
    if target.image is not None:  # containers left by a runtime that was killed while parked in /next
        ids = subprocess.run(
            ["podman", "ps", "-aq", "--filter", f"label={LABEL}"], capture_output=True, text=True
        )
        if ids.stdout.split():
            subprocess.run(["podman", "rm", "-f", *ids.stdout.split()], capture_output=True)


def test_wheel_serves_through_fastric_rie(venvs: dict) -> None:
    """The version's own ``fastric-rie`` and ``python -m fastric``: a success and a handler error."""
    target, workdir, venv = venvs["target"], venvs["workdir"], venvs["fastric"]
    command = target.command([str(venv / "bin/fastric-rie")], workdir)
    runtime = [str(venv / "bin/python"), "-m", "fastric", "app.handler"]
    with Emulator(command, runtime, clean_env(**PODMAN_ENV), workdir) as rie:
        status, headers, body = rie.invoke(b'{"n": [1, 2.5, "\\u00e9"]}')
        assert (status, headers.get("x-amz-function-error")) == (200, None), body
        reply = json.loads(body)
        assert (
            body
            == json.dumps({"echo": {"n": [1, 2.5, "\u00e9"]}, "request_id": reply["request_id"]}).encode()
        )
        status, headers, body = rie.invoke(b'{"fail": true}')
        error = json.loads(body)
        assert (status, headers.get("x-amz-function-error")) == (200, "Unhandled")
        assert (error["errorType"], error["errorMessage"]) == ("ValueError", "failed on purpose")
        assert error["stackTrace"][-1] == (
            f'  File "{workdir}/app.py", line 3, in handler\n    raise ValueError("failed on purpose")\n'
        )


def _differential(venvs: dict, handler: str, kinds: list[str]) -> None:
    target = venvs["target"]
    clients = {
        name: target.command([str(venvs[name] / "bin/python"), "-m", name], HANDLERS_DIR)
        for name in ("fastric", "awslambdaric")
    }
    invocations = [Invocation(body=json.dumps({"kind": k}).encode()) for k in kinds]
    results = run_pair(None, handler, invocations, cwd=str(HANDLERS_DIR), clients=clients, env=PODMAN_ENV)
    assert_same_run(results)
    assert len(results["fastric"].requests) == 2 * len(kinds) + 1  # every invocation answered, then /next


def test_differential_return_values(venvs: dict) -> None:
    _differential(
        venvs, "returns.handler", ["nested", "non_bmp", "escapes", "decimal", "float_forms", "datetime"]
    )


def test_differential_handler_errors(venvs: dict) -> None:
    _differential(venvs, "errors.handler", ["custom", "chained", "non_ascii", "nested_class", "ok"])
