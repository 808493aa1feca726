"""The shared bug-report cases (tests/fixtures/cases, copied from ../shared/cases) as data-driven tests.

Every case runs against fastric and against awslambdaric 4.2.2 (each expect.md says awslambdaric does it
right, so the awslambdaric runs validate the harness). The expected bytes of each case are encoded in its
check function below. Times are checked as orderings and one-sided bounds, never wall-clock windows.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import CASES_DIR, REPO_ROOT, client_cmd
from support.cases import CaseSpec, load_case, normalise_ts, text_error_record
from support.compare import KNOWN_DIFFERENCES
from support.runtime_api_fake import FakeRuntimeAPI, RunResult, request_id, run_runtime

JSON = b"application/json"
LAMBDA_WARNING = (
    b"LAMBDA_WARNING: Unhandled exception. The most likely cause is an issue in the function code. However, in "
    b"rare cases, a Lambda runtime update can cause unexpected function behavior. For functions using managed "
    b"runtimes, runtime updates can be triggered by a function change, or can be applied automatically. To "
    b"determine if the runtime has been updated, check the runtime version in the INIT_START log entry. If this "
    b"error correlates with a change in the runtime version, you may be able to mitigate this error by "
    b"temporarily rolling back to the previous runtime version. For more information, see "
    b"https://docs.aws.amazon.com/lambda/latest/dg/runtimes-update.html\r"
)


def rid(n: int) -> str:
    return request_id(n)


def posts(result: RunResult) -> list[tuple[str, bytes, bytes | None]]:
    """(endpoint, body, content-type) of each /response and /error."""
    return [(p.endpoint, p.body, p.header("content-type")) for p in result.posts]


def error_doc(message: str, etype: str, n: int, trace: list[str] | None = None) -> bytes:
    return json.dumps(
        {"errorMessage": message, "errorType": etype, "requestId": rid(n), "stackTrace": trace or []}
    ).encode()


def warning_line(client: str, stdout_line: bytes) -> None:
    """The init-error LAMBDA_WARNING line: exact for awslambdaric; for fastric only its frame (the wording
    is a listed known difference)."""
    prefix = b"[WARNING]\t<TS>\t\t"
    if client == "fastric" and "init-error-warning-wording" in KNOWN_DIFFERENCES:
        assert stdout_line.startswith(prefix + b"LAMBDA_WARNING: ") and stdout_line.endswith(b"\n")
    else:
        assert stdout_line == prefix + LAMBDA_WARNING + b"\n"


# -- check functions, one per case (and variant) ------------------------------------------------------


def check_c01(r: RunResult, spec: CaseSpec, client: str) -> None:
    assert posts(r) == [("response", b'{"msg": "h\\u00e9llo w\\u00f6rld \\ud83c\\udf0d", "n": 7}', JSON)]
    assert len(r.posts[0].body) == 53
    assert r.alive_at_end


def check_c01_py312(r: RunResult, spec: CaseSpec, client: str) -> None:
    body = '{"msg": "h\u00e9llo w\u00f6rld \U0001f30d", "n": 7}'.encode()
    assert posts(r) == [("response", body, JSON)]
    assert len(body) == 37


def check_c03(r: RunResult, spec: CaseSpec, client: str) -> None:
    assert posts(r) == [
        (
            "response",
            b'{"price": 1.10, "big": 12345678901234567890.123456789, "exp": 1E+2, "neg_zero": -0.00, "nan": NaN}',
            JSON,
        )
    ]


def check_c04(r: RunResult, spec: CaseSpec, client: str) -> None:
    assert posts(r) == [
        (
            "response",
            (
                b'{"nan": NaN, "inf": Infinity, "ninf": -Infinity, "tiny": 5e-324, "big": 1e+308, '
                b'"third": 0.3333333333333333}'
            ),
            JSON,
        )
    ]


def check_c05(r: RunResult, spec: CaseSpec, client: str) -> None:
    msgs = ["set", "datetime", "set"]
    docs = [
        {
            "errorMessage": f"Unable to marshal response: Object of type {m} is not JSON serializable",
            "errorType": "Runtime.MarshalError",
            "requestId": rid(i + 1),
            "stackTrace": [],
        }
        for i, m in enumerate(msgs)
    ]
    assert posts(r) == [("error", json.dumps(d).encode(), JSON) for d in docs]
    assert r.alive_at_end
    assert r.stdout == b"".join(text_error_record(d) for d in docs)


def check_c06(r: RunResult, spec: CaseSpec, client: str) -> None:
    assert posts(r) == [("response", bytes.fromhex("89504e470d0a1a0a00ff6f6b"), b"application/unknown")]


def check_c07(r: RunResult, spec: CaseSpec, client: str) -> None:
    um = "Runtime.UnmarshalError"
    assert posts(r) == [
        ("error", error_doc("Unable to unmarshal input: Extra data: line 1 column 9 - line 1 column 10 (char 8 - 9)", um, 1), JSON),
        ("error", error_doc("Unable to unmarshal input: Expecting value: line 1 column 1 (char 0)", um, 2), JSON),
        (
            "error",
            error_doc(
                "Unable to unmarshal input: Expecting property name enclosed in double quotes or '}': line 1 column 2 (char 1)",
                um,
                3,
            ),
            JSON,
        ),
        ("response", b'{"got": {"ok": true}}', JSON),
    ]  # fmt: skip
    assert r.alive_at_end


def check_c08(r: RunResult, spec: CaseSpec, client: str) -> None:
    assert posts(r) == [
        (
            "response",
            b'{"statusCode": 200, "body": "src/hello_world.app.lambda_handler", "module": "src.hello_world.app"}',
            JSON,
        )
    ]


def _init_error(r: RunResult) -> tuple[bytes | None, dict]:
    assert r.returncode == 1, r.describe()
    assert r.by_endpoint("next") == [], "no /next after an init error"
    (req,) = r.by_endpoint("init_error")
    return req.header("Lambda-Runtime-Function-Error-Type"), json.loads(req.body)


def check_c09(r: RunResult, spec: CaseSpec, client: str) -> None:
    header, _ = _init_error(r)
    (req,) = r.by_endpoint("init_error")
    assert header == b"Runtime.HandlerNotFound"
    doc = {
        "errorMessage": "Handler 'handler' missing on module 'app'",
        "errorType": "Runtime.HandlerNotFound",
        "requestId": "",
        "stackTrace": [],
    }
    assert req.body == json.dumps(doc).encode()
    out = normalise_ts(r.stdout)
    first, sep, rest = out.partition(b"\n")
    warning_line(client, first + sep)
    assert rest == text_error_record(doc)


def check_c10(r: RunResult, spec: CaseSpec, client: str) -> None:
    header, doc = _init_error(r)
    assert header == b"KeyError"
    assert list(doc) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert (doc["errorMessage"], doc["errorType"], doc["requestId"]) == ("'TABLE_NAME'", "KeyError", "")
    frame = (
        f'  File "{spec.root}/app.py", line 3, in <module>\n'
        '    CONFIG = os.environ["TABLE_NAME"]   # KeyError at import time: variable not configured\n'
    )
    assert frame in doc["stackTrace"]
    first_frame = doc["stackTrace"][0]
    assert "importlib/__init__.py" in first_frame and "in import_module" in first_frame
    assert not any("/bootstrap.py" in f for f in doc["stackTrace"])
    out = normalise_ts(r.stdout)
    line, sep, rest = out.partition(b"\n")
    warning_line(client, line + sep)
    assert rest == text_error_record(doc)


def check_c13(r: RunResult, spec: CaseSpec, client: str) -> None:
    assert posts(r) == [
        ("response", b'{"trace": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"}', JSON),
        ("response", b'{"trace": null}', JSON),
        ("response", b'{"trace": "Root=1-67000000-000000000000000000000002;Parent=0000000000000002;Sampled=0"}', JSON),
    ]  # fmt: skip


def check_c14(r: RunResult, spec: CaseSpec, client: str) -> None:
    assert posts(r) == [
        (
            "response",
            (
                b'{"client_context": {"custom": {"k": "v"}, "env": {"platform": "Android"}, "client": ["inst-1", '
                b'"Demo \\u00e9", null]}, "cognito": ["us-east-1:0000-id", "us-east-1:0000-pool"]}'
            ),
            JSON,
        ),
        ("response", b'{"client_context": {"custom": null, "env": null, "client": null}, "cognito": [null, null]}', JSON),
        (
            "error",
            error_doc(
                "Unable to parse Client Context JSON: Expecting value: line 1 column 1 (char 0)",
                "Runtime.LambdaContextUnmarshalError",
                3,
            ),
            JSON,
        ),
        ("response", b'{"client_context": null, "cognito": [null, null]}', JSON),
    ]  # fmt: skip
    assert r.alive_at_end


def check_c15(r: RunResult, spec: CaseSpec, client: str) -> None:
    docs = [json.loads(b) for _, b, _ in posts(r)]
    assert [d["type"] for d in docs] == ["int", "int", "int"]
    r1, r2, r3 = (d["remaining"] for d in docs)
    # one-sided bounds only: the handler slept 100 ms after the deadline header was computed
    assert 0 < r1 <= 1900
    assert r2 == 0
    assert 2000 < r3 <= 900000


def check_c16(r: RunResult, spec: CaseSpec, client: str) -> None:
    (_, b1, _), (_, b2, _) = posts(r)
    assert b1 == json.dumps({"arn": "", "remaining": 0, "request_id": rid(1)}).encode()
    d2 = json.loads(b2)
    assert d2["arn"] == "arn:aws:lambda:us-east-1:000000000000:function:case"
    assert d2["request_id"] == rid(2)
    assert 0 < d2["remaining"] <= 5000
    assert r.by_endpoint("next")[0].header("x") is None


def check_c17(r: RunResult, spec: CaseSpec, client: str) -> None:
    assert posts(r) == [("response", b'{"pong": 1}', JSON)]
    assert r.requests, r.describe()
    for req in r.requests:
        assert req.target.startswith(spec.api_prefix + "/2018-06-01/runtime/"), req.target
        assert req.status != 404


def check_c19(r: RunResult, spec: CaseSpec, client: str) -> None:
    (req,) = r.posts
    assert req.endpoint == "response" and req.header("content-type") == JSON
    assert len(req.body) == 6_000_002
    assert req.body == b'"' + b"y" * 6_000_000 + b'"'
    assert req.status == 202
    assert r.alive_at_end


def check_c21(r: RunResult, spec: CaseSpec, client: str) -> None:
    root = spec.root
    doc = {
        "errorMessage": "'missing-key'",
        "errorType": "KeyError",
        "requestId": rid(1),
        "stackTrace": [
            f'  File "{root}/app.py", line 5, in handler\n    helper()\n',
            f'  File "{root}/app.py", line 2, in helper\n    raise KeyError("missing-key")\n',
        ],
    }
    assert posts(r) == [("error", json.dumps(doc).encode(), JSON)]
    expected = (
        "[ERROR] KeyError: 'missing-key'\rTraceback (most recent call last):\r"
        f'\u00a0\u00a0File "{root}/app.py", line 5, in handler\r\u00a0\u00a0\u00a0\u00a0helper()\r'
        f'\u00a0\u00a0File "{root}/app.py", line 2, in helper\r'
        '\u00a0\u00a0\u00a0\u00a0raise KeyError("missing-key")\n'
    ).encode()
    assert r.stdout == expected


def check_c23(r: RunResult, spec: CaseSpec, client: str) -> None:
    assert posts(r) == [("response", b'{"handlers": 1, "level": "WARNING"}', JSON)]
    assert normalise_ts(r.stdout) == b"[WARNING]\t<TS>\t" + rid(1).encode() + b"\twarning-visible\n"


def check_c24(r: RunResult, spec: CaseSpec, client: str) -> None:
    assert r.stdout == b"step 1 done\nstep 2 partial"
    assert r.returncode == 3
    assert r.posts == []


def check_c25(r: RunResult, spec: CaseSpec, client: str) -> None:
    assert r.returncode == 2, r.describe()
    assert r.posts == []
    assert b"[ERROR]" not in r.stdout


def check_c25_kbint(r: RunResult, spec: CaseSpec, client: str) -> None:
    assert r.returncode == -2, r.describe()
    assert r.posts == []
    assert b"KeyboardInterrupt" in r.stderr


def check_c26(r: RunResult, spec: CaseSpec, client: str) -> None:
    doc = error_doc(
        "Unable to marshal response: Object of type coroutine is not JSON serializable",
        "Runtime.MarshalError",
        1,
    )
    assert posts(r) == [("error", doc, JSON)]
    assert b"RuntimeWarning: coroutine 'handler' was never awaited" in r.stderr
    assert r.alive_at_end


def check_c29(r: RunResult, spec: CaseSpec, client: str) -> None:
    # {"threads": 3} proves the first timer was still pending while invocation 2 ran: nothing joined it.
    assert posts(r) == [("response", b'{"threads": 2}', JSON), ("response", b'{"threads": 3}', JSON)]
    assert f"late timer fired (from {rid(1)})".encode() in r.stdout
    assert f"late timer fired (from {rid(2)})".encode() in r.stdout
    nexts = r.by_endpoint("next")
    assert len(nexts) == 3  # back in /next after the second post, before the timers fired
    assert r.alive_at_end


def check_c33(r: RunResult, spec: CaseSpec, client: str) -> None:
    assert posts(r) == [("response", b'{"n": 100000}', JSON)]
    assert r.stdout == b"P" * 100000 + b"\n"
    assert len(r.frames) == 1, [(hex(f.type), f.length) for f in r.frames]
    (frame,) = r.frames
    assert frame.type == 0xA55A0003
    assert frame.length == 100070 == len(frame.message)
    assert normalise_ts(frame.message) == b"[INFO]\t<TS>\t" + rid(1).encode() + b"\t" + b"L" * 100000 + b"\n"
    assert r.frame_tail == b""


def xray_exceptions(req) -> list[dict]:
    """The ``exceptions`` list of a post's X-Ray error-cause header."""
    return json.loads(req.header("Lambda-Runtime-Function-XRay-Error-Cause"))["exceptions"]


