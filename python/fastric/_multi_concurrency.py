"""Multi-concurrency (Lambda Managed Instances): a pool of forked worker processes.

When ``AWS_LAMBDA_MAX_CONCURRENCY`` is set, ``python -m fastric`` runs :func:`run_pool` instead of
:func:`fastric.bootstrap.run`, as awslambdaric 4.2.2 does (``lambda_multi_concurrent_utils.py``; section
8.1 of the behaviour reference; AWS: "multiple Python processes where each concurrent request runs in
a separate process"):

1. The parent sets logging up exactly as a runtime would (write-through ``sys.stdout``/``sys.stderr``,
   the log sink, which consumes ``_LAMBDA_TELEMETRY_LOG_FD``, the root handler), logs one DEBUG record
   whose message is the dict ``{"event": "runtime_worker_pool_initializing", "workerCount": N,
   "executionEnvironmentMaxConcurrency": N}``, then removes its root handler and closes the sink, which
   releases the telemetry fd (workers therefore log to their stdout).
2. It forks N workers before any Runtime API connection, handler import or thread exists. Each worker
   connects stdout and stderr to ``_LAMBDA_TELEMETRY_LOG_FD_PROVIDER_SOCKET`` when it is set (two
   ``AF_UNIX`` stream connections, ``dup2``-ed onto fd 1 and fd 2), then runs
   ``bootstrap.run(handler, pool_worker=True)``: it imports the handler itself and serves invocations
   with its own ``RuntimeApiClient`` connection in fastric's native loop.
3. The parent waits for the workers. Differences from awslambdaric (``docs/DIFFERENCES-python.md``):
   SIGTERM/SIGINT to the parent are forwarded to the workers, and the parent then waits for them and
   dies by the same signal; a worker that ends on its own is named in a ``[fastric]`` line and not
   replaced; the parent's exit status is the first non-zero worker status (a worker killed by signal
   ``s``: ``128 + s``), else 0 (awslambdaric: always 0); workers are killed (``PR_SET_PDEATHSIG``,
   Linux) if the parent dies without forwarding, so none is left orphaned.
"""

from __future__ import annotations

import os
import signal
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is not imported at run time (start-up cost)
    from typing import Any, NoReturn

from . import log as _log

__all__ = ["WORKER_POOL_INITIALIZING_EVENT", "parse_max_concurrency", "run_pool"]

#: The ``event`` value of the parent's DEBUG record (awslambdaric 4.2.2's string).
WORKER_POOL_INITIALIZING_EVENT = "runtime_worker_pool_initializing"

_PROVIDER_SOCKET_ENV = "_LAMBDA_TELEMETRY_LOG_FD_PROVIDER_SOCKET"
_FORWARDED = (signal.SIGTERM, signal.SIGINT)
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
_ERROR = 40  # logging.ERROR, without importing logging


def parse_max_concurrency(value: str) -> int:
    """The worker count from ``AWS_LAMBDA_MAX_CONCURRENCY``: the value as Python's ``int()`` reads it
    (surrounding spaces, a sign and ``_`` separators allowed, as in awslambdaric).

    Raises ``ValueError`` with a one-line explanation when the value is not an integer (awslambdaric:
    the ``int()`` traceback, exit 1) or is below 1 (awslambdaric: starts no worker and exits 0).
    """
    try:
        count = int(value)
    except ValueError:
        raise ValueError(
            f"AWS_LAMBDA_MAX_CONCURRENCY={value!r} is not an integer: it must be the number of worker "
            "processes (concurrent invocations) to run"
        ) from None
    if count < 1:
        raise ValueError(
            f"AWS_LAMBDA_MAX_CONCURRENCY={value!r} must be at least 1 (the number of worker processes to run)"
        )
    return count


def _announce_pool(count: int) -> None:
    """Parent logging: set up, log the DEBUG pool record, tear down (awslambdaric's
    ``_emit_worker_pool_event``). Leaves ``logging`` imported, the root level and
    ``logging.Formatter.converter`` set, as awslambdaric does; only fastric's own root handler is
    removed (awslambdaric clears every root handler)."""
    from . import bootstrap

    sys.stdout = _log.make_write_through(sys.stdout)
    sys.stderr = _log.make_write_through(sys.stderr)
    environ = os.environ
    json_format = _log.log_format_is_json(environ.get("AWS_LAMBDA_LOG_FORMAT"))
    log_level = _log.level_from_env(environ.get("AWS_LAMBDA_LOG_LEVEL"))
    sink = _log.create_log_sink()
    sink.__enter__()
    try:
        handler = _log.setup_logging(json_format, log_level, sink, vars(bootstrap))
        import logging

        root = logging.getLogger()
        try:
            root.debug(
                {
                    "event": WORKER_POOL_INITIALIZING_EVENT,
                    "workerCount": count,
                    "executionEnvironmentMaxConcurrency": count,
                }
            )
        finally:
            root.removeHandler(handler)
    finally:
        if isinstance(sink, _log.FramedTelemetryLogSink):
            try:
                from ._fastric import set_diagnostic_fd  # type: ignore[attr-defined]
            except ImportError:
                pass
            else:
                set_diagnostic_fd(None)  # before the fd is closed: later diagnostics go to stderr
        sink.__exit__(None, None, None)


