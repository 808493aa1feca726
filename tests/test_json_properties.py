"""Differential property tests of the JSON codec against awslambdaric 4.2.2 (hypothesis).

Values of every kind awslambdaric's encoder accepts, nested at random, must encode to the bytes
awslambdaric's ``Encoder`` writes (both modes); any valid JSON document must decode to the value
``simplejson.loads`` returns (compared by ``repr``, so NaN and -0.0 count); invalid documents must
fail with awslambdaric's ``Runtime.UnmarshalError`` message exactly.

Values cross to the reference interpreter as *specs* (JSON trees naming how to build each value),
built by the same builder source on both sides. One reference subprocess serves every example of
the module (one line of JSON in, one out). Settings: ``deadline=None``, a bounded
``max_examples``, derandomized when ``CI`` is set (as `.ci/run` runs it) so CI is reproducible.
"""

import base64
import json
import os
import subprocess

import pytest
from conftest import REF_PYTHON
from fastric._fastric import json_dumps, json_loads
from fastric.bootstrap import Hooks
from fastric.errors import FaultException

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

pytestmark = pytest.mark.skipif(REF_PYTHON is None, reason="no reference interpreter (FASTRIC_REF_PYTHON)")

SETTINGS = settings(
    deadline=None,
    max_examples=int(os.environ.get("FASTRIC_HYPOTHESIS_EXAMPLES", "400")),
    derandomize=bool(os.environ.get("CI")),
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Runs on both sides: spec (JSON) -> the Python value.
BUILDER = r"""
import collections, decimal, enum, struct

class StrSub(str):
    pass

class IntSub(int):
    pass

class FloatSub(float):
    pass

class DictSub(dict):
    pass

class ListSub(list):
    pass

class Color(enum.IntEnum):
    RED = 1
    GREEN = 2

Point = collections.namedtuple("Point", "x y")

def build(spec):
    kind = spec[0]
    if kind == "none":
        return None
    if kind == "bool":
        return spec[1]
    if kind == "int":
        return int(spec[1])
    if kind == "float":
        return struct.unpack("<d", bytes.fromhex(spec[1]))[0]
    if kind == "dec":
        return decimal.Decimal(spec[1])
    if kind == "str":
        return "".join(map(chr, spec[1]))
    if kind == "bytes":
        return "".join(map(chr, spec[1])).encode("utf-8")
    if kind == "strsub":
        return StrSub("".join(map(chr, spec[1])))
    if kind == "intsub":
        return IntSub(int(spec[1]))
    if kind == "floatsub":
        return FloatSub(struct.unpack("<d", bytes.fromhex(spec[1]))[0])
    if kind == "enum":
        return Color(spec[1])
    if kind == "list":
        return [build(s) for s in spec[1]]
    if kind == "tuple":
        return tuple(build(s) for s in spec[1])
    if kind == "listsub":
        return ListSub(build(s) for s in spec[1])
    if kind == "point":
        return Point(build(spec[1]), build(spec[2]))
    if kind in ("dict", "dictsub"):
        d = {build(k): build(v) for k, v in spec[1]}
        return DictSub(d) if kind == "dictsub" else d
    raise ValueError(kind)
"""

# The reference side: one request per line, {"op": ..., ...} -> one JSON answer per line.
WORKER = (
    BUILDER
    + r"""
import base64, json, os, sys
import simplejson
from awslambdaric import lambda_runtime_marshaller as m

def encoder(ensure_ascii):
    os.environ.pop("AWS_EXECUTION_ENV", None)
    if not ensure_ascii:
        os.environ["AWS_EXECUTION_ENV"] = "AWS_Lambda_python3.12"
    try:
        return m.Encoder()
    finally:
        os.environ.pop("AWS_EXECUTION_ENV", None)

encoders = {True: encoder(True), False: encoder(False)}
marshaller = m.LambdaMarshaller()
for line in sys.stdin:
    req = json.loads(line)
    if req["op"] == "encode":
        text = None
        try:
            text = encoders[req["ascii"]].encode(build(req["spec"]))
            out = {"ok": base64.b64encode(text.encode("utf-8")).decode()}
        except Exception as e:
            out = {"err": f"{type(e).__name__}: {e}"}
            if text is not None:  # lone surrogates: what fastric writes instead (\udXXX escapes)
                out["escaped"] = base64.b64encode(text.encode("utf-8", "backslashreplace")).decode()
    else:
        try:
            out = {"ok": repr(marshaller.unmarshal_request(base64.b64decode(req["doc"])))}
        except Exception as e:
            out = {"err": [getattr(e, "exception_type", type(e).__name__), getattr(e, "msg", str(e))]}
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
"""
)

namespace: dict = {}
exec(BUILDER, namespace)  # noqa: S102 - our own builder source, shared with the reference side
build = namespace["build"]


@pytest.fixture(scope="module")
def reference():
    """A function sending one request to the module's reference subprocess."""
    env = {k: v for k, v in os.environ.items() if k != "AWS_EXECUTION_ENV"}
    proc = subprocess.Popen(
        [REF_PYTHON, "-c", WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    )

    def ask(request: dict) -> dict:
        proc.stdin.write(json.dumps(request) + "\n")
        proc.stdin.flush()
        return json.loads(proc.stdout.readline())

    yield ask
    proc.stdin.close()
    proc.wait(timeout=30)


# -- value specs ---------------------------------------------------------------------------------

_float_hex = st.floats(allow_nan=True, allow_infinity=True).map(
    lambda f: __import__("struct").pack("<d", f).hex()
)
_special_floats = st.sampled_from(
    [0.5, -3.25, 12.5, 1e16, 1e20, 3e20, 1e-5, 1e-7, 5e-324, -0.0, 73177653367606.625]
)
_float = st.one_of(_float_hex, _special_floats.map(lambda f: __import__("struct").pack("<d", f).hex()))
_big_int = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**140), max_value=2**140),
    st.integers(min_value=2**63 - 4, max_value=2**64 + 4),
    st.integers(min_value=-(2**64) - 4, max_value=-(2**63) + 4),
)
_decimal = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["-0", "0E-7", "1E+5", "-1.50", "NaN", "-NaN", "sNaN", "12345678901234567890.123"]),
)
_codepoints = st.lists(
    st.one_of(
        st.integers(0, 0x7F),
        st.integers(0x80, 0xFF),
        st.integers(0x100, 0xFFFF),
        st.integers(0x10000, 0x10FFFF),
        st.sampled_from([0x22, 0x5C, 0x0A, 0x00, 0x1F, 0x7F, 0x2028, 0xD800, 0xDFFF]),
    ),
    max_size=40,
)
_utf8_codepoints = _codepoints.map(lambda cps: [c for c in cps if not 0xD800 <= c <= 0xDFFF])

