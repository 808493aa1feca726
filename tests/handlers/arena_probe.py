"""Handler for the arena-cache test: reports the process's minor page faults so far and the event size."""

import resource


def handler(event, context):
    """Returns ``{"minflt": <minor faults of this process so far>, "records": len(event["Records"])}``."""
    return {"minflt": resource.getrusage(resource.RUSAGE_SELF).ru_minflt, "records": len(event["Records"])}
