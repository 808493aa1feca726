"""fastric's JSON codec against awslambdaric 4.2.2 / simplejson 4.3.0 behaviour.

Exact-byte expectations for each documented semantic, then a differential run against the
reference interpreter (``FASTRIC_REF_PYTHON``, else ``.venv-ref/bin/python`` at the repository
root, else ``/work/main/.venv-ref/bin/python``), skipped when none exists.
"""

import base64
import decimal
import json
import math
import os
import pathlib
import random
import struct
import subprocess
import sys

import pytest
from fastric import _json_compat
from fastric._fastric import json_dumps, json_loads

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _events_dir():
    for candidate in (ROOT.parent / "shared" / "events", pathlib.Path("/work/shared/events")):
        if candidate.is_dir():
            return candidate
    return None


EVENTS = _events_dir()


def dumps(obj, ensure_ascii=True):
    return json_dumps(obj, ensure_ascii)


def error_of(fn, *args):
    with pytest.raises(BaseException) as info:
        fn(*args)
    return type(info.value), str(info.value)


# ---------------------------------------------------------------------------------------------
# Helper types shared with the reference run (the same source is exec'd there).
HELPERS = r"""
import collections, decimal, enum, datetime

class StrSub(str):
    def __str__(self):
        return "OVERRIDDEN"

class IntSub(int):
    def __int__(self):
        return 99

class FloatSub(float):
    def __float__(self):
        return 2.5

class Color(enum.IntEnum):
    RED = 5

class Plain(enum.Enum):
    A = 1

class Name(str, enum.Enum):
    A = "aa"

Point = collections.namedtuple("Point", "x y")

class ListWithAsdict(list):
    def _asdict(self):
        return {"from": "asdict"}

class DictWithAsdict(dict):
    def _asdict(self):
        return {"from": "asdict"}

class AsdictList:
    def _asdict(self):
        return [1]

class AsdictTypeError:
    def _asdict(self):
        raise TypeError("not really")

class AsdictNotCallable:
    _asdict = 5

class AsdictRaises:
    def __getattr__(self, name):
        raise ValueError("boom " + name)

class ForJson:
    def for_json(self):
        return 1

class ListIter(list):
    def __iter__(self):
        return iter([9])

class DictItems(dict):
    def items(self):
        return [("x", 1)]

class SelfAsdict:
    def _asdict(self):
        return {"me": self}

def ordered_moved():
    d = collections.OrderedDict(a=1, b=2)
    d.move_to_end("a")
    return d

def cyclic_list():
    x = []
    x.append(x)
    return x

def cyclic_dict():
    x = {}
    x["a"] = x
    return x

def deep_list(n):
    top = []
    cur = top
    for _ in range(n):
        nxt = []
        cur.append(nxt)
        cur = nxt
    return top

async def _coro():
    return 1
"""
exec(HELPERS)  # noqa: S102 - defines the helper classes in this module too

