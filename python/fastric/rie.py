"""``fastric-rie``: the built-in Lambda Runtime Interface Emulator (console script).

Usage: ``fastric-rie [options] [--] [COMMAND [ARGS...]]``; see ``fastric-rie --help`` and
``docs/RIE.md``. The server is written in Rust (``fastric._fastric.rie_main``); it handles
SIGINT and SIGTERM itself.
"""

from __future__ import annotations

import signal
import sys

from ._fastric import rie_main

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run the emulator with ``argv`` (default ``sys.argv``) and exit with its exit code.

    Python's default SIGINT handler is removed first: Ctrl-C must reach the Rust signal
    handler, which stops the runtime (SIGTERM, 2 s grace, SIGKILL) and returns 0.
    Raises ``SystemExit`` with the emulator's exit code (2 for usage errors).
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    args = list(sys.argv if argv is None else argv)
    if args and args[0].endswith("__main__.py"):
        args[0] = "fastric-rie"
    raise SystemExit(rie_main(args, python_executable=sys.executable))


if __name__ == "__main__":
    main()
