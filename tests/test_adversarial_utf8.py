"""Invalid UTF-8 anywhere in a JSON event (rust/json_decode.rs validates per non-ASCII string, with
SIMD scanning in rust/json_scan.rs): fastric must post exactly what awslambdaric 4.2.2 posts (the
decoded event echoed back, or the same `Runtime.UnmarshalError` document)."""

from __future__ import annotations

from conftest import HANDLERS_DIR, run_client
from support.runtime_api_fake import Invocation

BAD = [
    b"\xff",
    b"\xc3",
    b"\xc3(",
    b"\xe2\x82",
    b"\xe2\x82(",
    b"\xf0\x9f\x98",
    b"\xf0\x9f\x98(",
    b"\xc0\xaf",
    b"\xe0\x80\xaf",
    b"\xf0\x80\x80\xaf",
    b"\xed\xa0\x80",
    b"\xed\xbf\xbf",
    b"\xf4\x90\x80\x80",
    b"\xf5\x80\x80\x80",
    b"\x80",
    b"\xbf\xbf",
    b"\xfe\xfe",
]
GOOD = [b"\xc3\xa9", b"\xe2\x82\xac", b"\xf0\x9f\x98\x80", b"\x7f", b"\xef\xbf\xbf", b"\xf4\x8f\xbf\xbf"]


def _bodies() -> list[bytes]:
    out = []
    for seq in BAD + GOOD:
        for pad in (0, 1, 13, 14, 15, 16, 17, 29, 30, 31, 32, 33, 47, 63, 64, 65, 257):
            p = b"a" * pad
            out.append(b'{"k": "' + p + seq + b'"}')  # in a value, at every position around 16/32
            out.append(b'{"' + p + seq + b'": 1}')  # in a key
            out.append(b'{"k": "' + p + seq + b"\\n" + p + b'"}')  # before an escape
            out.append(b'["' + p + b"\\u00e9" + seq + b'"]')  # after an escape
            out.append(b'["' + p + seq)  # truncated at end of document
        out.append(seq + b"{}")  # outside strings
        out.append(b"{}" + seq)
        out.append(b'{"a": 1 ' + seq + b"}")
        out.append(b'{"a": x ' + seq + b"}")  # a syntax error before the invalid byte
        out.append(b"\xef\xbb\xbf" + b'{"k": "' + seq + b'"}')  # BOM
        out.append(b"\xef\xbb" + seq)  # broken BOM
        out.append(b'["ok", "' + seq + b'", "\xc3\xa9"]')
        out.append(b'["\xc3\xa9", 1, "' + seq + b'"]')
    return out


def _posts(client: str, bodies: list[bytes]) -> list[tuple[str, bytes]]:
    result = run_client(
        client, "echo.handler", [Invocation(body=b) for b in bodies], cwd=HANDLERS_DIR, timeout_s=120
    )
    assert len(result.posts) == len(bodies), result.describe()
    return [(p.endpoint, p.body) for p in result.posts]


def test_invalid_utf8_matches_awslambdaric():
    bodies = _bodies()
    fast = _posts("fastric", bodies)
    ref = _posts("awslambdaric", bodies)
    mismatches = [(b, f, r) for b, f, r in zip(bodies, fast, ref, strict=True) if f != r]
    assert mismatches == []