_scalar = st.one_of(
    st.just(["none"]),
    st.booleans().map(lambda b: ["bool", b]),
    _big_int.map(lambda i: ["int", str(i)]),
    _float.map(lambda h: ["float", h]),
    _decimal.map(lambda d: ["dec", d]),
    _codepoints.map(lambda c: ["str", c]),
    _utf8_codepoints.map(lambda c: ["bytes", c]),
    _codepoints.map(lambda c: ["strsub", c]),
    _big_int.map(lambda i: ["intsub", str(i)]),
    _float.map(lambda h: ["floatsub", h]),
    st.sampled_from([1, 2]).map(lambda n: ["enum", n]),
)
_key = st.one_of(
    _codepoints.map(lambda c: ["str", c]),
    st.integers().map(lambda i: ["int", str(i)]),
    _float.map(lambda h: ["float", h]),
    st.booleans().map(lambda b: ["bool", b]),
    st.just(["none"]),
)


def _containers(children):
    return st.one_of(
        st.lists(children, max_size=6).map(lambda xs: ["list", xs]),
        st.lists(children, max_size=6).map(lambda xs: ["tuple", xs]),
        st.lists(children, max_size=4).map(lambda xs: ["listsub", xs]),
        st.tuples(children, children).map(lambda p: ["point", p[0], p[1]]),
        st.lists(st.tuples(_key, children), max_size=6).map(lambda kv: ["dict", [list(p) for p in kv]]),
        st.lists(st.tuples(_key, children), max_size=3).map(lambda kv: ["dictsub", [list(p) for p in kv]]),
    )


VALUES = st.recursive(_scalar, _containers, max_leaves=30)


def _ours(value, ensure_ascii):
    try:
        return {"ok": base64.b64encode(json_dumps(value, ensure_ascii)).decode()}
    except Exception as e:  # noqa: BLE001 - compared with the reference's failure
        return {"err": f"{type(e).__name__}: {e}"}


