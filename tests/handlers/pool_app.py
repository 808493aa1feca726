"""Handler module for the multi-concurrency tests (tests/test_multi_concurrency.py).

At import (once per worker process): when ``POOL_DIR`` is set, creates ``POOL_DIR/import-<pid>``;
writes ``import <pid>`` to stdout and ``ierr <pid>`` to stderr; when ``INSTALL_SIGTERM`` is set,
installs a SIGTERM handler that creates ``POOL_DIR/sigterm-<pid>`` and exits 0.
"""

import os
import signal
import sys
import time

PID = os.getpid()
POOL_DIR = os.environ.get("POOL_DIR")

if POOL_DIR:
    with open(os.path.join(POOL_DIR, f"import-{PID}"), "w", encoding="utf-8"):
        pass
sys.stdout.write(f"import {PID}\n")  # one write: lines of several workers share a pipe
sys.stderr.write(f"ierr {PID}\n")


def _on_sigterm(signum, frame):
    with open(os.path.join(POOL_DIR, f"sigterm-{PID}"), "w", encoding="utf-8"):
        pass
    sys.exit(0)


if os.environ.get("INSTALL_SIGTERM"):
    signal.signal(signal.SIGTERM, _on_sigterm)


def barrier(event, context):
    """Mark this invocation as started, then wait (at most 20 s) until ``event["n"]`` invocations
    have started. Returns ``{"pid": <worker pid>, "met": <whether all n were in flight at once>}``."""
    with open(os.path.join(POOL_DIR, f"arrive-{PID}-{context.aws_request_id}"), "w", encoding="utf-8"):
        pass
    deadline = time.monotonic() + 20
    met = False
    while time.monotonic() < deadline:
        if sum(name.startswith("arrive-") for name in os.listdir(POOL_DIR)) >= event["n"]:
            met = True
            break
        time.sleep(0.01)
    return {"pid": PID, "met": met}


def talk(event, context):
    """Print ``out <pid> <request id>``, write ``err <pid> <request id>`` to stderr, return the pid."""
    print("out", PID, context.aws_request_id)
    sys.stderr.write(f"err {PID} {context.aws_request_id}\n")
    return {"pid": PID}


def leave(event, context):
    """``sys.exit(event["code"])``: the worker process ends without answering."""
    sys.exit(event["code"])