def _death_signal_setter() -> Any:
    """A callable ``f(signum) -> bool`` doing ``prctl(PR_SET_PDEATHSIG, signum)``, or None where that
    is not available (not Linux, no ``ctypes``). Built in the parent so workers do not each load
    ``ctypes``."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (ImportError, OSError, AttributeError):
        return None
    prctl.restype = ctypes.c_int

    def set_death_signal(signum: int) -> bool:
        return prctl(_PR_SET_PDEATHSIG, ctypes.c_ulong(signum), 0, 0, 0) == 0

    return set_death_signal


def _redirect_output(socket_path: str) -> None:
    """Connect fd 1 and fd 2 to ``socket_path`` (two ``AF_UNIX`` stream connections, stdout first),
    as awslambdaric's ``_redirect_output``. On failure a ``[fastric]`` line says why and the inherited
    stdout/stderr stay in use (awslambdaric: the worker dies with a traceback)."""
    import socket

    for fd in (1, 2):
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.connect(socket_path)
                os.dup2(sock.fileno(), fd)
        except OSError as e:
            _log.diagnostic(
                f"worker {os.getpid()}: cannot connect {'stdout' if fd == 1 else 'stderr'} to "
                f"{_PROVIDER_SOCKET_ENV}={socket_path!r} ({type(e).__name__}: {e}); "
                "keeping the inherited descriptor",
                _ERROR,
            )


def _worker(handler_name: str, parent_pid: int, set_death_signal: Any) -> NoReturn:
    """Body of a forked worker. Leaves only by ``SystemExit`` (or another ``BaseException``), which
    propagates to the interpreter as in a standalone runtime (``atexit`` handlers run)."""
    if set_death_signal is not None and not set_death_signal(signal.SIGKILL):
        _log.diagnostic(f"worker {os.getpid()}: prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent_pid:  # the parent died before the death signal was armed
        os._exit(1)
    socket_path = os.environ.get(_PROVIDER_SOCKET_ENV)
    if socket_path:
        _redirect_output(socket_path)
    from .bootstrap import run

    run(handler_name, pool_worker=True)


def _exit_code(status: int) -> int:
    """A ``wait`` status as a shell exit code: the exit status, or ``128 + signal``."""
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


def run_pool(handler_name: str, max_concurrency: int) -> NoReturn:
    """Run ``max_concurrency`` forked workers for ``handler_name`` and supervise them (see the module
    docstring). Does not return: exits with the first non-zero worker exit code (0 when every worker
    exited 0), or dies by the SIGTERM/SIGINT it forwarded to the workers. A failing ``fork`` after at
    least one worker started is a ``[fastric]`` ERROR line and the pool runs smaller; with no worker at
    all the parent exits 1. In a worker this function ends by ``SystemExit`` from
    :func:`fastric.bootstrap.run`.
    """
    _announce_pool(max_concurrency)
    set_death_signal = _death_signal_setter()
    parent_pid = os.getpid()
    workers: dict[int, int] = {}  # pid -> worker number (1-based)
    received: list[int] = []

    def forward(signum: int, frame: Any) -> None:
        if os.getpid() != parent_pid:  # cannot happen (blocked across fork), but never signal siblings
            return
        if not received:
            received.append(signum)
        for pid in list(workers):
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass

    # Signals stay blocked while forking: a worker must not run the parent's handler, and the parent
    # must know every pid before it forwards anything.
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _FORWARDED)
    previous = {signum: signal.getsignal(signum) for signum in _FORWARDED}
    for signum in _FORWARDED:
        signal.signal(signum, forward)
    for number in range(1, max_concurrency + 1):
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001, S110 - a broken stream must not stop the pool
                pass
        try:
            pid = os.fork()
        except OSError as e:
            _log.diagnostic(
                f"cannot start worker {number} of {max_concurrency}: {type(e).__name__}: {e}", _ERROR
            )
            break
        if pid == 0:
            for signum, handler in previous.items():
                signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
            _worker(handler_name, parent_pid, set_death_signal)
        workers[pid] = number
    signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    if not workers:
        sys.exit(1)

    first_failure = 0
    while workers:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        number = workers.pop(pid, 0)
        if not number:  # not one of ours (cannot happen: the parent has no other children)
            continue
        code = _exit_code(status)
        if code != 0 and not first_failure:
            first_failure = code
        if not received:
            how = (
                f"was killed by signal {code - 128}"
                if os.WIFSIGNALED(status)
                else f"exited with status {code}"
            )
            _log.diagnostic(
                f"worker {number} (pid {pid}) {how}; it is not replaced: "
                f"{len(workers)} of {max_concurrency} workers remain"
            )
    if received:
        stop_signal = received[0]
        sys.stdout.flush()
        sys.stderr.flush()
        signal.signal(stop_signal, signal.SIG_DFL)
        os.kill(os.getpid(), stop_signal)
    sys.exit(first_failure)
