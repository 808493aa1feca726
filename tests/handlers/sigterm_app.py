"""Handler module that installs a SIGTERM handler at import when ``INSTALL_SIGTERM`` is set.

The handler writes ``sigterm`` to the file named by ``MARKER_PATH`` and exits with status 0.
"""

import os
import signal
import sys


def _on_sigterm(signum, frame):
    with open(os.environ["MARKER_PATH"], "w", encoding="utf-8") as fh:
        fh.write("sigterm")
    sys.exit(0)


if os.environ.get("INSTALL_SIGTERM"):
    signal.signal(signal.SIGTERM, _on_sigterm)


def handler(event, context):
    """Return ``{"ok": True}``."""
    return {"ok": True}
