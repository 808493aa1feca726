"""Renders benchmark results (the dict built by benches/run.py) as Markdown tables and a PNG chart."""

from __future__ import annotations

import copy
from pathlib import Path

METHOD = """\
## How to run

```sh
make bench                      # fastric's .venv (release build) and .venv-ref, then the full run
# or by hand, from fastric's venv:
FASTRIC_REF_PYTHON=$PWD/.venv-ref/bin/python python benches/run.py [--quick] [--out docs/BENCHMARKS.md]
pip install -r benches/requirements.txt   # optional: matplotlib, for the chart
python -m pytest benches --benchmark-enable   # the micro-benchmarks (below)
```

Options: `--clients fastric,awslambdaric,awslambdaric-thread` (a client that cannot start is reported
as failed), `--fastric-python PATH`, `--ref-python PATH`, `--invocations N`, `--cold-starts N`,
`--figures cold,invoke,payload,logging,memory,rie,sentry,stream,codec`, `--server-wait spin|block`, `--no-pin`, `--no-floor`,
`--no-chart`. The full run
takes a few minutes on 2 vCPUs (budget: 10 minutes); `--quick` takes seconds and its numbers are noise.
The command is architecture-neutral (x86_64, aarch64): it needs Linux (`/proc`), `cc` and `cat`.

## Method

- **One run, side by side.** `benches/run.py` starts its own minimal Runtime API server
  (`benches/server.py`: HTTP/1.1 keep-alive, `Content-Type: application/json` on `/next`, 202 on every
  post) in its own process and runs every client against it, one at a time, alternating the order
  round by round (A B C, B C A, …) so that machine drift cancels.
- **The server stays out of the figures.** Server and client are pinned to different CPUs, and the
  server waits for each request by spinning on a non-blocking `recv` (up to 20 ms, then it blocks).
  On a virtual machine a vCPU that goes idle halts, and waking it for the next request costs tens of
  microseconds (on the development machines: C floor 51 µs p50 with a blocking server, 15 µs with a
  spinning one): that is the server's wake-up, not the client's work, and it would add the same
  constant to every client. `--server-wait block` gives the blocking server for comparison; without
  pinning the server always blocks. The clients themselves block normally in `recv`.
- **Same spawn for everyone.** Each client is started by the absolute path of its venv's interpreter
  (`<venv>/bin/python -m fastric HANDLER`, `<ref venv>/bin/python -m awslambdaric HANDLER`) with the
  same minimal environment (`PATH`, `LANG`, `AWS_LAMBDA_RUNTIME_API`, the `AWS_LAMBDA_FUNCTION_*` /
  `AWS_LAMBDA_LOG_*` names, `AWS_REGION`, `LAMBDA_TASK_ROOT`, `_HANDLER`) and `benches/handlers` as
  working directory. awslambdaric runs in its default mode (no `AWS_EXECUTION_ENV`);
  `awslambdaric-thread` is the same client with `AWS_EXECUTION_ENV=AWS_Lambda_python3.12`, which polls
  `/next` on a fresh thread per invocation (and encodes with `ensure_ascii=False`).
- **Timestamps** are `time.perf_counter_ns()` (CLOCK_MONOTONIC) taken by the server: `t_recv` when
  the `recv` completing a request returned, `t_sent` when `sendall` of a reply returned.
- **Ratios** are fastric / awslambdaric (default mode) of the same statistic in the same run, with a
  95 % percentile-bootstrap interval (1,000 resamples of each client's samples).
- **Floors** are what the same work costs without a Python runtime client: `c-floor` is
  `benches/floor_client.c` (one keep-alive socket, no Python), built with `cc -O2` by the run;
  `python-socket` is `python -c` doing the same `GET /next` and `POST /response` on a raw socket (a
  minimal pure-Python client, not a lower bound: importing `socket` costs more than fastric's native
  client, so fastric reaches its first `/next` sooner);
  `python -c pass` is the bare interpreter's start and exit.

Figures:

1. **Cold start**: from just before `Popen` to the first `GET /next` reaching the server, and to the
   first result (trivial handler, small event); each spawn is then killed. Init overhead = first
   `/next` minus the same interpreter's `python -c pass` exit time (medians).
2. **Per-invoke overhead**: round trip = result received − `/next` response sent; trivial handler
   (`return {"statusCode": 200}`), the 273-byte EventBridge scheduled event. Invocations per second
   from the whole loop (server included). Client CPU per invoke from `/proc/<pid>/stat` utime+stime
   (all threads, clock-tick resolution: meaningful over the full run's 20,000 invocations, not in
   quick mode). Warm-up invocations are not counted. The server's own cost is reported per invocation
   (its two replies: `/next` and the 202), as wall time from the request's last `recv` to `sendall`
   returning, and as the benchmark process's CPU time per invocation (spinning included). The
   *Python minimum* is measured in-process in fastric's interpreter: `json_dumps(handler(json_loads(
   event), ctx), True)` with fastric's codec, best of 7 × 20,000 calls; added to the C floor it bounds
   from below what any Python runtime client can reach.
3. **Payloads**: echo handler (`return event`) with events grown from real shapes (S3 put, SQS,
   DynamoDB Streams, Kinesis; `benches/payloads.py`), and a handler returning a ~5 MB object built at
   import. The 1 MB row is the *mixed realistic* event: API orders (float prices, quantities,
   discounts, non-ASCII names), IoT readings (timestamps, halves and quarters, float arrays), Kinesis
   and DynamoDB Streams records and S3 Batch Operations tasks, interleaved; the `1MB api` … `5MB
   ddbstream` rows are each kind alone, and `ddb-items` returns DynamoDB items built at import as
   boto3's `TypeDeserializer` builds them (numbers are `Decimal`). The sha256 of every client's
   first and last result is compared with awslambdaric's.
4. **Logging**: 100 `print()` lines or 100 `logging` WARNING records per invocation, TEXT or
   `AWS_LAMBDA_LOG_FORMAT=JSON`, with or without `_LAMBDA_TELEMETRY_LOG_FD` (a pipe). stdout and the
   telemetry pipe are drained by `cat` into files; afterwards every line is counted (telemetry frames
   parsed). Cost per line = (median round trip − the same client's trivial median) / 100.
5. **Memory**: `VmHWM` (peak RSS) after N invocations of the 1 KB echo, and `VmRSS` growth between
   invocation 1,000 (quick mode: 100) and N.
7. **JSON codec**: `benches/codec_matrix.py` (its docstring has the method): each kind of value alone,
   encoded and decoded in one process by fastric, awslambdaric's codec, the stdlib and orjson.
"""