def frame_line(root: Path, line: int, code: str) -> str:
    """One stackTrace element for a frame of the case's app.py handler."""
    return f'  File "{root}/app.py", line {line}, in handler\n    {code}\n'


def handler_error_docs(root: Path, raised: list[tuple[str, str, int, str]]) -> list[dict]:
    """Error documents of invocations 1, 2, … for ``(errorMessage, errorType, line, source)`` each:
    an exception raised in app.py's ``handler`` at that line, its only frame."""
    return [
        {"errorMessage": m, "errorType": t, "requestId": rid(n), "stackTrace": [frame_line(root, line, code)]}
        for n, (m, t, line, code) in enumerate(raised, 1)
    ]


def check_c34(r: RunResult, spec: CaseSpec, client: str) -> None:
    group = 'raise ExceptionGroup("Exceptions from nursery", [ConnectionError("db down"), TimeoutError("cache slow")])'
    raised = [
        ("second!", "RuntimeError", 11, 'raise RuntimeError("second!") from e'),
        ("while handling", "ValueError", 16, 'raise ValueError("while handling")'),
        ("Exceptions from nursery (2 sub-exceptions)", "ExceptionGroup", 18, group),
    ]
    docs = handler_error_docs(spec.root, raised)
    assert posts(r) == [("error", json.dumps(d).encode(), JSON) for d in docs] + [
        ("response", b'{"ok": true}', JSON)
    ]
    assert r.stdout == b"".join(text_error_record(d) for d in docs)
    for req, (m, t, line, _) in zip(r.posts[:3], raised, strict=True):
        # the outermost exception only: no cause / context / sub-exception entries, its own frame only
        (exc,) = xray_exceptions(req)
        assert (exc["type"], exc["message"], exc["stack"]) == (
            t, m, [{"label": "handler", "path": f"{spec.root}/app.py", "line": line}]
        )  # fmt: skip
    assert r.alive_at_end


