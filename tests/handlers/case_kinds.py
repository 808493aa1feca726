"""The kinds of fault behind the shared cases C34, C38, C39, C40 and C43, beyond the one input each case has.

``handler`` raises or returns what ``event["kind"]`` names (see ``KINDS``); the ``sig_*`` handlers have
signatures that do not take ``(event, context)``. ``sys.excepthook`` is replaced at import time by a hook
that records its calls; the kind ``hook_calls`` returns them (the runtime never calls it, C43).
"""

import abc
import asyncio
import collections
import errno
import json
import socket
import sys
from builtins import BaseExceptionGroup, ExceptionGroup  # Python 3.11+; named for the py310 linters

HOOK_CALLS = []


def _hook(exc_type, exc, tb):
    HOOK_CALLS.append(exc_type.__name__)
    print("excepthook called:", exc_type.__name__, flush=True)


sys.excepthook = _hook


# -- C34: every way an exception can carry others ----------------------------------------------------


def _load(key):
    raise KeyError(key)


def _cause_deep(depth):
    if depth == 0:
        try:
            _load("deep")
        except KeyError as exc:
            raise RuntimeError("deep cause") from exc
    _cause_deep(depth - 1)


class NurseryGroup(ExceptionGroup):
    """An ExceptionGroup subclass (errorType is its own name)."""


def _chain(kind):
    if kind == "cause":
        try:
            _load("first")
        except KeyError as exc:
            raise RuntimeError("second") from exc
    if kind == "context":
        try:
            _load("first")
        except KeyError:
            raise ValueError("while handling")  # noqa: B904 - implicit __context__ on purpose
    if kind == "from_none":
        try:
            _load("first")
        except KeyError:
            raise ValueError("suppressed") from None
    if kind == "cause_deep":
        _cause_deep(2)
    if kind == "context_and_cause":
        try:
            try:
                _load("1")
            except KeyError as exc:
                raise ValueError("2") from exc
        except ValueError:
            raise TypeError("3")  # noqa: B904
    if kind == "bare_reraise":
        try:
            _load("again")
        except KeyError:
            raise
    if kind == "with_traceback_none":
        try:
            _load("stripped")
        except KeyError as exc:
            raise exc.with_traceback(None)  # noqa: B904
    if kind == "finally_mask":
        try:
            _load("masked")
        finally:
            raise RuntimeError("from finally")  # noqa: B012
    if kind == "cycle":
        first, second = ValueError("a"), TypeError("b")
        first.__cause__, second.__cause__ = second, first
        raise first
    if kind == "notes":
        exc = ValueError("with a note")
        exc.add_note("the note is not part of str()")
        raise exc
    if kind == "group":
        raise ExceptionGroup(
            "Exceptions from nursery", [ConnectionError("db down"), TimeoutError("cache slow")]
        )
    if kind == "group_one":
        raise ExceptionGroup("single", [ValueError("v")])
    if kind == "group_nested":
        raise ExceptionGroup("outer", [ValueError("v"), ExceptionGroup("inner", [TypeError("t")])])
    if kind == "group_subclass":
        raise NurseryGroup("mine", [ValueError("v")])
    if kind == "group_base_ctor":
        raise BaseExceptionGroup("made as base", [ValueError("v"), KeyError("k")])  # an ExceptionGroup
    if kind == "group_split":  # what `except* ValueError` leaves to propagate
        _, rest = ExceptionGroup("eg", [ValueError("v"), TypeError("t")]).split(ValueError)
        raise rest
    if kind == "taskgroup":

        async def fail(message):
            raise ValueError(message)

        async def main():
            async with asyncio.TaskGroup() as tg:
                tg.create_task(fail("x"))
                tg.create_task(fail("y"))

        asyncio.run(main())


# -- C38: every kind of exception class ----------------------------------------------------------------


class Outer:
    class Inner(Exception):
        """A nested class: qualname Outer.Inner, errorType Inner."""


class Meta(type):
    """A metaclass of an exception class."""


class WithMeta(Exception, metaclass=Meta):
    pass


class AbstractError(Exception, metaclass=abc.ABCMeta):
    pass


class Renamed(Exception):
    pass


