"""Handler whose text the stream cannot encode under ``PYTHONIOENCODING=ascii``."""

import os

if os.environ.get("UNENCODABLE_INIT_FAIL") == "1":
    raise RuntimeError("init failed: caf\u00e9 \u2603")


def handler(event, context):
    if event == "raise":
        raise ValueError("caf\u00e9 \u2603 \U0001f600")
    if event == "print":
        print("caf\u00e9")
    return "ok"
