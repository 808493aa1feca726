"""Handlers that behave as badly as user code can, for tests/test_adversarial_runtime.py.

Each function is a Lambda handler ``(event, context)``. Several take parameters from the event
(``event["n"]`` …) so one module serves many scenarios. Markers (files) are written where a test
needs proof that something ran; their path comes from ``MARKER_PATH``.
"""

import builtins
import os
import signal
import sys
import threading
import time

#: Python 3.11+; on 3.10 raising it fails with TypeError, which the test accepts there.
ExceptionGroup = getattr(builtins, "ExceptionGroup", None)


def _mark(text):
    path = os.environ.get("MARKER_PATH")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(text + "\n")


def echo(event, context):
    """Return the event unchanged."""
    return event


def describe(event, context):
    """Return the event's type and a short, JSON-safe description of it (lengths, not content)."""
    out = {"type": type(event).__name__}
    if isinstance(event, (str, bytes, list, dict)):
        out["len"] = len(event)
    if isinstance(event, bytes):
        out["head"] = event[:32].decode("latin-1")
    if isinstance(event, dict):
        out["keys"] = sorted(event)
    if isinstance(event, float):
        out["repr"] = repr(event)
    return out


def context_view(event, context):
    """Return what the context exposes (ids, client context, identity, w3c, tenant, trace id; the
    remaining time only when ``event["remaining"]`` is true, since it varies)."""
    cc = context.client_context
    out = {
        "request_id": context.aws_request_id,
        "arn": context.invoked_function_arn,
        "client_context": None
        if cc is None
        else {"custom": cc.custom, "env": cc.env, "has_client": cc.client is not None},
        "identity": [context.identity.cognito_identity_id, context.identity.cognito_identity_pool_id],
        "w3c": context.w3c(),
        "tenant_id": context.tenant_id,
        "trace": os.environ.get("_X_AMZN_TRACE_ID"),
    }
    if not isinstance(event, dict):
        out["event_type"] = type(event).__name__
    elif event.get("remaining"):
        out["remaining"] = context.get_remaining_time_in_millis()
    return out


# -- exotic exceptions -------------------------------------------------------------------------------


class BrokenStr(Exception):
    def __str__(self):
        raise RuntimeError("no str for you")


class BrokenRepr(Exception):
    def __repr__(self):
        raise RuntimeError("no repr for you")


class BrokenBoth(Exception):
    def __str__(self):
        raise RuntimeError("no str")

    def __repr__(self):
        raise RuntimeError("no repr")


class StrReturnsNonStr(Exception):
    def __str__(self):
        return 42  # str() then raises TypeError


def raise_group(event, context):
    raise ExceptionGroup("several things", [ValueError("first"), TypeError("second")])


def raise_broken_str(event, context):
    raise BrokenStr("hidden")


def raise_broken_repr(event, context):
    raise BrokenRepr("visible")


def raise_broken_both(event, context):
    raise BrokenBoth("x")


def raise_str_non_str(event, context):
    raise StrReturnsNonStr("x")


def raise_huge_message(event, context):
    raise ValueError("m" * event["n"])


def _recurse(n):
    return _recurse(n + 1) + 1


def raise_recursion(event, context):
    return _recurse(0)


def raise_memory(event, context):
    raise MemoryError("simulated")


def raise_real_memory(event, context):
    return bytearray(1 << 62)


def raise_keyboard_interrupt(event, context):
    raise KeyboardInterrupt


def raise_generator_exit(event, context):
    raise GeneratorExit("ge")


def raise_base_exception(event, context):
    raise BaseException("base")


def raise_non_utf8_message(event, context):
    raise ValueError("lone \udcff surrogate and \x00 nul")


def raise_with_cause_cycle(event, context):
    a = ValueError("a")
    b = TypeError("b")
    a.__cause__ = b
    b.__cause__ = a
    raise a


# -- unserializable and hostile results ------------------------------------------------------------


class BadAsDict:
    def _asdict(self):
        raise RuntimeError("asdict exploded")


class BadAsDictBrokenStr:
    def _asdict(self):
        raise BrokenStr("inner")


class AsDictReturnsList:
    def _asdict(self):
        return [1, 2]


class BadIter:
    def __iter__(self):
        raise RuntimeError("iter exploded")


class BadFloat(float):
    def __repr__(self):
        raise RuntimeError("float repr exploded")

    def __float__(self):
        raise RuntimeError("float exploded")


class BadKeyStr(str):
    def __str__(self):
        raise RuntimeError("key str exploded")


class BadDictItems(dict):
    def items(self):
        raise RuntimeError("items exploded")


class ShrinkingDict(dict):
    pass


def return_set(event, context):
    return {"s": {1, 2}}


def return_circular(event, context):
    d = {}
    d["self"] = d
    return d


def return_circular_list(event, context):
    x = []
    x.append(x)
    return x


def return_deep(event, context):
    value = []
    for _ in range(event.get("n", 100_000)):
        value = [value]
    return value


def return_huge(event, context):
    return "z" * event["n"]


def return_bad_asdict(event, context):
    return {"a": BadAsDict()}


def return_bad_asdict_broken_str(event, context):
    return BadAsDictBrokenStr()


def return_asdict_list(event, context):
    return AsDictReturnsList()


def return_bad_iter(event, context):
    return BadIter()


def return_bad_float(event, context):
    return {"f": BadFloat(1.5)}


def return_bad_key(event, context):
    return {BadKeyStr("k"): 1}


def return_object_key(event, context):
    return {(1, 2): 3}


def return_bad_items(event, context):
    return BadDictItems(a=1)


