"""Echo handler for the differential tests: returns the event unchanged."""


def handler(event, context):
    """Return ``event`` as received."""
    return event
