"""Benchmark events and responses of given sizes, built from the real event shapes in fixtures/.

The sample events (copied from AWS SAM CLI's `sam local generate-event` output) hold one or two
records; larger payloads repeat their records with per-record ids, sequence numbers and bodies made
distinct, until the JSON text reaches the target size. Everything is deterministic, ASCII except for a
few accented words in SQS message bodies (so ``ensure_ascii`` escaping is exercised), and serialised
with ``json.dumps`` default separators (``", "``, ``": "``), which is also what awslambdaric's encoder
emits, so an echo of an event is about the size of the event.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"

#: name → (fixture, target size in bytes); the 1 KB event is the S3 put event unchanged. "1MB" is
#: built by :func:`realistic_event` (``mixed``) instead: the headline echo carries every kind of value.
EVENT_SIZES = {
    "1KB": ("s3-put.json", 1_000),
    "100KB": ("sqs-receive-message.json", 100 * 1024),
    "1MB": ("dynamodb-update.json", 1024 * 1024),
    "5MB": ("kinesis-get-records.json", 5 * 1024 * 1024),
}
SMALL_EVENT = "cloudwatch-scheduled-event.json"


def load(name: str) -> dict:
    """Parses ``fixtures/<name>``."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def dumps(obj: object) -> bytes:
    """``json.dumps`` with default separators, UTF-8."""
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def small_event() -> bytes:
    """The EventBridge (CloudWatch) scheduled event, about 300 bytes: the per-invoke figure's event."""
    return dumps(load(SMALL_EVENT))


def _vary(record: dict, i: int) -> dict:
    """A copy of ``record`` with its identifying fields and payload made distinct for index ``i``."""
    r = copy.deepcopy(record)
    if "messageId" in r:  # SQS
        r["messageId"] = f"{i:08x}-b21e-4ac1-bd88-01bbb068cb78"
        r["receiptHandle"] = f"AQEB{i:012d}MessageReceiptHandle"
        r["body"] = json.dumps(
            {
                "orderId": i,
                "customer": {"name": ["Zoë Martin", "José Núñez", "Ana Smith"][i % 3], "tier": "gold"},
                "items": [{"sku": f"SKU-{i * 7 + k:06d}", "qty": k + 1, "price": 9.99 + k} for k in range(3)],
                "note": "Hello from SQS!",
            },
            ensure_ascii=False,  # producers in other languages send raw UTF-8 in message bodies
        )
        r["attributes"]["SentTimestamp"] = str(1523232000000 + i)
    if "dynamodb" in r:  # DynamoDB Streams
        r["eventID"] = f"{i:032x}"
        d = r["dynamodb"]
        d["Keys"]["Id"]["N"] = str(101 + i)
        d["SequenceNumber"] = str(4421584500000000017450439091 + i)
        for image in ("NewImage", "OldImage"):
            if image in d:
                d[image]["Id"]["N"] = str(101 + i)
                d[image]["Tags"] = {"L": [{"S": f"tag-{i % 17}"}, {"N": str(i * 3)}, {"BOOL": i % 2 == 0}]}
    if "kinesis" in r:  # Kinesis
        k = r["kinesis"]
        seq = str(49545115243490985018280067714973144582180062593244200961 + i)
        k["sequenceNumber"] = seq
        k["partitionKey"] = f"partitionKey-{i % 100:02d}"
        k["data"] = "SGVsbG8sIHRoaXMgaXMgYSB0ZXN0IDEyMy4=" * 20
        k["approximateArrivalTimestamp"] = 1428537600.0 + i / 1000
        r["eventID"] = f"shardId-000000000000:{seq}"
    return r


def grow(base: dict, target: int) -> dict:
    """Repeats ``base["Records"]`` (varied) until the JSON text reaches ``target`` bytes."""
    records = base["Records"]
    event = copy.deepcopy(base)
    event["Records"] = []
    size = len(dumps(event))
    i = 0
    while size < target:
        r = _vary(records[i % len(records)], i)
        event["Records"].append(r)
        size += len(dumps(r)) + 2
        i += 1
    return event


