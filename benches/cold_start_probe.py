"""Cold-start probe: init overhead of ``python -m fastric app.handler`` against awslambdaric 4.2.2.

Init overhead = wall time from spawning the runtime to its first
``GET /2018-06-01/runtime/invocation/next`` reaching a fake Runtime API served here, minus the wall
time the same interpreter takes to run ``python -c pass`` to exit. The handler module is a trivial
``app.py`` that imports nothing. Each command is spawned ``--runs`` times (default 15), the commands
alternating within each round so machine noise hits all of them alike; medians are reported (ms).

    python benches/cold_start_probe.py [--runs N] [--ref-python PATH] [--other-tree DIR]
    python benches/cold_start_probe.py --importtime [fastric|ref]   # one run under -X importtime,
                                                                    # the imports sorted by cumulative µs

The fastric interpreter is ``sys.executable`` (run it from the venv where fastric is built); the
reference one is ``FASTRIC_REF_PYTHON`` or ``/work/main/.venv-ref/bin/python``. Rows:
``fastric``, ``awslambdaric``, ``bare-socket`` (a few lines that connect and send the request: the floor).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

NEXT = b"GET /2018-06-01/runtime/invocation/next"
BARE = (
    "import os, socket\n"
    "h, p = os.environ['AWS_LAMBDA_RUNTIME_API'].split(':')\n"
    "s = socket.create_connection((h, int(p)))\n"
    "s.sendall(b'GET /2018-06-01/runtime/invocation/next HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n')\n"
    "s.recv(1)\n"
)


def _env(address: str, pythonpath: str | None = None) -> dict[str, str]:
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    env["AWS_LAMBDA_RUNTIME_API"] = address
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    return env


def time_to_next(
    argv: list[str], cwd: str, stderr: int | None = subprocess.DEVNULL, pythonpath: str | None = None
) -> tuple[float, bytes]:
    """Spawn ``argv`` against a fresh listening socket; ms until the ``/next`` request line arrived.

    Returns ``(ms, stderr bytes or b"")``. Raises ``RuntimeError`` if the process exits or 20 s pass
    without the request."""
    srv = socket.create_server(("127.0.0.1", 0))
    srv.settimeout(20)
    port = srv.getsockname()[1]
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        argv, cwd=cwd, env=_env(f"127.0.0.1:{port}", pythonpath), stdout=subprocess.DEVNULL, stderr=stderr
    )
    try:
        conn, _ = srv.accept()
        conn.settimeout(20)
        data = b""
        while NEXT not in data:
            chunk = conn.recv(65536)
            if not chunk:
                raise RuntimeError(f"{argv}: connection closed before /next; got {data!r}")
            data += chunk
        t1 = time.perf_counter()
        conn.close()
    finally:
        proc.kill()
        _, err = proc.communicate()
        srv.close()
    return (t1 - t0) * 1000, err or b""


def time_to_exit(argv: list[str], cwd: str) -> float:
    """ms from spawning ``argv`` to its exit."""
    t0 = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=_env("127.0.0.1:9"), check=True)
    return (time.perf_counter() - t0) * 1000


def _app_dir() -> str:
    d = tempfile.mkdtemp(prefix="cold-start-")
    with open(os.path.join(d, "app.py"), "w") as f:
        f.write("def handler(event, context):\n    return event\n")
    return d


def importtime(which: str, ref_python: str) -> None:
    python = sys.executable if which == "fastric" else ref_python
    module = "fastric" if which == "fastric" else "awslambdaric"
    _, err = time_to_next(
        [python, "-X", "importtime", "-m", module, "app.handler"], _app_dir(), subprocess.PIPE
    )
    base = subprocess.run([python, "-X", "importtime", "-c", "pass"], capture_output=True, check=True).stderr
    baseline = {line.rsplit("|", 1)[-1].strip() for line in base.decode().splitlines()[1:]}
    rows = []
    for line in err.decode().splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, cum_us, name = line[len("import time:") :].split("|", 2)
        rows.append((int(cum_us), int(self_us), name.rstrip()))
    extra = [r for r in rows if r[2].strip() not in baseline]  # in import order, nesting kept
    print(f"{which}: imports beyond those of python -c pass ({len(extra)}), self µs / cumulative µs:")
    for cum, self_us, name in extra:
        print(f"  {self_us:7d} {cum:7d}  {name}")
    print(f"  total self µs of these: {sum(r[1] for r in extra)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument(
        "--ref-python", default=os.environ.get("FASTRIC_REF_PYTHON", "/work/main/.venv-ref/bin/python")
    )
    parser.add_argument("--importtime", choices=("fastric", "ref"))
    parser.add_argument(
        "--other-tree",
        metavar="DIR",
        help="also time `python -m fastric` with PYTHONPATH=DIR (e.g. an older copy of python/ with the .so)",
    )
    args = parser.parse_args()
    if args.importtime:
        importtime(args.importtime, args.ref_python)
        return

    cwd = _app_dir()
    me, ref = sys.executable, args.ref_python
    cases = {
        "fastric": lambda: time_to_next([me, "-m", "fastric", "app.handler"], cwd)[0],
        "awslambdaric": lambda: time_to_next([ref, "-m", "awslambdaric", "app.handler"], cwd)[0],
        "bare-socket": lambda: time_to_next([me, "-c", BARE], cwd)[0],
        "pass(fastric venv)": lambda: time_to_exit([me, "-c", "pass"], cwd),
        "pass(ref venv)": lambda: time_to_exit([ref, "-c", "pass"], cwd),
    }
    other = args.other_tree
    if other:
        cases["fastric(other tree)"] = lambda: time_to_next(
            [me, "-m", "fastric", "app.handler"], cwd, pythonpath=other
        )[0]
    samples: dict[str, list[float]] = {k: [] for k in cases}
    for fn in cases.values():  # warm the page cache and the bytecode caches
        fn()
    for _ in range(args.runs):
        for name, fn in cases.items():
            samples[name].append(fn())
    med = {k: statistics.median(v) for k, v in samples.items()}
    for k, v in samples.items():
        print(f"{k:20s} median {med[k]:7.2f} ms  (min {min(v):6.2f}, max {max(v):6.2f})")
    fastric = med["fastric"] - med["pass(fastric venv)"]
    aws = med["awslambdaric"] - med["pass(ref venv)"]
    bare = med["bare-socket"] - med["pass(fastric venv)"]
    print(f"init overhead: fastric {fastric:.2f} ms, awslambdaric {aws:.2f} ms, bare socket {bare:.2f} ms")
    print(f"ratio fastric/awslambdaric: {fastric / aws:.3f}")
    if other:
        o = med["fastric(other tree)"] - med["pass(fastric venv)"]
        print(f"other tree: init overhead {o:.2f} ms, ratio {o / aws:.3f}")


if __name__ == "__main__":
    main()