# (expression, ensure_ascii=True bytes, ensure_ascii=False bytes or None when identical)
ENCODE_CASES = [
    ("None", b"null", None),
    ("True", b"true", None),
    ("False", b"false", None),
    ("[True, False, None]", b"[true, false, null]", None),
    ('"hello"', b'"hello"', None),
    ('"h\\u00e9llo \\U0001f600"', b'"h\\u00e9llo \\ud83d\\ude00"', '"h\u00e9llo \U0001f600"'.encode()),
    (
        '"\\x7f \\u2028 \\x00 \\x1f \\b\\f\\n\\r\\t \\"\\\\/"',
        b'"\\u007f \\u2028 \\u0000 \\u001f \\b\\f\\n\\r\\t \\"\\\\/"',
        '"\x7f \u2028 \\u0000 \\u001f \\b\\f\\n\\r\\t \\"\\\\/"'.encode(),
    ),
    ('"\\u00a31.00"', b'"\\u00a31.00"', '"\u00a31.00"'.encode()),
    ('StrSub("abc")', b'"abc"', None),
    ("Name.A", b'"aa"', None),
    ("0", b"0", None),
    ("-0", b"0", None),
    (
        "[10**30, -10**30, 2**63, -2**63, 2**63 - 1]",
        (
            b"[1000000000000000000000000000000, -1000000000000000000000000000000, 9223372036854775808, "
            b"-9223372036854775808, 9223372036854775807]"
        ),
        None,
    ),
    ("IntSub(7)", b"99", None),
    ("Color.RED", b"5", None),
    ("FloatSub(7.25)", b"2.5", None),
    (
        "[1e16, 1e-07, -0.0, 5e-324, 1e308, 0.1, 1e15, 1.5e-05, 0.0001, 1/3]",
        b"[1e+16, 1e-07, -0.0, 5e-324, 1e+308, 0.1, 1000000000000000.0, 1.5e-05, 0.0001, 0.3333333333333333]",
        None,
    ),
    ("[float('nan'), float('inf'), -float('inf')]", b"[NaN, Infinity, -Infinity]", None),
    ("{'a': 1, 'b': [1, 2]}", b'{"a": 1, "b": [1, 2]}', None),
    (
        "{1: 'i', 2.5: 'f', True: 't', False: 'f', None: 'n'}",
        b'{"1": "t", "2.5": "f", "false": "f", "null": "n"}',
        None,
    ),
    (
        "{float('nan'): 1, float('inf'): 2, -0.0: 3, 1e20: 4, 1e-5: 5}",
        b'{"NaN": 1, "Infinity": 2, "-0.0": 3, "1e+20": 4, "1e-05": 5}',
        None,
    ),
    ("{Color.RED: 1, IntSub(3): 2, FloatSub(1.5): 3}", b'{"5": 1, "99": 2, "2.5": 3}', None),
    ("{b'k': b'v'}", b'{"k": "v"}', None),
    ("{'\\u00e9': 1}", b'{"\\u00e9": 1}', '{"\u00e9": 1}'.encode()),
    ("[(1, 2), (), [], {}, '']", b'[[1, 2], [], [], {}, ""]', None),
    ("Point(1, 2)", b'{"x": 1, "y": 2}', None),
    ("[Point(1, [Point(2, 3)])]", b'[{"x": 1, "y": [{"x": 2, "y": 3}]}]', None),
    ("ListWithAsdict([1])", b'{"from": "asdict"}', None),
    ("DictWithAsdict(a=1)", b'{"from": "asdict"}', None),
    ("ListIter([1, 2])", b"[9]", None),
    ("DictItems(a=1)", b'{"x": 1}', None),
    ("ordered_moved()", b'{"b": 2, "a": 1}', None),
    ("b'bytes-in-top'", b'"bytes-in-top"', None),
    ("{'b': b'bytes-in-dict'}", b'{"b": "bytes-in-dict"}', None),
    (
        "[decimal.Decimal(s) for s in ('1.10', '-0.00', '1E+2', '12345678901234567890.123456789')]",
        b"[1.10, -0.00, 1E+2, 12345678901234567890.123456789]",
        None,
    ),
    (
        "[decimal.Decimal(s) for s in ('NaN', '-NaN', 'sNaN', 'Infinity', '-Infinity')]",
        b"[NaN, NaN, NaN, Infinity, -Infinity]",
        None,
    ),
    ("decimal.Decimal('1.5')", b"1.5", None),
    ("[[1], [1]]", b"[[1], [1]]", None),
    ("(lambda x: [x, x, {'k': x}])([1])", b'[[1], [1], {"k": [1]}]', None),
]

