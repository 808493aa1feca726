"""fastric under attack: hostile events, headers, handlers and Runtime API answers.

The promise checked here: bad input gets a clear error and loses nothing. For every attack the tests
pin down what the user sees (stdout, stderr, exit status), what the Runtime API receives (exact bytes
and headers) and whether the loop carries on or exits the way Lambda expects. Handlers live in
``tests/handlers/hostile.py``; most scenarios are batched into one runtime process (``dispatch``) so
the file stays fast on a loaded 2-core machine. Timing is only ever bounded generously.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import HANDLERS_DIR, REF_MISSING_REASON, REF_PYTHON, fastric_cmd
from support.runtime_api_fake import (
    FakeRuntimeAPI,
    Fault,
    Invocation,
    RunResult,
    build_env,
    request_id,
    run_runtime,
)

HOSTILE = HANDLERS_DIR / "hostile.py"
_SOURCE = HOSTILE.read_text(encoding="utf-8").splitlines()
XRAY = "Lambda-Runtime-Function-XRay-Error-Cause"


def run(
    handler: str,
    invocations: list[Invocation],
    faults: list[Fault] = (),
    env: dict | None = None,
    cmd: list[str] | None = None,
    **kwargs: object,
) -> RunResult:
    """Run fastric (or ``cmd``) serving ``hostile.<handler>`` against a fresh fake Runtime API."""
    handler = f"hostile.{handler}"
    with FakeRuntimeAPI(invocations, faults=faults) as api:
        return run_runtime(
            cmd or fastric_cmd(handler),
            api,
            env={"_HANDLER": handler, **(env or {})},
            cwd=str(HANDLERS_DIR),
            **kwargs,
        )


def frame(func: str, code: str) -> str:
    """One ``stackTrace`` entry for the first line equal to ``code`` inside ``def func`` of hostile.py."""
    start = next(i for i, line in enumerate(_SOURCE) if line.startswith(f"def {func}("))
    lineno = next(i for i in range(start, len(_SOURCE)) if _SOURCE[i].strip() == code) + 1
    return f'  File "{HOSTILE}", line {lineno}, in {func}\n    {code}\n'


DISPATCH = frame("dispatch", 'return globals()[event["call"]](event, context)')


def error_doc(message: str, error_type: str, rid: str, trace: list[str] = ()) -> bytes:
    """The error document exactly as awslambdaric (and fastric) serialise it."""
    doc = {"errorMessage": message, "errorType": error_type, "requestId": rid, "stackTrace": list(trace)}
    return json.dumps(doc, separators=(", ", ": ")).encode()


def dump(value: object) -> bytes:
    return json.dumps(value, separators=(", ", ": ")).encode()


def calls(*events: dict) -> list[Invocation]:
    return [Invocation(body=dump(event)) for event in events]


def outcome(result: RunResult) -> list[tuple[str, str | None, bytes]]:
    return [(p.endpoint, p.request_id, p.body) for p in result.posts]


def fastric_lines(stderr: bytes) -> list[bytes]:
    return [line for line in stderr.splitlines() if line.startswith(b"[fastric] ")]


def one_accepted_answer_each(result: RunResult, n: int) -> None:
    accepted = Counter(p.request_id for p in result.posts if p.status == 202)
    assert accepted == Counter({request_id(i): 1 for i in range(1, n + 1)}), result.describe()


# =====================================================================================================
# 1. Malformed, huge and deeply nested events (one process, the loop must carry on after each)
# =====================================================================================================

UNMARSHAL = "Runtime.UnmarshalError"

#: (name, body, expected post): ("response", describe() output) or ("error", unmarshal message).
EVENTS = [
    (
        "deep-100k-array",
        b"[" * 100_000 + b"]" * 100_000,
        ("error", "maximum recursion depth exceeded while decoding a JSON array from a string"),
    ),
    (
        "deep-100k-object",
        b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        ("error", "maximum recursion depth exceeded while decoding a JSON object from a string"),
    ),
    (
        "deep-unclosed",
        b"[" * 100_000,
        ("error", "maximum recursion depth exceeded while decoding a JSON array from a string"),
    ),
    ("string-6mb", b'"' + b"x" * 6_000_000 + b'"', ("response", {"type": "str", "len": 6_000_000})),
    (
        "invalid-utf8",
        b'{"a": "\xff\xfe"}',
        ("error", "'utf-8' codec can't decode byte 0xff in position 7: invalid start byte"),
    ),
    (
        "latin1",
        b'"caf\xe9"',
        ("error", "'utf-8' codec can't decode byte 0xe9 in position 4: invalid continuation byte"),
    ),
    ("utf8-bom", b'\xef\xbb\xbf{"a": 1}', ("response", {"type": "dict", "len": 1, "keys": ["a"]})),
    (
        "utf16-bom",
        b"\xff\xfe{\x00}\x00",
        ("error", "'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"),
    ),
    ("nan-infinity", b"[NaN, Infinity, -Infinity]", ("error", "Expecting value: line 1 column 2 (char 1)")),
    ("lone-surrogate", b'"\\ud800"', ("response", {"type": "str", "len": 1})),
    (
        "int-10k-digits",
        b"1" * 10_000,
        (
            "error",
            "Exceeds the limit (4300 digits) for integer string conversion: value has 10000 digits; use sys.set_int_max_str_digits() to increase the limit",
        ),
    ),
    (
        "float-10k-digits",
        b"1." + b"1" * 10_000,
        ("response", {"type": "float", "repr": "1.1111111111111112"}),
    ),
    ("huge-exponent", b"1e999999999999", ("response", {"type": "float", "repr": "inf"})),
    ("duplicate-keys", b'{"a": 1, "a": 2}', ("response", {"type": "dict", "len": 1, "keys": ["a"]})),
    ("empty", b"", ("error", "Expecting value: line 1 column 1 (char 0)")),
    ("whitespace", b"   ", ("error", "Expecting value: line 1 column 4 (char 3)")),
    ("raw-nul", b'"\x00"', ("error", "Invalid control character '\\x00' at: line 1 column 2 (char 1)")),
    ("escaped-nul", b'"\\u0000"', ("response", {"type": "str", "len": 1})),
    ("two-documents", b"{} {}", ("error", "Extra data: line 1 column 4 - line 1 column 6 (char 3 - 5)")),
    ("truncated", b'{"a": ', ("error", "Expecting value: line 1 column 7 (char 6)")),
]


def _event_run(cmd: list[str] | None = None) -> RunResult:
    invocations = [Invocation(body=body) for _, body, _ in EVENTS] + [Invocation(body=b'{"ok": 1}')]
    return run("describe", invocations, cmd=cmd, timeout_s=60)


def test_hostile_events_get_exact_errors_and_the_loop_carries_on() -> None:
    result = _event_run()
    expected = []
    for i, (_, _, (kind, value)) in enumerate(EVENTS, start=1):
        if kind == "response":
            expected.append(("response", request_id(i), dump(value)))
        else:
            expected.append(
                (
                    "error",
                    request_id(i),
                    error_doc("Unable to unmarshal input: " + value, UNMARSHAL, request_id(i)),
                )
            )
    expected.append(
        ("response", request_id(len(EVENTS) + 1), dump({"type": "dict", "len": 1, "keys": ["ok"]}))
    )
    assert outcome(result) == expected, result.describe()
    assert result.alive_at_end and result.stderr == b"", result.describe()
    # Unmarshal errors carry no Python frames, so the X-Ray cause has an empty stack.
    error = next(p for p in result.posts if p.endpoint == "error")
    cause = json.loads(error.header(XRAY))
    assert cause["exceptions"][0]["type"] == "LambdaValidationError" and cause["exceptions"][0]["stack"] == []


@pytest.mark.skipif(REF_PYTHON is None, reason=REF_MISSING_REASON)
def test_hostile_events_match_awslambdaric() -> None:
    ours = _event_run()
    ref = _event_run([REF_PYTHON, "-m", "awslambdaric", "hostile.describe"])
    assert outcome(ours) == outcome(ref)


# =====================================================================================================
# 2. Handlers that raise exotic exceptions
# =====================================================================================================


def test_exotic_exceptions_are_reported_and_the_loop_carries_on() -> None:
    huge = 1_000_000
    result = run(
        "dispatch",
        calls(
            {"call": "raise_group"},
            {"call": "raise_broken_str"},
            {"call": "raise_broken_repr"},
            {"call": "raise_str_non_str"},
            {"call": "raise_huge_message", "n": huge},
            {"call": "raise_huge_message", "n": 1_100_000},
            {"call": "raise_memory"},
            {"call": "raise_non_utf8_message"},
            {"call": "raise_with_cause_cycle"},
            {"call": "raise_recursion"},
            {"call": "echo"},
        ),
        timeout_s=60,
    )
    r = request_id
    f = frame
    expected = [
        error_doc(
            "several things (2 sub-exceptions)",
            "ExceptionGroup",
            r(1),
            [
                DISPATCH,
                f(
                    "raise_group",
                    'raise ExceptionGroup("several things", [ValueError("first"), TypeError("second")])',
                ),
            ],
        ),
        error_doc(
            "<exception str() failed>",
            "BrokenStr",
            r(2),
            [DISPATCH, f("raise_broken_str", 'raise BrokenStr("hidden")')],
        ),
        error_doc(
            "visible", "BrokenRepr", r(3), [DISPATCH, f("raise_broken_repr", 'raise BrokenRepr("visible")')]
        ),
        error_doc(
            "<exception str() failed>",
            "StrReturnsNonStr",
            r(4),
            [DISPATCH, f("raise_str_non_str", 'raise StrReturnsNonStr("x")')],
        ),
        error_doc(
            "m" * huge,
            "ValueError",
            r(5),
            [DISPATCH, f("raise_huge_message", 'raise ValueError("m" * event["n"])')],
        ),
        error_doc(
            "m" * 1_100_000,
            "ValueError",
            r(6),
            [DISPATCH, f("raise_huge_message", 'raise ValueError("m" * event["n"])')],
        ),
        error_doc(
            "simulated", "MemoryError", r(7), [DISPATCH, f("raise_memory", 'raise MemoryError("simulated")')]
        ),
        error_doc(
            "lone \udcff surrogate and \x00 nul",
            "ValueError",
            r(8),
            [
                DISPATCH,
                f("raise_non_utf8_message", 'raise ValueError("lone \\udcff surrogate and \\x00 nul")'),
            ],
        ),
        error_doc("a", "ValueError", r(9), [DISPATCH, f("raise_with_cause_cycle", "raise a")]),
    ]
    posts = result.posts
    if sys.version_info < (3, 11):  # no ExceptionGroup: raising None is a TypeError
        assert json.loads(posts[0].body)["errorType"] == "TypeError"
        expected[0] = posts[0].body
    assert [p.body for p in posts[:9]] == expected, result.describe()
    assert all(p.endpoint == "error" and p.status == 202 for p in posts[:10])
    # The X-Ray cause is sent below 1 MiB and dropped at or above it (awslambdaric's rule).
    assert len(posts[4].header(XRAY)) < 1024 * 1024
    assert json.loads(posts[4].header(XRAY))["exceptions"][0]["message"] == "m" * huge
    assert posts[5].header(XRAY) is None
    deep = json.loads(posts[9].body)
    assert (deep["errorType"], deep["errorMessage"]) == ("RecursionError", "maximum recursion depth exceeded")
    assert deep["stackTrace"][2] == frame("_recurse", "return _recurse(n + 1) + 1")
    assert re.fullmatch(r"  \[Previous line repeated \d+ more times\]\n", deep["stackTrace"][-1])
    assert (posts[10].endpoint, posts[10].body) == ("response", dump({"call": "echo"}))
    assert result.alive_at_end and result.stderr == b"", result.describe()
    # The user sees each error as a log record on stdout (first line of the broken-str one).
    assert (
        b"[ERROR] BrokenStr: <exception str() failed>\rTraceback (most recent call last):\r" in result.stdout
    )


@pytest.mark.parametrize(
    ("call", "returncode", "stderr_tail"),
    [
        ("raise_keyboard_interrupt", -signal.SIGINT, b"KeyboardInterrupt\n"),
        ("raise_generator_exit", 1, b"GeneratorExit: ge\n"),
        ("raise_base_exception", 1, b"BaseException: base\n"),
    ],
)
def test_base_exceptions_end_the_process_unposted(call: str, returncode: int, stderr_tail: bytes) -> None:
    """As awslambdaric: a BaseException that is not an Exception propagates, nothing is posted."""
    result = run("dispatch", calls({"call": call}, {"call": "echo"}))
    assert result.returncode == returncode, result.describe()
    assert result.posts == []
    assert result.stderr.endswith(stderr_tail), result.describe()
    assert b"Traceback (most recent call last):" in result.stderr


# =====================================================================================================
# 3. Results that cannot be serialised, or are hostile
# =====================================================================================================

MARSHAL = "Runtime.MarshalError"


def test_hostile_results_get_marshal_errors_and_the_loop_carries_on() -> None:
    cases = [
        ("return_set", ("error", "Object of type set is not JSON serializable")),
        ("return_circular", ("error", "Circular reference detected")),
        ("return_circular_list", ("error", "Circular reference detected")),
        ("return_deep", ("error", "maximum recursion depth exceeded while encoding a JSON object")),
        ("return_bad_asdict", ("error", "asdict exploded")),
        ("return_bad_asdict_broken_str", ("error", "<exception str() failed>")),
        ("return_asdict_list", ("error", "_asdict() must return a dict, not list")),
        ("return_bad_iter", ("error", "Object of type BadIter is not JSON serializable")),
        ("return_bad_float", ("error", "float exploded")),
        ("return_bad_key", ("response", b'{"k": 1}')),
        ("return_object_key", ("error", "keys must be str, int, float, bool or None, not tuple")),
        ("return_bad_items", ("error", "items exploded")),
        ("return_nan", ("response", b"[NaN, Infinity, -Infinity]")),
        ("return_lone_surrogate", ("response", b'"a\\ud800b"')),
        ("return_bytes_non_utf8", ("response", b"\xff\xfe\x00raw")),
        (
            "return_nested_bytes_non_utf8",
            ("error", "'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"),
        ),
        (
            "return_big_int",
            (
                "error",
                "Exceeds the limit (4300 digits) for integer string conversion; use sys.set_int_max_str_digits() to increase the limit",
            ),
        ),
        ("return_generator", ("error", "Object of type generator is not JSON serializable")),
        ("return_none", ("response", b"null")),
        ("return_huge", ("response-413", None)),
        ("echo", ("response", b'{"call": "echo"}')),
    ]
    events = [
        {"call": call, "n": 7_000_000} if call == "return_huge" else {"call": call} for call, _ in cases
    ]
    result = run("dispatch", calls(*events), timeout_s=60)
    assert len(result.posts) == len(cases), result.describe()
    for i, ((call, (kind, value)), post) in enumerate(zip(cases, result.posts, strict=True), start=1):
        rid = request_id(i)
        assert post.request_id == rid, call
        if kind == "error":
            assert (post.endpoint, post.status) == ("error", 202), call
            assert post.body == error_doc("Unable to marshal response: " + value, MARSHAL, rid), call
        elif kind == "response-413":
            assert (post.endpoint, post.status, len(post.body)) == ("response", 413, 7_000_002), call
        else:
            assert (post.endpoint, post.status, post.body) == ("response", 202, value), call
            ctype = b"application/unknown" if call == "return_bytes_non_utf8" else b"application/json"
            assert post.header("Content-Type") == ctype, call
    assert result.alive_at_end, result.describe()
    # The 413 is the only diagnostic: the loop logged it and went on.
    (line,) = fastric_lines(result.stderr)
    assert line.startswith(
        b"[fastric] ERROR posting the result of invocation "
        + request_id(20).encode()
        + b" failed: HTTP status 413"
    )


# =====================================================================================================
# 4. Output abuse
# =====================================================================================================


def test_ten_megabyte_line_is_printed_whole() -> None:
    n = 10 * 1024 * 1024
    result = run("print_huge_line", calls({"n": n}, {"n": 3}))
    assert result.stdout == b"L" * n + b"\n" + b"LLL\n"
    assert [p.body for p in result.posts] == [b'"printed"', b'"printed"']
    assert result.alive_at_end


@pytest.mark.parametrize(
    ("handler", "first_error"),
    [
        ("close_stdout_then_raise", ("ValueError", "after closing stdout", "I/O operation on closed file.")),
        ("close_fd1_then_raise", ("ValueError", "fd1 is gone", "[Errno 9] Bad file descriptor")),
        ("replace_stdout_none", ("ValueError", "streams are None", None)),
    ],
)
def test_broken_stdout_still_posts_every_error(handler: str, first_error: tuple) -> None:
    """awslambdaric crashes (exit 1 or 120) when it cannot write the error record; fastric posts the
    error document, says on stderr why the record is missing, and serves the next invocation."""
    etype, message, why = first_error
    result = run(handler, calls({"i": 1}, {"i": 2}))
    assert result.alive_at_end, result.describe()
    assert [(p.endpoint, p.status) for p in result.posts] == [("error", 202), ("error", 202)]
    first = json.loads(result.posts[0].body)
    assert (first["errorType"], first["errorMessage"]) == (etype, message)
    assert result.stdout == b""
    if why is not None:
        assert fastric_lines(result.stderr)[0].endswith(why.encode()), result.describe()


def test_closing_stdout_without_raising_is_harmless() -> None:
    result = run("close_stdout", calls({}, {}))
    assert [p.body for p in result.posts] == [b'"closed"', b'"closed"']
    assert (result.stderr, result.alive_at_end) == (b"", True)


# =====================================================================================================
# 5. Process control from the handler
# =====================================================================================================


@pytest.mark.parametrize(
    ("handler", "returncode", "stderr"),
    [
        ("exit_0", 0, b""),
        ("exit_3", 3, b""),
        ("exit_msg", 1, b"goodbye from the handler\n"),
        ("os_exit_7", 7, b""),
        ("kill_self_term", -signal.SIGTERM, b""),
    ],
)
def test_handler_ending_the_process(handler: str, returncode: int, stderr: bytes) -> None:
    """Exits the way Python (and awslambdaric) would, without posting; Lambda reports the exit."""
    result = run(handler, calls({}, {}))
    assert (result.returncode, result.stderr, result.posts) == (returncode, stderr, []), result.describe()
    assert len(result.by_endpoint("next")) == 1


@pytest.mark.parametrize(
    ("handler", "body", "stderr_part"),
    [
        ("thread_raises", b'"thread done"', b"RuntimeError: thread exploded\n"),
        ("del_environ", b'"env cleared"', b""),
        ("replace_environ", b'"environ replaced"', b""),
        ("replace_stdout", b'"replaced"', b""),
        ("kill_self_term_with_handler", b'"handled"', b""),
        ("fork_child_exits", b'{"child_status": 0}', b""),
        ("install_int_ignore", b'"ignored"', b""),
    ],
)
def test_handler_side_effects_do_not_break_the_loop(handler: str, body: bytes, stderr_part: bytes) -> None:
    result = run(handler, [Invocation(trace_id="Root=1-a"), Invocation(trace_id="Root=1-b")])
    assert [(p.endpoint, p.body) for p in result.posts] == [("response", body), ("response", body)], (
        result.describe()
    )
    assert result.alive_at_end
    assert stderr_part in result.stderr


def test_asyncio_handler() -> None:
    result = run("use_asyncio", calls({"a": 1}, {"b": 2}))
    assert [p.body for p in result.posts] == [b'{"a": 1}', b'{"b": 2}']


def test_trace_id_follows_each_invocation_even_after_the_environment_was_cleared() -> None:
    result = run(
        "dispatch",
        [
            Invocation(body=dump({"call": "del_environ"}), trace_id="Root=1-a"),
            Invocation(body=dump({"call": "trace_now"}), trace_id="Root=1-b"),
            Invocation(body=dump({"call": "trace_now"})),
        ],
    )
    assert [p.body for p in result.posts] == [b'"env cleared"', b'{"trace": "Root=1-b"}', b'{"trace": null}']


def test_environ_that_refuses_writes_does_not_stop_the_loop() -> None:
    """User code makes ``os.environ[...] = ...`` raise: awslambdaric's loop would die setting the trace
    id; fastric logs one WARNING and runs the invocation without the variable."""
    result = run(
        "dispatch",
        [
            Invocation(body=dump({"call": "break_environ_setitem"})),
            Invocation(body=dump({"call": "trace_now"}), trace_id="Root=1-x"),
            Invocation(body=dump({"call": "echo"})),
        ],
    )
    assert [(p.endpoint, p.body) for p in result.posts] == [
        ("response", b'"broken"'),
        ("response", b'{"trace": null}'),
        ("response", b'{"call": "echo"}'),
    ], result.describe()
    assert fastric_lines(result.stderr) == [
        b"[fastric] WARNING could not set _X_AMZN_TRACE_ID for invocation "
        + request_id(2).encode()
        + b": PermissionError: environment is read-only: _X_AMZN_TRACE_ID"
    ]
    assert result.alive_at_end


# =====================================================================================================
# 6. Hostile /next headers: request ids, deadlines, content types, client context, Cognito
# =====================================================================================================

ARN = "arn:aws:lambda:us-east-1:000000000000:function:case"


def view(rid: str, **overrides: object) -> dict:
    """What ``hostile.context_view`` returns for a plain invocation, with ``overrides``."""
    out = {
        "request_id": rid,
        "arn": ARN,
        "client_context": None,
        "identity": [None, None],
        "w3c": {},
        "tenant_id": None,
        "trace": None,
    }
    out.update(overrides)
    return out


def test_hostile_headers_reach_the_context_or_get_clear_errors() -> None:
    """One process, one invocation per hostile header. Request ids are posted back percent-encoded
    (awslambdaric pastes them raw: ``..`` is normalised away by curl and lands on another path, a space
    breaks the request line and the runtime exits)."""
    big_cc = '{"custom": {"a": "' + "x" * (1024 * 1024 - 100) + '"}}'
    cases = [
        # (Invocation keyword arguments, expected target leaf or None, expected post)
        ({"request_id": "a/b"}, "a%2Fb", view("a/b")),
        ({"request_id": ".."}, "%2E%2E", view("..")),
        ({"request_id": "%2F%zz"}, "%252F%25zz", view("%2F%zz")),
        ({"request_id": "a b\tc"}, "a%20b%09c", view("a b\tc")),
        ({"request_id": "réq-ü"}, "r%C3%A9q-%C3%BC", view("réq-ü")),
        ({"request_id": "r" * 10_000}, "r" * 10_000, view("r" * 10_000)),
        ({"request_id": b"a\xffb"}, "a%EF%BF%BDb", view("a\ufffdb")),
        ({"deadline_header": "-5", "body": b'{"remaining": 1}'}, None, {"remaining": 0}),
        ({"deadline_header": "99999999999999999999999", "body": b'{"remaining": 1}'}, None, {"remaining": 0}),
        ({"deadline_header": "NaN", "body": b'{"remaining": 1}'}, None, {"remaining": 0}),
        ({"deadline_header": "1.5e12", "body": b'{"remaining": 1}'}, None, {"remaining": 0}),
        ({"content_type": "text/plain", "body": b"not json"}, None, {"event_type": "bytes"}),
        ({"content_type": "APPLICATION/JSON", "body": b"{}"}, None, {"event_type": "bytes"}),
        ({"content_type": "application/json; charset=utf-8", "body": b"{}"}, None, {"event_type": "bytes"}),
        ({"content_type": "", "body": b"{}"}, None, {"event_type": "bytes"}),
        (
            {"client_context": big_cc},
            None,
            {
                "client_context": {
                    "custom": {"a": "x" * (1024 * 1024 - 100)},
                    "env": None,
                    "has_client": False,
                }
            },
        ),
        ({"client_context": "null"}, None, {}),
        (
            {
                "client_context": '{"w3c": {"traceparent": 5, "tracestate": "ok", "baggage": null}, "custom": 1}'
            },
            None,
            {"client_context": {"custom": 1, "env": None, "has_client": False}, "w3c": {"tracestate": "ok"}},
        ),
        (
            {"client_context": '{"w3c": [1]}'},
            None,
            {"client_context": {"custom": None, "env": None, "has_client": False}},
        ),
        ({"client_context": "[1, 2]"}, None, ("AttributeError", "'list' object has no attribute 'get'")),
        ({"client_context": '"str"'}, None, ("AttributeError", "'str' object has no attribute 'get'")),
        (
            {"client_context": '{"client": [1]}'},
            None,
            ("AttributeError", "'list' object has no attribute 'get'"),
        ),
        (
            {"client_context": "{not json"},
            None,
            (
                "Runtime.LambdaContextUnmarshalError",
                "Unable to parse Client Context JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
            ),
        ),
        (
            {"client_context": '{"custom": ' + "[" * 5000 + "]" * 5000 + "}"},
            None,
            (
                "Runtime.LambdaContextUnmarshalError",
                "Unable to parse Client Context JSON: maximum recursion depth exceeded while decoding a JSON array from a unicode string",
            ),
        ),
        ({"cognito_identity": "[1]"}, None, ("AttributeError", "'list' object has no attribute 'get'")),
        ({"cognito_identity": "5"}, None, ("AttributeError", "'int' object has no attribute 'get'")),
        (
            {"cognito_identity": "{x"},
            None,
            (
                "Runtime.LambdaContextUnmarshalError",
                "Unable to parse Cognito Identity JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
            ),
        ),
        ({"tenant_id": "tenant-é", "arn": b"arn:\xff"}, None, {"tenant_id": "tenant-é", "arn": "arn:\ufffd"}),
        ({"trace_id": "Root=1-ok"}, None, {"trace": "Root=1-ok"}),
        ({}, None, {}),
    ]
    invocations = [Invocation(**kwargs) for kwargs, _, _ in cases]
    result = run("context_view", invocations, timeout_s=60)
    assert len(result.posts) == len(cases), result.describe()
    for i, ((kwargs, leaf, expected), post) in enumerate(zip(cases, result.posts, strict=True), start=1):
        rid = kwargs.get("request_id", request_id(i))
        rid = rid.decode("utf-8", "replace") if isinstance(rid, bytes) else rid
        if leaf is not None:
            assert post.target == f"/2018-06-01/runtime/invocation/{leaf}/{post.endpoint}", kwargs
        if isinstance(expected, tuple):
            assert post.endpoint == "error", kwargs
            doc = json.loads(post.body)
            assert (doc["errorType"], doc["errorMessage"], doc["requestId"]) == (*expected, rid), kwargs
        elif "remaining" in expected:
            assert post.body == dump({**view(rid), **expected}), kwargs
        else:
            assert post.body == dump(expected if "request_id" in expected else {**view(rid), **expected}), (
                kwargs
            )
    assert result.alive_at_end and result.stderr == b"", result.describe()


@pytest.mark.parametrize(
    ("headers", "expected_view", "warning"),
    [
        ({"trace_id": b"Root=a\x01b\x7fc"}, {"trace": "Root=a\x01b\x7fc"}, None),
        ({"trace_id": b"Root=a\rb"}, {"trace": "Root=a\rb"}, None),
        (
            {"client_context": b'{"custom": "\x01"}'},
            (
                "Runtime.LambdaContextUnmarshalError",
                "Unable to parse Client Context JSON: Invalid control character at: line 1 column 13 (char 12)",
            ),
            None,
        ),
        (
            {"trace_id": b"Root=a\x00b"},
            {"trace": None},
            b"[fastric] WARNING could not set _X_AMZN_TRACE_ID for invocation 11111111-1111-4111-8111-000000000001: ValueError: embedded null byte",
        ),
        (
            {"invocation_id": b"inv\x00id"},
            {},
            b'[fastric] WARNING Lambda-Runtime-Invocation-Id "inv\\0id" contains CR, LF or NUL and cannot be echoed; posting without it',
        ),
        ({"request_id": b"a\x00b\x01"}, {"request_id": "a\x00b\x01"}, None),
    ],
    ids=[
        "ctl-trace",
        "bare-cr-trace",
        "ctl-client-context",
        "nul-trace",
        "nul-invocation-id",
        "nul-request-id",
    ],
)
def test_control_bytes_in_next_headers_lose_nothing(
    headers: dict, expected_view: object, warning: bytes | None
) -> None:
    """Go's net/http (RAPID) passes every value byte but CR/LF through. fastric used to refuse the whole
    /next answer (invocation lost, /next retried: 403s on Lambda, then exit 1); awslambdaric's curl
    takes control bytes, refuses NUL ("Failed to get next", exit 1). Now the invocation always runs."""
    result = run("context_view", [Invocation(**headers), Invocation(trace_id="Root=1-next")])
    rid = headers.get("request_id", request_id(1).encode()).decode("utf-8")
    first, second = result.posts
    if isinstance(expected_view, tuple):
        doc = json.loads(first.body)
        assert (first.endpoint, doc["errorType"], doc["errorMessage"]) == ("error", *expected_view)
    else:
        assert (first.endpoint, first.status, first.body) == (
            "response",
            202,
            dump({**view(rid), **expected_view}),
        )
    assert first.header("Lambda-Runtime-Invocation-Id") is None
    assert second.body == dump(view(request_id(2), trace="Root=1-next"))
    assert len(result.by_endpoint("next")) == 3
    assert fastric_lines(result.stderr) == ([warning] if warning else []), result.describe()
    assert result.alive_at_end


# =====================================================================================================
# 7. A Runtime API that answers /next with broken or odd HTTP
# =====================================================================================================

# `Connection: close`: the fake closes after the raw answer, and says so, so the post that follows
# goes on a new connection (these tests are about parsing; a silent close racing a POST is
# test_server_closing_after_every_answer_loses_no_result).
RAW_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: raw-1\r\n"
    b"Lambda-Runtime-Deadline-Ms: 99999999999999\r\nConnection: close\r\n"
)

#: name → (raw /next answer, then the fake closes; the event fastric must see, or None: discarded)
RAW_ANSWERS = {
    "chunked": (
        RAW_HEAD
        + b'Transfer-Encoding: chunked\r\n\r\n3\r\n{"a\r\n4;x=y\r\n": 1\r\n1\r\n}\r\n0\r\nT: 1\r\n\r\n',
        {"a": 1},
    ),
    "chunked-bad-size": (RAW_HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", None),
    "chunked-negative-size": (RAW_HEAD + b"Transfer-Encoding: chunked\r\n\r\n-2\r\n{}\r\n0\r\n\r\n", None),
    "chunked-size-2^64-1": (
        RAW_HEAD + b"Transfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n{}\r\n0\r\n\r\n",
        None,
    ),
    "chunked-size-overflow": (
        RAW_HEAD + b"Transfer-Encoding: chunked\r\n\r\n1ffffffffffffffff\r\n{}\r\n0\r\n\r\n",
        None,
    ),
    "chunked-missing-crlf": (RAW_HEAD + b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n", None),
    "chunked-then-gzip": (RAW_HEAD + b"Transfer-Encoding: chunked, gzip\r\n\r\n{}", {}),
    "gzip-then-chunked": (RAW_HEAD + b"Transfer-Encoding: gzip, chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", {}),
    "length-shorter": (RAW_HEAD + b"Content-Length: 2\r\n\r\n{}trailing garbage", {}),
    "length-longer": (RAW_HEAD + b"Content-Length: 100\r\n\r\n{}", None),
    "length-overflow": (RAW_HEAD + b"Content-Length: 99999999999999999999999\r\n\r\n{}", None),
    "length-negative": (RAW_HEAD + b"Content-Length: -2\r\n\r\n{}", None),
    "length-conflict": (RAW_HEAD + b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{} ", None),
    "length-duplicate": (RAW_HEAD + b"Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}", {}),
    "100-continue": (b"HTTP/1.1 100 Continue\r\n\r\n" + RAW_HEAD + b"Content-Length: 2\r\n\r\n{}", {}),
    "http-1.0-until-eof": (RAW_HEAD.replace(b"HTTP/1.1", b"HTTP/1.0") + b'\r\n{"eof": true}', {"eof": True}),
    "no-reason-phrase": (RAW_HEAD.replace(b"200 OK", b"200") + b"Content-Length: 2\r\n\r\n{}", {}),
    "bare-lf": (RAW_HEAD.replace(b"\r\n", b"\n") + b"Content-Length: 2\n\n{}", {}),
    "duplicate-request-id": (
        RAW_HEAD + b"Lambda-Runtime-Aws-Request-Id: raw-2\r\nContent-Length: 2\r\n\r\n{}",
        {},
    ),
    "101-switching": (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n", None),
    "binary-garbage": (b"\x00\x01\x02\xff" * 100, None),
    "10000-headers": (
        RAW_HEAD + b"".join(b"X-H%d: v\r\n" % i for i in range(10_000)) + b"Content-Length: 2\r\n\r\n{}",
        None,
    ),
    "3mib-header": (RAW_HEAD + b"X-Big: " + b"b" * (3 << 20) + b"\r\nContent-Length: 2\r\n\r\n{}", None),
    "obsolete-line-folding": (RAW_HEAD + b"X-Fold: a\r\n b\r\nContent-Length: 2\r\n\r\n{}", None),
    "control-byte-in-value": (RAW_HEAD + b"X-Odd: a\x01b\r\nContent-Length: 2\r\n\r\n{}", {}),
}


@pytest.mark.parametrize("name", list(RAW_ANSWERS))
def test_broken_next_answers(name: str) -> None:
    """The fake answers the first /next with raw bytes and closes the connection. A parsable answer is
    served (its post reaches ``raw-1`` on a new connection); anything else is discarded with one
    WARNING and /next retried. Either way the scripted invocation follows."""
    raw, event = RAW_ANSWERS[name]
    result = run("echo", [Invocation(body=b'{"next": 1}')], [Fault("next", action="garbage", garbage=raw)])
    accepted = [(p.request_id, p.body) for p in result.posts if p.status == 202]
    if event is None:
        assert accepted == [(request_id(1), b'{"next": 1}')], result.describe()
        (warning,) = fastric_lines(result.stderr)
        assert warning.startswith(b"[fastric] WARNING GET /runtime/invocation/next failed (attempt 1 of 6): ")
    else:
        assert accepted == [("raw-1", dump(event)), (request_id(1), b'{"next": 1}')], result.describe()
        assert all(b" INFO " in line for line in fastric_lines(result.stderr)), result.describe()
    assert result.alive_at_end


#: Invocations per run in the dead-connection tests (issue: 0 lost results over 1,000).
DEAD_CONNECTION_RUNS = 1000


def assert_every_result_delivered_once(result: RunResult, api: FakeRuntimeAPI, n: int) -> None:
    """Each of the ``n`` invocations has exactly one delivered result, its own event; no ERROR line."""
    expected = {request_id(i): dump({"i": i - 1}) for i in range(1, n + 1)}
    assert api.results == expected, result.describe()
    served = [r for r in result.requests if r.endpoint == "next" and r.status == 200]
    assert len(served) == n, result.describe()
    accepted = Counter(p.request_id for p in result.posts if p.status == 202)
    assert all(count == 1 for count in accepted.values()), result.describe()
    assert not [line for line in fastric_lines(result.stderr) if b" INFO " not in line], result.describe()
    assert result.alive_at_end


def run_dead_connection_server(faults: list[Fault]) -> RunResult:
    """fastric echoing ``DEAD_CONNECTION_RUNS`` events against a fake with ``faults`` that refuses a
    second result per request id (403, as Lambda); asserts every result arrived exactly once."""
    n = DEAD_CONNECTION_RUNS
    with FakeRuntimeAPI(
        calls(*({"i": i} for i in range(n))), faults=faults, duplicate_result_status=403
    ) as api:
        result = run_runtime(
            fastric_cmd("hostile.echo"),
            api,
            env={"_HANDLER": "hostile.echo"},
            cwd=str(HANDLERS_DIR),
            timeout_s=120,
        )
    assert_every_result_delivered_once(result, api, n)
    return result


@pytest.mark.parametrize("endpoint", ["next", "post"])
def test_server_closing_after_every_answer_loses_no_result(endpoint: str) -> None:
    """The fake closes the connection after every answer (of every /next, or of every result post)
    without ``Connection: close``. The close races the next request: /next reconnects (a GET is safe
    to resend); a POST found dead before writing goes on a new connection; a POST written into the
    dying connection gets no answer byte and is re-sent once on a fresh connection
    (docs/RELIABILITY.md). Lambda refuses a second result for one request id (403), so a
    re-send can never deliver two. 1,000 invocations: none is lost, each has exactly one result."""
    run_dead_connection_server([Fault(endpoint, action="close_after", count=10**6)])


@pytest.mark.parametrize("delivered", [False, True], ids=["dropped-unread", "dropped-after-delivery"])
def test_result_posts_dropped_on_reused_connections_lose_nothing(delivered: bool) -> None:
    """The fake drops every result POST that arrives on a reused keep-alive connection: it reads it
    and closes without answering. fastric re-sends each once on a fresh connection, so 1,000 of
    1,000 results arrive (awslambdaric 4.2.2 loses the first and exits 1: docs/RELIABILITY.md).
    ``dropped-after-delivery``: the fake had recorded the dropped copy, so it answers the re-send
    403 (Lambda's refusal of a second result); fastric takes that as delivered and logs one INFO
    line, not an ERROR."""
    n = DEAD_CONNECTION_RUNS
    result = run_dead_connection_server(
        [Fault("post", action="drop_if_reused", count=10**6, drop_keep=delivered)]
    )
    posts = Counter(p.request_id for p in result.posts)
    assert set(posts.values()) == {2}, result.describe()  # every result went out exactly twice
    refused = [p for p in result.posts if p.status == 403]
    assert len(refused) == (n if delivered else 0), result.describe()
    infos = fastric_lines(result.stderr)
    assert len(infos) == (2 * n if delivered else n), result.describe()


@pytest.mark.parametrize("status", [400, 403, 410, 413, 404, 418])
def test_odd_statuses_on_posts_are_logged_and_the_loop_carries_on(status: int) -> None:
    result = run("echo", calls({"i": 1}, {"i": 2}), [Fault("response", status=status, body=b"nope")])
    assert [(p.request_id, p.status) for p in result.posts] == [(request_id(1), status), (request_id(2), 202)]
    assert fastric_lines(result.stderr) == [
        f"[fastric] ERROR posting the result of invocation {request_id(1)} failed: HTTP status {status}, "
        "response body: 'nope'; continuing".encode()
    ]
    assert result.alive_at_end


def test_garbage_answer_to_a_post_is_not_resent() -> None:
    """The server answered something (garbage): it saw the POST, so it is not resent."""
    result = run("echo", calls({"i": 1}, {"i": 2}), [Fault("response", action="garbage")])
    assert [(p.request_id, p.status) for p in result.posts] == [(request_id(1), None), (request_id(2), 202)]
    (line,) = fastric_lines(result.stderr)
    assert line.startswith(b"[fastric] ERROR posting the result of invocation " + request_id(1).encode())
    assert result.alive_at_end


# =====================================================================================================
# 8. Signals, hangs and the GIL
# =====================================================================================================


def _start(handler: str, api: FakeRuntimeAPI, env: dict) -> subprocess.Popen:
    full_env = build_env(api.address, str(HANDLERS_DIR), {"_HANDLER": f"hostile.{handler}", **env})
    return subprocess.Popen(
        fastric_cmd(f"hostile.{handler}"),
        cwd=str(HANDLERS_DIR),
        env=full_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def _wait_for(predicate, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def test_sigterm_handler_runs_promptly_while_waiting_on_next(tmp_path: Path) -> None:
    """The brief says within 100 ms (the wait re-checks signals every 50 ms); asserted with a bound
    that cannot flake on a loaded machine, the measured latency is printed."""
    marker = tmp_path / "marker"
    with FakeRuntimeAPI([Invocation()]) as api:
        proc = _start("term_timestamp_handler", api, {"MARKER_PATH": str(marker)})
        try:
            _wait_for(lambda: api.posts == 1 and api.parked == 1)
            time.sleep(0.3)
            sent = time.time()
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    ready, ran = marker.read_text().split()
    latency = float(ran) - sent
    print(f"SIGTERM handler latency while blocked on /next: {latency * 1000:.1f} ms")
    assert ready == "ready"
    assert -0.01 < latency < 2.0
    assert (proc.returncode, out, err) == (0, b"", b"")


@pytest.mark.parametrize(
    ("handler", "returncode", "marker_text"),
    [("hang", -signal.SIGTERM, "hanging\n"), ("hang_with_term_handler", 0, "hanging\nterm\n")],
)
def test_sigterm_during_a_hanging_handler(
    handler: str, returncode: int, marker_text: str, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    with FakeRuntimeAPI([Invocation()]) as api:
        proc = _start(handler, api, {"MARKER_PATH": str(marker)})
        try:
            _wait_for(lambda: marker.exists() and marker.read_text() == "hanging\n")
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        assert api.posts == 0
    assert (proc.returncode, out, err) == (returncode, b"", b"")
    assert marker.read_text() == marker_text


def test_sigint_while_waiting_on_next_is_keyboard_interrupt() -> None:
    result = run("echo", calls({"i": 1}), after_signal="SIGINT")
    assert result.returncode == -signal.SIGINT, result.describe()
    assert result.stderr.endswith(b"KeyboardInterrupt\n")
    assert [p.body for p in result.posts] == [b'{"i": 1}']


def test_blocked_or_ignored_sigterm_keeps_serving() -> None:
    """A handler that blocks or ignores SIGTERM: the signal does nothing (Lambda then SIGKILLs)."""
    for handler in ("block_term", "install_int_ignore"):
        result = run(handler, calls({}), after_signal="SIGTERM", grace_s=0.5)
        assert result.alive_at_end, (handler, result.describe())
        assert len(result.posts) == 1


def test_exception_from_a_signal_handler_while_waiting_ends_the_process(tmp_path: Path) -> None:
    """A SIGALRM handler armed by the handler raises while the runtime waits on /next. As in
    awslambdaric (and plain Python), the exception ends the process with exit 1; nothing is lost that
    was not in flight."""
    marker = tmp_path / "marker"
    result = run(
        "arm_raising_alarm",
        [Invocation(body=b'{"arm": 0.3}'), Invocation(body=b'{"i": 2}')],
        [Fault("next", nth=1, action="drip", drip_chunk=4, drip_delay_s=0.02)],
        env={"MARKER_PATH": str(marker)},
    )
    assert result.returncode == 1, result.describe()
    assert [p.body for p in result.posts] == [b'{"arm": 0.3}']
    assert marker.read_text() == "alarm\n"
    assert result.stderr.splitlines()[-1].startswith(
        b"[fastric] ERROR fatal: the invoke loop stopped: TimeoutError: alarm fired (AWS_LAMBDA_RUNTIME_API='127.0.0.1:"
    )


def test_exception_from_a_signal_handler_shows_where_it_was_raised(tmp_path: Path) -> None:
    result = run(
        "arm_raising_alarm",
        [Invocation(body=b'{"arm": 0.3}'), Invocation(body=b'{"i": 2}')],
        [Fault("next", nth=1, action="drip", drip_chunk=4, drip_delay_s=0.02)],
        env={"MARKER_PATH": str(tmp_path / "marker")},
    )
    assert result.returncode == 1
    assert b", in on_alarm\n" in result.stderr


def test_gil_is_released_while_waiting_on_next() -> None:
    """A thread started by the handler keeps running while the runtime waits on a slow /next (the
    answer drips over ~1.5 s). It counts 10 ms ticks, so it needs the GIL: expect ~150 ticks; a runtime
    holding the GIL would let through at most a few."""
    result = run(
        "start_ticker",
        calls({}, {}),
        [Fault("next", nth=1, action="drip", drip_chunk=4, drip_delay_s=0.02)],
    )
    first, second = (json.loads(p.body)["ticks"] for p in result.posts)
    print(f"ticks while waiting on /next: {second - first}")
    assert second - first >= 20, result.describe()


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.0 202 Accepted\r\n\r\n",
        b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nOK\r\n0\r\n\r\n",
        b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    ],
    ids=["100-continue", "http-1.0", "chunked", "connection-close"],
)
def test_odd_but_valid_answers_to_a_post(answer: bytes) -> None:
    result = run("echo", calls({"i": 1}, {"i": 2}), [Fault("response", action="garbage", garbage=answer)])
    assert [(p.request_id, p.body) for p in result.posts] == [
        (request_id(1), b'{"i": 1}'),
        (request_id(2), b'{"i": 2}'),
    ]
    assert [line for line in fastric_lines(result.stderr) if b" INFO " not in line] == [], result.describe()
    assert result.alive_at_end
