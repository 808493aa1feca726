"""The release wheel from ``make wheel``: tags, glibc symbol versions, metadata, and a fresh-venv install
running invocations under ``fastric-rie``. Skips (with the reason) when no wheel was built in this run.
"""

from __future__ import annotations

import email
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging_support import ROOT, Emulator, base_python, built_wheel, clean_env

ARCH = os.uname().machine
HANDLER = """\
import sys


def handler(event, context):
    if event == "fail":
        raise KeyError("missing")
    if isinstance(event, dict) and "blob" in event:
        return {"size": len(event["blob"]), "prefix": sys.prefix}
    return event
"""


def cargo_version() -> str:
    match = re.search(r'^version = "([^"]+)"', (ROOT / "Cargo.toml").read_text(), re.M)
    assert match
    return match.group(1)


def test_wheel_name_and_glibc_symbols() -> None:
    wheel = built_wheel()
    tag = "cp%d%d" % sys.version_info[:2]
    assert (
        wheel.name == f"fastric-{cargo_version()}-{tag}-{tag}-manylinux2014_{ARCH}.manylinux_2_17_{ARCH}.whl"
    )
    try:
        from auditwheel.main import main as _  # noqa: F401
    except ImportError:
        pytest.skip("auditwheel not installed (pinned in requirements-dev.txt)")
    proc = subprocess.run(
        [sys.executable, "-m", "auditwheel", "show", str(wheel)], capture_output=True, text=True, check=True
    )
    text = " ".join(proc.stdout.split())
    assert f'is consistent with the following platform tag: "manylinux_2_17_{ARCH}"' in text
    versions = re.findall(r"GLIBC_(\d+)\.(\d+)", proc.stdout)
    assert versions and max((int(a), int(b)) for a, b in versions) <= (2, 17)


def test_wheel_metadata() -> None:
    with zipfile.ZipFile(built_wheel()) as z:
        meta = email.message_from_bytes(z.read(f"fastric-{cargo_version()}.dist-info/METADATA"))
        names = z.namelist()
    assert meta["Name"] == "fastric"
    assert meta["Version"] == cargo_version()
    assert meta["Requires-Python"] == ">=3.10"
    assert meta["License-Expression"] == "Apache-2.0"
    assert meta.get_all("Requires-Dist") == ["snapshot-restore-py>=1.0.0"]
    # no public repository exists yet: no Project-URL rather than a dead link (pyproject.toml)
    assert meta.get_all("Project-URL") is None
    classifiers = meta.get_all("Classifier")
    for c in (
        "Development Status :: 4 - Beta",
        "Operating System :: POSIX :: Linux",
        "Programming Language :: Python :: 3.14",
        "Programming Language :: Rust",
        "Topic :: System :: Distributed Computing",
    ):
        assert c in classifiers
    assert "fastric/py.typed" in names
    assert f"fastric-{cargo_version()}.dist-info/licenses/NOTICE" in names


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory) -> Path:
    """A new venv (this machine's base Python) with only the wheel and its dependency installed."""
    venv = tmp_path_factory.mktemp("wheel") / "venv"
    subprocess.run([base_python(), "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [
            str(venv / "bin/python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            str(built_wheel()),
        ],
        check=True,
    )
    return venv


def test_fresh_venv_invocations(fresh_venv: Path, tmp_path: Path) -> None:
    py = str(fresh_venv / "bin/python")
    version = subprocess.run(
        [py, "-c", "import fastric; print(fastric.__version__)"], capture_output=True, text=True, check=True
    )
    assert version.stdout == cargo_version() + "\n"
    (tmp_path / "app.py").write_text(HANDLER)
    env = clean_env(LAMBDA_TASK_ROOT=str(tmp_path))
    rie = [str(fresh_venv / "bin/fastric-rie")]
    with Emulator(rie, [py, "-m", "fastric", "app.handler"], env, tmp_path) as emu:
        status, headers, body = emu.invoke(b'{"a":[1,2.5,null,"\\u00e9"]}')
        assert (status, headers["content-type"], headers.get("x-amz-function-error"), body) == (
            200,
            "application/json",
            None,
            b'{"a": [1, 2.5, null, "\\u00e9"]}',
        )
        blob = "x" * 1_000_000
        status, _, body = emu.invoke(json.dumps({"blob": blob}).encode())
        assert (status, body) == (200, json.dumps({"size": 1_000_000, "prefix": str(fresh_venv)}).encode())
        status, headers, body = emu.invoke(b'"fail"')
        assert (status, headers["x-amz-function-error"]) == (200, "Unhandled")
        assert body.startswith(b'{"errorMessage": "\'missing\'", "errorType": "KeyError", "requestId": "')
    assert sum("Init Duration" in line for line in emu.stdout) == 1