ENCODE_ERRORS = [
    ("{1}", TypeError, "Object of type set is not JSON serializable"),
    ("datetime.datetime(2024, 1, 2, 3, 4, 5)", TypeError, "Object of type datetime is not JSON serializable"),
    ("object()", TypeError, "Object of type object is not JSON serializable"),
    ("1j", TypeError, "Object of type complex is not JSON serializable"),
    ("Plain.A", TypeError, "Object of type Plain is not JSON serializable"),
    ("ForJson()", TypeError, "Object of type ForJson is not JSON serializable"),
    ("AsdictTypeError()", TypeError, "Object of type AsdictTypeError is not JSON serializable"),
    ("AsdictNotCallable()", TypeError, "Object of type AsdictNotCallable is not JSON serializable"),
    ("AsdictList()", TypeError, "_asdict() must return a dict, not list"),
    ("AsdictRaises()", ValueError, "boom _asdict"),
    ("{(1,): 1}", TypeError, "keys must be str, int, float, bool or None, not tuple"),
    ("{decimal.Decimal('1.5'): 1}", TypeError, "keys must be str, int, float, bool or None, not Decimal"),
    ("cyclic_list()", ValueError, "Circular reference detected"),
    ("cyclic_dict()", ValueError, "Circular reference detected"),
    ("SelfAsdict()", ValueError, "Circular reference detected"),
    (
        "[b'\\xff']",
        UnicodeDecodeError,
        "'utf-8' codec can't decode byte 0xff in position 0: invalid start byte",
    ),
    (
        "{b'\\xff': 1}",
        UnicodeDecodeError,
        "'utf-8' codec can't decode byte 0xff in position 0: invalid start byte",
    ),
    ("deep_list(100000)", RecursionError, "maximum recursion depth exceeded while encoding a JSON object"),
    (
        "10**5000",
        ValueError,
        (
            "Exceeds the limit (4300 digits) for integer string conversion; use sys.set_int_max_str_digits() "
            "to increase the limit"
        ),
    ),
]


@pytest.mark.parametrize(
    ("expr", "ascii_bytes", "utf8_bytes"), ENCODE_CASES, ids=[c[0][:40] for c in ENCODE_CASES]
)
def test_encode_exact_bytes(expr, ascii_bytes, utf8_bytes):
    obj = eval(expr)
    assert dumps(obj, True) == ascii_bytes
    assert dumps(obj, False) == (ascii_bytes if utf8_bytes is None else utf8_bytes)


@pytest.mark.parametrize(
    ("expr", "exc_type", "message"), ENCODE_ERRORS, ids=[c[0][:40] for c in ENCODE_ERRORS]
)
@pytest.mark.parametrize("ensure_ascii", [True, False])
def test_encode_errors(expr, exc_type, message, ensure_ascii):
    obj = eval(expr)
    assert error_of(json_dumps, obj, ensure_ascii) == (exc_type, message)


def test_encode_coroutine_is_an_error():
    coro = _coro()  # noqa: F821 - defined by HELPERS
    try:
        assert error_of(json_dumps, coro, True) == (
            TypeError,
            "Object of type coroutine is not JSON serializable",
        )
    finally:
        coro.close()


def test_encode_lone_surrogates_are_escaped_in_both_modes():
    # Deliberate difference (docs/DIFFERENCES-json.md): simplejson leaves them raw with
    # ensure_ascii=False, producing a str awslambdaric cannot send.
    for ensure_ascii in (True, False):
        assert (
            dumps(["\ud800", "a\udfffb", "\ud83d\ude00"], ensure_ascii)
            == b'["\\ud800", "a\\udfffb", "\\ud83d\\ude00"]'
        )
    assert dumps("\U0001f600\ud800", False) == '"\U0001f600\\ud800"'.encode("utf-8")


