"""Handler returning a value chosen by ``event["kind"]``; exercises response marshalling."""

import collections
import datetime
import decimal
import enum

Point = collections.namedtuple("Point", "x y")


class Colour(enum.IntEnum):
    """An IntEnum (marshalled as its int value)."""

    RED = 1


class WithAsDict:
    """An object with ``_asdict()`` (simplejson treats it like a namedtuple)."""

    def _asdict(self):
        return {"as": "dict"}


def _circular():
    d = {}
    d["self"] = d
    return d


VALUES = {
    "none": lambda: None,
    "str": lambda: "hello",
    "empty_str": lambda: "",
    "int": lambda: 42,
    "negative_int": lambda: -7,
    "big_int": lambda: 10**30,
    "float": lambda: 1.5,
    "float_forms": lambda: [1e16, 1e-07, -0.0, 0.1, 5e-324, 1e308, 1 / 3],
    "true": lambda: True,
    "false": lambda: False,
    "nested": lambda: {"a": [1, {"b": None, "c": [True, False]}], "d": {"e": {"f": "g"}}, "t": (1, 2)},
    "dict_keys": lambda: {7: "int", 2.5: "float", True: "bool", None: "none"},
    "decimal": lambda: {
        "a": decimal.Decimal("1.10"),
        "b": decimal.Decimal("1E+2"),
        "c": decimal.Decimal("-0.00"),
        "d": decimal.Decimal("12345678901234567890.123456789"),
        "inf": decimal.Decimal("Infinity"),
    },
    "decimal_nan": lambda: [decimal.Decimal("NaN"), decimal.Decimal("-NaN"), decimal.Decimal("sNaN")],
    "nan": lambda: {"nan": float("nan"), "inf": float("inf"), "ninf": float("-inf")},
    "non_bmp": lambda: {"emoji": "\U0001f600 \U0001f30d", "text": "\u00a3\u00e9\u2603"},
    "escapes": lambda: 'tab\tnl\nquote"bs\\ctl\x01\x1f del\x7f ls\u2028 ps\u2029 nul\x00',
    "bytes": lambda: b"\x89PNG\r\n\x1a\n\x00\xff raw",
    "empty_bytes": lambda: b"",
    "nested_bytes": lambda: {"b": b"bytes-in-dict", "l": [b"x"]},
    "nested_bad_bytes": lambda: {"b": b"\xff"},
    "set": lambda: {"ids": {1, 2}},
    "datetime": lambda: {"when": datetime.datetime(2024, 1, 2, 3, 4, 5)},
    "date": lambda: datetime.date(2024, 1, 2),
    "namedtuple": lambda: Point(1, 2),
    "asdict": lambda: WithAsDict(),
    "intenum": lambda: {"c": Colour.RED},
    "tuple_key": lambda: {(1, 2): "x"},
    "circular": _circular,
    "object": lambda: object(),
}


def handler(event, context):
    """Return ``VALUES[event["kind"]]()``."""
    return VALUES[event["kind"]]()
