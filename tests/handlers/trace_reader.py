"""Handler for the concurrent-getenv test (tests/test_adversarial_environ.py): a thread started at
import reads ``_X_AMZN_TRACE_ID`` with libc ``getenv`` in a loop (as X-Ray agents do from their own
threads, the GIL released by ctypes) and checks that every value it reads is whole. The test's trace
ids are self-describing, ``Root=1-<i as 8 hex>-<i as 24 hex>;Pad=<i % 300 times x>``."""

import ctypes
import re
import threading

_libc = ctypes.CDLL(None)
_libc.getenv.restype = ctypes.c_char_p
_libc.getenv.argtypes = [ctypes.c_char_p]
_PATTERN = re.compile(rb"Root=1-([0-9a-f]{8})-([0-9a-f]{24});Pad=(x*)")
_state = {"reads": 0, "values": 0, "bad": []}
_lock = threading.Lock()


def _well_formed(value: bytes) -> bool:
    match = _PATTERN.fullmatch(value)
    if match is None:
        return False
    i = int(match[1], 16)
    return int(match[2], 16) == i and len(match[3]) == i % 300


def _reader():
    last = None
    while True:
        value = _libc.getenv(b"_X_AMZN_TRACE_ID")
        with _lock:
            _state["reads"] += 1
            if value is not None and value != last:
                _state["values"] += 1
                if not _well_formed(value) and len(_state["bad"]) < 10:
                    _state["bad"].append(value.decode("latin-1"))
            last = value


threading.Thread(target=_reader, daemon=True).start()


def handler(event, context):
    with _lock:
        return {"reads": _state["reads"], "values": _state["values"], "bad": list(_state["bad"])}