def test_encode_case_c01_c03_c04():
    msg = {"msg": "h\u00e9llo w\u00f6rld \U0001f30d", "n": 7}
    assert dumps(msg, True) == b'{"msg": "h\\u00e9llo w\\u00f6rld \\ud83c\\udf0d", "n": 7}'
    assert dumps(msg, False) == '{"msg": "héllo wörld 🌍", "n": 7}'.encode()
    c03 = {
        "price": decimal.Decimal("1.10"),
        "big": decimal.Decimal("12345678901234567890.123456789"),
        "exp": decimal.Decimal("1E+2"),
        "neg_zero": decimal.Decimal("-0.00"),
        "nan": decimal.Decimal("NaN"),
    }
    assert (
        dumps(c03)
        == b'{"price": 1.10, "big": 12345678901234567890.123456789, "exp": 1E+2, "neg_zero": -0.00, "nan": NaN}'
    )
    c04 = {"nan": math.nan, "inf": math.inf, "ninf": -math.inf, "tiny": 5e-324, "big": 1e308, "third": 1 / 3}
    assert dumps(c04) == (
        b'{"nan": NaN, "inf": Infinity, "ninf": -Infinity, "tiny": 5e-324, "big": 1e+308, "third": 0.3333333333333333}'
    )
    assert dumps("y" * 6_000_000) == b'"' + b"y" * 6_000_000 + b'"'


def test_encode_decimal_without_decimal_module_imported():
    code = (
        "import sys; from fastric._fastric import json_dumps; "
        "assert 'decimal' not in sys.modules, 'imported early'; "
        "r = json_dumps({'a': [1, 2.5, 'x']}, True); assert r == b'{\"a\": [1, 2.5, \"x\"]}', r; "
        "assert 'decimal' not in sys.modules; "
        "import decimal; assert json_dumps(decimal.Decimal('1.10'), True) == b'1.10'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_float_repr_matches_python_on_random_floats():
    rng = random.Random(20240601)
    values = []
    for _ in range(50_000):
        (v,) = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))
        values.append(v)
    for _ in range(50_000):
        values.append(rng.uniform(-1e6, 1e6) * 10.0 ** rng.randint(-30, 30))
    values += [0.1 * i for i in range(1000)] + [2.0**e for e in range(-1074, 1024, 7)]
    # Exact halfway cases, where CPython keeps the even last digit (73177653367606.625 → …606.62),
    # short decimals and large integers (the encoder skips its exact tie check when none is possible).
    values += [73177653367606.625, 0.5, 2.5, 1e23, 9007199254740993.0, 2.0**63 + 2048]
    for _ in range(50_000):
        values.append(rng.randint(0, 10**17) / 10 ** rng.randint(0, 17))
        values.append(rng.randint(-(2**53), 2**53) * 2.0 ** rng.randint(-40, 40))
    expected = (
        "["
        + ", ".join(
            repr(v) if math.isfinite(v) else {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}[repr(v)]
            for v in values
        )
        + "]"
    )
    assert dumps(values) == expected.encode()


# ---------------------------------------------------------------------------------------------
# Decoding

DECODE_CASES = [
    (b'{"a": 1}', {"a": 1}),
    (b' \t\n\r{"a" : [1 , 2] } \r\n', {"a": [1, 2]}),
    (b'{"a": 1, "a": 2, "b": 3, "a": 4}', {"a": 4, "b": 3}),
    (
        b"[123456789012345678901234567890, -9223372036854775809, 9223372036854775807, -0]",
        [123456789012345678901234567890, -9223372036854775809, 9223372036854775807, 0],
    ),
    (
        b"[1e400, -1e400, 1e-400, -0.0, 0.1, 1E5, 1e+5, 1.0e-5, 2.5]",
        [math.inf, -math.inf, 0.0, -0.0, 0.1, 1e5, 1e5, 1e-5, 2.5],
    ),
    (b'"\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u00E9"', '"\\/\b\f\n\r\t\u00e9\u00e9'),
    (b'{"who": "w\\u00f6rld \\ud83c\\udf0d"}', {"who": "w\u00f6rld \U0001f30d"}),
    (
        b'["\\ud800", "\\udc00x", "\\ud800\\u0041", "\\uD83D\\uDE00", "\\ud800\\ud800"]',
        ["\ud800", "\udc00x", "\ud800A", "\U0001f600", "\ud800\ud800"],
    ),
    (b'\xef\xbb\xbf{"bom": true}', {"bom": True}),
    (b'"\\ufeff"', "\ufeff"),
    (b'["a\x7fb", "\xc3\xa9\xe2\x98\x83\xf0\x9f\x98\x80"]', ["a\x7fb", "\u00e9\u2603\U0001f600"]),
    (b"[true, false, null, [], {}]", [True, False, None, [], {}]),
    (b'"' + b"x" * 100_000 + b'"', "x" * 100_000),
]

