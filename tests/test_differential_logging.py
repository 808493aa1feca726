"""Differential tests: everything the runtime logs, fastric vs awslambdaric 4.2.2.

The same handler (``tests/handlers/logging_app.py``, one scenario per invocation) runs under both
clients with the same script and environment, in TEXT and JSON format (``AWS_LAMBDA_LOG_FORMAT``), with
and without a telemetry fd, and with ``AWS_LAMBDA_LOG_LEVEL`` unset, ``DEBUG``, ``INFO``, ``WARN``,
``TRACE``, ``trace`` and ``bogus``. Compared, byte for byte:

- stdout and stderr;
- the telemetry frames as ``(type, message)`` pairs (and no undecodable tail);
- the Runtime API traffic and the exit status (:func:`support.differential.assert_same_run`).

Normalised, and nothing else: TEXT timestamps (``YYYY-MM-DDTHH:MM:SS.mmmZ``), JSON ``"timestamp": "…Z"``
values, the frame µs timestamps (not compared), and in the init-error runs the wording after
``LAMBDA_WARNING: `` (``KNOWN_DIFFERENCES["init-error-warning-wording"]``). fastric's own ``[fastric] ``
diagnostic lines (stderr lines, frames) are dropped before the comparison. Request ids are the fake's, so
they are equal in both runs.

Prints from several threads at once are not deterministic in either client; ``test_concurrent_prints``
checks, per client, that no text is lost or duplicated and that each thread's prints keep their order.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable

import pytest
from conftest import HANDLERS_DIR, REF_MISSING_REASON, REF_PYTHON, SELFTEST, run_client
from support.compare import KNOWN_DIFFERENCES, exit_view
from support.differential import assert_same_run, run_pair
from support.runtime_api_fake import Frame, Invocation, RunResult

if REF_PYTHON is None:
    pytest.skip(REF_MISSING_REASON, allow_module_level=True)

# -- normalisation -----------------------------------------------------------------------------------

TEXT_TS = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
JSON_TS = re.compile(rb'"timestamp": "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"')
#: The wording of a LAMBDA_WARNING line, up to its final ``\r`` (raw in TEXT, ``\\r`` inside JSON).
WARNING_WORDING = re.compile(rb"LAMBDA_WARNING: [^\r\\]*(?=\r|\\r)")
FASTRIC_LINE = re.compile(rb"^\[fastric\] [^\n]*\n", re.MULTILINE)


def normalise(data: bytes, *, warning_wording: bool = False) -> bytes:
    """Timestamps → ``<TS>``/``<JTS>``; with ``warning_wording``, the text of LAMBDA_WARNING lines →
    ``<WORDING>`` (prefix and trailing ``\\r`` kept)."""
    data = JSON_TS.sub(b'"timestamp": "<JTS>"', TEXT_TS.sub(b"<TS>", data))
    if warning_wording:
        data = WARNING_WORDING.sub(b"LAMBDA_WARNING: <WORDING>", data)
    return data


def frames_view(frames: list[Frame], *, warning_wording: bool = False) -> list[tuple[str, bytes]]:
    """``(hex type, normalised message)`` per frame, without fastric's own diagnostic frames."""
    out = []
    for f in frames:
        assert f.length == len(f.message)
        if f.message.startswith(b"[fastric] "):
            continue
        out.append((f"{f.type:#010x}", normalise(f.message, warning_wording=warning_wording)))
    return out


def _short(line: bytes) -> str:
    return repr(line if len(line) <= 160 else line[:120] + b"..." + line[-30:]) + f" ({len(line)} bytes)"


