"""Handler for tests/test_differential_logging.py: one invocation per logging scenario.

The event is ``{"case": NAME}``; ``handler`` runs ``CASES[NAME](context)`` and returns ``{"case": NAME,
"result": ...}``. Every scenario writes the same bytes under any runtime (no timestamps, ids or addresses
of its own), so the output of fastric and awslambdaric can be compared after normalising the runtime's
timestamps only.
"""

import asyncio
import logging
import os
import sys
import threading
import time
import warnings

log = logging.getLogger("app.sub")

# Output while the module is imported (init phase, no request id yet).
print("printed at import time")
logging.warning("warning at import time")
log.error("error at import time %s", {"k": 1})


class Unserialisable:
    """An ``extra=`` value the JSON encoder cannot encode (it is ``str()``-ed)."""

    def __str__(self):
        return "Unserialisable<str>"

    def __repr__(self):
        return "Unserialisable<repr>"


def print_basic(context):
    print("hello from print")


def print_noeol(context):
    # The next write (a log record on stdout) is glued on.
    print("no newline here", end="")
    logging.warning("glued after a print without newline")


def print_multiline(context):
    print("line one\nline two\n\nline four")


def print_args(context):
    print("a", "b", 3, None, sep="-", end="!\n")
    sys.stdout.write("raw write\n")
    sys.stdout.writelines(["wl1\n", "wl2\n"])


def dunder_streams(context):
    # The original streams stay reachable; their writes come out in order with sys.stdout's.
    sys.__stdout__.write("via sys.__stdout__\n")
    print("print after sys.__stdout__")
    sys.__stderr__.write("via sys.__stderr__ without newline ")
    sys.stderr.write("then sys.stderr\n")
    sys.__stdout__.write("sys.__stdout__ again\n")
    print("print after it")


def dunder_tail(context):
    # Not in the differential scripts: left unflushed, it is overtaken by a later sys.stdout.buffer
    # write in awslambdaric but not in fastric (KNOWN_DIFFERENCES["dunder-stdout-order"]).
    sys.__stdout__.write("sys.__stdout__ tail, not flushed\n")


def buffer_write(context):
    sys.stdout.buffer.write(b"raw bytes via sys.stdout.buffer\n")
    print("print after a raw buffer write")
    sys.stdout.buffer.write(b"raw tail, flushed by the next write to stdout\n")
    sys.stderr.buffer.write(b"raw stderr bytes\n")
    sys.stderr.flush()


def os_write(context):
    os.write(1, b"os.write to fd 1\n")
    os.write(2, b"os.write to fd 2\n")


def warnings_module(context):
    warnings.warn("a user warning", stacklevel=1)
    logging.captureWarnings(True)
    try:
        warnings.warn("a captured warning", FutureWarning, stacklevel=1)
    finally:
        logging.captureWarnings(False)


def write_return(context):
    # Not in the differential scripts: awslambdaric's wrapper returns None (KNOWN_DIFFERENCES).
    return [sys.stdout.write("counted\n"), sys.stderr.write("counted\n")]


def stderr(context):
    print("to stderr", file=sys.stderr)
    sys.stderr.write("raw stderr without newline")
    sys.stderr.write("\n")


def _every_level(logger):
    logger.debug("debug record %s", "arg")
    logger.info("info record")
    logger.warning("warning record")
    logger.error("error record")
    logger.critical("critical record")
    logger.log(25, "custom level 25")
    logger.log(55, "custom level 55")
    logger.log(5, "custom level 5")
    logger.fatal("fatal alias")


def levels_root(context):
    _every_level(logging.getLogger())
    logging.info("module-level info")
    logging.warning("module-level warning")


def levels_named(context):
    _every_level(log)


def levels_named_custom(context):
    logging.addLevelName(26, "NOTICE")
    log.log(26, "named custom level 26")


def level_set_by_user(context):
    # A logger with its own level below the root's: the runtime's root handler has no level of its own.
    child = logging.getLogger("app.verbose")
    child.setLevel(logging.DEBUG)
    child.debug("child debug")
    child.info("child info")
    child.setLevel(logging.NOTSET)


def exception(context):
    try:
        raise RuntimeError("inside")
    except RuntimeError:
        log.exception("caught")
    context.log("context.log right after an exception record\n")
    try:
        try:
            {}["missing"]
        except KeyError as e:
            raise ValueError("chained \u00e9") from e
    except ValueError:
        logging.error("with exc_info", exc_info=True)
        logging.critical("critical with exc_info", exc_info=True)
    logging.warning("after")