def return_nan(event, context):
    return [float("nan"), float("inf"), -float("inf")]


def return_lone_surrogate(event, context):
    return "a\ud800b"


def return_bytes_non_utf8(event, context):
    return b"\xff\xfe\x00raw"


def return_nested_bytes_non_utf8(event, context):
    return {"b": b"\xff"}


def return_big_int(event, context):
    return 10 ** event.get("n", 5000)


def return_none(event, context):
    return None


def return_generator(event, context):
    return (i for i in range(3))


# -- output abuse ------------------------------------------------------------------------------------


def print_huge_line(event, context):
    sys.stdout.write("L" * event["n"] + "\n")
    return "printed"


def close_stdout(event, context):
    sys.stdout.close()
    return "closed"


def close_stdout_then_raise(event, context):
    sys.stdout.close()
    raise ValueError("after closing stdout")


def close_fd1(event, context):
    os.close(1)
    print("after close")
    return "fd1 closed"


def close_fd1_then_raise(event, context):
    os.close(1)
    raise ValueError("fd1 is gone")


def close_fd2_then_raise(event, context):
    os.close(2)
    raise ValueError("fd2 is gone")


def replace_stdout(event, context):
    import io

    sys.stdout = io.StringIO()
    sys.stderr = io.StringIO()
    return "replaced"


def replace_stdout_none(event, context):
    sys.stdout = None
    sys.stderr = None
    raise ValueError("streams are None")


def print_after(event, context):
    print("still printing", event)
    return "ok"


# -- process control ---------------------------------------------------------------------------------


def exit_0(event, context):
    sys.exit(0)


def exit_msg(event, context):
    sys.exit("goodbye from the handler")


def exit_3(event, context):
    sys.exit(3)


def os_exit_7(event, context):
    os._exit(7)


def kill_self_term(event, context):
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(2)
    return "survived"


def kill_self_term_with_handler(event, context):
    def on_term(signum, frame):
        _mark("term")

    signal.signal(signal.SIGTERM, on_term)
    os.kill(os.getpid(), signal.SIGTERM)
    return "handled"


def thread_raises(event, context):
    def boom():
        raise RuntimeError("thread exploded")

    t = threading.Thread(target=boom, name="hostile-thread")
    t.start()
    t.join()
    return "thread done"


def del_environ(event, context):
    os.environ.pop("AWS_LAMBDA_RUNTIME_API", None)
    os.environ.pop("_X_AMZN_TRACE_ID", None)
    os.environ.clear()
    return "env cleared"


def replace_environ(event, context):
    os.environ = {}  # noqa: B003 - rebinding is the attack
    return "environ replaced"


def trace_now(event, context):
    return {"trace": os.environ.get("_X_AMZN_TRACE_ID")}


def install_term_handler(event, context):
    def on_term(signum, frame):
        _mark("term")
        sys.exit(0)

    signal.signal(signal.SIGTERM, on_term)
    return "installed"


def install_raising_term_handler(event, context):
    def on_term(signum, frame):
        _mark("term")
        raise RuntimeError("raised in the SIGTERM handler")

    signal.signal(signal.SIGTERM, on_term)
    return "installed"


def install_int_ignore(event, context):
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    return "ignored"


def block_term(event, context):
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    return "blocked"


def fork_child_exits(event, context):
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    return {"child_status": status}


def fork_child_returns(event, context):
    """The child returns from the handler too (a user bug): both processes would post."""
    pid = os.fork()
    if pid == 0:
        return "from child"
    os.waitpid(pid, 0)
    return "from parent"


def use_asyncio(event, context):
    import asyncio

    async def work():
        await asyncio.sleep(0.01)
        return event

    return asyncio.run(work())


def hang(event, context):
    _mark("hanging")
    time.sleep(1000)
    return "woke"


def hang_with_term_handler(event, context):
    def on_term(signum, frame):
        _mark("term")
        sys.exit(0)

    signal.signal(signal.SIGTERM, on_term)
    _mark("hanging")
    time.sleep(1000)
    return "woke"


_ticks = {"n": 0, "started": False}


def start_ticker(event, context):
    """Start a daemon thread that counts 10 ms ticks (it needs the GIL to count)."""
    if not _ticks["started"]:
        _ticks["started"] = True

        def tick():
            while True:
                time.sleep(0.01)
                _ticks["n"] += 1

        threading.Thread(target=tick, daemon=True).start()
    return {"ticks": _ticks["n"]}


def term_timestamp_handler(event, context):
    """Install a SIGTERM handler that records the monotonic-ish wall time it ran, then exits 0."""

    def on_term(signum, frame):
        _mark(repr(time.time()))
        sys.exit(0)

    signal.signal(signal.SIGTERM, on_term)
    _mark("ready")
    return "armed"


def mutate_event(event, context):
    event.clear() if isinstance(event, (dict, list)) else None
    return event


def arm_raising_alarm(event, context):
    """Invocation 1 arms a SIGALRM whose handler raises; it fires while the runtime waits on /next."""
    if event.get("arm"):

        def on_alarm(signum, frame):
            _mark("alarm")
            raise TimeoutError("alarm fired")

        signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, event["arm"])
    return event


def break_environ_setitem(event, context):
    """Make every later ``os.environ[...] = ...`` raise (user code monkeypatching the environment)."""

    def refuse(self, key, value):
        raise PermissionError(f"environment is read-only: {key}")

    type(os.environ).__setitem__ = refuse
    return "broken"


def dispatch(event, context):
    """Call the handler named ``event["call"]`` of this module (one process, many scenarios)."""
    return globals()[event["call"]](event, context)
