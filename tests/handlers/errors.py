"""Handler raising an exception chosen by ``event["kind"]``; exercises error documents."""


class CustomError(Exception):
    """A user-defined exception."""


class Outer:
    """Holds a nested exception class (its errorType is the bare class name)."""

    class NestedError(Exception):
        """A nested user exception."""


def _helper(message):
    raise CustomError(message)


def _chained():
    try:
        _ = {}["missing"]
    except KeyError as exc:
        raise ValueError("while handling") from exc


def _implicit_chain():
    try:
        _ = 1 / 0
    except ZeroDivisionError:
        raise RuntimeError("during handling")  # noqa: B904 - implicit __context__ on purpose


def handler(event, context):
    """Raise the exception named by ``event["kind"]``."""
    kind = event["kind"]
    if kind == "custom":
        _helper("custom failure")
    elif kind == "value":
        raise ValueError('bad thing "quoted"\nsecond line')
    elif kind == "key":
        raise KeyError("k")
    elif kind == "empty":
        raise RuntimeError()
    elif kind == "chained":
        _chained()
    elif kind == "implicit_chain":
        _implicit_chain()
    elif kind == "non_ascii":
        raise ValueError("caf\u00e9 \u2603 \U0001f600")
    elif kind == "big":
        raise ValueError("x" * (1024 * 1024))
    elif kind == "nested_class":
        raise Outer.NestedError("nested")
    elif kind == "type_error":
        return len(5)
    elif kind == "ok":
        return {"ok": True}
    raise AssertionError("unknown kind " + kind)
