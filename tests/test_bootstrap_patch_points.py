"""awslambdaric 4.2.2's patch points, as APM agents (sentry-sdk's ``AwsLambdaIntegration``) use them.

``tests/handlers/patch_points.py`` finds the bootstrap module the way sentry-sdk's
``get_lambda_bootstrap`` does and wraps ``handle_event_request`` (and its ``request_handler``),
``LambdaRuntimeClient.post_invocation_result`` / ``post_invocation_error`` / ``post_init_error``,
printing the arguments each receives (types and leading text). Under fastric and awslambdaric, on the
same script: the printed call protocol, stdout/stderr and the Runtime API traffic are identical. The
one listed difference: fastric calls ``post_init_error`` while the init exception is being handled
(``sys.exc_info()`` is that exception; awslambdaric: nothing), docs/DIFFERENCES-python.md.

Also: unpatched, fastric's native loop serves the invocation without any Python-level
``handle_event_request`` frame; ``FASTRIC_PURE_PYTHON=1`` forces the Python path; the signatures are
awslambdaric's.
"""

from __future__ import annotations

import inspect
import json
import re
import subprocess

import pytest
from conftest import HANDLERS_DIR, REF_MISSING_REASON, REF_PYTHON, run_client
from support.differential import assert_same_run, run_pair
from support.runtime_api_fake import Invocation

if REF_PYTHON is None:
    pytest.skip(REF_MISSING_REASON, allow_module_level=True)

TEXT_TS = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z")
EVENTS = ["hello", "raise", "bytes", "unserialisable", "patch_posts", "hello", "caf\u00e9"]


def _script() -> list[Invocation]:
    return [
        Invocation(body=json.dumps(e).encode(), invocation_id="inv-1" if i == 0 else None)
        for i, e in enumerate(EVENTS)
    ]


@pytest.mark.parametrize(
    "env",
    [
        {"PATCH_AT_INIT": "1"},
        {"PATCH_AT_INIT": "1", "AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12"},
        {},  # only the post methods, patched by the function during its 5th invocation
    ],
    ids=["all-at-init", "all-at-init-json-3.12", "posts-during-invocation"],
)
@pytest.mark.parametrize("framed", [False, True], ids=["stdout", "framed"])
def test_patched_runtime_matches_awslambdaric(env: dict[str, str], framed: bool) -> None:
    results = run_pair(
        REF_PYTHON, "patch_points.handler", _script(), cwd=str(HANDLERS_DIR), env=env, telemetry_fd=framed
    )
    got, ref = results["fastric"], results["awslambdaric"]
    assert_same_run(results)
    assert TEXT_TS.sub(b"<TS>", got.stdout) == TEXT_TS.sub(b"<TS>", ref.stdout)
    assert got.stderr == ref.stderr
    assert [(f.type, TEXT_TS.sub(b"<TS>", f.message)) for f in got.frames] == [
        (f.type, TEXT_TS.sub(b"<TS>", f.message)) for f in ref.frames
    ]
    calls = ref.stdout.count(b"PATCH handle_event_request ")
    assert calls == (len(EVENTS) if env else 0)
    assert ref.stdout.count(b"PATCH post_invocation_") == (len(EVENTS) + 3 if env else 3)


def test_init_error_is_posted_while_the_exception_is_handled() -> None:
    env = {"PATCH_AT_INIT": "1", "PATCH_INIT_FAIL": "1"}
    results = run_pair(REF_PYTHON, "patch_points.handler", [], cwd=str(HANDLERS_DIR), env=env)
    got, ref = results["fastric"], results["awslambdaric"]
    assert got.returncode == ref.returncode == 1
    assert [r.body for r in got.by_endpoint("init_error")] == [r.body for r in ref.by_endpoint("init_error")]
    assert b"PATCH post_init_error dict ValueError n=1 kw=[]\n" in got.stdout
    assert b"PATCH post_init_error dict ValueError n=1 kw=[]\n" in ref.stdout
    # the listed difference: awslambdaric posts after its except block
    assert b"PATCH   exc_info ValueError\n" in got.stdout
    assert b"PATCH   exc_info None\n" in ref.stdout


@pytest.mark.parametrize(
    ("client", "env", "python_path"),
    [("fastric", {}, False), ("fastric", {"FASTRIC_PURE_PYTHON": "1"}, True), ("awslambdaric", {}, True)],
    ids=["fastric-native", "fastric-pure-python", "awslambdaric"],
)
def test_which_path_serves_the_invocation(client: str, env: dict[str, str], python_path: bool) -> None:
    result = run_client(client, "stack_probe.handler", [Invocation(body=b"{}")], cwd=HANDLERS_DIR, env=env)
    assert json.loads(result.posts[0].body) == {"python_path": python_path}


def test_pure_python_path_posts_the_same_bytes() -> None:
    native = run_client("fastric", "patch_points.handler", _script(), cwd=HANDLERS_DIR)
    pure = run_client(
        "fastric", "patch_points.handler", _script(), cwd=HANDLERS_DIR, env={"FASTRIC_PURE_PYTHON": "1"}
    )

    def view(result):
        return [(r.endpoint, [h for h in r.headers if h[0] != "Host"], r.body) for r in result.requests]

    assert view(pure) == view(native)
    assert pure.stdout == native.stdout


SIGNATURES = """
import inspect, json
from awslambdaric import bootstrap
cls = bootstrap.LambdaRuntimeClient
names = ["post_init_error", "post_invocation_result", "post_invocation_error", "restore_next",
         "report_restore_error", "wait_next_invocation", "__init__"]
out = {"handle_event_request": str(inspect.signature(bootstrap.handle_event_request))}
out.update({n: str(inspect.signature(getattr(cls, n))) for n in names})
print(json.dumps(out))
"""


def test_signatures_are_awslambdarics() -> None:
    from fastric import bootstrap

    ref = json.loads(subprocess.run([REF_PYTHON, "-c", SIGNATURES], capture_output=True, check=True).stdout)
    ours = {"handle_event_request": inspect.signature(bootstrap.handle_event_request)}
    ours.update(
        {
            n: inspect.signature(getattr(bootstrap.LambdaRuntimeClient, n))
            for n in ref
            if n != "handle_event_request"
        }
    )
    # parameter names, kinds and defaults (annotations are fastric's additions)
    for name, sig in ours.items():
        plain = sig.replace(
            parameters=[p.replace(annotation=inspect.Parameter.empty) for p in sig.parameters.values()],
            return_annotation=inspect.Signature.empty,
        )
        assert str(plain) == ref[name], name
