"""The JSON codec matrix: every kind of value awslambdaric's encoder accepts, encoded and decoded by
fastric, by awslambdaric 4.2.2's own codec, by the stdlib ``json`` and by orjson, in one process.

    FASTRIC_REF_PYTHON=.venv-ref/bin/python .venv/bin/python benches/codec_matrix.py [--quick] [--json PATH]

What is timed (best of 5, milliseconds for the whole list):

- **encode**: one list of 20,000 values of one kind (2,000 for the 1–4 KB strings) to UTF-8 bytes.
  fastric: ``json_dumps(values, ensure_ascii)``; awslambdaric: its ``Encoder().encode(values)``
  (simplejson 4.3.0's C encoder plus awslambdaric's ``default()`` for Decimal) followed by
  ``.encode("utf-8")``, since the runtime sends bytes; stdlib: ``json.dumps(..., ensure_ascii=...)``
  and ``.encode()``; orjson: ``orjson.dumps`` (no ``ensure_ascii`` mode and other spellings for
  NaN and floats, so a speed reference only; ``—`` where it refuses the kind).
- **decode**: the bytes awslambdaric's encoder wrote for that list. fastric ``json_loads``,
  ``simplejson.loads`` (what awslambdaric calls), ``json.loads``, ``orjson.loads``.
- **fresh values**: every repetition of every codec gets newly built objects and new bytes with
  other contents (keys included), so no cache carries over from one call to the next; the
  ``cache`` rows time the same input again and again to show what fastric's key/short-string
  caches are worth when it repeats.
- **modes**: ``ensure_ascii`` (awslambdaric's default) and raw UTF-8 (its mode under
  ``AWS_EXECUTION_ENV=AWS_Lambda_python3.12`` and later).
- **floors**: where CPython's own conversion bounds both codecs, that conversion alone on the same
  values: ``bytes.decode`` of each string's UTF-8 (decoding non-ASCII strings), ``int(s)`` of each
  integer's digits (decoding big integers), ``str(i)`` / ``str(d)`` (encoding big integers and
  Decimal, which both codecs format through CPython). A kind meets the bar when fastric is at least
  2× faster than awslambdaric's codec, or within 1.2× of its floor.

The script re-runs itself under the reference interpreter (which has simplejson and awslambdaric)
with fastric's site-packages appended to ``sys.path``, so all four codecs share one process.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
N = 20_000
N_LONG = 2_000
REPS = 5
MODES = (("ensure_ascii", True), ("utf-8", False))
MUST, GOAL, FLOOR_SLACK = 2.0, 3.0, 1.2


# -- the kinds (built inside the worker; `seed` makes every repetition's values distinct) ---------


def _kinds():
    import collections
    import decimal
    import enum

    D = decimal.Decimal

    class S(str):
        pass

    class I(int):  # noqa: E742
        pass

    class F(float):
        pass

    class Dd(dict):
        pass

    class L(list):
        pass

    class Color(enum.IntEnum):
        RED = 1
        GREEN = 2
        BLUE = 3

    Point = collections.namedtuple("Point", "x y")
    try:
        from simplejson import RawJSON
    except ImportError:  # pragma: no cover - the worker runs in the reference venv
        RawJSON = None

    def base(seed):
        return seed * 1_000_003 + 7

    def text(alphabet, lo, hi):
        def build(seed, n):
            out = []
            k = len(alphabet)
            for i in range(n):
                size = lo + (i * 7919 + seed) % (hi - lo + 1)
                start = (i + seed) % k
                reps = size // k + 2
                out.append((alphabet * reps)[start : start + size])
            return out

        return build

    ascii_ = "The quick brown fox jumps over the lazy dog 0123456789-_.:/"
    latin1 = "Zoë Müller àéîõü ÀÉÎÕÜ çñß øå ¿¡ «»"
    cjk = "東京都渋谷区神宮前一丁目北京上海广州深圳한국어서울"
    emoji = "😀🚀🌍🎉🔥💡🍕🐍"
    escapes = 'a"b\\c\nd\te\rf\x01g/h\x1f'

    def rows(seed, n, f):
        b = base(seed)
        return [f(b + i, i) for i in range(n)]

    def keys(seed, k):
        return [f"key{j}_{seed}" for j in range(k)]

    def wide(seed, n):
        ks = keys(seed, 32)
        b = base(seed)
        return [{k: b + i + j for j, k in enumerate(ks)} for i in range(n)]

    def small_dicts(seed, n):
        k = keys(seed, 4)
        b = base(seed)
        return [{k[0]: b + i, k[1]: f"name-{b + i}", k[2]: True, k[3]: None} for i in range(n)]

    def deep(seed, n):
        k = keys(seed, 4)
        return rows(seed, n, lambda v, i: {k[0]: [{k[1]: {k[2]: [v, {k[3]: [[[v]]]}]}}]})

    def mixed(seed, n):
        k = keys(seed, 12)
        cities = ["Zürich", "São Paulo", "東京", "Kraków", "Paris"]
        return rows(
            seed,
            n,
            lambda v, i: {
                k[0]: f"order-{v}",
                k[1]: round((v % 100_000) / 100 + 0.01, 2),
                k[2]: v % 17,
                k[3]: v / 7,
                k[4]: cities[i % 5],
                k[5]: [f"tag{v % 9}", f"tag{v % 5}"],
                k[6]: i % 2 == 0,
                k[7]: None,
                k[8]: {k[9]: [(v % 1000) + 0.25, -((v % 100) + 0.5)], k[10]: f"sensor-{v}"},
                k[11]: v * 1e20 if i % 3 == 0 else (v % 1000) * 1e-7,
            },
        )

    inf, nan = float("inf"), float("nan")
    special = [inf, -inf, nan, -0.0]

    # (group, name, builder(seed, n), n, floor) ; floor in {None, "decode", "int", "str"}
    return [
        (
            "float",
            "short exact (i+0.5, -i-0.25)",
            lambda s, n: rows(s, n, lambda v, i: v + 0.5 if i % 2 else -v - 0.25),
            N,
            None,
        ),
        (
            "float",
            "two-decimal prices",
            lambda s, n: rows(s, n, lambda v, i: round((v % 100_000) / 100 + 0.01, 2)),
            N,
            None,
        ),
        ("float", "17-digit (i/7)", lambda s, n: rows(s, n, lambda v, i: v / 7), N, None),
        ("float", "integral (float(i))", lambda s, n: rows(s, n, lambda v, i: float(v)), N, None),
        ("float", "≥ 1e16 (i*1e20)", lambda s, n: rows(s, n, lambda v, i: v * 1e20), N, None),
        ("float", "≤ 1e-5 (i*1e-7)", lambda s, n: rows(s, n, lambda v, i: v * 1e-7), N, None),
        (
            "float",
            "subnormal (i*5e-324)",
            lambda s, n: rows(s, n, lambda v, i: (v % 100_000) * 5e-324),
            N,
            None,
        ),
        (
            "float",
            "inf / -inf / nan / -0.0",
            lambda s, n: [float(str(special[i % 4])) for i in range(n)],
            N,
            None,
        ),
        ("Decimal", "integral", lambda s, n: rows(s, n, lambda v, i: D(v)), N, "str"),
        ("Decimal", "fractional", lambda s, n: rows(s, n, lambda v, i: D(f"{v}.{i % 100:02d}")), N, "str"),
        (
            "Decimal",
            "exponent forms",
            lambda s, n: rows(s, n, lambda v, i: D(f"{v % 1000}E{i % 40 - 20}")),
            N,
            "str",
        ),
        (
            "Decimal",
            "-0 / NaN",
            lambda s, n: [D(("-0", "NaN", "-0.00", "-NaN")[i % 4]) for i in range(n)],
            N,
            "str",
        ),
        ("int", "small", lambda s, n: rows(s, n, lambda v, i: v % 100_000), N, None),
        ("int", "around 2**63", lambda s, n: rows(s, n, lambda v, i: 2**63 - n + i + s), N, None),
        ("int", "around 2**64", lambda s, n: rows(s, n, lambda v, i: 2**64 - n // 2 + i + s), N, "int"),
        ("int", "20–40 digits", lambda s, n: rows(s, n, lambda v, i: 10 ** (19 + i % 21) + v), N, "int"),
        ("int", "negative", lambda s, n: rows(s, n, lambda v, i: -v * 12345), N, None),
        ("int", "bool", lambda s, n: [(i + s) % 3 == 0 for i in range(n)], N, None),
        ("int", "IntEnum", lambda s, n: [Color((i + s) % 3 + 1) for i in range(n)], N, None),
        ("str", "ASCII 1–64", text(ascii_, 1, 64), N, None),
        ("str", "ASCII 1–4 KB", text(ascii_, 1024, 4096), N_LONG, None),
        ("str", "Latin-1 1–64", text(latin1, 1, 64), N, "decode"),
        ("str", "Latin-1 1–4 KB", text(latin1, 1024, 4096), N_LONG, "decode"),
        ("str", "CJK 1–64", text(cjk, 1, 64), N, "decode"),
        ("str", "CJK 1–4 KB", text(cjk, 1024, 4096), N_LONG, "decode"),
        ("str", "emoji 1–64", text(emoji, 1, 64), N, "decode"),
        ("str", "emoji 1–4 KB", text(emoji, 1024, 4096), N_LONG, "decode"),
        ("str", "lone surrogates", lambda s, n: [f"ab\ud800{i + s}\udfff" for i in range(n)], N, None),
        ("str", "escapes", text(escapes, 1, 64), N, None),
        ("subclass", "str", lambda s, n: [S(x) for x in text(ascii_, 1, 64)(s, n)], N, None),
        ("subclass", "int", lambda s, n: rows(s, n, lambda v, i: I(v)), N, None),
        ("subclass", "float", lambda s, n: rows(s, n, lambda v, i: F(v + 0.5)), N, None),
        ("subclass", "dict", lambda s, n: [Dd(d) for d in small_dicts(s, n)], N, None),
        ("subclass", "list", lambda s, n: rows(s, n, lambda v, i: L([v, v + 1])), N, None),
        ("dict", "small (4 keys)", small_dicts, N, None),
        ("dict", "wide (32 keys)", wide, N, None),
        ("dict", "deep (8 levels)", deep, N, None),
        (
            "dict",
            "non-str keys",
            lambda s, n: rows(s, n, lambda v, i: {v: 1, v + 0.5: 2, None: 3, True: 4}),
            N,
            None,
        ),
        ("list", "lists of 3", lambda s, n: rows(s, n, lambda v, i: [v, v + 1, None]), N, None),
        ("list", "tuples of 3", lambda s, n: rows(s, n, lambda v, i: (v, v + 1, None)), N, None),
        ("list", "namedtuple", lambda s, n: rows(s, n, lambda v, i: Point(v, f"p{v}")), N, None),
        (
            "other",
            "None / True / False",
            lambda s, n: [(None, True, False)[(i + s) % 3] for i in range(n)],
            N,
            None,
        ),
        ("other", "bytes (UTF-8)", lambda s, n: [f"b{i + s}".encode() for i in range(n)], N, None),
        (
            "other",
            "simplejson RawJSON",
            lambda s, n: rows(s, n, lambda v, i: RawJSON(f'{{"r": {v}}}')),
            N,
            None,
        ),
        ("mixed", "nested records", mixed, N, None),
    ]


CACHE_KINDS = ("ASCII 1–64", "small (4 keys)", "nested records")


# -- the worker (runs under the reference interpreter) -------------------------------------------


def _worker(quick: bool, only: str = "") -> dict:
    import decimal

    import simplejson
    from awslambdaric import lambda_runtime_marshaller
    from fastric._fastric import json_dumps, json_loads

    try:
        import orjson
    except ImportError:
        orjson = None

    reps = 2 if quick else REPS
    scale = 10 if quick else 1

    def encoder(ensure_ascii):
        saved = os.environ.pop("AWS_EXECUTION_ENV", None)
        if not ensure_ascii:
            os.environ["AWS_EXECUTION_ENV"] = "AWS_Lambda_python3.12"
        try:
            return lambda_runtime_marshaller.Encoder()
        finally:
            os.environ.pop("AWS_EXECUTION_ENV", None)
            if saved is not None:
                os.environ["AWS_EXECUTION_ENV"] = saved

    def best(fn, make, reps=reps):
        times = []
        for rep in range(reps):
            arg = make(rep)
            gc.collect()
            t = time.perf_counter()
            try:
                fn(arg)
            except Exception:
                return None
            times.append(time.perf_counter() - t)
            del arg
        return min(times) * 1000

    def floor_fn(kind, mode_bytes):
        if kind == "decode":
            return lambda pieces: [p.decode() for p in pieces]
        if kind == "int":
            return lambda digits: [int(d) for d in digits]
        return lambda objs: [str(o) for o in objs]

    out = {"kinds": [], "cache": [], "n": N // scale, "n_long": N_LONG // scale, "reps": reps}
    seed_counter = [1]

    def fresh_seed():
        seed_counter[0] += 1
        return seed_counter[0]

    for group, name, build, n, floor in _kinds():
        if only and only not in f"{group}: {name}":
            continue
        n //= scale
        row = {"group": group, "name": name, "n": n, "modes": {}}
        for mode, ensure_ascii in MODES:
            enc = encoder(ensure_ascii)

            def ref_dumps(v, enc=enc):
                return enc.encode(v).encode("utf-8")

            def values(_rep, build=build, n=n):
                return build(fresh_seed(), n)

            def ref_bytes(_rep, build=build, n=n, ref_dumps=ref_dumps):
                return ref_dumps(build(fresh_seed(), n))

            sample = build(1, n)
            try:
                expected = ref_dumps(sample)
            except Exception as exc:  # e.g. lone surrogates in UTF-8 mode: awslambdaric cannot send them
                row["modes"][mode] = {"skipped": f"awslambdaric fails: {type(exc).__name__}"}
                continue
            ours = json_dumps(sample, ensure_ascii)
            cell = {"identical": ours == expected, "bytes": len(expected)}
            encoders = {
                "fastric": lambda v, a=ensure_ascii: json_dumps(v, a),
                "awslambdaric": ref_dumps,
                "json": lambda v, a=ensure_ascii: json.dumps(v, ensure_ascii=a).encode(),
            }
            if orjson is not None:
                encoders["orjson"] = orjson.dumps
            decoders = {"fastric": json_loads, "awslambdaric": simplejson.loads, "json": json.loads}
            if orjson is not None:
                decoders["orjson"] = orjson.loads
            cell["enc"] = {k: best(fn, values) for k, fn in encoders.items()}
            cell["dec"] = {k: best(fn, ref_bytes) for k, fn in decoders.items()}
            if floor == "decode":
                cell["floor_dec"] = best(floor_fn("decode", None), lambda r: [s.encode() for s in values(r)])
            elif floor == "int":
                cell["floor_dec"] = best(floor_fn("int", None), lambda r: [str(v) for v in values(r)])
                cell["floor_enc"] = best(floor_fn("str", None), values)
            elif floor == "str":
                cell["floor_enc"] = best(
                    floor_fn("str", None), lambda r: [v for v in values(r) if isinstance(v, decimal.Decimal)]
                )
            row["modes"][mode] = cell
        out["kinds"].append(row)
        if name in CACHE_KINDS and "ensure_ascii" in row["modes"]:
            fixed = build(1, n)
            fixed_bytes = json_dumps(fixed, True)
            out["cache"].append(
                {
                    "name": f"{group} {name}",
                    "enc_fresh": row["modes"]["ensure_ascii"]["enc"]["fastric"],
                    "enc_same": best(lambda v: json_dumps(v, True), lambda r, fixed=fixed: fixed),
                    "dec_fresh": row["modes"]["ensure_ascii"]["dec"]["fastric"],
                    "dec_same": best(json_loads, lambda r, fixed_bytes=fixed_bytes: fixed_bytes),
                }
            )
        print(f"codec: {group} {name}", file=sys.stderr, flush=True)
    return out


# -- the parent: spawn, collect, render ----------------------------------------------------------


def fastric_site(fastric_python: str) -> str:
    """The directory holding the ``fastric`` package of ``fastric_python`` and its site-packages
    (for orjson), joined with ``os.pathsep``."""
    code = (
        "import fastric, os, sysconfig; "
        "print(os.path.dirname(os.path.dirname(fastric.__file__)) + os.pathsep + sysconfig.get_paths()['purelib'])"
    )
    return subprocess.run(
        [fastric_python, "-c", code], check=True, capture_output=True, text=True
    ).stdout.strip()


def run(ref_python: str, fastric_python: str = sys.executable, quick: bool = False, only: str = "") -> dict:
    """Runs the matrix under ``ref_python`` with fastric (and orjson) from ``fastric_python``'s
    site-packages; returns the results dict :func:`markdown` renders."""
    env = dict(os.environ)
    env.pop("AWS_EXECUTION_ENV", None)
    cmd = [ref_python, str(Path(__file__).resolve()), "--worker", "--site", fastric_site(fastric_python)]
    if quick:
        cmd.append("--quick")
    if only:
        cmd += ["--only", only]
    proc = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, env=env, text=True)
    return json.loads(proc.stdout)


def _ms(x):
    if x is None:
        return "—"
    return f"{x:.2f}" if x < 10 else f"{x:.1f}"


def _x(a, b):
    """How many times faster ``a`` is than ``b`` (both times)."""
    if a is None or b is None or a <= 0:
        return "—"
    return f"{b / a:.1f}×"


def verdict(cell: dict, op: str) -> str:
    """``ok`` (≥ 3×), ``must`` (≥ 2× or within 1.2× of the floor) or ``BELOW`` for one cell."""
    t = cell[op]
    ours, ref = t.get("fastric"), t.get("awslambdaric")
    if ours is None or ref is None:
        return "—"
    floor = cell.get(f"floor_{op}")
    speedup = ref / ours
    if speedup >= GOAL:
        return "goal"
    if speedup >= MUST or (floor and ours <= FLOOR_SLACK * floor):
        return "must"
    return "**BELOW**"


def markdown(fig: dict) -> str:
    """The matrix as Markdown: one table per mode, then the cache rows."""
    if fig.get("failed"):
        return f"Not run: {fig['failed']}.\n"
    lines = [
        f"{fig['n']:,} values of one kind in a list ({fig['n_long']:,} for 1–4 KB strings), best of "
        f"{fig['reps']}, fresh values every repetition; times in ms for the whole list. ×aws = "
        "awslambdaric's time / fastric's (higher is better), ×orjson = orjson's / fastric's; "
        "floor = CPython's own conversion of the same values (see benches/codec_matrix.py); "
        "status: goal ≥ 3×, must ≥ 2× (or ≤ 1.2× the floor). Decode is — where awslambdaric itself "
        "cannot decode what it wrote (`NaN`/`Infinity`: simplejson 4.3's `loads` rejects them, a "
        "`Runtime.UnmarshalError`).",
        "",
    ]
    for mode, _ in MODES:
        lines += [
            f"**Mode `{mode}`**"
            + (" (awslambdaric's default)" if mode == "ensure_ascii" else " (AWS_Lambda_python3.12+)"),
            "",
            "| kind | same bytes | enc fastric | enc aws | enc ×aws | enc ×orjson | enc floor | enc | "
            "dec fastric | dec aws | dec ×aws | dec ×orjson | dec floor | dec |",
            "|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---|",
        ]
        for row in fig["kinds"]:
            cell = row["modes"].get(mode, {})
            label = f"{row['group']}: {row['name']}"
            if "skipped" in cell:
                lines.append(f"| {label} | {cell['skipped']} |" + " — |" * 12)
                continue
            e, d = cell["enc"], cell["dec"]
            lines.append(
                f"| {label} | {'yes' if cell['identical'] else '**NO**'} | {_ms(e['fastric'])} | "
                f"{_ms(e['awslambdaric'])} | {_x(e['fastric'], e['awslambdaric'])} | "
                f"{_x(e['fastric'], e.get('orjson'))} | {_ms(cell.get('floor_enc'))} | {verdict(cell, 'enc')} | "
                f"{_ms(d['fastric'])} | {_ms(d['awslambdaric'])} | {_x(d['fastric'], d['awslambdaric'])} | "
                f"{_x(d['fastric'], d.get('orjson'))} | {_ms(cell.get('floor_dec'))} | {verdict(cell, 'dec')} |"
            )
        lines.append("")
    lines += [
        "**Cache effect** (fastric, `ensure_ascii`): the same objects / bytes every repetition, against fresh ones.",
        "",
        "| kind | enc fresh | enc same | dec fresh | dec same |",
        "|---|---:|---:|---:|---:|",
    ]
    for c in fig["cache"]:
        lines.append(
            f"| {c['name']} | {_ms(c['enc_fresh'])} | {_ms(c['enc_same'])} | {_ms(c['dec_fresh'])} | {_ms(c['dec_same'])} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    """CLI: ``--worker`` (internal) or print the matrix as Markdown."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="2 repetitions, a tenth of the values")
    ap.add_argument("--json", help="also write the raw results here")
    ap.add_argument("--only", default="", help="only the kinds whose 'group: name' contains this text")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--site", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        sys.path.extend(args.site.split(os.pathsep))
        json.dump(_worker(args.quick, args.only), sys.stdout)
        return 0
    ref = os.environ.get("FASTRIC_REF_PYTHON") or str(ROOT / ".venv-ref/bin/python")
    fig = run(ref, sys.executable, args.quick, args.only)
    if args.json:
        Path(args.json).write_text(json.dumps(fig, indent=1))
    print(markdown(fig))
    return 0


if __name__ == "__main__":
    sys.exit(main())