DECODE_ERRORS = [
    (b'{"a": 1}}', "Extra data: line 1 column 9 - line 1 column 10 (char 8 - 9)"),
    (b"", "Expecting value: line 1 column 1 (char 0)"),
    (b" \n", "Expecting value: line 2 column 1 (char 2)"),
    (b"{'a': 1}", "Expecting property name enclosed in double quotes or '}': line 1 column 2 (char 1)"),
    (b'{"a": NaN}', "Expecting value: line 1 column 7 (char 6)"),
    (b"[Infinity]", "Expecting value: line 1 column 2 (char 1)"),
    (b"[-Infinity]", "Expecting value: line 1 column 2 (char 1)"),
    (b'{"a": "\xff"}', "'utf-8' codec can't decode byte 0xff in position 7: invalid start byte"),
    (b'{"a": "\xc3"}', "'utf-8' codec can't decode byte 0xc3 in position 7: invalid continuation byte"),
    (b'["\xed\xa0\x80"]', "'utf-8' codec can't decode byte 0xed in position 2: invalid continuation byte"),
    (b'  \xef\xbb\xbf{"a": 1}', "Expecting value: line 1 column 3 (char 2)"),
    (b"\xef\xbb\xbf", "Expecting value: line 1 column 2 (char 1)"),
    (b'["\\x"]', "Invalid \\X escape sequence 'x': line 1 column 4 (char 3)"),
    (b'["\\u12G4"]', "Invalid \\uXXXX escape sequence: line 1 column 3 (char 2)"),
    (b'["\\u12"]', "Invalid \\uXXXX escape sequence: line 1 column 3 (char 2)"),
    (b'["a\x01b"]', "Invalid control character '\\x01' at: line 1 column 4 (char 3)"),
    (b'["a\tb"]', "Invalid control character '\\t' at: line 1 column 4 (char 3)"),
    (b'["abc', "Unterminated string starting at: line 1 column 2 (char 1)"),
    (b'{\n"a": 1}\n\n  x\n y', "Extra data: line 4 column 3 - line 5 column 3 (char 13 - 17)"),
    (b"[1, 2,]", "Illegal trailing comma before end of array: line 1 column 6 (char 5)"),
    (b'{"a": 1,}', "Illegal trailing comma before end of object: line 1 column 8 (char 7)"),
    (b'{"a" 1}', "Expecting ':' delimiter: line 1 column 6 (char 5)"),
    (b'{"a": 1 "b": 2}', "Expecting ',' delimiter or '}': line 1 column 9 (char 8)"),
    (b"[1 2]", "Expecting ',' delimiter or ']': line 1 column 4 (char 3)"),
    (b"[", "Expecting value or ']': line 1 column 2 (char 1)"),
    (b'{"a": 1, ', "Expecting property name enclosed in double quotes: line 1 column 10 (char 9)"),
    (b"-", "Expecting value: line 1 column 1 (char 0)"),
    (b"01", "Extra data: line 1 column 2 - line 1 column 3 (char 1 - 2)"),
    (b"1.e5", "Extra data: line 1 column 2 - line 1 column 5 (char 1 - 4)"),
    (b".5", "Expecting value: line 1 column 1 (char 0)"),
    (b"\x0c[1]", "Expecting value: line 1 column 1 (char 0)"),
    (b"[1]\x0b", "Extra data: line 1 column 4 - line 1 column 5 (char 3 - 4)"),
    (b'["\xc3\xa9\xc3\xa9", x]', "Expecting value: line 1 column 8 (char 7)"),
    (
        b"1" * 5000,
        (
            "Exceeds the limit (4300 digits) for integer string conversion: value has 5000 digits; "
            "use sys.set_int_max_str_digits() to increase the limit"
        ),
    ),
    (b"[" * 100_000, "maximum recursion depth exceeded while decoding a JSON array from a string"),
    (b'{"a":' * 100_000, "maximum recursion depth exceeded while decoding a JSON object from a string"),
]


