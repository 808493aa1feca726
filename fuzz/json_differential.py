#!/usr/bin/env python3
"""Differential fuzzing of fastric's JSON event decoder against simplejson 4.3.0 (docs/RELIABILITY.md).

    python fuzz/json_differential.py [--seconds 15] [--seed N] [--ref-python .venv-ref/bin/python]

fastric's decoder (``fastric._fastric.json_loads``) follows ``simplejson.loads`` on bytes, as
awslambdaric 4.2.2 decodes events: NaN/Infinity, lone-surrogate escapes, ``1e400``, deep nesting and
its exact error messages. This runs a mutation fuzzer (seeded, bounded in time) over a seed corpus of
events and hand-picked edge cases: byte flips, inserted JSON tokens and odd UTF-8, deletions,
duplications, splices and deep wrapping. Each document is decoded by fastric in this process and by
simplejson in a ``--ref-python`` subprocess; the verdicts (value or error) must agree: the value's
``repr`` (floats, key order and lone surrogates included), or the error's type and message (for
``RecursionError`` near the recursion limit, the type only: a documented difference).

Exit status 0: no disagreement and no crash; 1: a disagreement (the input is written to
``fuzz/artifacts/json-<sha>.json`` and printed); the seed is printed for reproduction.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

from fastric import _fastric

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

REFERENCE = r"""
import base64, json, sys
import simplejson
for line in sys.stdin:
    doc = base64.b64decode(line)
    try:
        out = {"ok": repr(simplejson.loads(doc))}
    except BaseException as e:
        out = {"err": [type(e).__name__, str(e)]}
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
"""

TOKENS = [
    b"NaN",
    b"Infinity",
    b"-Infinity",
    b"1e400",
    b"-1e400",
    b"1E-400",
    b"-0",
    b"-0.0",
    b"0e0",
    b"123456789012345678901234567890",
    b"1.7976931348623157e308",
    b"5e-324",
    b"\\ud800",
    b"\\udc00",
    b"\\ud83d\\ude00",
    b"\\u0000",
    b"\\u00e9",
    b"\\uZZZZ",
    b"\\x",
    b"\\/",
    b"true",
    b"false",
    b"null",
    b"[",
    b"]",
    b"{",
    b"}",
    b'"',
    b",",
    b":",
    b"\\",
    b" ",
    b"\t",
    b"\n",
    b"\r",
    b"\x00",
    b"\x1f",
    b"\xff",
    b"\xc3\xa9",
    b"\xed\xa0\x80",
    b"\xf0\x9f\x98\x80",
    b"\xe2\x82",
    b"\xef\xbb\xbf",
    b'"k": ',
    b'{"a": 1}',
    b"[1, 2.5, -3e2]",
    b'"\\"\\\\"',
    b"01",
    b"1.",
    b".5",
    b"+1",
    b"tru",
    b"nul",
]

EDGE_SEEDS = [
    b"{}",
    b"[]",
    b'""',
    b"0",
    b"-1.5e-10",
    b"NaN",
    b"[Infinity, -Infinity, NaN]",
    b'"\\ud800"',
    b'{"a": "\\udc00x", "b": [1e400, -1e400]}',
    b"[" * 50 + b"]" * 50,
    b'{"a": {"b": {"c": [null, true]}}}',
    b'\xef\xbb\xbf{"bom": 1}',
    b'{"dup": 1, "dup": 2}',
    b'"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"',
    b'  {"ws" :\t[ 1 ,2 ] }  ',
    b'{"big": 123456789012345678901234567890}',
    b'["\\u00e9\\n\\t\\"\\\\\\/"]',
]


def seeds() -> list[bytes]:
    """The edge cases above plus the sample events in benches/fixtures and tests/fixtures (JSON files)."""
    out = list(EDGE_SEEDS)
    for folder in (ROOT / "benches/fixtures", ROOT / "tests/fixtures"):
        for path in sorted(folder.rglob("*.json")):
            data = path.read_bytes()
            if len(data) <= 64 * 1024:
                out.append(data)
    return out


def mutate(rng: random.Random, doc: bytes, pool: list[bytes]) -> bytes:
    """One to four random edits of ``doc``."""
    data = bytearray(doc)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(7)
        pos = rng.randint(0, len(data))
        if op == 0 and data:
            data[min(pos, len(data) - 1)] = rng.randrange(256)
        elif op in (1, 2):
            data[pos:pos] = rng.choice(TOKENS)
        elif op == 3 and data:
            end = min(len(data), pos + rng.randint(1, 16))
            del data[pos:end]
        elif op == 4 and data:
            end = min(len(data), pos + rng.randint(1, 64))
            data[pos:pos] = data[pos:end]
        elif op == 5:
            other = rng.choice(pool)
            cut = rng.randint(0, len(other))
            data[pos:] = other[cut:]
        else:
            depth = rng.choice((1, 10, 100, 600, 1100, 5000))
            opener, closer = rng.choice(((b"[", b"]"), (b'{"k":', b"}")))
            data = bytearray(opener * depth) + data + bytearray(closer * depth)
    return bytes(data[: 1 << 20])


def fastric_verdict(doc: bytes) -> dict:
    """``{"ok": repr(value)}`` or ``{"err": [type name, message]}`` from fastric's decoder."""
    try:
        return {"ok": repr(_fastric.json_loads(doc))}
    except BaseException as exc:  # noqa: BLE001 - every outcome is compared
        return {"err": [type(exc).__name__, str(exc)]}


