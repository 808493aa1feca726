"""``python -m fastric.rie``: the built-in Lambda Runtime Interface Emulator.

Usage: ``python -m fastric.rie [options] [--] [COMMAND [ARGS...]]``; see ``--help`` and
``docs/RIE.md``. The wheel installs the emulator as a native executable, ``fastric-rie``, next to
the interpreter (no Python starts with it); this module replaces itself with that executable when
it is there, and otherwise runs the same Rust server in this process
(``fastric._fastric.rie_main``, e.g. after ``maturin develop``). Either handles SIGINT and SIGTERM
itself.
"""

from __future__ import annotations

import os
import signal
import sys

__all__ = ["main", "native_executable"]


def native_executable() -> str | None:
    """The path of the native ``fastric-rie`` installed with this package (the scripts directory of
    this interpreter's environment), or None when there is none (an ELF file is required, so that an
    older Python console script of that name is never taken for it)."""
    import sysconfig

    for directory in {sysconfig.get_path("scripts"), os.path.dirname(sys.executable)}:
        path = os.path.join(directory, "fastric-rie")
        try:
            with open(path, "rb") as f:
                if f.read(4) == b"\x7fELF" and os.access(path, os.X_OK):
                    return path
        except OSError:
            continue
    return None


def main(argv: list[str] | None = None) -> int:
    """Run the emulator with ``argv`` (default ``sys.argv``) and exit with its exit code.

    With the native executable installed this never returns (``os.execv``); its fallback interpreter
    is the one next to it, i.e. this environment's. Otherwise Python's default SIGINT handler is
    removed first (Ctrl-C must reach the Rust signal handler, which stops the runtime: SIGTERM, 2 s
    grace, SIGKILL, then returns 0). Raises ``SystemExit`` with the emulator's exit code (2 for
    usage errors).
    """
    args = list(sys.argv if argv is None else argv)
    if not args or args[0].endswith("__main__.py") or args[0].endswith("rie.py"):
        args[:1] = ["fastric-rie"]
    native = native_executable()
    if native is not None and not os.environ.get("FASTRIC_RIE_IN_PROCESS"):
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            os.execv(native, args)
        except OSError:
            pass  # not runnable here (e.g. under qemu-user without binfmt): run it in process
    from ._fastric import rie_main

    signal.signal(signal.SIGINT, signal.SIG_DFL)
    raise SystemExit(rie_main(args, python_executable=sys.executable))


if __name__ == "__main__":
    main()