def strip_samples(results: dict) -> dict:
    """A copy of ``results`` without the raw sample lists (for the JSON file)."""
    out = copy.deepcopy(results)

    def walk(x):
        if isinstance(x, dict):
            for k in list(x):
                if k.startswith("samples"):
                    del x[k]
                else:
                    walk(x[k])
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(out)
    return out


def _f(x, nd=1):
    if x is None:
        return "—"
    if isinstance(x, float) and abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{nd}f}"


def _ratio(r):
    if not r or r.get("ratio") is None:
        return "—"
    if r.get("low") is None:
        return f"{r['ratio']:.2f}×"
    return f"{r['ratio']:.2f}× [{r['low']:.2f}–{r['high']:.2f}]"


def _failed(msg: str) -> str:
    if msg.startswith("preflight:"):
        return "failed (see Run)"
    msg = msg.replace("|", "/").replace("\n", " ")
    return "failed: " + (msg if len(msg) <= 160 else msg[:157] + "…")


def _table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(lines) + "\n"


def _failed_row(name, row, ncols):
    return [name, _failed(row.get("failed") or "not run")] + [""] * (ncols - 2)


def cold_table(fig) -> str:
    """Figure 1 table."""
    header = [
        "participant",
        "first /next median (ms)",
        "p90",
        "p99",
        "first result median (ms)",
        "init overhead (ms)",
        "first /next ratio",
        "init overhead ratio",
    ]
    rows = []
    for name, row in fig["rows"].items():
        if row.get("failed") or "first_next" not in row:
            rows.append(_failed_row(name, row, len(header)))
            continue
        fn, fr = row["first_next"], row["first_result"]
        rows.append(
            [
                name,
                _f(fn["median"], 2),
                _f(fn["p90"], 2),
                _f(fn["p99"], 2),
                _f(fr["median"], 2),
                _f(row.get("init_overhead_ms"), 2),
                _ratio(row.get("ratio_first_next")),
                _ratio(row.get("ratio_init_overhead")),
            ]
        )
    for label, s in fig["pass_exit_ms"].items():
        if s:
            rows.append(
                [
                    f"`python -c pass` ({label}), exit",
                    _f(s["median"], 2),
                    _f(s["p90"], 2),
                    _f(s["p99"], 2),
                    "",
                    "",
                    "",
                    "",
                ]
            )
    n = max((r["first_next"]["n"] for r in fig["rows"].values() if "first_next" in r), default=0)
    return f"Spawns per participant: {n}.\n\n" + _table(header, rows)


