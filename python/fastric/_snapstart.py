"""SnapStart runtime hooks, read from the ``snapshot_restore_py`` registry (the package awslambdaric
uses, so hooks registered for either runtime work).

Kept out of ``bootstrap.py`` on purpose: like awslambdaric's hook runner, these frames stay in the
stack trace of a failing hook (only leading ``bootstrap.py`` frames are stripped).
"""

from __future__ import annotations

__all__ = ["run_after_restore", "run_before_snapshot"]


def run_before_snapshot() -> None:
    """Run the before-snapshot hooks, last registered first; each entry is removed from the
    registry before it runs. Exceptions propagate."""
    from snapshot_restore_py import get_before_snapshot

    pending = get_before_snapshot()
    while pending:
        func, args, kwargs = pending.pop()
        func(*args, **kwargs)


def run_after_restore() -> None:
    """Run the after-restore hooks in registration order. Exceptions propagate."""
    from snapshot_restore_py import get_after_restore

    for func, args, kwargs in get_after_restore():
        func(*args, **kwargs)
