"""Comparison spec for the differential tests (fastric vs awslambdaric 4.2.2).

What is compared, per run:

- the request sequence as ``(method, path)``;
- every request body, byte for byte;
- request headers: names case-insensitive, order-free (a sorted multiset of ``(lower name, value)``),
  without :data:`EXCLUDED_HEADERS`;
- the ``lambda-runtime-function-xray-error-cause`` value byte for byte **except** the ``paths`` list,
  which awslambdaric builds from a ``set`` (order depends on hash randomisation): it is compared as a set;
- the exit status (``returncode``, or "still running" when the harness had to stop it).

Connection numbers, timestamps and stdout/stderr are not part of the wire comparison.

:data:`KNOWN_DIFFERENCES` is the one place listing deliberate deviations of fastric from awslambdaric.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from .runtime_api_fake import Request, RunResult

#: Header names (lower case) never compared: transport details that differ by design.
EXCLUDED_HEADERS = frozenset({"user-agent", "host", "accept", "accept-encoding", "connection"})

XRAY_HEADER = "lambda-runtime-function-xray-error-cause"

#: Every deliberate difference between fastric and awslambdaric 4.2.2, with the reason. Keys are short
#: identifiers used in test ids and docs/TESTING.md. Only differences that a differential test could
#: observe (on the wire or in the exit status) need special handling; the others are listed so that the
#: list is complete.
KNOWN_DIFFERENCES: dict[str, str] = {
    "accept-header": (
        "fastric sends no `Accept: */*` (curl's default in awslambdaric's C++ stack); excluded from the "
        "comparison anyway, like Host, User-Agent, Accept-Encoding and Connection."
    ),
    "user-agent": (
        "User-Agent names fastric's version; awslambdaric sends it only on next/response/error and none on "
        "/init/error. Excluded from the comparison."
    ),
    "init-error-warning-wording": (
        "the LAMBDA_WARNING line logged on an init error may be worded differently; it is logging (stdout / "
        "telemetry fd), not on the wire, so the differential tests do not see it."
    ),
    "connection-reuse": (
        "awslambdaric opens a fresh http.client connection for /init/error and /restore/*; fastric may use "
        "its keep-alive connection. Connection numbers are not compared."
    ),
    "non-callable-handler-trace": (
        "a handler that cannot be called as handler(event, context) (not callable, or a signature such as "
        "`def handler(event):`, case C40) fails every invoke with the same TypeError, whose stackTrace and "
        "X-Ray stack hold only the runtime's own call site: awslambdaric's bootstrap.py frame, nothing for "
        "fastric's native loop, fastric/bootstrap.py's handle_event_request frame on its Python path (patched by an agent, or FASTRIC_PURE_PYTHON=1). Pinned by tests/test_cases.py "
        "(C40) and tests/test_differential_case_kinds.py::test_signature_mismatch."
    ),
    "context-attributeerror-trace": (
        "a Cognito header that is valid JSON but not an object fails in the context constructor; the "
        "stackTrace names the runtime's own context module (awslambdaric/lambda_context.py vs fastric's), "
        "so that invocation is not in the differential set."
    ),
    "request-id-in-url": (
        "awslambdaric pastes the request id into the URL unencoded (curl then normalises `..` and sends "
        "non-ASCII raw, awslambdaric-behaviour.md section 14); request ids outside [A-Za-z0-9-_] are not in "
        "the differential set."
    ),
    "api-prefix-init-error": (
        "awslambdaric cannot post /init/error when AWS_LAMBDA_RUNTIME_API has a path (`127.0.0.1:9001/.rt`): "
        "http.client raises InvalidURL 'nonnumeric port' (observed); fastric posts it under the prefix. "
        "Covered by tests/test_fault_injection.py and tests/test_cargo_lambda.py."
    ),
    "runtime-api-failures": (
        "awslambdaric crashes (exit 1) or segfaults on failed /next, failed posts and a /next without "
        "Content-Type (awslambdaric-behaviour.md section 14); fastric retries / carries on. Covered by "
        "tests/test_fault_injection.py (fastric only), never by a differential test."
    ),
    "init-error-body-utf8": (
        "awslambdaric posts /init/error through http.client with a str body, which http.client encodes as "
        "Latin-1: with AWS_EXECUTION_ENV=AWS_Lambda_python3.12+ (no ASCII escaping) an `é` in the message "
        "goes out as the invalid-UTF-8 byte 0xE9, and a character outside Latin-1 (`☃`) raises "
        "UnicodeEncodeError, so nothing is posted and the process dies with a traceback (observed). fastric "
        "always posts the document as UTF-8. Covered by tests/test_differential_init.py."
    ),
    "cargo-lambda-quirks": (
        "for cargo-lambda's emulator fastric treats a /next without Content-Type as JSON (awslambdaric "
        "segfaults), a deadline below 10^12 ms as relative to now (`600000`), a base64 client context as "
        "its decoded JSON object, and any 2xx as success. Covered by tests/test_cargo_lambda.py."
    ),
    "stdout-write-return": (
        "sys.stdout.write / sys.stderr.write return the number of characters written (fastric's "
        "WriteThroughStream follows the io.TextIOBase contract); awslambdaric's Unbuffered wrapper returns None. "
        "Pinned by tests/test_differential_logging.py::test_known_stream_differences."
    ),
    "dunder-stdout-order": (
        "fastric makes the original sys.__stdout__/sys.__stderr__ write_through, so their text reaches the "
        "byte buffer shared with sys.stdout at once (without it, that text was never written); in "
        "awslambdaric it waits in the original wrapper until the next sys.stdout write, so a "
        "sys.stdout.buffer.write made in between comes out first. Same bytes, and the same order whenever "
        "either side flushes in between. Pinned by test_known_stream_differences."
    ),
    "stack-runtime-frames": (
        "traceback.print_stack(), logging's stack_info=True and inspect.stack() show the runtime's own "
        "frames above the handler: awslambdaric's __main__.py, main, bootstrap.run and "
        "handle_event_request; fastric's __main__.py, main and bootstrap.run (the native loop calls the "
        "handler directly; on the Python path also Hooks.invoke and handle_event_request). Not in the "
        "differential set (exception tracebacks start at the handler and are identical)."
    ),
    "json-exception-outside-except": (
        "logging.exception() outside an except block in JSON format (exc_info == (None, None, None)): "
        "fastric logs the record without exception fields; awslambdaric's formatter raises AttributeError "
        "and the stdlib prints '--- Logging error ---' instead. Not in the differential set."
    ),
    "lone-surrogates": (
        "a lone surrogate in a record for the telemetry fd: fastric's sink writes it backslash-replaced; "
        "awslambdaric's sink raises UnicodeEncodeError out of the logging call (its handler does not catch "
        "it), which fails the invocation (observed). On stdout both fail identically. The unhandled-error "
        "record is backslash-replaced by fastric on both sinks. Not in the differential set."
    ),
    "sigterm-while-waiting": (
        "awslambdaric in standard mode cannot run a Python SIGTERM handler while blocked in /next; fastric "
        "can. Covered by tests/test_fault_injection.py."
    ),
}


def split_xray(value: bytes) -> tuple[bytes, frozenset[str] | bytes]:
    """Split an X-Ray cause header value into (everything before ``"paths": ``, set of paths).

    If the value has no ``"paths": `` key or the tail is not a JSON list, the tail is returned as bytes.
    """
    marker = b'"paths": '
    idx = value.rfind(marker)
    if idx < 0:
        return value, b""
    head, tail = value[:idx], value[idx + len(marker) :]
    try:
        paths = json.loads(tail.rstrip(b"}").decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return head, tail
    if not isinstance(paths, list):
        return head, tail
    return head, frozenset(paths)


def normalise_headers(req: Request) -> list[tuple[str, object]]:
    """Sorted ``(lower name, value)`` pairs without :data:`EXCLUDED_HEADERS`; the X-Ray cause value is
    replaced by :func:`split_xray`'s pair (its ``paths`` as a sorted tuple)."""
    out: list[tuple[str, object]] = []
    for name, value in req.headers:
        low = name.lower()
        if low in EXCLUDED_HEADERS:
            continue
        if low == XRAY_HEADER:
            head, paths = split_xray(value)
            norm: object = (head, tuple(sorted(paths)) if isinstance(paths, frozenset) else paths)
            out.append((low, norm))
        else:
            out.append((low, value))
    return sorted(out, key=repr)


def normalise_request(req: Request) -> dict[str, object]:
    """The comparable view of one request: method, path, headers (normalised), body, completeness."""
    return {
        "method": req.method,
        "path": req.path,
        "headers": normalise_headers(req),
        "body": req.body,
        "complete": req.complete,
    }


def normalise_requests(requests: Iterable[Request]) -> list[dict[str, object]]:
    """:func:`normalise_request` over a request list."""
    return [normalise_request(r) for r in requests]


def exit_view(result: RunResult) -> str:
    """The comparable exit status: ``"running"`` if the harness had to stop the process (it was parked
    in /next), else ``"exit <returncode>"``."""
    return "running" if result.alive_at_end else f"exit {result.returncode}"


def invocation_slices(result: RunResult) -> list[list[Request]]:
    """Split the requests into per-invocation groups: each group starts at a ``/next`` request and holds
    the requests up to (not including) the next ``/next``. Requests before the first ``/next`` (init
    errors) form group 0 only if present."""
    groups: list[list[Request]] = []
    current: list[Request] = []
    for req in result.requests:
        if req.endpoint == "next" and current:
            groups.append(current)
            current = []
        current.append(req)
    if current:
        groups.append(current)
    return groups
