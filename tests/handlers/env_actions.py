"""Handler for differential environment tests (tests/test_adversarial_environ.py): reports what the
context and the environment look like, then applies ``event["do"]`` (a list of [action, *args]) for
the next invocation. Runs under fastric and awslambdaric alike."""

import ctypes
import os
import subprocess
import sys

_libc = ctypes.CDLL(None)
_libc.getenv.restype = ctypes.c_char_p
_libc.getenv.argtypes = [ctypes.c_char_p]

_KEYS = (
    "_X_AMZN_TRACE_ID",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
)


def _c(key):
    value = _libc.getenv(key.encode())
    return None if value is None else value.decode("utf-8", "surrogateescape")


def handler(event, context):
    attrs = {
        k: v for k, v in vars(context).items() if k not in ("_epoch_deadline_time_in_ms", "aws_request_id")
    }
    copy = os.environ.copy()
    seen = {
        "keys": list(vars(context)),
        "attrs": repr(attrs),
        "environ": [os.environ.get(k) for k in _KEYS],
        "copy": [copy.get(k) for k in _KEYS],
        "environb": [
            None if os.environb.get(k.encode()) is None else os.environb[k.encode()].decode("latin-1")
            for k in _KEYS
        ],
        "c": [_c(k) for k in _KEYS],
        "order": [k for k in os.environ if k in _KEYS],
    }
    if event.get("child"):
        # A child started without env= inherits the C environment (execve with environ).
        seen["child"] = subprocess.run(
            [sys.executable, "-c", "import os; print(repr(os.environ.get('_X_AMZN_TRACE_ID')))"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    for action, *args in event.get("do", []):
        if action == "unsetenv":
            os.unsetenv(args[0])
        elif action == "putenv":
            os.putenv(args[0], args[1])
        elif action == "del":
            del os.environ[args[0]]
        elif action == "set":
            os.environ[args[0]] = args[1]
        elif action == "set_bytes":
            os.environb[args[0].encode()] = args[1].encode("latin-1")
        elif action == "clear":
            os.environ.clear()
        elif action == "c_setenv":
            _libc.setenv(args[0].encode(), args[1].encode(), 1)
        elif action == "c_unsetenv":
            _libc.unsetenv(args[0].encode())
        elif action == "replace":
            os.environ = dict(os.environ)  # noqa: B003 - on purpose: code that swaps the mapping
        elif action == "wrap_decodevalue":
            original = os.environ.decodevalue
            os.environ.decodevalue = lambda value, original=original: "decoded:" + original(value)
        elif action == "wrap_encodevalue":
            original = os.environ.encodevalue
            os.environ.encodevalue = lambda value, original=original: original(value.upper())
        elif action == "data_del":
            del os.environ._data[os.environ.encodekey(args[0])]
    return seen