def assert_same_bytes(got: bytes, ref: bytes, what: str) -> None:
    """``got == ref``, else a readable message: the first differing line and a short line diff."""
    if got == ref:
        return
    g, r = got.splitlines(keepends=True), ref.splitlines(keepends=True)
    first = next((i for i, (a, b) in enumerate(zip(g, r, strict=False)) if a != b), min(len(g), len(r)))
    diff = list(
        difflib.unified_diff(
            [_short(x) for x in r[max(0, first - 3) : first + 20]],
            [_short(x) for x in g[max(0, first - 3) : first + 20]],
            "awslambdaric",
            "fastric",
            lineterm="",
        )
    )
    pytest.fail(
        f"{what} differs at line {first} (fastric {len(g)} lines / {len(got)} bytes, awslambdaric "
        f"{len(r)} lines / {len(ref)} bytes)\n" + "\n".join(diff[:60]),
        pytrace=False,
    )


def assert_same_frames(got: list[tuple[str, bytes]], ref: list[tuple[str, bytes]]) -> None:
    """Equal frame lists, else the first differing frame."""
    if got == ref:
        return
    first = next(
        (i for i, (a, b) in enumerate(zip(got, ref, strict=False)) if a != b), min(len(got), len(ref))
    )
    pytest.fail(
        f"frames differ at index {first} (fastric {len(got)}, awslambdaric {len(ref)} frames)\n"
        f"  awslambdaric: {[(t, _short(m)) for t, m in ref[first : first + 3]]}\n"
        f"  fastric:      {[(t, _short(m)) for t, m in got[first : first + 3]]}",
        pytrace=False,
    )


def compare_output(results: dict[str, RunResult], *, warning_wording: bool = False) -> None:
    """stdout, stderr (without ``[fastric] `` lines) and frames of both runs are identical."""
    got, ref = results["fastric"], results["awslambdaric"]
    assert not ref.timed_out, ref.describe()
    assert got.frame_tail == ref.frame_tail == b""
    assert_same_bytes(
        normalise(got.stdout, warning_wording=warning_wording),
        normalise(ref.stdout, warning_wording=warning_wording),
        "stdout",
    )
    assert_same_bytes(
        normalise(FASTRIC_LINE.sub(b"", got.stderr), warning_wording=warning_wording),
        normalise(ref.stderr, warning_wording=warning_wording),
        "stderr",
    )
    assert_same_frames(
        frames_view(got.frames, warning_wording=warning_wording),
        frames_view(ref.frames, warning_wording=warning_wording),
    )


# -- the scripts -----------------------------------------------------------------------------------

#: Scenarios run under every configuration (they depend on the level or the format).
LEVEL_CASES = [
    "print_basic", "print_noeol", "levels_root", "levels_named", "levels_named_custom", "level_set_by_user",
    "exception", "context_log", "handler_error", "basic_config",
]  # fmt: skip
#: Scenarios run with the level unset and DEBUG only (format and fd still vary).
FULL_CASES = [
    "print_basic", "print_noeol", "print_multiline", "print_args", "stderr", "dunder_streams", "buffer_write",
    "os_write", "warnings_module", "levels_root", "levels_named",
    "levels_named_custom", "level_set_by_user", "exception", "extra", "dict_message", "unicode",
    "context_log", "thread_in", "thread_after_start", "print_basic", "thread_after_release", "asyncio_task",
    "handler_error", "handler_error_nonascii", "handler_error_empty", "basic_config", "converter", "tenant",
    "big_line", "many_lines", "late_thread",
]  # fmt: skip

FORMATS = {"text": None, "json": "JSON"}
FULL_LEVELS = {"unset": None, "DEBUG": "DEBUG"}
LIGHT_LEVELS = {"INFO": "INFO", "WARN": "WARN", "TRACE": "TRACE", "trace": "trace", "bogus": "bogus"}
#: Not UTC, so a formatter using local time would show it (the runtime sets ``Formatter.converter``).
TZ = "XST+05"


def script(cases: list[str]) -> list[Invocation]:
    """One invocation per scenario; the ``tenant`` one carries a tenant id header."""
    return [
        Invocation(
            body=json.dumps({"case": c}).encode(), tenant_id="tenant-\u00e9" if c == "tenant" else None
        )
        for c in cases
    ]