def check_c35(r: RunResult, spec: CaseSpec, client: str) -> None:
    assert posts(r) == [
        ("response", b'{"tenant_id": "tenant-A", "repr_has_tenant": true}', JSON),
        ("response", b'{"tenant_id": null, "repr_has_tenant": true}', JSON),
        ("response", b'{"tenant_id": null, "repr_has_tenant": true}', JSON),
        ("response", b'{"tenant_id": "tenant-B", "repr_has_tenant": true}', JSON),
    ]
    tenants = ["tenant-A", None, None, "tenant-B"]
    expected = []
    for n, tenant in enumerate(tenants, 1):
        doc = {"timestamp": "<JTS>", "level": "WARNING", "message": f"processing o-{n}", "logger": "orders",
               "requestId": rid(n)}  # fmt: skip
        if tenant is not None:
            doc["tenantId"] = tenant
        expected.append((0xA55A0012, json.dumps(doc).encode() + b"\n"))
    assert [(f.type, normalise_ts(f.message)) for f in r.frames] == expected
    assert r.frame_tail == b""


def check_c35_text(r: RunResult, spec: CaseSpec, client: str) -> None:
    """TEXT format: same responses, and the tenant id does not appear in the records."""
    assert [b for _, b, _ in posts(r)] == [
        b'{"tenant_id": "tenant-A", "repr_has_tenant": true}',
        b'{"tenant_id": null, "repr_has_tenant": true}',
        b'{"tenant_id": null, "repr_has_tenant": true}',
        b'{"tenant_id": "tenant-B", "repr_has_tenant": true}',
    ]
    assert [(f.type, normalise_ts(f.message)) for f in r.frames] == [
        (0xA55A0003, b"[WARNING]\t<TS>\t" + rid(n).encode() + f"\tprocessing o-{n}\n".encode())
        for n in range(1, 5)
    ]


