"""Helpers for the differential tests: run fastric and awslambdaric on the same script and compare."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

import pytest

from .compare import exit_view, invocation_slices, normalise_requests
from .runtime_api_fake import FakeRuntimeAPI, Invocation, RunResult, run_runtime

DIFF_CLIENTS = ("fastric", "awslambdaric")


def commands(ref_python: str | None, handler: str) -> dict[str, list[str]]:
    """argv per client for ``handler``; skips the calling module when the reference is missing."""
    if ref_python is None:
        pytest.skip("reference client not found (set FASTRIC_REF_PYTHON or create <repo>/.venv-ref)")
    fastric = [sys.executable, "-m", "fastric", handler]
    if os.environ.get("FASTRIC_HARNESS_SELFTEST") == "1":
        fastric = [ref_python, "-m", "awslambdaric", handler]
    return {
        "fastric": fastric,
        "awslambdaric": [ref_python, "-m", "awslambdaric", handler],
    }


def run_pair(
    ref_python: str | None,
    handler: str,
    invocations: Sequence[Invocation],
    *,
    cwd: str,
    env: Mapping[str, str | None] | None = None,
    clients: Mapping[str, Sequence[str]] | None = None,
    **kwargs: object,
) -> dict[str, RunResult]:
    """Run both clients on fresh fakes with the same script and environment; results by client name.

    ``clients`` replaces the default commands: the argv before the handler for each name in
    :data:`DIFF_CLIENTS` (e.g. another interpreter's venv, ``[venv/bin/python, "-m", "fastric"]``).
    """
    if clients is None:
        cmds = commands(ref_python, handler)
    else:
        cmds = {name: [*clients[name], handler] for name in DIFF_CLIENTS}
    out = {}
    full_env: dict[str, str | None] = {"_HANDLER": handler}
    full_env.update(env or {})
    for name in DIFF_CLIENTS:
        with FakeRuntimeAPI(invocations) as api:
            out[name] = run_runtime(cmds[name], api, env=full_env, cwd=cwd, **kwargs)
    return out


def assert_same_slice(results: Mapping[str, RunResult], index: int) -> None:
    """The ``index``-th invocation group (``/next`` and what follows it) is identical in both runs."""
    groups = {name: invocation_slices(r) for name, r in results.items()}
    ref = groups["awslambdaric"]
    got = groups["fastric"]
    assert index < len(ref), (
        f"harness: reference made only {len(ref)} groups\n{results['awslambdaric'].describe()}"
    )
    assert index < len(got), f"fastric made only {len(got)} request groups\n{results['fastric'].describe()}"
    assert normalise_requests(got[index]) == normalise_requests(ref[index])


def assert_same_run(results: Mapping[str, RunResult]) -> None:
    """Whole request sequences and exit status are identical."""
    ref, got = results["awslambdaric"], results["fastric"]
    assert not ref.timed_out, ref.describe()
    assert [(r.method, r.path) for r in got.requests] == [(r.method, r.path) for r in ref.requests], (
        got.describe()
    )
    assert normalise_requests(got.requests) == normalise_requests(ref.requests)
    assert exit_view(got) == exit_view(ref), got.describe()