@pytest.mark.parametrize(("data", "expected"), DECODE_CASES, ids=[repr(c[0][:30]) for c in DECODE_CASES])
def test_decode_values(data, expected):
    for loads in (json_loads, _json_compat.loads):
        assert repr(loads(data)) == repr(expected)


@pytest.mark.parametrize(("data", "message"), DECODE_ERRORS, ids=[repr(c[0][:30]) for c in DECODE_ERRORS])
def test_decode_errors(data, message):
    for loads in (json_loads, _json_compat.loads):
        exc_type, text = error_of(loads, data)
        assert text == message
        assert issubclass(exc_type, (ValueError, RecursionError))


def test_decode_error_attributes():
    with pytest.raises(_json_compat.JSONDecodeError) as info:
        json_loads(b'{"a": 1}}')
    exc = info.value
    assert (exc.msg, exc.pos, exc.end, exc.lineno, exc.colno, exc.endlineno, exc.endcolno) == (
        "Extra data",
        8,
        9,
        1,
        9,
        1,
        10,
    )
    assert isinstance(exc, ValueError)


def test_decode_shares_key_objects():
    data = json_loads(b'[{"eventSource": 1}, {"eventSource": 2}]')
    k1, k2 = next(iter(data[0])), next(iter(data[1]))
    assert k1 is k2


def test_compat_module_is_light():
    code = "import sys; before = set(sys.modules); import fastric._json_compat; print(sorted(set(sys.modules) - before))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(eval(out.stdout))
    assert not loaded & {"re", "json", "decimal", "simplejson"}, loaded


# ---------------------------------------------------------------------------------------------
# Differential run against the reference interpreter

REF_SCRIPT = r"""
import base64, json, os, sys
import simplejson
from awslambdaric.lambda_runtime_marshaller import Encoder
exec(sys.argv[3])
os.environ.pop("AWS_EXECUTION_ENV", None)
enc_ascii = Encoder()
os.environ["AWS_EXECUTION_ENV"] = "AWS_Lambda_python3.12"
enc_utf8 = Encoder()
job = json.load(open(sys.argv[1]))
def outcome(fn):
    try:
        return ["ok", fn()]
    except BaseException as e:
        return ["err", type(e).__name__, str(e)]
out = {"decode": [], "encode": []}
for d in job["decode"]:
    b = base64.b64decode(d)
    out["decode"].append(outcome(lambda: repr(simplejson.loads(b))))
def enc(e, obj):
    return base64.b64encode(e.encode(obj).encode("utf-8", "surrogatepass")).decode()
for kind, payload in job["encode"]:
    if kind == "expr":
        make = lambda: eval(payload)
    else:
        b = base64.b64decode(payload)
        make = lambda: simplejson.loads(b)
    out["encode"].append([outcome(lambda: enc(enc_ascii, make())), outcome(lambda: enc(enc_utf8, make()))])
json.dump(out, open(sys.argv[2], "w"))
"""


def _ref_python():
    candidates = [
        os.environ.get("FASTRIC_REF_PYTHON"),
        str(ROOT / ".venv-ref" / "bin" / "python"),
    ]
    for c in candidates:
        if c and os.path.exists(c):
            return c
    return None


