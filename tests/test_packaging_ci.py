"""The public CI workflow (.github/workflows/ci.yml), validated offline.

check-jsonschema (pinned in requirements-dev.txt) checks it against its vendored GitHub-workflow
schema; then the jobs are checked for what the project promises: native x86_64 and aarch64 runners,
Python 3.10-3.14, the wheel built once and installed, the benchmark run and uploaded on both.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from packaging_support import ROOT

WORKFLOW = ROOT / ".github/workflows/ci.yml"


def _load() -> dict:
    yaml = pytest.importorskip(
        "ruamel.yaml", reason="ruamel.yaml comes with check-jsonschema (requirements-dev.txt)"
    )
    return yaml.YAML(typ="safe").load(WORKFLOW.read_text())


def test_workflow_schema() -> None:
    exe = Path(sys.executable).with_name("check-jsonschema")
    if not exe.exists():
        pytest.skip("check-jsonschema not installed (pinned in requirements-dev.txt)")
    proc = subprocess.run(
        [str(exe), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True,
        text=True,
    )
    assert (proc.returncode, proc.stdout.strip()) == (0, "ok -- validation done"), proc.stderr


def test_workflow_matrix() -> None:
    jobs = _load()["jobs"]
    wheels = jobs["wheels"]["strategy"]["matrix"]
    assert wheels["python"] == ["3.10", "3.11", "3.12", "3.13", "3.14"]
    runners = {row["arch"]: row["runner"] for row in wheels["include"]}
    assert runners == {"x86_64": "ubuntu-24.04", "aarch64": "ubuntu-24.04-arm"}
    runs = [step.get("run", "") for step in jobs["wheels"]["steps"]]
    assert sum("build-wheels.sh" in r for r in runs) == 1
    assert not any("maturin develop" in r for r in runs)  # the wheel is the only build
    assert any("pytest" in r for r in runs)
    bench = jobs["benchmark"]
    assert {row["runner"] for row in bench["strategy"]["matrix"]["include"]} == {
        "ubuntu-24.04",
        "ubuntu-24.04-arm",
    }
    assert any("python benches/run.py" in step.get("run", "") for step in bench["steps"])
    upload = next(s for s in bench["steps"] if s.get("uses", "").startswith("actions/upload-artifact"))
    assert "docs/BENCHMARKS.md" in upload["with"]["path"]
    assert "png" in upload["with"]["path"]


def test_publish_job_is_tag_gated_after_the_wheel_tests() -> None:
    """Trusted publishing only for a v* tag, after every wheel job (each runs the suite) and the sdist."""
    jobs = _load()["jobs"]
    publish = jobs["publish"]
    assert publish["if"] == "github.event_name == 'push' && startsWith(github.ref, 'refs/tags/v')"
    assert {"wheels", "sdist"} <= set(publish["needs"])
    assert publish["permissions"] == {"id-token": "write"}  # OIDC, no stored token
    assert publish["environment"] == "pypi"
    steps = publish["steps"]
    assert steps[-1]["uses"] == "pypa/gh-action-pypi-publish@release/v1"
    runs = [step.get("run", "") for step in steps]
    twine_pin = next(
        line
        for line in (ROOT / "requirements-dev.txt").read_text().splitlines()
        if line.startswith("twine==")
    )
    assert any(twine_pin in r and "twine check --strict dist/*" in r for r in runs)
    assert any("rm -f dist/*.zip" in r for r in runs)  # layer zips are not uploaded as packages
    assert not any(
        k != "publish" and "id-token" in str(job.get("permissions", {})) for k, job in jobs.items()
    )
    sdist_runs = [step.get("run", "") for step in jobs["sdist"]["steps"]]
    assert any("maturin sdist" in r for r in sdist_runs)
    assert any("pip install dist/fastric-*.tar.gz" in r for r in sdist_runs)
