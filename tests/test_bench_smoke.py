"""Smoke test of the benchmark command: `benches/run.py --quick` must finish and write well-formed output.

No timing is asserted: only that every figure ran (or reports its failure), that awslambdaric's results
are complete and correct (identical payload bytes, no lost log line), and that the report has its
tables. fastric may be missing while it is being written: then it must appear as failed, not crash
the run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REF_PYTHON

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "benches" / "run.py"


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    ref = REF_PYTHON
    if ref is None:
        pytest.skip("no awslambdaric reference interpreter (set FASTRIC_REF_PYTHON)")
    out = tmp_path_factory.mktemp("bench")
    cmd = [
        sys.executable,
        str(RUN),
        "--quick",
        "--out",
        str(out / "BENCHMARKS.md"),
        "--json",
        str(out / "results.json"),
        "--workdir",
        str(out / "work"),
        "--ref-python",
        ref,
    ]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, proc


def test_report_has_every_table(quick_run):
    out, _ = quick_run
    text = (out / "BENCHMARKS.md").read_text(encoding="utf-8")
    for heading in (
        "# Benchmarks: fastric vs awslambdaric",
        "## Run",
        "## Targets (fastric / awslambdaric, same run)",
        "## 1. Cold start",
        "## 2. Per-invoke overhead",
        "## 3. Payloads (round trip per invocation)",
        "## 4. Logging (100 lines per invocation)",
        "## 5. Memory",
        "## 7. JSON codec, kind by kind (in process)",
        "## Method",
        "## Per-invoke with Sentry's AwsLambdaIntegration",
    ):
        assert heading in text
    assert "> **Quick mode**" in text
    # every table row has the same number of cells as its header
    for block in text.split("\n\n"):
        lines = [ln for ln in block.splitlines() if ln.startswith("|")]
        if lines:
            widths = {ln.count(" | ") for ln in lines if not ln.startswith("|---")}
            assert len(widths) == 1, block


def test_results_json_is_complete(quick_run):
    out, _ = quick_run
    res = json.loads((out / "results.json").read_text())
    figs = res["figures"]
    assert set(figs) == {
        "cold_start",
        "per_invoke",
        "payloads",
        "logging",
        "memory",
        "emulator",
        "sentry_invoke",
        "emulators",
        "streaming",
        "codec",
    }
    sentry = figs["sentry_invoke"]["rows"]
    assert sentry["awslambdaric+sentry"]["rtt_us"]["n"] == figs["sentry_invoke"]["invocations"]
    assert sentry["fastric+sentry"]["failed"] is None or isinstance(sentry["fastric+sentry"]["failed"], str)
    sys.path.insert(0, str(ROOT / "benches"))
    import payloads

    realistic = set(payloads.realistic_counts(1, 1))
    assert set(figs["payloads"]) == {"1KB", "100KB", "1MB", "5MB", "5MB-response"} | realistic
    # the codec matrix gave awslambdaric's bytes for every kind, in both modes
    for row in figs["codec"]["kinds"]:
        for mode, cell in row["modes"].items():
            assert cell.get("identical", True), (row["name"], mode)
    assert len(figs["logging"]) == 8
    names = [p["name"] for p in res["participants"]]
    assert names == ["fastric", "awslambdaric", "awslambdaric-thread", "c-floor"]
    # the reference ran everywhere and produced sane, correct results
    assert figs["cold_start"]["rows"]["awslambdaric"]["first_next"]["n"] == res["config"]["cold"]
    assert figs["per_invoke"]["rows"]["awslambdaric"]["rtt_us"]["n"] == figs["per_invoke"]["invocations"]
    for size, f in figs["payloads"].items():
        row = f["rows"]["awslambdaric"]
        assert row["failed"] is None, size
        assert row["identical"] is True, size
        assert len(row["hashes"]) == 1, size
    for key, f in figs["logging"].items():
        row = f["rows"]["awslambdaric"]
        assert row["lines_counted"] == row["lines_expected"] > 0, key
        assert row["frames_ok"], key
    emu = figs["emulator"]["rows"]["awslambdaric"]
    assert emu["failed"] is None and emu["e2e_us"]["n"] == figs["emulator"]["invocations"]
    mem = figs["memory"]["rows"]["awslambdaric"]
    assert mem["hwm_kb"] >= mem["rss_mark_kb"] > 0
    # fastric either ran (complete rows) or every row says why it did not; never a crash or a hole
    fastric_rows = [
        (figs["cold_start"]["rows"]["fastric"], "first_next"),
        (figs["per_invoke"]["rows"]["fastric"], "rtt_us"),
        (figs["memory"]["rows"]["fastric"], "hwm_kb"),
        (figs["emulator"]["rows"]["fastric"], "e2e_us"),
        *((f["rows"]["fastric"], "rtt_ms") for f in figs["payloads"].values()),
        *((f["rows"]["fastric"], "rtt_us") for f in figs["logging"].values()),
    ]
    for row, key in fastric_rows:
        assert (isinstance(row.get("failed"), str) and row["failed"]) or (
            row["failed"] is None and key in row
        )


def test_failed_client_is_reported_not_fatal(tmp_path):
    """A client whose command cannot start is a 'failed' row; the run still exits 0."""
    ref = REF_PYTHON
    if ref is None:
        pytest.skip("no awslambdaric reference interpreter")
    cmd = [
        sys.executable,
        str(RUN),
        "--quick",
        "--figures",
        "cold,invoke",
        "--clients",
        "fastric,awslambdaric",
        "--fastric-cmd",
        f"{sys.executable} -c 'import sys; sys.exit(3)'",
        "--ref-python",
        ref,
        "--no-floor",
        "--no-chart",
        "--out",
        str(tmp_path / "B.md"),
        "--json",
        str(tmp_path / "r.json"),
        "--workdir",
        str(tmp_path / "work"),
    ]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads((tmp_path / "r.json").read_text())
    assert "exit 3" in res["failed"]["fastric"]
    assert res["figures"]["per_invoke"]["rows"]["fastric"]["failed"]
    assert res["figures"]["per_invoke"]["rows"]["awslambdaric"]["failed"] is None
    text = (tmp_path / "B.md").read_text()
    assert "| fastric | failed (see Run) |" in text
    assert "n/a (fastric or the reference did not run)" in text