def recursion_limited(doc: bytes, got: dict, expected: dict) -> bool:
    """Whether a disagreement is the documented one (docs/DIFFERENCES-json.md): near the recursion
    limit the depth at which ``RecursionError`` is raised, and its message's tail, follow the Python
    frames below the call in simplejson, so only "both raise RecursionError" or "a document nested
    deeper than the recursion limit minus 200 levels" is required to agree loosely."""
    kinds = {v["err"][0] for v in (got, expected) if "err" in v}
    if "RecursionError" not in kinds:
        return False
    both = all("err" in v and v["err"][0] == "RecursionError" for v in (got, expected))
    return both or doc.count(b"[") + doc.count(b"{") >= sys.getrecursionlimit() - 200


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument(
        "--ref-python", default=os.environ.get("FASTRIC_REF_PYTHON", str(ROOT / ".venv-ref/bin/python"))
    )
    ap.add_argument("--batch", type=int, default=200)
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    pool = seeds()
    ref = subprocess.Popen(
        [args.ref_python, "-c", REFERENCE],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    deadline = time.monotonic() + args.seconds
    runs = 0
    loose = 0
    try:
        while time.monotonic() < deadline:
            batch = [mutate(rng, rng.choice(pool), pool) for _ in range(args.batch)]
            # Written from a thread: the answers are read meanwhile, so neither pipe can fill up and
            # block both processes (large batches exceed the pipe buffers).
            text = "".join(base64.b64encode(d).decode() + "\n" for d in batch)
            writer = threading.Thread(target=lambda text=text: (ref.stdin.write(text), ref.stdin.flush()))
            writer.start()
            for doc in batch:
                expected = json.loads(ref.stdout.readline())
                got = fastric_verdict(doc)
                runs += 1
                if got != expected and recursion_limited(doc, got, expected):
                    loose += 1
                elif got != expected:
                    name = hashlib.sha256(doc).hexdigest()[:16]
                    out = HERE / "artifacts" / f"json-{name}.json"
                    out.parent.mkdir(exist_ok=True)
                    out.write_bytes(doc)
                    print(f"json_differential: DISAGREEMENT (seed {seed}) on {out} ({doc[:200]!r})")
                    print(f"  simplejson: {str(expected)[:400]}\n  fastric:    {str(got)[:400]}")
                    return 1
                if len(doc) < 4096 and "ok" in got and rng.random() < 0.05:
                    pool.append(doc)  # valid documents become seeds: deeper structures over time
            writer.join()
    finally:
        ref.kill()  # also unblocks a writer thread left behind by an early return
        ref.wait()
    print(
        f"fuzz: json_differential ran {args.seconds:.0f} s: {runs} documents (seed {seed}), no disagreement"
        f" ({loose} RecursionError cases compared loosely, docs/DIFFERENCES-json.md)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
