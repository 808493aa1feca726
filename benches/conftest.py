"""pytest-benchmark support for benches/test_micro_*.py: awslambdaric's side, timed in its own venv.

awslambdaric (and simplejson) live in a separate interpreter (``$FASTRIC_REF_PYTHON``, else the
repository's ``.venv-ref``, else /work/main/.venv-ref), so they cannot be called in-process. The
``reference`` fixture runs a ``setup`` / ``stmt`` pair there with ``timeit`` (``autorange``, the median of 7 repeats)
and returns its seconds per call and the sha256 of the statement's result (bytes, or str as UTF-8).
Both sides share ``benches/micro_shared.py`` so they work on identical inputs.

With benchmarks disabled (the default ``--benchmark-disable``) the reference statement is run once,
untimed, only to compare results.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

_RUNNER = r"""
import hashlib, json, sys, timeit
sys.path.insert(0, {here!r})
{setup}
stmt = {stmt!r}
out = eval(stmt)
if isinstance(out, str):
    out = out.encode("utf-8", "surrogatepass")
digest = hashlib.sha256(out).hexdigest() if isinstance(out, bytes) else None
res = {{"result_sha256": digest}}
if {timed!r}:
    t = timeit.Timer(stmt, globals=globals())
    n, _ = t.autorange()
    runs = sorted(t.repeat(repeat=7, number=n))
    res["s_per_call"] = runs[3] / n
    res["number"] = n
print(json.dumps(res))
"""


def ref_python() -> str | None:
    """The awslambdaric interpreter, or None when there is none on this machine."""
    env = os.environ.get("FASTRIC_REF_PYTHON")
    if env:
        return env
    for cand in (ROOT / ".venv-ref/bin/python",):
        if cand.exists():
            return str(cand)
    return None


def digest(value) -> str | None:
    """sha256 hex of bytes (or of str as UTF-8); None for other values."""
    if isinstance(value, str):
        value = value.encode("utf-8", "surrogatepass")
    return hashlib.sha256(value).hexdigest() if isinstance(value, bytes) else None


class Reference:
    """Runs snippets in awslambdaric's interpreter and records the comparison in ``extra_info``."""

    def __init__(self, benchmark):
        self.benchmark = benchmark
        self.python = ref_python()

    def run(self, setup: str, stmt: str) -> dict:
        """Runs ``setup`` then ``stmt`` in the reference interpreter.

        Returns:
            ``{"result_sha256": str | None, "s_per_call": float, "number": int}`` (the last two only
            when benchmarks are enabled).

        Raises:
            pytest.skip.Exception: no reference interpreter.
            RuntimeError: the snippet failed (its stderr is in the message).
        """
        if self.python is None:
            pytest.skip("no awslambdaric reference interpreter (set FASTRIC_REF_PYTHON)")
        timed = not getattr(self.benchmark, "disabled", False)
        code = _RUNNER.format(here=str(HERE), setup=setup, stmt=stmt, timed=timed)
        proc = subprocess.run(
            [self.python, "-c", code], check=False, capture_output=True, text=True, timeout=600
        )
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr[-2000:])
        return json.loads(proc.stdout.strip().splitlines()[-1])

    def record(self, ref: dict, fastric_result=None) -> None:
        """Stores awslambdaric's timing, the fastric/awslambdaric ratio and the correctness check."""
        info = self.benchmark.extra_info
        info["awslambdaric_side"] = (
            "timed in its own interpreter with timeit (median of 7 repeats), not by pytest-benchmark; "
            "ratio = fastric median / that"
        )
        if ref.get("s_per_call") is not None:
            info["awslambdaric_s_per_call"] = ref["s_per_call"]
            stats = getattr(self.benchmark, "stats", None)
            median = getattr(getattr(stats, "stats", None), "median", None)
            if median:
                info["ratio_fastric_over_awslambdaric"] = median / ref["s_per_call"]
        if fastric_result is not None and ref.get("result_sha256") is not None:
            info["correct"] = digest(fastric_result) == ref["result_sha256"]


@pytest.fixture
def reference(benchmark):
    """A :class:`Reference` bound to this test's ``benchmark`` fixture."""
    return Reference(benchmark)
