"""Streams ``event["total"]`` bytes in ``event["size"]`` blocks, then one JSON chunk with the process's
RSS before the stream and its peak RSS after it (KiB, from /proc/self/status; the peak is reset first
through /proc/self/clear_refs when the kernel allows it)."""

import json

import fastric


def _status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise LookupError(field)


def _stream(total, size):
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM to the current RSS
    except OSError:
        pass
    start = _status_kb("VmRSS")
    for _ in range(total // size):
        yield bytes(size)  # a new object per chunk: nothing may accumulate
    yield json.dumps({"rss_start_kb": start, "hwm_kb": _status_kb("VmHWM")})


@fastric.response_stream
def handler(event, context):
    return _stream(event["total"], event["size"])
