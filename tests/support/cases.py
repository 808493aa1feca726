"""Loader for the shared bug-report cases (``tests/fixtures/cases/Cxx``, schema in its README.md)."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from pathlib import Path
from typing import Any

from .runtime_api_fake import Invocation

#: Matches TEXT-format log timestamps (``2026-11-29T22:26:14.863Z``).
TEXT_TS = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
#: Matches JSON-format log timestamps (``2026-11-29T22:26:21Z``).
JSON_TS = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def normalise_ts(data: bytes) -> bytes:
    """Replace log timestamps with ``<TS>`` (TEXT, millisecond) and ``<JTS>`` (JSON, second)."""
    return JSON_TS.sub(b"<JTS>", TEXT_TS.sub(b"<TS>", data))


@dataclasses.dataclass
class CaseSpec:
    """One case run: the folder, handler, environment overrides and the run options from invoke.json."""

    case_id: str
    root: Path
    handler: str
    env: dict[str, str]
    invocations: list[Invocation]
    telemetry_fd: bool = False
    api_prefix: str = ""
    ipv6: bool = False
    max_response_bytes: int = 6_291_556
    after: dict[str, Any] | None = None
    settle_s: float = 0.3
    timeout_s: float = 15.0


def _default_event(root: Path) -> bytes:
    for name in ("event.json", "event.bin"):
        if (root / name).exists():
            return (root / name).read_bytes()
    return b"{}"


def load_case(
    source: Path,
    dest: Path,
    *,
    env_extra: dict[str, str] | None = None,
    invoke_extra: dict[str, Any] | None = None,
    first_body: bytes | None = None,
) -> CaseSpec:
    """Copy the case folder ``source`` to ``dest`` (the task root and cwd of the run) and read it.

    ``env_extra`` and ``invoke_extra`` apply a variant (e.g. ``AWS_EXECUTION_ENV`` or ``ipv6``);
    ``first_body`` replaces the body of the first invocation.
    """
    shutil.copytree(source, dest)
    root = dest
    env = json.loads((root / "env.json").read_text(encoding="utf-8")) if (root / "env.json").exists() else {}
    env.update(env_extra or {})
    handler = env.pop("_HANDLER", "app.handler")
    env["_HANDLER"] = handler
    invoke = (
        json.loads((root / "invoke.json").read_text(encoding="utf-8"))
        if (root / "invoke.json").exists()
        else {}
    )
    invoke.update(invoke_extra or {})
    default_body = _default_event(root)
    invocations = []
    for n, spec in enumerate(invoke.get("invocations") or [{}]):
        if "body" in spec:
            body = spec["body"].encode("utf-8")
        elif "event" in spec:
            body = (root / spec["event"]).read_bytes()
        else:
            body = default_body
        if n == 0 and first_body is not None:
            body = first_body
        inv = Invocation(
            body=body,
            headers=dict(spec.get("headers", {})),
            omit_headers=list(spec.get("omit_headers", [])),
            deadline_ms=spec.get("deadline_ms", 5000),
        )
        if "request_id" in spec:
            inv.request_id = spec["request_id"]
        invocations.append(inv)
    return CaseSpec(
        case_id=source.name,
        root=root,
        handler=handler,
        env=env,
        invocations=invocations,
        telemetry_fd=bool(invoke.get("telemetry_fd", False)),
        api_prefix=invoke.get("api_prefix", ""),
        ipv6=bool(invoke.get("ipv6", False)),
        max_response_bytes=int(invoke.get("max_response_bytes", 6_291_556)),
        after=invoke.get("after"),
        settle_s=float(invoke.get("settle_s", 0.3)),
        timeout_s=float(invoke.get("timeout_s", 15)),
    )


def text_error_record(doc: dict[str, Any], framed: bool = False) -> bytes:
    """awslambdaric's TEXT unhandled-error record for an error document (awslambdaric-behaviour.md 7.5):
    ``[ERROR] Type: msg``, ``Traceback (most recent call last):``, then each stackTrace line with leading
    spaces turned into U+00A0; joined by ``\\r`` plus a final ``\\n`` on stdout, by ``\\n`` when framed."""
    head = "[ERROR]"
    if doc.get("errorType"):
        head += " " + doc["errorType"]
        if doc.get("errorMessage"):
            head += ":"
    if doc.get("errorMessage"):
        head += " " + doc["errorMessage"]
    lines = [head, "Traceback (most recent call last):"]
    for element in doc.get("stackTrace") or []:
        for line in element.splitlines() or [""]:
            stripped = line.lstrip(" ")
            lines.append("\u00a0" * (len(line) - len(stripped)) + stripped)
    if framed:
        return "\n".join(lines).encode("utf-8")
    return ("\r".join(lines) + "\n").encode("utf-8")
