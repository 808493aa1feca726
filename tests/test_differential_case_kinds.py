"""Differential tests for the whole kind of fault behind the shared cases C34, C38, C39, C40 and C43.

Each case folder has one input per fault; ``tests/handlers/case_kinds.py`` has the other forms of it:
every way an exception carries others (C34: cause, context, ``from None``, groups nested, subclassed,
split, from a TaskGroup), every kind of exception class (C38: nested, local, dynamic with a foreign
``__module__``, metaclass, renamed, non-ASCII, nameless, OSError errno subclasses), iterable results that
are not lists (C39: generators, iterators, async generators, views; none is consumed or streamed),
handler signatures that do not take ``(event, context)`` (C40), and a user ``sys.excepthook`` that the
runtime never calls (C43). Wire, stdout and telemetry frames are compared with awslambdaric 4.2.2 byte
for byte (timestamps replaced); C40's stack trace is the listed difference ``non-callable-handler-trace``.
"""

from __future__ import annotations

import json
import sys

import pytest
from conftest import HANDLERS_DIR, REF_MISSING_REASON, REF_PYTHON
from support.cases import normalise_ts, text_error_record
from support.compare import KNOWN_DIFFERENCES, normalise_requests
from support.differential import assert_same_run, assert_same_slice, run_pair
from support.runtime_api_fake import Invocation, RunResult

if REF_PYTHON is None:
    pytest.skip(REF_MISSING_REASON, allow_module_level=True)
if sys.version_info < (3, 11):
    pytest.skip("ExceptionGroup needs Python 3.11", allow_module_level=True)

KINDS = [
    # C34
    "cause", "context", "from_none", "cause_deep", "context_and_cause", "bare_reraise", "with_traceback_none",
    "finally_mask", "cycle", "notes", "group", "group_one", "group_nested", "group_subclass", "group_base_ctor",
    "group_split", "taskgroup",
    # C38
    "module_qualified", "metaclass", "abc", "renamed", "non_ascii_name", "class_liar", "multi_base",
    "dynamic_foreign_module", "nameless", "nameless_no_message", "dotted_name", "local", "json_decode",
    "oserror_econnreset", "oserror_enoent_file", "oserror_two_files", "oserror_plain", "socket_timeout",
    "gaierror", "class_not_instance",
    # C39
    "ret_generator", "ret_unstarted_generator", "ret_genexpr", "ret_iterator", "ret_range", "ret_map",
    "ret_async_generator", "ret_dict_items", "ret_deque", "ret_nested_generator", "ret_list_subclass",
    "ret_tuple",
    # C43: last, after every error above
    "hook_calls",
]  # fmt: skip

CONFIGS = {
    "text-stdout": ({}, False),
    "json-framed-py312": (
        {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12"},
        True,
    ),
}


def _frames(result: RunResult) -> list[tuple[int, bytes]]:
    return [(f.type, normalise_ts(f.message)) for f in result.frames]


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def kind_runs(request: pytest.FixtureRequest) -> dict[str, RunResult]:
    env, telemetry_fd = CONFIGS[request.param]
    invocations = [Invocation(body=json.dumps({"kind": k}).encode()) for k in KINDS]
    return run_pair(
        REF_PYTHON,
        "case_kinds.handler",
        invocations,
        cwd=str(HANDLERS_DIR),
        env=env,
        telemetry_fd=telemetry_fd,
    )


@pytest.mark.parametrize("index", range(len(KINDS)), ids=KINDS)
def test_fault_kind_identical(kind_runs: dict[str, RunResult], index: int) -> None:
    assert_same_slice(kind_runs, index)


def test_fault_kinds_run_and_logs_identical(kind_runs: dict[str, RunResult]) -> None:
    assert_same_run(kind_runs)
    fastric, ref = kind_runs["fastric"], kind_runs["awslambdaric"]
    assert normalise_ts(fastric.stdout) == normalise_ts(ref.stdout)
    assert _frames(fastric) == _frames(ref)
    assert fastric.frame_tail == ref.frame_tail == b""
    for result in (fastric, ref):
        # C43: the user's hook was never called and is still installed
        assert result.posts[-1].body == b'{"hook_calls": [], "hook_installed": true}', result.describe()
        assert b"excepthook called" not in result.stdout + result.stderr
        # C39: every post is a plain buffered one
        assert all(p.header("Lambda-Runtime-Function-Response-Mode") is None for p in result.posts)
        assert all(p.header("Transfer-Encoding") is None for p in result.posts)


# -- C40: handlers that cannot be called as handler(event, context) --------------------------------

SIGNATURE_ERRORS = {
    "sig_zero": "sig_zero() takes 0 positional arguments but 2 were given",
    "sig_three": "sig_three() missing 1 required positional argument: 'extra'",
    "sig_keyword_only": "sig_keyword_only() takes 0 positional arguments but 2 were given",
    "sig_class": "SigClass.__init__() takes 2 positional arguments but 3 were given",
    "sig_builtin": "len() takes exactly one argument (2 given)",
}
XRAY = "Lambda-Runtime-Function-XRay-Error-Cause"


@pytest.mark.parametrize("name", sorted(SIGNATURE_ERRORS))
def test_signature_mismatch(name: str) -> None:
    """Same errorType, errorMessage and requestId, the process keeps serving; the stack trace holds
    only the runtime's own call site: awslambdaric's bootstrap.py frame, nothing for fastric's native
    loop (``non-callable-handler-trace``)."""
    handler = "case_kinds.SigClass" if name == "sig_class" else f"case_kinds.{name}"
    runs = run_pair(REF_PYTHON, handler, [Invocation(body=b"{}")] * 2, cwd=str(HANDLERS_DIR))
    assert "non-callable-handler-trace" in KNOWN_DIFFERENCES
    fastric, ref = runs["fastric"], runs["awslambdaric"]
    assert (
        [r.endpoint for r in fastric.requests]
        == [r.endpoint for r in ref.requests]
        == ["next", "error"] * 2 + ["next"]
    )
    assert fastric.alive_at_end and ref.alive_at_end
    records = b""
    for got, want in zip(fastric.posts, ref.posts, strict=True):
        doc, ref_doc = json.loads(got.body), json.loads(want.body)
        assert (doc["errorType"], doc["errorMessage"]) == ("TypeError", SIGNATURE_ERRORS[name])
        (ref_frame,) = ref_doc.pop("stackTrace")
        assert '/awslambdaric/bootstrap.py", line 178, in handle_event_request\n' in ref_frame
        assert doc.pop("stackTrace") == []
        assert doc == ref_doc
        cause, ref_cause = json.loads(got.header(XRAY)), json.loads(want.header(XRAY))
        assert [e.pop("stack") for e in cause["exceptions"]] == [[]]
        assert [len(e.pop("stack")) for e in ref_cause["exceptions"]] == [1]
        assert cause.pop("paths") == [] and len(ref_cause.pop("paths")) == 1
        assert cause == ref_cause
        records += text_error_record(json.loads(got.body))
    assert fastric.stdout == records


@pytest.mark.parametrize("name", ["sig_defaults", "sig_star"])
def test_signature_accepting_two_positionals_identical(name: str) -> None:
    runs = run_pair(REF_PYTHON, f"case_kinds.{name}", [Invocation(body=b"{}")], cwd=str(HANDLERS_DIR))
    assert_same_run(runs)
    assert normalise_requests(runs["fastric"].posts) == normalise_requests(runs["awslambdaric"].posts)
