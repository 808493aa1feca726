"""Per-invoke cost with sentry-sdk's ``AwsLambdaIntegration`` active, fastric vs awslambdaric.

Hooked into ``benches/run.py`` as the ``sentry`` figure. Both clients run ``sentry_trivial.handler``
(``sentry_sdk.init`` with the integration, errors only) from the two acceptance-suite venvs
(``tests/support/acceptance.py``: the same pinned sentry-sdk, one with awslambdaric 4.2.2, the other
running the fastric package of the run's fastric interpreter through ``PYTHONPATH``), alternating round
by round on the same Runtime API server as the per-invoke figure, same event, same counts. The DSN
points at a loopback server that accepts and discards envelopes (none is sent by a successful
invocation without tracing). Under fastric every invocation then goes through the patched Python-level
``handle_event_request`` instead of the native loop.
"""

from __future__ import annotations

import http.server
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import payloads
import stats
from server import ClientGone, Samples

ROOT = Path(__file__).resolve().parent.parent


class _Sink(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def _participants(bench, make_participant):
    sys.path.insert(0, str(ROOT / "tests"))
    from support.acceptance import venvs

    envs = venvs()
    fastric = next((p for p in bench.clients if p.name == "fastric" and p.python), None)
    if fastric is None:
        return []
    package = subprocess.run(
        [fastric.python, "-c", "import fastric, os; print(os.path.dirname(fastric.__file__))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    link_dir = Path(tempfile.mkdtemp(prefix="fastric-sentry-bench-"))
    (link_dir / "fastric").symlink_to(package)
    py_f, py_a = str(envs["fastric"] / "bin" / "python"), str(envs["awslambdaric"] / "bin" / "python")
    return [
        make_participant(
            "fastric+sentry", [py_f, "-m", "fastric"], {"PYTHONPATH": str(link_dir)}, python=py_f
        ),
        make_participant("awslambdaric+sentry", [py_a, "-m", "awslambdaric"], {}, python=py_a),
    ]


def figure(bench, make_participant) -> None:
    """Measures the figure into ``bench.results["figures"]["sentry_invoke"]``."""
    sink = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    dsn = f"http://public@127.0.0.1:{sink.server_address[1]}/1"
    try:
        ps = _participants(bench, make_participant)
        ev = [payloads.small_event()]
        n_total, rounds = bench.cfg["invocations"], bench.cfg["rounds"]
        per_round = max(1, n_total // rounds)
        acc = {p.name: {"samples": Samples(), "failed": None} for p in ps}
        for r in range(rounds):
            for p in bench.order(ps, r):
                a = acc[p.name]
                if a["failed"]:
                    continue
                try:
                    bench.measure(
                        p, "sentry_trivial.handler", ev, per_round, bench.cfg["warmup"], a["samples"],
                        extra_env={"SENTRY_DSN": dsn},
                    )  # fmt: skip
                except ClientGone as exc:
                    a["failed"] = str(exc)
        rows = {}
        for p in ps:
            a = acc[p.name]
            if a["failed"] or not a["samples"].rtt:
                rows[p.name] = {"failed": a["failed"] or "not run"}
                continue
            rtt_us = [x / 1000 for x in a["samples"].rtt]
            rows[p.name] = {"failed": None, "rtt_us": stats.summary(rtt_us), "samples_us": rtt_us}
        f, a = rows.get("fastric+sentry"), rows.get("awslambdaric+sentry")
        if f and a and not f["failed"] and not a["failed"]:
            f["ratio_p50"] = stats.ratio(f["samples_us"], a["samples_us"], 50)
            f["ratio_p99"] = stats.ratio(f["samples_us"], a["samples_us"], 99)
        bench.results["figures"]["sentry_invoke"] = {"rows": rows, "invocations": per_round * rounds}
    finally:
        sink.shutdown()
        sink.server_close()


def markdown(results: dict) -> str:
    """The report section (empty when the figure did not run)."""
    fig = results.get("figures", {}).get("sentry_invoke")
    if not fig:
        return ""
    lines = [
        "\n## Per-invoke with Sentry's AwsLambdaIntegration\n",
        f"Trivial handler with `sentry_sdk.init(integrations=[AwsLambdaIntegration()])` (errors only), "
        f"{fig['invocations']} invocations per client in alternating rounds (benches/sentry_invoke.py); "
        "under fastric every invocation goes through the patched Python-level `handle_event_request`.\n",
        "| client | p50 µs | p90 µs | p99 µs | ratio p50 (fastric / awslambdaric) |",
        "|---|---|---|---|---|",
    ]
    for name, row in fig["rows"].items():
        if row.get("failed"):
            lines.append(f"| {name} | failed: {row['failed'][:80]} | | | |")
            continue
        s = row["rtt_us"]
        ratio = row.get("ratio_p50")
        lines.append(
            f"| {name} | {s['median']:.1f} | {s['p90']:.1f} | {s['p99']:.1f} | "
            f"{_ratio_text(ratio) if ratio is not None else '1 (reference)'} |"
        )
    return "\n".join(lines) + "\n"


def _ratio_text(ratio: dict) -> str:
    if ratio.get("low") is not None and ratio.get("high") is not None:
        return f"{ratio['ratio']:.2f} (95 % CI {ratio['low']:.2f}–{ratio['high']:.2f})"
    return f"{ratio['ratio']:.2f}"