def invoke_table(fig) -> str:
    """Figure 2 table, plus the server's own cost."""
    header = [
        "participant",
        "p50 (µs)",
        "p90 (µs)",
        "p99 (µs)",
        "invocations/s",
        "client CPU (µs/invoke)",
        "p50 ratio",
        "p99 ratio",
        "p50 × C floor",
    ]
    rows, server = [], []
    for name, row in fig["rows"].items():
        if row.get("failed"):
            rows.append(_failed_row(name, row, len(header)))
            continue
        r = row["rtt_us"]
        rows.append(
            [
                name,
                *_percentiles(r),
                _f(row["invocations_per_s"], 0),
                _f(row["client_cpu_us"]),
                _ratio(row.get("ratio_p50")),
                _ratio(row.get("ratio_p99")),
                _f(row.get("vs_floor_p50"), 2) + "×" if row.get("vs_floor_p50") else "—",
            ]
        )
        server.append(
            f"{name}: {row['server_us']['median']:.1f} µs median wall, {row['server_cpu_us']:.1f} µs CPU"
        )
    text = f"Invocations per participant: {fig['invocations']} (in rounds, alternating).\n\n" + _table(
        header, rows
    )
    if server:
        text += (
            "\nServer's own cost per invocation (two requests; last `recv` to `sendall` returned, and CPU): "
            + "; ".join(server)
            + ". The wall time is outside the measured round trip (which ends when the result arrives). "
            "The CPU includes the server's spinning while it waits for the client (see Run), so it is "
            "about the whole cycle, not work per request.\n"
        )
    if fig.get("python_minimum_us"):
        text += (
            f"\nPython minimum (in-process, fastric's interpreter: decode this event, call the handler, "
            f"encode the result; no context, no network): {fig['python_minimum_us']:.2f} µs.\n"
        )
    return text


def _percentiles(summary: dict, digits: int = 1) -> list[str]:
    """The median, p90 and p99 cells of a :func:`stats.summary` dict."""
    return [_f(summary[key], digits) for key in ("median", "p90", "p99")]


def emulator_table(fig) -> str:
    """Figure 6 table: end to end through fastric-rie."""
    header = [
        "runtime behind fastric-rie",
        "p50 (µs)",
        "p90 (µs)",
        "p99 (µs)",
        "invocations/s",
        "p50 ratio",
        "p99 ratio",
    ]
    rows = []
    for name, row in fig["rows"].items():
        if row.get("failed"):
            rows.append(_failed_row(name, row, len(header)))
            continue
        r = row["e2e_us"]
        rows.append(
            [
                name,
                *_percentiles(r),
                _f(row["invocations_per_s"], 0),
                _ratio(row.get("ratio_p50")),
                _ratio(row.get("ratio_p99")),
            ]
        )
    text = (
        f"Invocations per runtime: {fig['invocations']}, one after another on one keep-alive connection "
        "(`POST /2015-03-31/functions/function/invocations`, trivial handler). Ratios are against "
        "awslambdaric behind the same emulator.\n\n" + _table(header, rows)
    )
    if fig.get("emulator_share_us") is not None:
        text += (
            f"\nThe emulator's own share: {fig['emulator_share_us']:.1f} µs per invoke (the C floor behind "
            "fastric-rie minus the C floor against the benchmark's Runtime API server, p50).\n"
        )
    return text


def payload_table(fig) -> str:
    """Figure 3 table."""
    header = [
        "payload",
        "participant",
        "median (ms)",
        "p90 (ms)",
        "p99 (ms)",
        "ratio",
        "result bytes",
        "identical to awslambdaric",
    ]
    rows = []
    for size, f in fig.items():
        label = f"{size} ({f['event_bytes']:,} B in)" if size != "5MB-response" else "5 MB response"
        if size.endswith("ddb-items"):
            label = f"{size} (Decimal items returned)"
        for name, row in f["rows"].items():
            if row.get("failed"):
                rows.append([label, name, _failed(row["failed"]), "", "", "", "", ""])
                continue
            r = row["rtt_ms"]
            ident = row.get("identical")
            ident_s = "n/a (raw bytes)" if ident is None else ("yes" if ident else "**no**")
            if ident is False and name == "awslambdaric-thread":
                ident_s = "no (ensure_ascii=False by design)"
            rows.append(
                [
                    label,
                    name,
                    *_percentiles(r, 3),
                    _ratio(row.get("ratio_p50")),
                    f"{row['result_bytes']:,}",
                    ident_s,
                ]
            )
    return _table(header, rows)