def sized_event(name: str) -> bytes:
    """The event for ``name`` in :data:`EVENT_SIZES` or a realistic one (``"1MB api"``), as bytes."""
    realistic = realistic_sized("1MB mixed" if name == "1MB" else name)
    if realistic is not None:
        return realistic
    fixture, target = EVENT_SIZES[name]
    base = load(fixture)
    if len(dumps(base)) >= target:
        return dumps(base)
    return dumps(grow(base, target))


def big_response(target: int = 5 * 1024 * 1024) -> bytes:
    """A ~5 MB API-style response: ``{"statusCode": 200, "items": [...DynamoDB images...]}``."""
    base = load("dynamodb-update.json")
    items = []
    size = 0
    i = 0
    while size < target:
        r = _vary(base["Records"][i % 2], i)  # the INSERT and MODIFY records have a NewImage
        item = {
            "pk": r["eventID"],
            "image": r["dynamodb"]["NewImage"],
            "seq": r["dynamodb"]["SequenceNumber"],
        }
        items.append(item)
        size += len(dumps(item)) + 2
        i += 1
    return dumps({"statusCode": 200, "count": len(items), "items": items})


# -- realistic whole events (issue 12): the value kinds real events carry --------------------------

#: realistic kind → what its records look like; ``sized_event("1MB api")`` etc. build them.
REALISTIC = ("mixed", "api", "iot", "kinesis", "s3batch", "ddbstream")
_CITIES = ["Zürich", "São Paulo", "Kraków", "東京", "Reykjavík", "Paris", "Austin"]
_NAMES = ["Zoë Martin", "José Núñez", "Ana Smith", "Björn Ødegård", "李雷", "Chloé Dubois"]


def _api_record(i: int) -> dict:
    """An order line as API payloads carry it: float prices, quantities, ratios, non-ASCII names."""
    return {
        "orderId": f"ord-{i:09d}",
        "customer": {"name": _NAMES[i % len(_NAMES)], "city": _CITIES[i % len(_CITIES)], "vip": i % 7 == 0},
        "items": [
            {
                "sku": f"SKU-{i * 3 + k:07d}",
                "price": round(4.99 + (i * 7 + k) % 500 + 0.5 * k, 2),
                "quantity": 1 + (i + k) % 4,
                "discount": [0.0, 0.05, 0.1, 0.25][(i + k) % 4],
            }
            for k in range(3)
        ],
        "total": round(17.47 + (i % 1000) * 1.25, 2),
        "taxRate": 0.077,
        "createdAt": f"2024-05-{1 + i % 28:02d}T12:{i % 60:02d}:00Z",
    }


def _iot_record(i: int) -> dict:
    """A telemetry reading: timestamps, halves and quarters, long-repr floats and float arrays."""
    return {
        "deviceId": f"sensor-{i % 5000:05d}",
        "ts": 1714550400.0 + i * 0.25,
        "temperature": 18.0 + (i % 40) * 0.25,
        "humidity": (i * 37 % 1000) / 1000,
        "battery": 3.7 - (i % 100) / 700,
        "accel": [((i + k) % 200 - 100) / 64 for k in range(3)],
        "samples": [round(((i * 13 + k) % 4096) / 7, 4) for k in range(16)],
        "ok": True,
    }


def _s3batch_task(i: int) -> dict:
    """An S3 Batch Operations task (the invocation schema 1.0 shape)."""
    return {
        "taskId": f"dGFza2lkZ29lc2hlcmUK{i:010d}",
        "s3Key": f"photos/2024/{_CITIES[i % len(_CITIES)]}/IMG_{i:07d}.jpg",
        "s3VersionId": None if i % 3 else f"v{i:020d}",
        "s3BucketArn": "arn:aws:s3:::amzn-s3-demo-bucket",
    }


