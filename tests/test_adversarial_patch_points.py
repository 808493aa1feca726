"""Hostile replacements of ``bootstrap.handle_event_request``, installed from inside an invocation
(``handlers/late_patch.py``): the replacement serves from the next invocation on; one that raises ends
the process (exit 1, traceback, nothing posted); one that posts twice is taken at its word. Each is compared with awslambdaric 4.2.2 on the same script."""

from __future__ import annotations

import json

import pytest
from conftest import HANDLERS_DIR, REF_PYTHON
from support.differential import run_pair
from support.runtime_api_fake import Invocation


@pytest.mark.parametrize("kind", ["wrap", "raise", "twice"])
def test_handle_event_request_replaced_mid_run(kind: str) -> None:
    events = [{"patch": kind, "n": 1}, {"n": 2}, {"n": 3}]
    results = run_pair(
        REF_PYTHON,
        "late_patch.handler",
        [Invocation(body=json.dumps(e).encode()) for e in events],
        cwd=str(HANDLERS_DIR),
    )
    views = {
        name: (
            r.returncode,
            [(p.endpoint, p.request_id, p.body) for p in r.posts],
            [line for line in r.stdout.splitlines() if line.startswith(b"WRAPPED")],
            r.stderr.rstrip().endswith(b"RuntimeError: patched handle_event_request failed")
            or b"RuntimeError: patched handle_event_request failed\n[fastric] ERROR fatal" in r.stderr,
        )
        for name, r in results.items()
    }
    assert views["fastric"] == views["awslambdaric"]
    assert views["fastric"][1][0][2] == b'{"n": 1}'  # the first invocation is served natively
    assert len(views["fastric"][2]) == (1 if kind == "raise" else 2)