def env_for(fmt: str | None, level: str | None, **extra: str) -> dict[str, str | None]:
    return {"AWS_LAMBDA_LOG_FORMAT": fmt, "AWS_LAMBDA_LOG_LEVEL": level, "TZ": TZ, **extra}


#: (id, AWS_LAMBDA_LOG_FORMAT, AWS_LAMBDA_LOG_LEVEL, telemetry fd, full script, extra environment)
CONFIGS = [
    (f"{f}-{lv}-{'framed' if framed else 'stdout'}", fmt, level, framed, lv in FULL_LEVELS, {})
    for f, fmt in FORMATS.items()
    for lv, level in {**FULL_LEVELS, **LIGHT_LEVELS}.items()
    for framed in (False, True)
] + [
    # fastric's pure-Python invoke loop (awslambdaric ignores the variable)
    ("text-DEBUG-framed-pyloop", None, "DEBUG", True, True, {"FASTRIC_PURE_PYTHON": "1"}),
    ("json-unset-stdout-pyloop", "JSON", None, False, True, {"FASTRIC_PURE_PYTHON": "1"}),
]


@pytest.fixture(scope="module", params=CONFIGS, ids=[c[0] for c in CONFIGS])
def runs(request: pytest.FixtureRequest) -> tuple[dict[str, RunResult], list[str]]:
    _name, fmt, level, framed, full, extra = request.param
    cases = FULL_CASES if full else LEVEL_CASES
    results = run_pair(
        REF_PYTHON,
        "logging_app.handler",
        script(cases),
        cwd=str(HANDLERS_DIR),
        env=env_for(fmt, level, **extra),
        telemetry_fd=framed,
        settle_s=0.5 if full else 0.2,  # the late thread logs 0.05 s after the runtime parks
        timeout_s=60,
    )
    return results, cases


def test_output_identical(runs: tuple[dict[str, RunResult], list[str]]) -> None:
    compare_output(runs[0])


def test_wire_identical(runs: tuple[dict[str, RunResult], list[str]]) -> None:
    results, cases = runs
    assert_same_run(results)
    assert len(results["awslambdaric"].posts) == len(cases)


def test_reference_saw_every_scenario(runs: tuple[dict[str, RunResult], list[str]]) -> None:
    """Harness check: the reference output really contains what the scenarios write (so the
    comparison is not vacuous), e.g. the late thread's print after the last invocation."""
    results, cases = runs
    ref = results["awslambdaric"]
    assert b"hello from print\n" in ref.stdout
    if "late_thread" in cases:
        assert b"late print while waiting for the next invocation\n" in ref.stdout
        assert b"thread printing after its invocation returned\n" in ref.stdout
        logs = ref.stdout + b"".join(f.message for f in ref.frames)
        assert logs.count(b"line 9999") == 1
        assert b"L" * 1_000_000 in logs


# -- the comparison catches dropped, duplicated and reordered lines ------------------------------