def logging_table(fig) -> str:
    """Figure 4 table."""
    header = [
        "variant",
        "participant",
        "median per invocation (µs)",
        "per line (µs)",
        "per-line ratio",
        "lines expected",
        "lines found",
        "lost",
    ]
    rows = []
    for key, f in fig.items():
        for name, row in f["rows"].items():
            if row.get("failed"):
                rows.append([key, name, _failed(row["failed"]), "", "", "", "", ""])
                continue
            lost = row["lines_expected"] - row["lines_counted"]
            lost_s = str(lost) if lost else "0"
            if not row.get("frames_ok", True):
                lost_s += " (bad framing)"
            rows.append(
                [
                    key,
                    name,
                    _f(row["rtt_us"]["median"]),
                    _f(row.get("per_line_us"), 2),
                    _ratio(row.get("ratio_per_line")),
                    row["lines_expected"],
                    row["lines_counted"],
                    lost_s,
                ]
            )
    return _table(header, rows)


def memory_table(fig) -> str:
    """Figure 5 table."""
    header = [
        "participant",
        "peak RSS VmHWM (MiB)",
        f"RSS at {fig['mark']} (MiB)",
        f"RSS at {fig['invocations']} (MiB)",
        "growth (KiB)",
        "peak ratio",
    ]
    rows = []
    ref = fig["rows"].get("awslambdaric", {})
    for name, row in fig["rows"].items():
        if row.get("failed"):
            rows.append(_failed_row(name, row, len(header)))
            continue
        ratio = "—"
        if name not in ("awslambdaric", "c-floor") and ref.get("hwm_kb"):
            ratio = f"{row['hwm_kb'] / ref['hwm_kb']:.2f}×"

        def mib(kb):
            return _f(kb / 1024, 1) if kb is not None else "—"

        rows.append(
            [
                name,
                mib(row["hwm_kb"]),
                mib(row["rss_mark_kb"]),
                mib(row["rss_end_kb"]),
                row["growth_kb"] if row["growth_kb"] is not None else "—",
                ratio,
            ]
        )
    return f"Invocations: {fig['invocations']}.\n\n" + _table(header, rows)


def targets(results) -> list[list[str]]:
    """The issue's targets for fastric, each with the value measured and met / not met / n/a."""
    figs = results["figures"]
    out = []

    def add(name, limit, r, ci=True):
        if r is None or r.get("ratio") is None:
            out.append([name, f"≤ {limit}×", "—", "n/a (fastric or the reference did not run)"])
            return
        val = _ratio(r) if ci else f"{r['ratio']:.2f}×"
        met = "met" if r["ratio"] <= limit else "**not met**"
        if r.get("high") is not None and r["ratio"] <= limit < r["high"]:
            met += " (interval crosses the target)"
        out.append([name, f"≤ {limit}×", val, met])

    def fast(fig):
        return (fig or {}).get("rows", {}).get("fastric", {})

    add("init overhead (cold start)", 0.3, fast(figs.get("cold_start")).get("ratio_init_overhead"))
    pi = fast(figs.get("per_invoke"))
    add("per-invoke p50", 0.33, pi.get("ratio_p50"))
    add(
        "per-invoke p50 vs the C floor",
        1.75,
        {"ratio": pi["vs_floor_p50"]} if pi.get("vs_floor_p50") else None,
        ci=False,
    )
    add("per-invoke p99", 0.5, pi.get("ratio_p99"))
    for size in ("1MB", "5MB"):
        f = figs.get("payloads", {}).get(size)
        add(f"{size} echo (median)", 0.25, f["rows"].get("fastric", {}).get("ratio_p50") if f else None)
    for size, f in figs.get("payloads", {}).items():
        if size.startswith(("1MB ", "5MB ")):
            what = "return" if size.endswith("ddb-items") else "echo"
            add(f"{size} {what} (median)", 0.25, f["rows"].get("fastric", {}).get("ratio_p50"))
    logf = figs.get("logging", {})
    worst = None
    for key, f in logf.items():
        r = f["rows"].get("fastric", {}).get("ratio_per_line")
        if r and r.get("ratio") is not None and (worst is None or r["ratio"] > worst[1]["ratio"]):
            worst = (key, r)
    add(
        f"per printed/logged line (worst: {worst[0]})" if worst else "per printed/logged line",
        1.0,
        worst[1] if worst else None,
    )
    mem = figs.get("memory", {}).get("rows", {})
    fm, rm = mem.get("fastric", {}), mem.get("awslambdaric", {})
    if fm.get("hwm_kb") and rm.get("hwm_kb"):
        add("peak RSS", 1.0, {"ratio": fm["hwm_kb"] / rm["hwm_kb"]}, ci=False)
    else:
        add("peak RSS", 1.0, None)
    if fm.get("growth_kb") is not None and rm.get("growth_kb") is not None:
        noise = max(1024, rm["growth_kb"])
        ok = fm["growth_kb"] <= noise
        out.append(
            [
                "RSS growth",
                f"≤ max(1 MiB, awslambdaric's growth) = {noise} KiB",
                f"{fm['growth_kb']} KiB",
                "met" if ok else "**not met**",
            ]
        )
    else:
        out.append(["RSS growth", "within noise", "—", "n/a (fastric or the reference did not run)"])
    if "emulators" in figs:
        import rie_emulators

        out += rie_emulators.target_rows(figs["emulators"])
    idents = [f["rows"].get("fastric", {}).get("identical") for f in figs.get("payloads", {}).values()]
    if idents and all(i is not None for i in idents):
        out.append(
            [
                "payload result bytes",
                "identical to awslambdaric",
                f"{sum(idents)}/{len(idents)} identical",
                "met" if all(idents) else "**not met**",
            ]
        )
    return out


