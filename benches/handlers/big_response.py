"""Benchmark handler: returns a ~5 MB object built at import time (response encoding).

The object is read from the JSON file named by ``BENCH_RESPONSE_FILE`` (written by benches/run.py from
real DynamoDB item shapes); the stdlib ``json`` module loads it once, outside the timed invocations.
"""

import json
import os

with open(os.environ["BENCH_RESPONSE_FILE"], "rb") as _f:
    _RESPONSE = json.loads(_f.read())


def handler(event, context):
    """Returns the same ~5 MB dict on every invocation."""
    return _RESPONSE
