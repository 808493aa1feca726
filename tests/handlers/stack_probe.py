"""Reports whether a Python-level ``handle_event_request`` frame is above the handler."""

import traceback


def handler(event, context):
    return {"python_path": any(f.name == "handle_event_request" for f in traceback.extract_stack())}
