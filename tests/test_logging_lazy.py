"""The lazy logging set-up: ``python -m fastric`` does not import ``logging`` at start, and installs the
root handler when something first imports it. Every case runs the real runtime against a small fake
Runtime API and compares its log bytes (stdout, or the telemetry-fd frames) with fastric's eager path
(``logging`` already imported by a ``sitecustomize``) and with awslambdaric 4.2.2, timestamps masked."""

import json
import os
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

REF_PYTHON = os.environ.get("FASTRIC_REF_PYTHON", "/work/main/.venv-ref/bin/python")
needs_ref = pytest.mark.skipif(
    not os.path.exists(REF_PYTHON), reason="reference awslambdaric venv not present"
)

# Modules that `python -m fastric` must not import at start for a handler module that imports nothing.
HEAVY = ["enum", "json", "logging", "re", "string", "threading", "tokenize", "traceback", "typing", "weakref"]

APP = """
import sys, time
T_BEFORE_LOGGING = time.time()
{top}

def handler(event, context):
    action = event["action"]
    if action == "facts":
        import os
        return {{
            "loaded": sorted(m for m in {heavy!r} if m in sys.modules),
            "fd_env": "_LAMBDA_TELEMETRY_LOG_FD" in os.environ,
        }}
    if action == "log":
        import logging
        logging.getLogger().warning("root %s", 1)
        logging.getLogger("app").error("named", extra={{"k": "v"}})
        logging.getLogger("app").info("info line")
        logging.getLogger("app").debug({{"dict": "msg"}})
        try:
            raise KeyError("inner")
        except KeyError:
            logging.exception("caught")
        context.log("context line\\n")
        root = logging.getLogger()
        return {{
            "handlers": [type(h).__name__ for h in root.handlers],
            "level": root.level,
            "gmtime": logging.Formatter.converter is time.gmtime,
            "backdated": logging._startTime < T_BEFORE_LOGGING,
            "loader": [type(logging.__loader__).__name__, logging.__spec__.loader is logging.__loader__],
        }}
    if action == "ctx":
        context.log("only context.log\\n")
        context.log("second")
        return {{"loaded": "logging" in sys.modules}}
    if action == "raise":
        raise ValueError("boom \\u00e9")
    raise AssertionError(action)
"""


class _Api(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        api = self.server.api
        if not self.path.endswith("/runtime/invocation/next"):
            return self._reply(404)
        with api.lock:
            event = api.events.pop(0) if api.events else None
            api.n += 1
            n = api.n
        if event is None:
            api.done.set()
            api.stop.wait(30)  # hold the last /next: the runtime idles until the test kills it
            return
        self._reply(
            200,
            json.dumps(event).encode(),
            [
                ("Lambda-Runtime-Aws-Request-Id", f"rid-{n}"),
                ("Lambda-Runtime-Deadline-Ms", "4102444800000"),
                ("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:1:function:f"),
                ("Content-Type", "application/json"),
            ],
        )

    def do_POST(self):
        api = self.server.api
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with api.lock:
            api.posts.append((self.path.split("/runtime/", 1)[1], body))
        self._reply(202, b'{"status":"OK"}', [("Content-Type", "application/json")])
        if self.path.endswith("/init/error"):
            api.done.set()


class FakeRuntimeApi:
    """Serves ``events`` one per ``/next`` (request ids ``rid-1``, ``rid-2``, ...), records the posts as
    ``(path after /runtime/, body bytes)``; ``done`` is set at the ``/next`` after the last event or at
    an ``/init/error``."""

    def __init__(self, events):
        self.events = list(events)
        self.posts = []
        self.n = 0
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.stop = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
        self.server.daemon_threads = True
        self.server.api = self
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True)
        self.thread.start()

    @property
    def address(self):
        return "127.0.0.1:%d" % self.server.server_address[1]

    def close(self):
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


def read_frames(data):
    """``[(frame type hex, message)]`` of telemetry-fd bytes; the length field is checked."""
    out = []
    while data:
        ftype, length = data[:4].hex(), int.from_bytes(data[4:8], "big")
        out.append((ftype, data[16 : 16 + length].decode()))
        assert len(data) >= 16 + length
        data = data[16 + length :]
    return out


TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z")


def mask(text):
    return TS.sub("<TS>", text)