def check_c37(r: RunResult, spec: CaseSpec, client: str) -> None:
    attrs = {
        "aws_request_id": "str", "client_context": "NoneType", "function_name": "str", "function_version": "str",
        "get_remaining_time_in_millis": "method", "identity": "CognitoIdentity", "invoked_function_arn": "str",
        "log": "method", "log_group_name": "str", "log_stream_name": "str", "memory_limit_in_mb": "str",
        "tenant_id": "NoneType", "w3c": "method",
    }  # fmt: skip
    doc = {"attrs": attrs, "memory": "128", "memory_int": 128, "version": "$LATEST", "group": "/aws/lambda/case",
           "stream": "2026/12/02/[$LATEST]0123456789abcdef"}  # fmt: skip
    assert posts(r) == [("response", json.dumps(doc).encode(), JSON)]
    assert [(f.type, f.message) for f in r.frames] == [
        (0xA55A0003, b"via context.log\n"),
        (0xA55A0003, b"12345"),
    ]
    assert r.frame_tail == b""


def check_c37_stdout(r: RunResult, spec: CaseSpec, client: str) -> None:
    """Without the telemetry fd, context.log writes the same bytes to stdout."""
    assert len(r.posts) == 1 and r.posts[0].endpoint == "response"
    assert r.stdout == b"via context.log\n12345"


