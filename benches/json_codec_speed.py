"""Throwaway speed check: fastric's JSON codec against simplejson + awslambdaric's Encoder.

Run with the reference interpreter available (default /work/main/.venv-ref/bin/python, or
FASTRIC_REF_PYTHON):  python benches/json_codec_speed.py
Builds ~1 MB and ~5 MB events by repeating real record shapes from ../shared/events
(SQS, Kinesis, DynamoDB, S3, SNS, API Gateway) plus a tiny {"a": 1} event, then times
decode + encode in both implementations (best of N, ms) and prints the ratio.
"""

import json
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
EVENTS = next(
    (p for p in (ROOT.parent / "shared" / "events", pathlib.Path("/work/shared/events")) if p.is_dir()), None
)

TIMER = r"""
import sys, time, json
def best(fn, n):
    out = []
    for _ in range(n):
        t = time.perf_counter(); fn(); out.append(time.perf_counter() - t)
    return min(out) * 1000
docs = [open(p, "rb").read() for p in sys.argv[2:]]
mode = sys.argv[1]
if mode == "ref":
    import simplejson
    from awslambdaric.lambda_runtime_marshaller import Encoder
    enc = Encoder()
    loads = simplejson.loads
    dumps = lambda o: enc.encode(o).encode("utf-8")
else:
    from fastric._fastric import json_loads as loads, json_dumps
    dumps = lambda o: json_dumps(o, True)
res = []
for d in docs:
    n = 2000 if len(d) < 100 else (10 if len(d) < 2_000_000 else 4)
    obj = loads(d)
    dec = best(lambda: loads(d), n)
    en = best(lambda: dumps(obj), n)
    both = best(lambda: dumps(loads(d)), n)
    res.append((len(d), dec, en, both))
print(json.dumps(res))
"""


def build(target_bytes):
    names = [
        "sqs-receive-message.json",
        "kinesis-get-records.json",
        "dynamodb-update.json",
        "s3-put.json",
        "sns-notification.json",
        "apigateway-aws-proxy.json",
    ]
    shapes = [json.loads((EVENTS / n).read_text()) for n in names]
    records = []
    size = 0
    i = 0
    while size < target_bytes:
        shape = shapes[i % len(shapes)]
        records.append(shape)
        size += len(json.dumps(shape))
        i += 1
    return json.dumps({"Records": records}).encode()


def main():
    ref = os.environ.get("FASTRIC_REF_PYTHON") or str(ROOT / ".venv-ref/bin/python")
    if not os.path.exists(ref):
        ref = "/work/main/.venv-ref/bin/python"
    tmp = pathlib.Path(os.environ.get("TMPDIR", "/tmp"))
    paths = []
    for label, data in (("tiny", b'{"a": 1}'), ("1mb", build(1_000_000)), ("5mb", build(5_000_000))):
        p = tmp / f"fastric-bench-{label}.json"
        p.write_bytes(data)
        paths.append(str(p))
    results = {}
    for mode, py in (("ref", ref), ("ours", sys.executable)):
        out = subprocess.run([py, "-c", TIMER, mode, *paths], check=True, capture_output=True, text=True)
        results[mode] = json.loads(out.stdout)
    print(
        f"{'size':>9} | {'ref dec':>9} {'ref enc':>9} {'ref d+e':>9} | {'ours dec':>9} {'ours enc':>9} {'ours d+e':>9} | ratio"
    )
    for r, o in zip(results["ref"], results["ours"], strict=False):
        unit = "us" if r[0] < 100 else "ms"
        k = 1000 if unit == "us" else 1
        print(
            f"{r[0]:>9} | {r[1] * k:8.3f}{unit[0]} {r[2] * k:8.3f}{unit[0]} {r[3] * k:8.3f}{unit[0]} | "
            f"{o[1] * k:8.3f}{unit[0]} {o[2] * k:8.3f}{unit[0]} {o[3] * k:8.3f}{unit[0]} | {o[3] / r[3]:.3f}"
        )


if __name__ == "__main__":
    main()