def markdown(results: dict, chart: Path | None) -> str:
    """The whole docs/BENCHMARKS.md text."""
    m = results["machine"]
    figs = results["figures"]
    parts = [
        "# Benchmarks: fastric vs awslambdaric\n",
        "Generated by `benches/run.py`; do not edit by hand (re-run it instead).\n",
    ]
    if results.get("quick"):
        parts.append(
            "> **Quick mode**: tiny iteration counts for a smoke test. These numbers are noise; "
            "run without `--quick` for real figures.\n"
        )
    parts.append("## Run\n")
    pys = "; ".join(f"`{k}`: {v}" for k, v in m["pythons"].items())
    vers = ", ".join(f"{k} {v}" for k, v in m["versions"].items())
    parts.append(
        f"- Command: `{results['command']}` (commit `{m['commit']}`), {results['date']}, "
        f"{results['elapsed_s']:.0f} s.\n"
        f"- Machine: {m['cpu_model']} ({m['arch']}), {m['cpus_online']} CPUs online; {m['os']}.\n"
        f"- Pinning: {m['pinning']}.\n"
        f"- Runtime API server: {m.get('server_wait', 'blocks in recv')}.\n"
        f"- Interpreters: {pys}.\n- Packages: {vers}.\n"
    )
    prows = []
    for p in results["participants"]:
        env = " ".join(f"{k}={v}" for k, v in p["env"].items())
        status = results["failed"].get(p["name"])
        if status:
            status = "failed: " + status.removeprefix("preflight: ").replace("|", "/")
        prows.append(
            [
                p["name"],
                "`" + " ".join(p["argv"]) + (" HANDLER`" if p["kind"] == "client" else " MODE`"),
                env or "—",
                status or "ran",
            ]
        )
    parts.append("\n" + _table(["participant", "command", "extra environment", "status"], prows))
    if m["arch"] not in ("x86_64", "AMD64"):
        parts.append("\nThe targets are stated for x86_64; on this architecture they are informative.\n")
    parts.append("\n## Targets (fastric / awslambdaric, same run)\n\n")
    parts.append(_table(["figure", "target", "measured", "status"], targets(results)))
    inv = figs.get("per_invoke", {}).get("rows", {})
    fl, ref = inv.get("c-floor", {}), inv.get("awslambdaric", {})
    if fl.get("rtt_us") and ref.get("rtt_us"):
        floor_us, ref_us = fl["rtt_us"]["median"], ref["rtt_us"]["median"]
        minimum = figs["per_invoke"].get("python_minimum_us")
        text = (
            f"\nThe per-invoke ratio has a floor: a client with no Python at all takes {floor_us:.1f} µs p50 "
            f"here, {floor_us / ref_us:.2f}× awslambdaric's {ref_us:.1f} µs."
        )
        if minimum:
            bound_us = floor_us + minimum
            bound = bound_us / ref_us
            target_us = 0.33 * ref_us
            text += (
                f" Any Python runtime must also decode the event, call the handler and encode the result: "
                f"{minimum:.2f} µs in-process with the fastest codec that gives awslambdaric's bytes (fastric's; "
                f"no context object, no network). Floor plus that minimum is {bound_us:.1f} µs = "
                f"{bound:.2f}× awslambdaric: no Python client can go below that in this run."
            )
            fast = inv.get("fastric", {})
            if fast.get("rtt_us"):
                fast_us = fast["rtt_us"]["median"]
                if target_us > bound_us:
                    text += (
                        f" The 0.33× target ({target_us:.1f} µs) leaves {target_us - bound_us:.1f} µs above that "
                        f"bound for everything else a runtime does per invocation (context object, "
                        f"`_X_AMZN_TRACE_ID`, HTTP parsing, GIL hand-offs); fastric needs "
                        f"{fast_us - bound_us:.1f} µs ({fast_us:.1f} µs p50)."
                    )
                else:
                    text += f" The 0.33× target ({target_us:.1f} µs) is below it: out of reach in this run."
            text += " The targets assumed a ~20 µs C round trip against ~100 µs for awslambdaric."
        parts.append(text + "\n")
    if chart is not None:
        parts.append(f"\n![per-invoke overhead and cold start]({chart.name})\n")
    if "cold_start" in figs:
        parts.append("\n## 1. Cold start\n\n" + cold_table(figs["cold_start"]))
    if "per_invoke" in figs:
        parts.append("\n## 2. Per-invoke overhead\n\n" + invoke_table(figs["per_invoke"]))
    if "payloads" in figs:
        parts.append("\n## 3. Payloads (round trip per invocation)\n\n" + payload_table(figs["payloads"]))
    if "logging" in figs:
        parts.append("\n## 4. Logging (100 lines per invocation)\n\n" + logging_table(figs["logging"]))
    if "memory" in figs:
        parts.append("\n## 5. Memory\n\n" + memory_table(figs["memory"]))
    if "emulator" in figs:
        parts.append("\n## 6. End to end through fastric-rie\n\n" + emulator_table(figs["emulator"]))
    if "codec" in figs:
        import codec_matrix

        parts.append(
            "\n## 7. JSON codec, kind by kind (in process)\n\n" + codec_matrix.markdown(figs["codec"])
        )
    if "emulators" in figs:
        import rie_emulators

        parts.append(
            "\n## 8. The emulators: start-up, cold, warm\n\n" + rie_emulators.table(figs["emulators"])
        )
    parts.append("\n" + METHOD)
    parts.append(
        "\nMicro-benchmarks of the hot pieces (`benches/test_micro_*.py`: event decode, response encode, "
        "context construction, error formatting) run under pytest-benchmark; awslambdaric's side runs in its "
        "own interpreter with `timeit` and lands in each benchmark's `extra_info` "
        "(`awslambdaric_s_per_call`, `ratio_fastric_over_awslambdaric`, `correct`). They skip when fastric's "
        "pieces are not built and are not part of the normal test run.\n"
    )
    return "\n".join(parts).replace("\n\n\n", "\n\n")