def check_c38(r: RunResult, spec: CaseSpec, client: str) -> None:
    raised = [
        ("Rate exceeded", "ThrottlingError", 12, 'raise ThrottlingError("Rate exceeded")'),
        ("inner failure", "Inner", 14, 'raise Outer.Inner("inner failure")'),
        ("Read timeout on endpoint URL", "ReadTimeoutError", 16, 'raise ReadTimeoutError("Read timeout on endpoint URL")'),
        ("[Errno 104] Connection reset by peer", "ConnectionResetError", 18, 'raise OSError(errno.ECONNRESET, "Connection reset by peer")'),
    ]  # fmt: skip
    docs = handler_error_docs(spec.root, raised)
    names = b'{"names": ["errors.retry.ThrottlingError", "errors.retry.Outer.Inner", "botocore.exceptions.ReadTimeoutError"]}'
    assert posts(r) == [("error", json.dumps(d).encode(), JSON) for d in docs] + [("response", names, JSON)]
    assert r.stdout == b"".join(text_error_record(d) for d in docs)
    assert [xray_exceptions(req)[0]["type"] for req in r.posts[:4]] == [d["errorType"] for d in docs]
    assert r.alive_at_end


def check_c39(r: RunResult, spec: CaseSpec, client: str) -> None:
    docs = [
        {"errorMessage": f"Unable to marshal response: Object of type {t} is not JSON serializable",
         "errorType": "Runtime.MarshalError", "requestId": rid(n), "stackTrace": []}
        for n, t in ((1, "generator"), (2, "list_iterator"))
    ]  # fmt: skip
    assert posts(r) == [("error", json.dumps(d).encode(), JSON) for d in docs] + [
        ("response", b'["chunk-0\\n", "chunk-1\\n", "chunk-2\\n"]', JSON)
    ]
    assert r.stdout == b"".join(text_error_record(d) for d in docs)
    for req, doc in zip(r.posts[:2], docs, strict=True):
        assert xray_exceptions(req) == [
            {"message": doc["errorMessage"], "type": "LambdaValidationError", "stack": []}
        ]
    for req in r.posts:  # a plain buffered post: no streaming mode, no chunked body
        assert req.header("Lambda-Runtime-Function-Response-Mode") is None
        assert req.header("Transfer-Encoding") is None
    assert r.alive_at_end


