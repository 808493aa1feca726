"""Differential test: all 68 sample events through an echo handler, fastric vs awslambdaric.

One runtime process per client serves all 68 events (per environment variant); each event is then
compared as its own test (the ``/next`` + ``/response`` group), plus the whole run and the exit status.
"""

from __future__ import annotations

import pytest
from conftest import EVENTS_DIR, HANDLERS_DIR, REF_MISSING_REASON, REF_PYTHON
from support.differential import assert_same_run, assert_same_slice, run_pair
from support.runtime_api_fake import Invocation

if REF_PYTHON is None:
    pytest.skip(REF_MISSING_REASON, allow_module_level=True)

EVENT_FILES = sorted(EVENTS_DIR.glob("*.json"))
ENVS = {
    "default-env": {},
    "python3.12-env": {"AWS_EXECUTION_ENV": "AWS_Lambda_python3.12"},
}


def test_all_68_events_present() -> None:
    """The fixture copy is complete (CI has no ../shared)."""
    assert len(EVENT_FILES) == 68


@pytest.fixture(scope="module", params=sorted(ENVS))
def echo_runs(request: pytest.FixtureRequest) -> dict:
    invocations = [Invocation(body=path.read_bytes()) for path in EVENT_FILES]
    return run_pair(REF_PYTHON, "echo.handler", invocations, cwd=str(HANDLERS_DIR), env=ENVS[request.param])


@pytest.mark.parametrize("index", range(len(EVENT_FILES)), ids=[p.stem for p in EVENT_FILES])
def test_event_echo_identical(echo_runs: dict, index: int) -> None:
    assert_same_slice(echo_runs, index)


def test_echo_run_identical(echo_runs: dict) -> None:
    assert echo_runs["awslambdaric"].alive_at_end
    assert_same_run(echo_runs)