def extra(context):
    log.warning(
        "extra fields",
        extra={"k": "v", "n": 1, "f": 1.5, "nested": {"a": [1, 2]}, "obj": Unserialisable(), "none": None},
    )
    log.warning("extra shadowing", extra={"requestId_x": "x", "location": "here", "custom": True})


def dict_message(context):
    log.warning({"dict": "message", "n": 1})
    log.warning({"obj": Unserialisable(), "list": [1, "two"]})
    log.warning("%(a)s and %(b)s", {"a": "mapping", "b": "args"})
    log.warning(["a", "list"])
    log.warning(12345)


def unicode(context):
    text = "h\u00e9llo \u2603 \U0001f600 \u4e2d\u6587 \u2028 tab\t bell\x07 esc\x1b[0m"
    log.warning(text)
    log.warning("%s", text, extra={"u": text})
    print(text)
    context.log(text + "\n")


def context_log(context):
    context.log("context.log line\n")
    context.log("no newline")
    context.log(123)
    context.log({"x": 1})
    context.log("")
    context.log("multi\nline\n")


def thread_in(context):
    def work():
        log.warning("from a thread")
        print("print from a thread")

    t = threading.Thread(target=work)
    t.start()
    t.join()


_release = threading.Event()
_done = threading.Event()


def thread_after_start(context):
    def work():
        _release.wait(10)
        log.warning("thread logging after its invocation returned")
        print("thread printing after its invocation returned")
        _done.set()

    threading.Thread(target=work, daemon=True).start()


def thread_after_release(context):
    _release.set()
    _done.wait(10)


def asyncio_task(context):
    async def main():
        log.warning("inside an asyncio task")

    asyncio.run(main())


def handler_error(context):
    log.warning("about to fail")
    raise ValueError('bad thing "quoted"\nsecond line')


def handler_error_nonascii(context):
    raise KeyError("\u043a\u043b\u044e\u0447 \U0001f600")


def handler_error_empty(context):
    raise RuntimeError()


def basic_config(context):
    logging.basicConfig(level=logging.DEBUG, format="%(message)s")
    logging.info("info after basicConfig")
    logging.warning("warning after basicConfig")
    root = logging.getLogger()
    return {"handlers": len(root.handlers), "level": logging.getLevelName(root.level)}


def converter(context):
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", (), None)
    record.created = 86400.5
    record.msecs = 500.0
    return {
        "gmtime": logging.Formatter.converter is time.gmtime,
        "formatted": logging.Formatter("%(asctime)s").format(record),
    }


def tenant(context):
    log.warning("with a tenant")
    return context.tenant_id


def big_line(context):
    log.warning("L" * 1_000_000)
    print("P" * 1_000_000)
    context.log("C" * 1_000_000)


def many_lines(context):
    for i in range(10_000):
        log.warning("line %d", i)
    for i in range(2_000):
        print("print line", i)


def print_threads(context):
    # 8 threads print at once; every print has several arguments (several writes in awslambdaric).
    def work(t):
        for i in range(300):
            print(f"<T{t}-{i:04d}", "payload" * 3, f"end{t}>")

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def late_thread(context):
    # Logs while the runtime is parked in /next after the last invocation.
    def work():
        time.sleep(0.05)
        log.warning("late log while waiting for the next invocation")
        print("late print while waiting for the next invocation")

    threading.Thread(target=work).start()


CASES = {
    f.__name__: f
    for f in (
        print_basic,
        print_noeol,
        print_multiline,
        print_args,
        stderr,
        dunder_streams,
        buffer_write,
        os_write,
        warnings_module,
        write_return,
        dunder_tail,
        levels_root,
        levels_named,
        levels_named_custom,
        level_set_by_user,
        exception,
        extra,
        dict_message,
        unicode,
        context_log,
        thread_in,
        thread_after_start,
        thread_after_release,
        asyncio_task,
        handler_error,
        handler_error_nonascii,
        handler_error_empty,
        basic_config,
        converter,
        tenant,
        big_line,
        many_lines,
        print_threads,
        late_thread,
    )
}


def handler(event, context):
    name = event["case"]
    return {"case": name, "result": CASES[name](context)}