def _has_lone_surrogate(spec) -> bool:
    if isinstance(spec, list):
        if spec and spec[0] in ("str", "strsub") and isinstance(spec[1], list):
            if any(0xD800 <= c <= 0xDFFF for c in spec[1]):
                return True
        return any(_has_lone_surrogate(s) for s in spec)
    return False


@SETTINGS
@given(spec=VALUES, ensure_ascii=st.booleans())
def test_encode_matches_awslambdaric(reference, spec, ensure_ascii):
    """Same bytes as awslambdaric's Encoder for any nesting of every accepted kind."""
    expected = reference({"op": "encode", "spec": spec, "ascii": ensure_ascii})
    ours = _ours(build(spec), ensure_ascii)
    if "err" in expected and expected["err"].startswith("UnicodeEncodeError") and not ensure_ascii:
        # A lone surrogate: awslambdaric's str cannot become UTF-8 (it fails to send the response);
        # fastric writes \udXXX escapes instead (docs/DIFFERENCES-json.md).
        assert _has_lone_surrogate(spec)
        assert ours == {"ok": expected["escaped"]}
        return
    if "err" in expected:
        # Same failure class: awslambdaric reports "Unable to marshal response: <message>".
        assert "err" in ours and ours["err"] == expected["err"], (ours, expected)
        return
    assert ours == expected, (base64.b64decode(ours.get("ok", "")), base64.b64decode(expected["ok"]))


# -- documents -----------------------------------------------------------------------------------

_json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**45), max_value=10**45),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
)
_json_values = st.recursive(
    _json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=6), st.dictionaries(st.text(max_size=10), children, max_size=6)
    ),
    max_leaves=30,
)


@st.composite
def documents(draw):
    """Valid JSON bytes in many spellings: both escape modes, odd whitespace, raw surrogate
    escapes, exponents and BOMs."""
    value = draw(_json_values)
    ensure_ascii = draw(st.booleans())
    indent = draw(st.sampled_from([None, 0, 2]))
    separators = draw(st.sampled_from([(", ", ": "), (",", ":"), (" ,\t", " :\n")]))
    text = json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators)
    extra = draw(st.sampled_from(["", "lone", "exp", "bom", "ws"]))
    if extra == "lone":
        text = (
            json.dumps([text, "\\ud800 x \\udc00"])
            .replace("\\\\ud800", "\\ud800")
            .replace("\\\\udc00", "\\udc00")
        )
    elif extra == "exp":
        text = f"[{text}, 1E400, -0.0e-3, 12.5E+2, -0]"
    elif extra == "ws":
        text = f" \t\r\n{text}\n "
    data = text.encode("utf-8", "surrogatepass")
    return b"\xef\xbb\xbf" + data if extra == "bom" else data


def _decoded(doc: bytes):
    try:
        return {"ok": repr(json_loads(doc))}
    except Exception:  # noqa: BLE001 - the runtime turns every decoder failure into this fault
        try:
            Hooks.unmarshal_fallback(None, doc)
        except FaultException as fault:
            return {"err": [fault.exception_type, fault.msg]}
        raise


@SETTINGS
@given(doc=documents())
def test_valid_json_decodes_like_simplejson(reference, doc):
    """Equal objects (by repr: NaN, -0.0, int vs float and key order all count)."""
    expected = reference({"op": "decode", "doc": base64.b64encode(doc).decode()})
    assert _decoded(doc) == expected


@st.composite
def broken_documents(draw):
    """Valid documents cut short, with a byte replaced or inserted, or with garbage appended."""
    doc = draw(documents())
    how = draw(st.sampled_from(["cut", "replace", "insert", "append"]))
    at = draw(st.integers(0, max(0, len(doc) - 1)))
    junk = draw(
        st.sampled_from([b"", b",", b"]", b"}", b'"', b"\\", b"\x00", b"\xff", b"\xc3", b"x", b"-", b"1e"])
    )
    if how == "cut":
        return doc[:at]
    if how == "replace":
        return doc[:at] + junk + doc[at + 1 :]
    if how == "insert":
        return doc[:at] + junk + doc[at:]
    return doc + junk


@SETTINGS
@given(doc=broken_documents())
def test_invalid_json_fails_like_awslambdaric(reference, doc):
    """The Runtime.UnmarshalError message exactly (or the same value, when the change kept it valid)."""
    expected = reference({"op": "decode", "doc": base64.b64encode(doc).decode()})
    assert _decoded(doc) == expected