Renamed.__name__ = "RenamedLater"
Renamed.__qualname__ = "Some.Qualname"


class Ошибка(Exception):
    """A non-ASCII class name (escaped or not, as the error document's encoding says)."""


class ClassLiar(Exception):
    """``exc.__class__`` lies; errorType follows ``type(exc)``."""

    @property
    def __class__(self):
        return KeyError


class MultiBase(KeyError, ValueError):
    pass


ReadTimeoutError = type("ReadTimeoutError", (TimeoutError,), {"__module__": "botocore.exceptions"})
Nameless = type("", (Exception,), {})
Dotted = type("a.b.C", (Exception,), {})


def _local():
    class LocalError(Exception):
        pass

    raise LocalError("local")


def _classes(kind):
    raisers = {
        "module_qualified": lambda: Outer.Inner("inner failure"),
        "metaclass": lambda: WithMeta("meta"),
        "abc": lambda: AbstractError("abc"),
        "renamed": lambda: Renamed("renamed"),
        "non_ascii_name": lambda: Ошибка("\u044e"),
        "class_liar": lambda: ClassLiar("liar"),
        "multi_base": lambda: MultiBase("mb"),
        "dynamic_foreign_module": lambda: ReadTimeoutError("Read timeout on endpoint URL"),
        "nameless": lambda: Nameless("no name"),
        "nameless_no_message": lambda: Nameless(),
        "dotted_name": lambda: Dotted("dotted"),
        "oserror_econnreset": lambda: OSError(errno.ECONNRESET, "Connection reset by peer"),
        "oserror_enoent_file": lambda: OSError(errno.ENOENT, "No such file", "x.txt"),
        "oserror_two_files": lambda: OSError(errno.EPERM, "perm", "a", None, "b"),
        "oserror_plain": lambda: OSError("plain"),
        "socket_timeout": lambda: socket.timeout("timed out"),  # noqa: UP041 - the alias is the point
        "gaierror": lambda: socket.gaierror(-2, "Name or service not known"),
        "class_not_instance": lambda: ValueError,
    }
    if kind == "local":
        _local()
    if kind == "json_decode":
        json.loads("{")
    if kind in raisers:
        raise raisers[kind]()


# -- C39: results that are iterable but not lists -------------------------------------------------------


def _chunks():
    for i in range(3):
        yield "chunk-%d\n" % i


def _never_iterated():
    raise AssertionError("a generator result must not be iterated")
    yield


async def _async_chunks():
    yield "chunk"


class ListSubclass(list):
    pass


RESULTS = {
    "ret_generator": _chunks,
    "ret_unstarted_generator": _never_iterated,
    "ret_genexpr": lambda: (x for x in range(2)),
    "ret_iterator": lambda: iter(["a", "b"]),
    "ret_range": lambda: range(3),
    "ret_map": lambda: map(str, [1]),
    "ret_async_generator": _async_chunks,
    "ret_dict_items": lambda: {"a": 1}.items(),
    "ret_deque": lambda: collections.deque([1]),
    "ret_nested_generator": lambda: {"body": _chunks()},
    "ret_list_subclass": lambda: ListSubclass(["a", "b"]),
    "ret_tuple": lambda: tuple(_chunks()),
}


def handler(event, context):
    """Raise or return what ``event["kind"]`` names."""
    kind = event["kind"]
    if kind == "hook_calls":
        return {"hook_calls": HOOK_CALLS, "hook_installed": sys.excepthook is _hook}
    if kind in RESULTS:
        return RESULTS[kind]()
    _chain(kind)
    _classes(kind)
    raise AssertionError("unknown kind " + kind)


# -- C40: handlers that cannot be called as handler(event, context) ---------------------------------


def sig_zero():
    return {}


def sig_three(event, context, extra):
    return {}


def sig_keyword_only(*, event, context):
    return {}


class SigClass:
    """Called as ``SigClass(event, context)``: its ``__init__`` takes only ``event``."""

    def __init__(self, event):
        self.event = event


sig_builtin = len


def sig_defaults(event, context, extra="default"):
    return {"extra": extra}


def sig_star(*args):
    return {"args": len(args)}
