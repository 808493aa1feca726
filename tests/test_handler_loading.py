"""Handler resolution and init-error documents (awslambdaric 4.2.2 section 3), in process and against the
reference's ``_get_handler``/``build_fault_result``."""

import json
import os
import subprocess
import sys

import pytest
from conftest import REF_PYTHON
from fastric import bootstrap

needs_ref = pytest.mark.skipif(REF_PYTHON is None, reason="reference awslambdaric venv not present")

MODULES = {
    "good_mod.py": "def handler(e, c):\n    return 'ok'\nNOT_CALLABLE = 'x'\n",
    "bad_syntax_mod.py": "def f(:\n    pass\n",
    "import_fail_mod.py": "import not_a_real_module_xyz\n",
    "body_fail_mod.py": "raise RuntimeError('module body failed')\n",
    "pkg_h/__init__.py": "",
    "pkg_h/sub/__init__.py": "",
    "pkg_h/sub/mod.py": "def handler(e, c):\n    return __name__\n",
}

CASES = [
    "good_mod.handler",
    "good_mod.missing",
    "good_mod.",
    "nodot",
    "sys.handler",
    "os.path.handler",
    ".handler",
    "bad_syntax_mod.handler",
    "import_fail_mod.handler",
    "body_fail_mod.handler",
    "no_such_mod.handler",
    "pkg_h/sub/mod.handler",
    "pkg_h.sub.mod.handler",
    "pkg_h/sub/missing.handler",
    "pkg_h.sub.mod.K.m",
]


@pytest.fixture
def modules(tmp_path, monkeypatch):
    for name, text in MODULES.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in list(sys.modules):
        if name.split(".")[0] in {"good_mod", "bad_syntax_mod", "import_fail_mod", "body_fail_mod", "pkg_h"}:
            del sys.modules[name]


def load(handler):
    """(error document or None, handler) as fastric's run() computes them."""
    func, error = bootstrap.load_handler(handler)
    return error, func


def test_success_and_slash_paths(modules):
    assert load("good_mod.handler")[1](None, None) == "ok"
    assert load("pkg_h/sub/mod.handler")[1](None, None) == "pkg_h.sub.mod"
    assert load("pkg_h.sub.mod.handler")[1](None, None) == "pkg_h.sub.mod"
    assert load("good_mod.NOT_CALLABLE")[1] == "x"  # not checked, as awslambdaric


@pytest.mark.parametrize(
    ("handler", "error_type", "message"),
    [
        ("good_mod.missing", "Runtime.HandlerNotFound", "Handler 'missing' missing on module 'good_mod'"),
        ("good_mod.", "Runtime.HandlerNotFound", "Handler '' missing on module 'good_mod'"),
        (
            "nodot",
            "Runtime.MalformedHandlerName",
            "Bad handler 'nodot': not enough values to unpack (expected 2, got 1)",
        ),
        (
            "sys.handler",
            "Runtime.BuiltInModuleConflict",
            "Cannot use built-in module sys as a handler module",
        ),
        (
            "import_fail_mod.handler",
            "Runtime.ImportModuleError",
            "Unable to import module 'import_fail_mod': No module named 'not_a_real_module_xyz'",
        ),
        (
            "pkg_h/sub/missing.handler",
            "Runtime.ImportModuleError",
            "Unable to import module 'pkg_h/sub/missing': No module named 'pkg_h.sub.missing'",
        ),
        (
            "pkg_h.sub.mod.K.m",
            "Runtime.ImportModuleError",
            "Unable to import module 'pkg_h.sub.mod.K': No module named 'pkg_h.sub.mod.K'; 'pkg_h.sub.mod' is not a package",
        ),
        ("body_fail_mod.handler", "RuntimeError", "module body failed"),
        (".handler", "ValueError", "Empty module name"),
    ],
)
def test_error_types_and_messages(modules, handler, error_type, message):
    error, _ = load(handler)
    assert error["errorType"] == error_type
    assert error["errorMessage"] == message
    assert error["requestId"] == ""


def test_syntax_error_trace(modules):
    error, _ = load("bad_syntax_mod.handler")
    assert error["errorType"] == "Runtime.UserCodeSyntaxError"
    assert (
        error["errorMessage"]
        == "Syntax error in module 'bad_syntax_mod': invalid syntax (bad_syntax_mod.py, line 1)"
    )
    assert error["stackTrace"] == [f'  File "{modules / "bad_syntax_mod.py"}" Line 1\n    def f(:\n']


def test_module_body_trace_keeps_importlib_frames(modules):
    error, _ = load("body_fail_mod.handler")
    trace = error["stackTrace"]
    assert "importlib/__init__.py" in trace[0] and "in import_module" in trace[0]
    assert trace[-1] == (
        f"  File \"{modules / 'body_fail_mod.py'}\", line 1, in <module>\n    raise RuntimeError('module body failed')\n"
    )
    assert not any("fastric" in line for line in trace)


REF_SCRIPT = r"""
import json, sys
from awslambdaric import bootstrap
from awslambdaric.lambda_runtime_exception import FaultException
out = []
for h in json.loads(sys.argv[1]):
    try:
        r = bootstrap._get_handler(h)
        out.append(None)
    except FaultException as e:
        out.append(bootstrap.make_error(e.msg, e.exception_type, e.trace))
    except Exception:
        out.append(bootstrap.build_fault_result(sys.exc_info(), None))
print(json.dumps(out))
"""


@needs_ref
def test_matches_reference(modules):
    ref = subprocess.run(
        [REF_PYTHON, "-c", REF_SCRIPT, json.dumps(CASES)],
        cwd=modules,
        env=dict(os.environ, PYTHONPATH=str(modules)),
        capture_output=True,
        text=True,
        check=True,
    )
    expected = json.loads(ref.stdout)
    for handler, want in zip(CASES, expected, strict=False):
        got, _ = load(handler)
        if want is not None and got is not None:
            # Frames from the interpreter's own stdlib differ between the two venvs' Python paths only.
            # The reference is called from a "<string>" script frame, fastric from bootstrap.py (stripped).
            strip = lambda doc: [  # noqa: E731
                line for line in doc["stackTrace"] if "importlib" not in line and "<string>" not in line
            ]
            assert (got["errorType"], got["errorMessage"], strip(got)) == (
                want["errorType"],
                want["errorMessage"],
                strip(want),
            ), handler
        else:
            assert got == want, handler
