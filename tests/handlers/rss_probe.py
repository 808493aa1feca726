"""Handler for the arena-cache memory test: reports VmRSS and VmHWM (kB) after optionally building
and dropping a burst of small objects from a second thread."""

import threading


def _status():
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":")
                out[key] = int(value.split()[0])
    return out


def _churn(n):
    junk = [{"i": i, "s": str(i) * 3} for i in range(n)]
    del junk


def handler(event, context):
    threads = [
        threading.Thread(target=_churn, args=(event.get("churn", 0),)) for _ in range(event.get("threads", 0))
    ]
    for t in threads:
        t.start()
    n = len(event.get("Records", []))
    for t in threads:
        t.join()
    return dict(_status(), records=n)
