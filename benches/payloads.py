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

#: name → (fixture, target size in bytes); the 1 KB event is the S3 put event unchanged.
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
    """The event for ``name`` in :data:`EVENT_SIZES`, as bytes."""
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
