"""SnapStart (``AWS_LAMBDA_INITIALIZATION_TYPE=snap-start``), fastric vs awslambdaric.

Hooks come from ``snapshot_restore_py`` (the registry shared with user code): before-snapshot hooks
run last-registered first, then ``GET /runtime/restore/next``, then after-restore hooks in
registration order. A before-snapshot failure is posted to ``/runtime/init/error`` with
``Lambda-Runtime-Function-Error-Type: Runtime.BeforeSnapshotError`` (exit 64); an after-restore
failure to ``/runtime/restore/error`` with ``Runtime.AfterRestoreError`` (exit 65). The error
documents' ``stackTrace`` differs only in the runtime's own hook-runner frame (fastric's
``_snapstart.py`` instead of awslambdaric's ``lambda_runtime_hooks_runner.py``, listed in
docs/DIFFERENCES-python.md), so it is compared from the user's frame on.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import REF_MISSING_REASON, REF_PYTHON
from support.differential import exit_view, run_pair
from support.runtime_api_fake import Invocation

if REF_PYTHON is None:
    pytest.skip(REF_MISSING_REASON, allow_module_level=True)

HOOKS = """\
from snapshot_restore_py import register_after_restore, register_before_snapshot

print("imported")


@register_before_snapshot
def before_1():
    print("before-1")


@register_before_snapshot
def before_2():
    print("before-2")


@register_after_restore
def after_1():
    print("after-1")


@register_after_restore
def after_2():
    print("after-2")


def handler(event, context):
    return {"ok": True}
"""

MODULES = {
    "snap_ok.py": HOOKS,
    "snap_before_fail.py": HOOKS
    + '\n\n@register_before_snapshot\ndef before_fails():\n    raise ValueError("no snapshot for you")\n',
    "snap_after_fail.py": HOOKS
    + '\n\n@register_after_restore\ndef after_fails():\n    raise KeyError("restored")\n',
}

SNAP_START = {"AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start"}


@pytest.fixture(scope="module")
def task_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("snap")
    for name, text in MODULES.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


def _endpoints(result) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in result.requests]


def test_hooks_run_in_order_then_invocations(task_root: Path) -> None:
    results = run_pair(
        REF_PYTHON, "snap_ok.handler", [Invocation(body=b"{}")], cwd=str(task_root), env=SNAP_START
    )
    ref, got = results["awslambdaric"], results["fastric"]
    assert (
        _endpoints(got)
        == _endpoints(ref)
        == [
            ("GET", "/2018-06-01/runtime/restore/next"),
            ("GET", "/2018-06-01/runtime/invocation/next"),
            ("POST", "/2018-06-01/runtime/invocation/11111111-1111-4111-8111-000000000001/response"),
            ("GET", "/2018-06-01/runtime/invocation/next"),
        ]
    )
    assert got.stdout == ref.stdout == b"imported\nbefore-2\nbefore-1\nafter-1\nafter-2\n"
    assert got.requests[2].body == ref.requests[2].body == b'{"ok": true}'
    assert exit_view(got) == exit_view(ref) == "running"


@pytest.mark.parametrize(
    ("module", "endpoint", "error_type", "status", "message", "user_frame"),
    [
        (
            "snap_before_fail",
            "/2018-06-01/runtime/init/error",
            "Runtime.BeforeSnapshotError",
            64,
            ("ValueError", "no snapshot for you"),
            'raise ValueError("no snapshot for you")',
        ),
        (
            "snap_after_fail",
            "/2018-06-01/runtime/restore/error",
            "Runtime.AfterRestoreError",
            65,
            ("KeyError", "'restored'"),
            'raise KeyError("restored")',
        ),
    ],
    ids=["before-snapshot", "after-restore"],
)
def test_hook_failure(task_root: Path, module, endpoint, error_type, status, message, user_frame) -> None:
    results = run_pair(REF_PYTHON, f"{module}.handler", [], cwd=str(task_root), env=SNAP_START, timeout_s=15)
    ref, got = results["awslambdaric"], results["fastric"]
    assert got.returncode == ref.returncode == status, got.describe()
    assert _endpoints(got) == _endpoints(ref)
    assert _endpoints(got)[-1] == ("POST", endpoint)
    post_ref, post_got = ref.requests[-1], got.requests[-1]
    assert post_got.header("Lambda-Runtime-Function-Error-Type") == error_type.encode()
    assert post_ref.header("Lambda-Runtime-Function-Error-Type") == error_type.encode()
    doc_ref, doc_got = json.loads(post_ref.body), json.loads(post_got.body)
    assert list(doc_got) == list(doc_ref) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert (doc_got["errorType"], doc_got["errorMessage"]) == (doc_ref["errorType"], doc_ref["errorMessage"])
    assert (doc_got["errorType"], doc_got["errorMessage"]) == message
    assert doc_got["requestId"] == doc_ref["requestId"] == ""
    assert doc_got["stackTrace"][-1] == doc_ref["stackTrace"][-1]
    assert user_frame in doc_got["stackTrace"][-1]
