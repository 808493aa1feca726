"""Micro-benchmark: LambdaContext construction, fastric vs awslambdaric (timed in its own venv).

Skipped when ``fastric.lambda_context`` is not there yet.
"""

import micro_shared as shared
import pytest

lambda_context = pytest.importorskip("fastric.lambda_context")


@pytest.mark.parametrize("with_client_context", [False, True], ids=["plain", "client-context"])
def test_context_construction(benchmark, reference, with_client_context):
    LambdaContext = lambda_context.LambdaContext
    args = list(shared.CONTEXT_ARGS)
    benchmark.group = "context " + ("client-context" if with_client_context else "plain")

    def build():
        if with_client_context:
            args[1] = shared.client_context()
        return LambdaContext(*args)

    ctx = benchmark(build)
    assert ctx.aws_request_id == shared.CONTEXT_ARGS[0]
    stmt = "build()"
    setup = (
        "from awslambdaric.lambda_context import LambdaContext\nimport micro_shared as s\n"
        "args = list(s.CONTEXT_ARGS)\n"
        "def build():\n"
        + ("    args[1] = s.client_context()\n" if with_client_context else "")
        + "    return LambdaContext(*args)\n"
    )
    ref = reference.run(setup, stmt + " and b''")
    reference.record(ref)
