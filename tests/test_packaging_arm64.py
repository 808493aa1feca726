"""The aarch64 wheel, cross-built here and smoke-tested on an emulated arm64 Python (scripts/arm64-smoke.sh).

Runs only with FASTRIC_ARM64_SMOKE=1: the script installs packages with apt (root) and takes about
1.5 minutes from scratch, a few seconds when warm (docs/DEPLOY.md).
"""

from __future__ import annotations

import os
import subprocess

import pytest
from packaging_support import ROOT


@pytest.mark.skipif(os.environ.get("FASTRIC_ARM64_SMOKE") != "1", reason="set FASTRIC_ARM64_SMOKE=1 to run")
@pytest.mark.timeout(1200)
def test_arm64_smoke() -> None:
    proc = subprocess.run(["bash", str(ROOT / "scripts/arm64-smoke.sh")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert proc.stdout.splitlines()[-1] == "arm64 smoke: 9 passed, 0 failed"