def chart(results: dict, path: Path) -> Path | None:
    """Draws per-invoke p50/p99 and cold-start medians into ``path`` (PNG); None if matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    figs = results["figures"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    pi = figs.get("per_invoke", {}).get("rows", {})
    names = [n for n, r in pi.items() if not r.get("failed")]
    ax = axes[0]
    if names:
        xs = range(len(names))
        ax.bar([x - 0.2 for x in xs], [pi[n]["rtt_us"]["median"] for n in names], 0.4, label="p50")
        ax.bar([x + 0.2 for x in xs], [pi[n]["rtt_us"]["p99"] for n in names], 0.4, label="p99")
        ax.set_xticks(list(xs), names, rotation=15)
        ax.set_yscale("log")
        ax.legend()
    ax.set_title("Per-invoke round trip (µs, log scale, lower is better)")
    cs = figs.get("cold_start", {})
    rows = {n: r["first_next"]["median"] for n, r in cs.get("rows", {}).items() if "first_next" in r}
    for label, s in cs.get("pass_exit_ms", {}).items():
        if s:
            rows[f"-c pass ({label.replace('python of ', '')})"] = s["median"]
    ax = axes[1]
    if rows:
        ax.barh(list(rows), list(rows.values()))
    ax.set_title("Cold start: spawn → first /next (ms, median)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