def realistic_event(kind: str, target: int) -> dict:
    """A whole event of about ``target`` bytes of the realistic ``kind`` (see :data:`REALISTIC`);
    ``mixed`` interleaves the records of all the others."""
    if kind == "kinesis":
        return grow(load("kinesis-get-records.json"), target)
    if kind == "ddbstream":
        return grow(load("dynamodb-update.json"), target)
    if kind == "s3batch":
        event = {
            "invocationSchemaVersion": "1.0",
            "invocationId": "YXNkbGZqYWRmaiBhc2RmdW9hZHNmZGpmaGFzbGtkaGZza2RmaAo",
        }
        event["job"] = {"id": "f3cc4f60-61f6-4a2b-8a21-d07600c373ce"}
        make = _s3batch_task
        field = "tasks"
    elif kind in ("api", "iot"):
        event = {"version": "1.0", "source": f"bench.{kind}"}
        make = _api_record if kind == "api" else _iot_record
        field = "orders" if kind == "api" else "readings"
    else:
        kinds = [k for k in REALISTIC if k != "mixed"]
        parts = {k: realistic_event(k, target // len(kinds)) for k in kinds}
        return {
            "orders": parts["api"]["orders"],
            "readings": parts["iot"]["readings"],
            "Records": parts["kinesis"]["Records"] + parts["ddbstream"]["Records"],
            "tasks": parts["s3batch"]["tasks"],
        }
    event[field] = []
    size = len(dumps(event))
    i = 0
    while size < target:
        record = make(i)
        event[field].append(record)
        size += len(dumps(record)) + 2
        i += 1
    return event


def ddb_items(target: int) -> dict:
    """A handler's response of DynamoDB items in DynamoDB JSON (``{"N": "12.5"}`` …), about
    ``target`` bytes once deserialized; benches/handlers/ddb_items.py turns it into Decimals."""
    items = []
    size = 0
    i = 0
    while size < target:
        item = {
            "pk": {"S": f"ORDER#{i:09d}"},
            "sk": {"S": f"LINE#{i % 10}"},
            "price": {"N": str(round(4.99 + i % 500 + 0.25, 2))},
            "quantity": {"N": str(1 + i % 4)},
            "weightKg": {"N": f"{(i % 977) / 8}"},
            "city": {"S": _CITIES[i % len(_CITIES)]},
            "tags": {"L": [{"S": f"tag-{i % 17}"}, {"N": str(i * 3)}, {"BOOL": i % 2 == 0}]},
            "dims": {"M": {"w": {"N": str(10 + i % 30)}, "h": {"N": "2.5"}, "d": {"N": "0.125"}}},
            "note": {"NULL": True} if i % 5 else {"S": "fragile ⚠"},
        }
        items.append(item)
        size += len(dumps(item)) * 2 // 3
        i += 1
    return {"Items": items, "Count": len(items), "ScannedCount": len(items)}


def realistic_sized(name: str) -> bytes | None:
    """``"1MB api"`` / ``"5MB mixed"`` … as bytes; ``None`` for names that are not realistic."""
    size, _, kind = name.partition(" ")
    if kind not in REALISTIC or size not in ("1MB", "5MB"):
        return None
    target = (1 if size == "1MB" else 5) * 1024 * 1024
    return dumps(realistic_event(kind, target))


def realistic_counts(per_1mb: int, per_5mb: int) -> dict:
    """The realistic payload rows of benches/run.py's payload figure, with their invocation counts:
    ``"1MB api"`` … ``"5MB ddbstream"`` echoed, and ``"1MB ddb-items"`` / ``"5MB ddb-items"``
    returned (the mixed 1 MB event is the ``"1MB"`` row itself)."""
    out = {}
    for size, n in (("1MB", per_1mb), ("5MB", per_5mb)):
        for kind in REALISTIC:
            if (size, kind) != ("1MB", "mixed"):
                out[f"{size} {kind}"] = n
        out[f"{size} ddb-items"] = n
    return out


def write_ddb_files(name: str, workdir: Path) -> None:
    """Writes the DynamoDB-JSON items of ``name`` (``"1MB ddb-items"``) for benches/handlers/ddb_items.py
    (``BENCH_DDB_FILE``), and a plain JSON file of about the response's size for the C floor
    (``BENCH_DDB_FLOOR_FILE``); sets both variables in ``os.environ``."""
    import os

    target = (1 if name.startswith("1MB") else 5) * 1024 * 1024
    items = ddb_items(target)
    path = workdir / f"ddb-items-{name.split()[0]}.json"
    path.write_bytes(dumps(items))
    floor = workdir / f"ddb-items-{name.split()[0]}-floor.json"
    floor.write_bytes(
        dumps({"Items": [{k: next(iter(v.values())) for k, v in it.items()} for it in items["Items"]]})
    )
    os.environ["BENCH_DDB_FILE"] = str(path)
    os.environ["BENCH_DDB_FLOOR_FILE"] = str(floor)
