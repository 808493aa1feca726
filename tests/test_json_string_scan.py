"""The JSON string paths (rust/json_scan.rs and its users) at every position of the vector steps.

Documents hold one string of 0..70 bytes with one special byte (a stop byte, DEL, a valid or invalid
UTF-8 sequence, an escape) at each offset, as a value and as a dict key, plus invalid bytes outside
strings. ``json_loads`` must give the reference's value or its exact error (simplejson 4.3.0: the
Rust decoder checks UTF-8 per string, so every invalid document must still reach the slow path), and
``json_dumps`` of every decoded value must give awslambdaric's exact bytes in both ``ensure_ascii``
modes.
"""

import base64
import json
import subprocess

import pytest
from conftest import REF_MISSING_REASON, REF_PYTHON
from fastric._fastric import json_dumps, json_loads

REF_SCRIPT = r"""
import base64, json, os, sys
import simplejson
from awslambdaric.lambda_runtime_marshaller import Encoder
os.environ.pop("AWS_EXECUTION_ENV", None)
enc_ascii = Encoder()
os.environ["AWS_EXECUTION_ENV"] = "AWS_Lambda_python3.12"
enc_utf8 = Encoder()
def outcome(fn):
    try:
        return ["ok", fn()]
    except Exception as e:
        return ["err", type(e).__name__, str(e)]
def b64(text):
    return base64.b64encode(text.encode("utf-8", "surrogatepass")).decode()
out = []
for d in json.load(open(sys.argv[1])):
    loaded = outcome(lambda: simplejson.loads(base64.b64decode(d)))
    if loaded[0] == "ok":
        value = loaded[1]
        out.append(["ok", repr(value), b64(enc_ascii.encode(value)), b64(enc_utf8.encode(value))])
    else:
        out.append(loaded)
json.dump(out, open(sys.argv[2], "w"))
"""

#: Inserted at each offset of a run of plain ASCII: stop bytes and their neighbours, DEL, valid
#: UTF-8 of each length, invalid UTF-8 (lone lead/continuation bytes, overlong, surrogate, too big,
#: a sequence cut by the closing quote or an escape), and escapes producing ASCII and non-ASCII.
SPECIALS = [
    b'"',
    b"\\",
    b"\\n",
    b'\\"',
    b"\\u00e9",
    b"\\ud83d\\ude00",
    b"\\u007f",
    b"\x00",
    b"\x1f",
    b" ",
    b"!",
    b"#",
    b"[",
    b"]",
    b"~",
    b"\x7f",
    b"\xc3\xa9",
    b"\xe2\x98\x83",
    b"\xf0\x9f\x98\x80",
    b"\x80",
    b"\xbf",
    b"\xc3",
    b"\xe2\x98",
    b"\xc3\\n",
    b"\xc0\x80",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\xff",
]

FILLER = b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-_=+/.,;:"


def _documents():
    docs = []
    for length in range(71):
        plain = FILLER[:length]
        docs.append(b'["' + plain + b'"]')
        for pos in range(length + 1):
            for special in SPECIALS:
                body = plain[:pos] + special + plain[pos:]
                docs.append(b'["' + body + b'", 1]')
                docs.append(b'{"' + body + b'": "' + plain + b'"}')
    # Non-ASCII bytes outside strings: never part of a valid document.
    for bad in (b"\x80", b"\xc3\xa9", b"\xe2\x98\x83", b"\xff", b"\x7f"):
        docs += [
            b'["a", ' + bad + b"]",
            b'{"a"' + bad + b": 1}",
            b'["' + FILLER + b'"]' + bad,
            bad + b'["a"]',
            b"[1" + bad + b"]",
            b'{"k": "v", ' + bad + b'"x": 1}',
        ]
    return docs


def _reference(tmp_path, docs):
    job = tmp_path / "job.json"
    job.write_text(json.dumps([base64.b64encode(d).decode() for d in docs]))
    out = tmp_path / "out.json"
    subprocess.run([REF_PYTHON, "-c", REF_SCRIPT, str(job), str(out)], check=True)
    return json.loads(out.read_text())


@pytest.mark.skipif(REF_PYTHON is None, reason=REF_MISSING_REASON)
def test_string_boundaries_match_reference(tmp_path):
    docs = _documents()
    expected = _reference(tmp_path, docs)
    assert len(expected) == len(docs)
    mismatches = []
    for doc, want in zip(docs, expected, strict=True):
        try:
            value = json_loads(doc)
        except Exception as e:  # noqa: BLE001 - compared with the reference outcome
            got = ["err", type(e).__name__, str(e)]
        else:
            got = [
                "ok",
                repr(value),
                base64.b64encode(json_dumps(value, True)).decode(),
                base64.b64encode(json_dumps(value, False)).decode(),
            ]
        if got != want:
            mismatches.append((doc, got, want))
    assert not mismatches, mismatches[:5]
    # The cases exercise both outcomes.
    assert sum(w[0] == "ok" for w in expected) > 10_000
    assert sum(w[0] == "err" for w in expected) > 10_000
