"""Ready to publish (make test-wheels): the sdist and the wheels as PyPI would receive them.

- The sdist (``maturin sdist``) holds the crate, the package and the metadata files, and nothing from
  the working tree's build products.
- pip turns it into a working wheel in a clean venv with nothing but the sdist and the package
  registries: no pip configuration of this machine (its ``find-links``), no shared cargo target
  directory; then the installed ``fastric-rie`` serves an invocation run by ``python -m fastric``.
- ``twine check --strict`` (pinned in requirements-dev.txt) passes for the sdist and every wheel.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from packaging_support import ROOT, Emulator, base_python, clean_env, newest_source_mtime

VERSION = next(
    line.split('"')[1]
    for line in (ROOT / "Cargo.toml").read_text().splitlines()
    if line.startswith("version")
)
DIST = Path(os.environ.get("FASTRIC_WHEEL_DIR", ROOT / "dist"))


@pytest.fixture(scope="module")
def sdist() -> Path:
    path = DIST / f"fastric-{VERSION}.tar.gz"
    if not path.exists():
        pytest.skip(f"no {path.name} in {DIST}: run `make test-wheels` (maturin sdist)")
    if path.stat().st_mtime < newest_source_mtime():
        pytest.skip(f"{path.name} is older than the sources (not built in this run): run `make test-wheels`")
    return path


def test_sdist_contents(sdist: Path) -> None:
    with tarfile.open(sdist) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    for required in (
        "Cargo.toml",
        "Cargo.lock",
        "pyproject.toml",
        "README.md",
        "LICENSE",
        "NOTICE",
        "PKG-INFO",
        "rust/lib.rs",
        "python/fastric/__init__.py",
        "python/fastric/_fastric.pyi",
        "python/fastric/py.typed",
    ):
        assert required in names, required
    for stray in ("target/", ".venv/", "dist/", ".git/", "tests/", "benches/"):
        assert not any(name.startswith(stray) for name in names), stray


def test_sdist_builds_a_working_wheel(sdist: Path, tmp_path: Path) -> None:
    """pip builds the sdist (its PEP 517 backend, maturin, from PyPI) and the result serves an invoke."""
    venv = tmp_path / "venv"
    subprocess.run([base_python(), "-m", "venv", str(venv)], check=True)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/root"),
        "PIP_CONFIG_FILE": os.devnull,  # not this machine's pip.conf (it adds a find-links directory)
        "PIP_NO_CACHE_DIR": "1",
        "CARGO_BUILD_JOBS": os.environ.get("CARGO_BUILD_JOBS", "1"),
    }
    for name in (
        "PIP_CERT",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "RUSTUP_HOME",
        "CARGO_HOME",
    ):
        if name in os.environ:  # the trust store and the toolchain's location, not package sources
            env[name] = os.environ[name]
    proc = subprocess.run(
        [str(venv / "bin/python"), "-m", "pip", "install", "-q", str(sdist)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return {'from_sdist': event}\n")
    python = str(venv / "bin/python")
    with Emulator(
        [str(venv / "bin/fastric-rie")], [python, "-m", "fastric", "app.handler"], clean_env(), tmp_path
    ) as rie:
        status, headers, body = rie.invoke(b'{"a": 1}')
    assert (status, headers.get("x-amz-function-error"), body) == (200, None, b'{"from_sdist": {"a": 1}}')


def test_twine_check_strict(sdist: Path) -> None:
    wheels = sorted(DIST.glob(f"fastric-{VERSION}-cp3*-manylinux*.whl"))
    fresh = [w for w in wheels if w.stat().st_mtime >= newest_source_mtime()]
    assert fresh, "no wheel of this version built in this run"
    twine = Path(sys.executable).with_name("twine")
    if not twine.exists():
        pytest.skip("twine not installed (pinned in requirements-dev.txt)")
    proc = subprocess.run(
        [str(twine), "check", "--strict", str(sdist), *map(str, fresh)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("PASSED") == 1 + len(fresh), proc.stdout
