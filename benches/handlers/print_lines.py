"""Benchmark handler: prints 100 lines to stdout per invocation (logging cost, lines counted after)."""


def handler(event, context):
    """Prints ``bench-print <i> <request id>`` for i in 0..99, one ``print`` call each."""
    rid = context.aws_request_id
    for i in range(100):
        print(f"bench-print {i} {rid}")
    return {"statusCode": 200}
