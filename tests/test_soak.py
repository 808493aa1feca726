"""A short soak (the long one is ``make soak``, benches/soak.py): one fastric process serves 50,000
invocations, each ``/next`` carrying a unique trace id, client context, Cognito identity and tenant id.
Asserted: memory, not time. VmRSS grows by at most 1 MiB from invocation 5,000 to 50,000 (before
rust/environ.rs installed ``_X_AMZN_TRACE_ID`` from its own buffers, glibc's ``setenv`` kept every
value: ~144 B per invocation, 6.3 MB here), and the open fds and threads stay the same."""

from __future__ import annotations

import sys
from pathlib import Path

from conftest import fastric_cmd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benches"))

import soak  # noqa: E402

INVOCATIONS = 50_000
MARK = 5_000
MAX_GROWTH_KB = 1024


def test_memory_fds_and_threads_stay_flat_over_50000_invocations() -> None:
    argv = fastric_cmd("x")[:-1]
    result = soak.run_client(argv, INVOCATIONS, 0, 5_000, (MARK,))
    at = result["at"]
    growth = at[INVOCATIONS]["VmRSS"] - at[MARK]["VmRSS"]
    assert growth <= MAX_GROWTH_KB, result["samples"]
    later = [s for s in result["samples"] if s["i"] >= MARK]
    assert len({s["fds"] for s in later}) == 1, result["samples"]
    assert len({s["Threads"] for s in later}) == 1, result["samples"]