def _mutations(docs, count, seed):
    rng = random.Random(seed)
    tokens = [
        b'"',
        b"\\",
        b"{",
        b"}",
        b"[",
        b"]",
        b",",
        b":",
        b" ",
        b"\n",
        b"\t",
        b"\x00",
        b"\x1f",
        b"\xff",
        b"\xc3",
        b"NaN",
        b"Infinity",
        b"-",
        b"0",
        b"1",
        b".",
        b"e",
        b"+",
        b"\\u",
        b"\\ud800",
        b"\\udc00",
        b"\xef\xbb\xbf",
        b"tru",
        b"null",
        b"'",
        b"\x7f",
        b"\\x",
        b"1e400",
        b"01",
        b"\xe2\x98\x83",
    ]
    out = []
    for _ in range(count):
        d = bytearray(rng.choice(docs))
        for _ in range(rng.randint(1, 3)):
            op = rng.random()
            p = rng.randint(0, len(d))
            if op < 0.3:
                d[p:p] = rng.choice(tokens)
            elif op < 0.6 and d:
                del d[p : p + rng.randint(1, 3)]
            elif op < 0.8:
                d = d[:p]
            else:
                d[p : p + 1] = bytes([rng.randint(0, 255)])
        out.append(bytes(d))
    return out


NASTY_VALUES = [
    '"h\\u00e9llo \\U0001f600 \\x7f \\u2028 \\x00 \\x1f \\"\\\\/"',
    "[1e16, 1e-07, -0.0, 5e-324, float('nan'), float('inf'), -float('inf'), 1e308, 0.1, 123456789012345678.0]",
    "[10**30, -10**30, 2**63, IntSub(3), Color.RED, FloatSub(1.0), True, None]",
    "{1: 1, 2.5: 2, True: 3, None: 4, float('nan'): 5, -0.0: 7, Color.RED: 8, b'k': 9, StrSub('s'): 10}",
    "[decimal.Decimal(s) for s in ('1.10', '-0.00', '1E+2', 'NaN', '-NaN', 'sNaN', 'Infinity', '-Infinity')]",
    "[Point(1, 2), ListWithAsdict([1]), DictWithAsdict(a=1), ListIter([1]), DictItems(a=1), ordered_moved()]",
    "[(), [], {}, '', ((1,),), [b'bytes']]",
    "{1}",
    "object()",
    "Plain.A",
    "AsdictList()",
    "AsdictTypeError()",
    "AsdictRaises()",
    "{(1,): 2}",
    "cyclic_list()",
    "cyclic_dict()",
    "SelfAsdict()",
    "[b'\\xff']",
    "deep_list(100000)",
    "datetime.date(2020, 1, 1)",
    "'\\u00a3\\u00e9\\u2603 \\U0001f30d'",
    "{'\\u00e9\\u00e9': ['\\u2028\\u2029', '\\ufeff']}",
]


