"""``python -m fastric [HANDLER]``: start the Lambda runtime for ``HANDLER`` (``module.function``).

- The handler is ``argv[1]`` (other arguments are ignored, as in awslambdaric); fastric extension:
  without an argument, ``_HANDLER`` is used. With neither, a message and exit status 1.
- ``AWS_LAMBDA_RUNTIME_API`` must be set (``host:port``); otherwise a message pointing to the local
  emulator ``fastric-rie`` and exit status 1.
- fastric extension: ``LAMBDA_TASK_ROOT`` is put on ``sys.path`` right after the working directory
  when it differs from it, so the handler is found even when the process does not start in the task
  root.
- ``AWS_LAMBDA_MAX_CONCURRENCY`` set (Lambda Managed Instances): that many forked worker processes,
  each a runtime of its own (:mod:`fastric._multi_concurrency`). A value that is not an integer, or is
  below 1: a message and exit status 1.
- ``--version`` / ``--help`` as the only argument print and exit 0 (no handler can have those names).
- The native module ``fastric._fastric`` must import (a wheel built for this interpreter); otherwise a
  message and exit status 1.
- ``FASTRIC_PURE_PYTHON=1`` serves every invocation through the Python-level
  ``fastric.bootstrap.handle_event_request`` (the path taken once an APM agent patches it), over the
  same native transport.
- This module binds ``bootstrap`` (:mod:`fastric.bootstrap`), where APM agents look for the runtime's
  bootstrap module (``sys.modules["__main__"].bootstrap``, as with awslambdaric's ``__main__``).
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["main"]

#: :mod:`fastric.bootstrap`, bound by :func:`main` before the handler is imported (APM agents look here).
bootstrap: Any = None


def _fail(message: str) -> int:
    from .log import write_escaped

    write_escaped(sys.stderr, "[fastric] " + message + "\n")
    sys.stderr.flush()
    return 1


def _add_task_root(task_root: str | None) -> None:
    if not task_root:
        return
    try:
        cwd = os.getcwd()
    except OSError:
        cwd = None
    root = os.path.abspath(task_root)
    if cwd is not None and (root == cwd or os.path.realpath(root) == os.path.realpath(cwd)):
        return
    try:
        index = sys.path.index(cwd) + 1 if cwd is not None else 0
    except ValueError:
        index = 0
    if sys.path[index : index + 1] != [root]:
        sys.path.insert(index, root)


def main(argv: list[str] | None = None) -> int:
    """Run the runtime; returns an exit status only on a start-up error (otherwise it never returns).

    ``argv`` defaults to ``sys.argv``.
    """
    if argv is None:
        argv = sys.argv
    if len(argv) == 2 and argv[1] in ("--version", "--help", "-h"):
        from . import __version__

        if argv[1] == "--version":
            print(f"fastric {__version__}")
        else:
            print(__doc__)
        return 0
    handler = argv[1] if len(argv) > 1 else os.environ.get("_HANDLER")
    if not handler:
        return _fail(
            "no handler given: pass it as the first argument (python -m fastric module.function) "
            "or set _HANDLER"
        )
    address = os.environ.get("AWS_LAMBDA_RUNTIME_API")
    if not address:
        return _fail(
            "AWS_LAMBDA_RUNTIME_API is not set: it must hold the Lambda Runtime API address (host:port), "
            "which Lambda provides. To run a function locally, start it under the emulator: "
            f"fastric-rie python -m fastric {handler}"
        )
    try:
        from . import _fastric  # noqa: F401
    except ImportError as e:
        v = sys.version_info
        return _fail(
            f"the native module fastric._fastric cannot be imported on Python {v.major}.{v.minor} ({e}): "
            "this fastric installation has no extension built for this interpreter. Install the fastric "
            "wheel built for it (or a layer that holds it)"
        )
    max_concurrency = os.environ.get("AWS_LAMBDA_MAX_CONCURRENCY")
    if max_concurrency is not None:
        from ._multi_concurrency import parse_max_concurrency, run_pool

        try:
            workers = parse_max_concurrency(max_concurrency)
        except ValueError as e:
            return _fail(str(e))
        _add_task_root(os.environ.get("LAMBDA_TASK_ROOT"))
        run_pool(handler, workers)  # each worker ends inside, by SystemExit from bootstrap.run

    _add_task_root(os.environ.get("LAMBDA_TASK_ROOT"))
    global bootstrap
    from . import bootstrap

    bootstrap.run(handler)
    return 1  # not reached: run() only leaves by exiting


if __name__ == "__main__":
    sys.exit(main())