def run_runtime(tmp_path, mode, top, events, env=None, telemetry=False, handler="app.handler"):
    """Run ``mode`` (``lazy``: fastric as is; ``eager``: fastric with ``logging`` imported by a
    ``sitecustomize``; ``ref``: awslambdaric) on ``app.py`` until the events are served.

    Returns ``(posts, stdout text, frames or None)``, timestamps masked."""
    app = tmp_path / "app"
    app.mkdir(exist_ok=True)
    (app / "app.py").write_text(APP.format(top=top, heavy=HEAVY))
    api = FakeRuntimeApi(events)
    full_env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    full_env.update(env or {})
    full_env["AWS_LAMBDA_RUNTIME_API"] = api.address
    if mode == "eager":
        site = tmp_path / "site"
        site.mkdir(exist_ok=True)
        (site / "sitecustomize.py").write_text("import logging\n")
        full_env["PYTHONPATH"] = str(site)
    argv = [REF_PYTHON, "-m", "awslambdaric"] if mode == "ref" else [sys.executable, "-m", "fastric"]
    pass_fds = ()
    rfd = wfd = None
    if telemetry:
        rfd, wfd = os.pipe()
        full_env["_LAMBDA_TELEMETRY_LOG_FD"] = str(wfd)
        pass_fds = (wfd,)
    proc = subprocess.Popen(
        [*argv, handler],
        cwd=app,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        pass_fds=pass_fds,
    )
    try:
        if wfd is not None:
            os.close(wfd)
        frames_data = b""
        if rfd is not None:
            reader_out = []
            reader = threading.Thread(target=lambda: reader_out.append(_read_all(rfd)), daemon=True)
            reader.start()
        assert api.done.wait(30), "the runtime did not finish the events"
        # An exiting runtime (init error) finishes on its own; a serving one has written everything
        # (stdout and frames are write-through) before its next /next, so it is killed at once.
        if api.posts and api.posts[-1][0] == "init/error":
            proc.wait(timeout=10)
        else:
            proc.kill()
        out, err = proc.communicate(timeout=10)
        if rfd is not None:
            reader.join(10)
            frames_data = reader_out[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        api.close()
        if rfd is not None:
            os.close(rfd)
    frames = [(t, mask(m)) for t, m in read_frames(frames_data)] if telemetry else None
    return api.posts, mask(out.decode()), frames


def _read_all(fd):
    chunks = []
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def facts(posts):
    return json.loads(posts[-1][1])


LOG_ENVS = {
    "text": {},
    "text-level": {"AWS_LAMBDA_LOG_LEVEL": "DEBUG"},
    "json": {"AWS_LAMBDA_LOG_FORMAT": "JSON"},
    "json-level": {"AWS_LAMBDA_LOG_FORMAT": "json", "AWS_LAMBDA_LOG_LEVEL": "info"},
}


@pytest.mark.parametrize("telemetry", [False, True], ids=["stdout", "fd"])
def test_logging_not_imported_by_start_up(tmp_path, telemetry):
    posts, out, frames = run_runtime(tmp_path, "lazy", "", [{"action": "facts"}], telemetry=telemetry)
    # nor the other heavy modules; the telemetry fd variable is still consumed at start
    assert posts == [("invocation/rid-1/response", b'{"loaded": [], "fd_env": false}')]
    assert out == ""
    assert frames == ([] if telemetry else None)


def test_eager_when_logging_already_imported(tmp_path):
    posts, _, _ = run_runtime(tmp_path, "eager", "", [{"action": "facts"}])
    assert "logging" in facts(posts)["loaded"]


TOPS = {
    "in-handler": "",  # logging first imported inside the handler
    "logging.config": "import logging.config",
    "logging.handlers": "import logging.handlers",
    "thread": "import threading\n"
    "t = threading.Thread(target=lambda: __import__('logging').warning('thread %s', 't'))\n"
    "t.start(); t.join()",
    # find_spec without an import must not use up the pending set-up
    "find_spec-first": "import importlib.util\nassert importlib.util.find_spec('logging').name == 'logging'",
    # a finder in front of fastric's that answers for logging itself: the set-up runs at the end of init
    "foreign-finder": "import importlib.machinery\n"
    "class F:\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        return importlib.machinery.PathFinder.find_spec(name, path) if name == 'logging' else None\n"
    "sys.meta_path.insert(0, F())\n"
    "import logging\n"
    "sys.meta_path.pop(0)",
}
LAZY_CASES = (
    [("in-handler", env, fd) for env in LOG_ENVS for fd in (False, True)]
    + [
        (top, env, fd)
        for top in ("logging.config", "logging.handlers", "thread")
        for env, fd in (("text", False), ("json-level", True))
    ]
    + [("find_spec-first", "text-level", True), ("foreign-finder", "json", False)]
)


@pytest.mark.parametrize(
    ("top", "env", "telemetry"),
    LAZY_CASES,
    ids=[f"{t}-{e}-{'fd' if f else 'stdout'}" for t, e, f in LAZY_CASES],
)
def test_lazy_logging_same_bytes_as_eager(tmp_path, top, env, telemetry):
    top = TOPS[top]
    events = [{"action": "log"}, {"action": "raise"}]
    lazy = run_runtime(tmp_path, "lazy", top, events, LOG_ENVS[env], telemetry)
    eager = run_runtime(tmp_path, "eager", top, events, LOG_ENVS[env], telemetry)
    assert lazy == eager
    posts, out, frames = lazy
    result = json.loads(posts[0][1])
    assert result["handlers"][-1] == (
        "LambdaLoggerHandler" if env == "text" else "LambdaLoggerHandlerWithFrameType"
    )
    assert result["gmtime"] and result["backdated"]
    assert result["level"] == {"text": 30, "json": 30, "text-level": 10, "json-level": 20}[env]
    assert posts[1][0] == "invocation/rid-2/error"
    logged = "".join(m for _, m in frames) if telemetry else out
    assert "root 1" in logged and "context line" in logged and "boom" in logged
    if top.startswith("import threading"):
        assert "thread t" in logged


@needs_ref
@pytest.mark.parametrize("telemetry", [False, True], ids=["stdout", "fd"])
@pytest.mark.parametrize("env", list(LOG_ENVS), ids=list(LOG_ENVS))
def test_lazy_logging_same_bytes_as_awslambdaric(tmp_path, env, telemetry):
    events = [{"action": "log"}, {"action": "raise"}]
    lazy = run_runtime(tmp_path, "lazy", "import logging.config", events, LOG_ENVS[env], telemetry)
    ref = run_runtime(tmp_path, "ref", "import logging.config", events, LOG_ENVS[env], telemetry)
    assert lazy == ref


@pytest.mark.parametrize("telemetry", [False, True], ids=["stdout", "fd"])
@pytest.mark.parametrize("env", list(LOG_ENVS), ids=list(LOG_ENVS))
def test_context_log_without_logging(tmp_path, env, telemetry):
    events = [{"action": "ctx"}, {"action": "raise"}, {"action": "facts"}]
    lazy = run_runtime(tmp_path, "lazy", "", events, LOG_ENVS[env], telemetry)
    eager = run_runtime(tmp_path, "eager", "", events, LOG_ENVS[env], telemetry)
    posts, out, frames = lazy
    assert posts[0][1] == b'{"loaded": false}'
    assert "logging" not in facts(posts)["loaded"]  # the error record did not import logging either
    assert lazy[1:] == eager[1:]
    assert lazy[0][1] == eager[0][1]  # the error post
    if telemetry:
        assert frames[:2] == [("a55a0003", "only context.log\n"), ("a55a0003", "second")]
        assert frames[2][0] == ("a55a0016" if "json" in env else "a55a0017")
        assert out == ""
    else:
        assert out.startswith("only context.log\nsecond")
    if REF_PYTHON and os.path.exists(REF_PYTHON):
        ref = run_runtime(tmp_path, "ref", "", events[:2], LOG_ENVS[env], telemetry)
        assert ref[1:] == lazy[1:]


@pytest.mark.parametrize("env", ["text", "json"])
def test_init_error_without_logging(tmp_path, env):
    # The init-error path imports logging for its LAMBDA_WARNING line: same bytes as the eager path.
    top = "raise RuntimeError('init failed')"
    lazy = run_runtime(tmp_path, "lazy", top, [], LOG_ENVS[env], telemetry=True)
    eager = run_runtime(tmp_path, "eager", top, [], LOG_ENVS[env], telemetry=True)
    assert lazy == eager
    posts, _, frames = lazy
    assert posts[0][0] == "init/error"
    assert [t for t, _ in frames] == (["a55a0012", "a55a0016"] if env == "json" else ["a55a0003", "a55a0017"])
    assert "LAMBDA_WARNING: Unhandled exception" in frames[0][1]


def test_preview_warning_imports_logging_at_start(tmp_path):
    env = {"AWS_EXECUTION_ENV": "AWS_Lambda_python3.15"}
    posts, out, _ = run_runtime(tmp_path, "lazy", "", [{"action": "facts"}], env)
    assert "logging" in facts(posts)["loaded"]
    assert out.startswith("[WARNING]\t<TS>\t\tLAMBDA_WARNING: This Python runtime version is a preview")
    assert out == run_runtime(tmp_path, "eager", "", [{"action": "facts"}], env)[1]