def check_c40(r: RunResult, spec: CaseSpec, client: str) -> None:
    assert r.by_endpoint("init_error") == []
    assert [p.endpoint for p in r.posts] == ["error", "error"]
    message = "handler() takes 1 positional argument but 2 were given"
    records = b""
    for n, req in enumerate(r.posts, 1):
        doc = json.loads(req.body)
        assert list(doc) == ["errorMessage", "errorType", "requestId", "stackTrace"]
        assert (doc["errorMessage"], doc["errorType"], doc["requestId"]) == (message, "TypeError", rid(n))
        assert not any(str(spec.root) in f for f in doc["stackTrace"]), doc  # no user frame
        # the runtime's own call site, if any (known difference "non-callable-handler-trace")
        if client == "awslambdaric":
            (frame,) = doc["stackTrace"]
            assert frame.endswith(
                '/awslambdaric/bootstrap.py", line 178, in handle_event_request\n'
                "    response = request_handler(event, lambda_context)\n"
            )
        elif spec.env.get("FASTRIC_PURE_PYTHON") == "1":
            (frame,) = doc["stackTrace"]
            assert "/fastric/bootstrap.py" in frame and ", in handle_event_request\n" in frame
            assert "non-callable-handler-trace" in KNOWN_DIFFERENCES
        else:
            assert doc["stackTrace"] == [] and "non-callable-handler-trace" in KNOWN_DIFFERENCES
        records += text_error_record(doc)
    assert r.stdout == records
    assert r.alive_at_end


def check_c42(r: RunResult, spec: CaseSpec, client: str) -> None:
    assert posts(r) == [("response", b'{"root_level": "INFO"}', JSON)]
    expected = [
        (0xA55A000F, "INFO", "info line"),
        (0xA55A000F, "Level 25", "between info and warning"),
        (0xA55A0013, "WARNING", "warn line"),
        (0xA55A0017, "ERROR", "error line"),
        (0xA55A001B, "CRITICAL", "critical line"),
        (0xA55A001B, "Level 60", "above critical"),
        (0xA55A0003, "Level 5", "below debug"),
    ]
    assert [(f.type, normalise_ts(f.message)) for f in r.frames] == [
        (t, f"[{name}]\t<TS>\t{rid(1)}\t{msg}\n".encode()) for t, name, msg in expected
    ]
    assert r.frame_tail == b""


def check_c43(r: RunResult, spec: CaseSpec, client: str) -> None:
    (doc,) = handler_error_docs(spec.root, [("boom", "ValueError", 16, 'raise ValueError("boom")')])
    assert posts(r) == [
        ("error", json.dumps(doc).encode(), JSON),
        ("response", b'{"hook_calls": [], "hook_installed": true}', JSON),
    ]
    assert r.stdout == text_error_record(doc)
    assert b"excepthook" not in r.stderr
    assert r.alive_at_end