def test_differential_against_reference(tmp_path):
    ref = _ref_python()
    if ref is None:
        pytest.skip("no reference interpreter (set FASTRIC_REF_PYTHON)")
    if EVENTS is None:
        pytest.skip("shared/events not found")
    events = [p.read_bytes() for p in sorted(EVENTS.glob("*.json"))]
    assert len(events) >= 60
    small = [
        b'{"a": [1, 2.5, "x\\u00e9\\ud83d\\ude00", true, false, null, {"b": -0}], "c": "\\n\\t\\"\\\\/"}',
        b"[1e5, -1E-5, 0.0, 123456789012345678901234567890, 1e400]",
    ]
    decode_docs = events + small + [d for d, _ in DECODE_CASES] + [d for d, _ in DECODE_ERRORS]
    decode_docs += _mutations(events + small, 600, seed=7) + _mutations(small, 600, seed=8)
    encode_jobs = [["expr", e] for e in NASTY_VALUES] + [["expr", c[0]] for c in ENCODE_CASES]
    encode_jobs += [["expr", c[0]] for c in ENCODE_ERRORS] + [
        ["event", base64.b64encode(e).decode()] for e in events
    ]
    job = {"decode": [base64.b64encode(d).decode() for d in decode_docs], "encode": encode_jobs}
    (tmp_path / "job.json").write_text(json.dumps(job))
    subprocess.run(
        [ref, "-c", REF_SCRIPT, str(tmp_path / "job.json"), str(tmp_path / "out.json"), HELPERS], check=True
    )
    expected = json.loads((tmp_path / "out.json").read_text())

    def outcome(fn):
        try:
            return ["ok", fn()]
        except BaseException as e:  # noqa: BLE001 - compared with the reference outcome
            return ["err", type(e).__name__, str(e)]

    mismatches = []
    for doc, want in zip(decode_docs, expected["decode"], strict=False):
        got = outcome(lambda doc=doc: repr(json_loads(doc)))
        if got != want:
            mismatches.append(("decode", doc[:80], got, want))
    for (kind, payload), (want_ascii, want_utf8) in zip(encode_jobs, expected["encode"], strict=False):
        if kind == "expr":
            obj_text = payload

            def make(obj_text=obj_text):
                return eval(obj_text)
        else:
            raw = base64.b64decode(payload)

            def make(raw=raw):
                return json_loads(raw)

        got_ascii = outcome(lambda make=make: base64.b64encode(json_dumps(make(), True)).decode())
        got_utf8 = outcome(lambda make=make: base64.b64encode(json_dumps(make(), False)).decode())
        if got_ascii != want_ascii:
            mismatches.append(("encode ascii", payload[:80], got_ascii, want_ascii))
        if got_utf8 != want_utf8:
            mismatches.append(("encode utf8", payload[:80], got_utf8, want_utf8))
    assert not mismatches, mismatches[:10]


def _mutate_grow(d):
    d["z"] = 1


def _mutate_shrink(d):
    d.pop("c")


def _mutate_swap(d):
    d.pop("b")
    d["y"] = 1


def _mutate_swap_first(d):
    d.pop("a")
    d["y"] = 1


def _mutate_values(d):
    d["b"] = 5
    d.pop("c")
    d["c"] = 9


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (_mutate_grow, (RuntimeError, "dictionary changed size during iteration")),
        (_mutate_shrink, (RuntimeError, "dictionary changed size during iteration")),
        (_mutate_swap, b'{"a": 7, "c": 3, "y": 1}'),
        (_mutate_swap_first, (RuntimeError, "dictionary keys changed during iteration")),
        (_mutate_values, b'{"a": 7, "b": 5, "c": 9}'),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_dict_mutated_while_encoding(mutate, expected):
    """User code run by the encoder mutates the dict being walked: simplejson's outcome (observed
    with awslambdaric 4.2.2), CPython's dict-iterator RuntimeErrors, never a Rust panic."""

    class MutatingInt(int):
        def __int__(self):
            mutate(d)
            return 7

    d = {"a": MutatingInt(1), "b": 2, "c": 3}
    if isinstance(expected, bytes):
        assert dumps(d) == expected
    else:
        assert error_of(dumps, d) == expected


def test_decoded_short_strings_are_shared_objects_and_equal():
    """docs/DIFFERENCES-json.md: keys up to 64 bytes and values up to 24 bytes come from a cache shared
    across documents, so equal short strings are one object; longer values are fresh objects. The values
    are what simplejson returns either way."""
    long_value = "x" * 25
    doc = json.dumps({"a": "us-east-1", "b": "us-east-1", "c": long_value, "d": long_value}).encode()
    first, second = json_loads(doc), json_loads(doc)
    assert first == second == {"a": "us-east-1", "b": "us-east-1", "c": long_value, "d": long_value}
    assert first["a"] is first["b"] is second["a"]
    assert next(iter(first)) is next(iter(second))
    assert first["c"] is not first["d"]
