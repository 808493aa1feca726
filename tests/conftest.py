"""Shared pytest set-up for fastric's end-to-end tests.

Provides the two runtime commands (fastric and the reference awslambdaric 4.2.2), fixture paths and a
``run_client`` helper that starts a :class:`FakeRuntimeAPI`, runs one client against it and returns
the :class:`RunResult`. See docs/TESTING.md.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

from support.runtime_api_fake import FakeRuntimeAPI, Fault, Invocation, RunResult, run_runtime

REPO_ROOT = TESTS_DIR.parent
FIXTURES = TESTS_DIR / "fixtures"
EVENTS_DIR = FIXTURES / "events"
CASES_DIR = FIXTURES / "cases"
HANDLERS_DIR = TESTS_DIR / "handlers"


def ref_python() -> str | None:
    """The reference interpreter (with awslambdaric 4.2.2): ``$FASTRIC_REF_PYTHON`` or
    ``<repo>/.venv-ref/bin/python``; failing both, this interpreter if it can import awslambdaric (CI
    installs ``awslambdaric==4.2.2`` next to fastric); None otherwise."""
    candidate = os.environ.get("FASTRIC_REF_PYTHON") or str(REPO_ROOT / ".venv-ref" / "bin" / "python")
    if os.path.exists(candidate):
        return candidate
    if importlib.util.find_spec("awslambdaric") is not None:
        return sys.executable
    return None


REF_PYTHON = ref_python()
REF_MISSING_REASON = (
    "reference client not found: set FASTRIC_REF_PYTHON to a python with awslambdaric==4.2.2 installed, "
    "or create <repo>/.venv-ref"
)

#: The runtimes under test, by name.
CLIENTS = ("fastric", "awslambdaric")


#: Harness self-test: with ``FASTRIC_HARNESS_SELFTEST=1`` the "fastric" command runs awslambdaric, so
#: the differential tests compare the reference with itself (validates the comparison logic).
SELFTEST = os.environ.get("FASTRIC_HARNESS_SELFTEST") == "1"


def fastric_cmd(handler: str) -> list[str]:
    """argv running fastric (``python -m fastric HANDLER`` with this interpreter)."""
    if SELFTEST and REF_PYTHON is not None:
        return [REF_PYTHON, "-m", "awslambdaric", handler]
    return [sys.executable, "-m", "fastric", handler]


def client_cmd(client: str, handler: str) -> list[str]:
    """argv for ``client`` (``"fastric"`` or ``"awslambdaric"``) serving ``handler``."""
    if client == "fastric":
        return fastric_cmd(handler)
    if client == "awslambdaric":
        if REF_PYTHON is None:
            pytest.skip(REF_MISSING_REASON)
        return [REF_PYTHON, "-m", "awslambdaric", handler]
    raise ValueError(client)


def run_client(
    client: str,
    handler: str,
    invocations: Sequence[Invocation],
    *,
    cwd: str | os.PathLike[str],
    env: Mapping[str, str | None] | None = None,
    api_prefix: str = "",
    ipv6: bool = False,
    faults: Sequence[Fault] = (),
    post_status: int = 202,
    max_response_bytes: int | None = 6_291_556,
    **run_kwargs: object,
) -> RunResult:
    """Start a fake Runtime API with ``invocations``, run ``client`` with ``handler`` in ``cwd`` and
    return what happened. ``env`` overrides the minimal environment; ``_HANDLER`` is exported as the
    handler string unless overridden. Extra keyword arguments go to :func:`run_runtime`."""
    full_env: dict[str, str | None] = {"_HANDLER": handler}
    full_env.update(env or {})
    with FakeRuntimeAPI(
        invocations,
        api_prefix=api_prefix,
        ipv6=ipv6,
        faults=faults,
        post_status=post_status,
        max_response_bytes=max_response_bytes,
    ) as api:
        return run_runtime(client_cmd(client, handler), api, env=full_env, cwd=str(cwd), **run_kwargs)


@pytest.fixture(params=CLIENTS)
def client(request: pytest.FixtureRequest) -> str:
    """Parametrise a test over both clients (awslambdaric is skipped when unavailable)."""
    if request.param == "awslambdaric" and REF_PYTHON is None:
        pytest.skip(REF_MISSING_REASON)
    return request.param