# case id, variant, options for load_case, check
CASES: list[tuple[str, str, dict, Callable[[RunResult, CaseSpec, str], None]]] = [
    ("C01", "default", {}, check_c01),
    ("C01", "py312", {"env_extra": {"AWS_EXECUTION_ENV": "AWS_Lambda_python3.12"}}, check_c01_py312),
    ("C01", "py315", {"env_extra": {"AWS_EXECUTION_ENV": "AWS_Lambda_python3.15", "LAMBDA_DISABLE_PREVIEW_WARN": "1"}}, check_c01_py312),
    ("C03", "default", {}, check_c03),
    ("C04", "default", {}, check_c04),
    ("C05", "default", {}, check_c05),
    ("C06", "default", {}, check_c06),
    ("C07", "default", {}, check_c07),
    ("C08", "default", {}, check_c08),
    ("C09", "default", {}, check_c09),
    ("C10", "default", {}, check_c10),
    ("C13", "default", {}, check_c13),
    ("C14", "default", {}, check_c14),
    ("C15", "default", {}, check_c15),
    ("C16", "default", {}, check_c16),
    ("C17", "prefix", {}, check_c17),
    ("C17", "ipv6", {"invoke_extra": {"ipv6": True, "api_prefix": ""}}, check_c17),
    ("C19", "default", {}, check_c19),
    ("C21", "default", {}, check_c21),
    ("C23", "default", {}, check_c23),
    ("C24", "default", {}, check_c24),
    ("C25", "sys-exit", {}, check_c25),
    ("C25", "keyboard-interrupt", {"first_body": b'{"code": null}'}, check_c25_kbint),
    ("C26", "default", {}, check_c26),
    ("C29", "default", {}, check_c29),
    ("C33", "default", {}, check_c33),
    ("C34", "default", {}, check_c34),
    ("C35", "default", {}, check_c35),
    ("C35", "text", {"env_extra": {"AWS_LAMBDA_LOG_FORMAT": "TEXT"}}, check_c35_text),
    ("C37", "default", {}, check_c37),
    ("C37", "stdout", {"invoke_extra": {"telemetry_fd": False}}, check_c37_stdout),
    ("C38", "default", {}, check_c38),
    ("C39", "default", {}, check_c39),
    ("C40", "default", {}, check_c40),
    ("C40", "pure-python-loop", {"env_extra": {"FASTRIC_PURE_PYTHON": "1"}}, check_c40),
    ("C42", "default", {}, check_c42),
    ("C43", "default", {}, check_c43),
]  # fmt: skip


def test_every_case_folder_has_a_check() -> None:
    folders = {p.name for p in CASES_DIR.iterdir() if p.is_dir()}
    assert folders == {case_id for case_id, *_ in CASES}


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_all_30_cases_present() -> None:
    """The fixture copy is complete (CI has no ../shared) and, where ../shared/cases exists, identical."""
    assert len([p for p in CASES_DIR.iterdir() if p.is_dir()]) == 30
    for shared in (REPO_ROOT.parent / "shared" / "cases", Path("/work/shared/cases")):
        if shared.is_dir():
            assert _tree(CASES_DIR) == _tree(shared), f"tests/fixtures/cases differs from {shared}"
            break


def run_case(spec: CaseSpec, client: str) -> RunResult:
    """Run one case spec under ``client`` with the options of its invoke.json."""
    after = spec.after or {}
    with FakeRuntimeAPI(
        spec.invocations,
        api_prefix=spec.api_prefix,
        ipv6=spec.ipv6,
        max_response_bytes=spec.max_response_bytes,
    ) as api:
        return run_runtime(
            client_cmd(client, spec.handler),
            api,
            env=spec.env,
            cwd=str(spec.root),
            telemetry_fd=spec.telemetry_fd,
            after_signal=after.get("signal"),
            signal_delay_s=float(after.get("delay_s", 0.3)),
            grace_s=float(after.get("grace_s", 1.5)),
            settle_s=spec.settle_s,
            timeout_s=spec.timeout_s,
        )


@pytest.mark.parametrize(
    ("case_id", "variant", "options", "check"), CASES, ids=[f"{c}-{v}" for c, v, *_ in CASES]
)
def test_case(
    client: str, case_id: str, variant: str, options: dict, check: Callable, tmp_path: Path
) -> None:
    spec = load_case(CASES_DIR / case_id, tmp_path / case_id, **options)
    result = run_case(spec, client)
    assert not result.timed_out, result.describe()
    try:
        check(result, spec, client)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- run ---\n{result.describe()}") from exc