MUTATIONS: dict[str, Callable[[list[bytes], int], list[bytes]]] = {
    "dropped": lambda lines, i: lines[:i] + lines[i + 1 :],
    "duplicated": lambda lines, i: lines[: i + 1] + lines[i:],
    "reordered": lambda lines, i: lines[:i] + [lines[i + 1], lines[i]] + lines[i + 2 :],
}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_comparison_catches(mutation: str) -> None:
    """Dropping, duplicating or swapping one line of a real reference output (TEXT, stdout) fails the
    comparison; so does the same change to the frame list."""
    results = run_pair(
        REF_PYTHON, "logging_app.handler", script(["levels_root", "levels_named"]), cwd=str(HANDLERS_DIR),
        env=env_for(None, "DEBUG"), settle_s=0.1,
    )  # fmt: skip
    ref = normalise(results["awslambdaric"].stdout)
    lines = ref.splitlines(keepends=True)
    assert len(set(lines)) == len(lines) > 10
    mutated = b"".join(MUTATIONS[mutation](lines, len(lines) // 2))
    with pytest.raises(pytest.fail.Exception):
        assert_same_bytes(mutated, ref, "stdout")
    frames = [("0xa55a0003", line) for line in lines]
    with pytest.raises(pytest.fail.Exception):
        assert_same_frames(MUTATIONS[mutation](frames, 3), frames)


# -- init errors: the LAMBDA_WARNING line ------------------------------------------------------------

PREVIEW_ENV = "AWS_Lambda_python3.15"

INIT_CONFIGS = [
    (f"{f}-{lv}-{'framed' if framed else 'stdout'}", fmt, level, framed, {})
    for f, fmt in FORMATS.items()
    for lv, level in {"unset": None, "INFO": "INFO"}.items()
    for framed in (False, True)
] + [
    # a preview runtime: the preview LAMBDA_WARNING line comes first (also worded by fastric itself)
    (f"{f}-py315-{'framed' if framed else 'stdout'}", fmt, None, framed, {"AWS_EXECUTION_ENV": PREVIEW_ENV})
    for f, fmt in FORMATS.items()
    for framed in (False, True)
]


@pytest.fixture(scope="module", params=INIT_CONFIGS, ids=[c[0] for c in INIT_CONFIGS])
def init_runs(request: pytest.FixtureRequest) -> tuple[dict[str, RunResult], tuple]:
    _name, fmt, level, framed, extra = request.param
    results = run_pair(
        REF_PYTHON,
        "logging_init_fail.handler",
        script(["print_basic"]),
        cwd=str(HANDLERS_DIR),
        env=env_for(fmt, level, **extra),
        telemetry_fd=framed,
        settle_s=0.1,
    )
    return results, request.param


def test_init_error_output_identical(init_runs: tuple[dict[str, RunResult], tuple]) -> None:
    assert "init-error-warning-wording" in KNOWN_DIFFERENCES
    results, (_name, _fmt, _level, _framed, extra) = init_runs
    compare_output(results, warning_wording=True)
    if extra.get("AWS_EXECUTION_ENV") == PREVIEW_ENV:
        # the posted init error carries an `é`: KNOWN_DIFFERENCES["init-error-body-utf8"]
        assert "init-error-body-utf8" in KNOWN_DIFFERENCES
        assert [exit_view(r) for r in results.values()] == ["exit 1", "exit 1"]
    else:
        assert_same_run(results)


def test_init_error_warning_line(init_runs: tuple[dict[str, RunResult], tuple]) -> None:
    """In both clients: one LAMBDA_WARNING record (two on a preview runtime), logged at WARNING by the
    root logger during init (empty request id), ending in ``\\r``, the init one right before the error
    record. Only the wording after ``LAMBDA_WARNING: `` is normalised."""
    results, (_name, fmt, level, framed, extra) = init_runs
    preview = extra.get("AWS_EXECUTION_ENV") == PREVIEW_ENV
    for name, r in results.items():
        if framed:
            records = frames_view(r.frames, warning_wording=True)
        else:
            records = [
                ("stdout", line + b"\n") for line in normalise(r.stdout, warning_wording=True).split(b"\n")
            ]
        warns = [i for i, (_t, m) in enumerate(records) if b"LAMBDA_WARNING: " in m]
        assert len(warns) == 1 + preview, (name, records)
        for i in warns:
            ftype, msg = records[i]
            if fmt == "JSON":
                assert msg == (
                    b'{"timestamp": "<JTS>", "level": "WARNING", "message": "LAMBDA_WARNING: <WORDING>\\r", '
                    b'"logger": "root", "requestId": ""}\n'
                ), name
                assert ftype in ("stdout", "0xa55a0012"), name
            else:
                assert msg == b"[WARNING]\t<TS>\t\tLAMBDA_WARNING: <WORDING>\r\n", name
                assert ftype in ("stdout", "0xa55a0013" if level else "0xa55a0003"), name
        error_type, error_record = records[warns[-1] + 1]
        assert error_type in ("stdout", "0xa55a0016" if fmt == "JSON" else "0xa55a0017"), name
        if fmt == "JSON":
            head = b'{"timestamp": "<JTS>", "level": "ERROR", "errorMessage": "init failed'
        else:  # TEXT lines are joined with \r on stdout, with \n in a frame
            head = b"[ERROR] RuntimeError: init failed \xc3\xa9" + (b"\n" if framed else b"\r")
        assert error_record.startswith(head), (name, error_record[:200])


# -- concurrent prints ---------------------------------------------------------------------------

TOKEN = re.compile(rb"<T(\d)-(\d{4})")


@pytest.mark.parametrize("client", ["fastric", "awslambdaric"])
def test_concurrent_prints(client: str) -> None:
    """8 threads × 300 ``print(a, b, c)`` at once: every argument, separator and newline arrives exactly
    once, and each thread's prints keep their order. awslambdaric writes (and flushes) each argument,
    separator and end separately, so pieces of different threads may interleave; fastric does the same
    (``WriteThroughStream`` writes each piece to the fd at once), and loses nothing either."""
    r = run_client(client, "logging_app.handler", script(["print_threads"]), cwd=HANDLERS_DIR, settle_s=0.1)
    assert len(r.posts) == 1, r.describe()
    out = r.stdout[r.stdout.index(b"<T") :]  # after the module's import-time output
    expected_pieces = 8 * 300
    assert out.count(b"\n") == expected_pieces
    assert out.count(b"payload" * 3) == expected_pieces
    assert len(out) == sum(
        len(f"<T{t}-{i:04d} {'payload' * 3} end{t}>\n") for t in range(8) for i in range(300)
    )
    per_thread: dict[int, list[int]] = {}
    for m in TOKEN.finditer(out):
        per_thread.setdefault(int(m.group(1)), []).append(int(m.group(2)))
    assert per_thread == {t: list(range(300)) for t in range(8)}
    for t in range(8):
        assert out.count(f"end{t}>".encode()) == 300


# -- known differences, pinned ---------------------------------------------------------------------


@pytest.mark.parametrize("client", ["fastric", "awslambdaric"])
def test_known_stream_differences(client: str) -> None:
    """``KNOWN_DIFFERENCES["stdout-write-return"]``: ``sys.stdout.write`` returns the character count in
    fastric, None in awslambdaric. ``KNOWN_DIFFERENCES["dunder-stdout-order"]``: text written to
    ``sys.__stdout__`` and left unflushed reaches the shared byte buffer at once in fastric, so a later
    ``sys.stdout.buffer.write`` cannot overtake it; in awslambdaric it can. No text is lost in either."""
    assert {"stdout-write-return", "dunder-stdout-order"} <= KNOWN_DIFFERENCES.keys()
    r = run_client(
        client, "logging_app.handler", script(["write_return", "dunder_tail", "buffer_write"]),
        cwd=HANDLERS_DIR, settle_s=0.1,
    )  # fmt: skip
    bodies = [p.body for p in r.posts]
    fastric = client == "fastric" and not SELFTEST  # the self-test runs awslambdaric as "fastric"
    counted = b"[8, 8]" if fastric else b"[null, null]"
    assert bodies[0] == b'{"case": "write_return", "result": ' + counted + b"}"
    tail = b"sys.__stdout__ tail, not flushed\n"
    raw = b"raw bytes via sys.stdout.buffer\n"
    after = b"print after a raw buffer write\n"
    expected = tail + raw + after if fastric else raw + tail + after
    assert expected in r.stdout
    assert r.stdout.count(tail) == 1
