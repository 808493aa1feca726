"""Micro-benchmarks: event decode and response encode, fastric vs awslambdaric's simplejson paths.

fastric: ``fastric._fastric.json_loads(bytes)`` and ``json_dumps(obj, ensure_ascii=True)``.
awslambdaric: ``simplejson.loads(bytes)`` (its ``unmarshal_request``) and
``Encoder().encode(obj).encode("utf-8")`` (its ``marshal_response`` in the default, non-3.12+ env),
timed in the reference interpreter (see conftest.py). Skipped when fastric's pieces are not built.
"""

import json

import micro_shared as shared
import pytest

_fastric = pytest.importorskip("fastric._fastric")


def _need(name):
    fn = getattr(_fastric, name, None)
    if fn is None:
        pytest.skip(f"fastric._fastric.{name} is not built yet")
    return fn


@pytest.mark.parametrize("size", shared.SIZES)
def test_event_decode(benchmark, reference, size):
    json_loads = _need("json_loads")
    data = shared.event(size)
    benchmark.group = f"decode {size}"
    result = benchmark(json_loads, data)
    assert result == json.loads(data)
    ref = reference.run(
        f"import simplejson, micro_shared as s\ndata = s.event({size!r})", "simplejson.loads(data) and b''"
    )
    reference.record(ref)


@pytest.mark.parametrize("size", shared.SIZES)
def test_response_encode(benchmark, reference, size):
    json_dumps = _need("json_dumps")
    obj = shared.response(size)
    benchmark.group = f"encode {size}"
    result = benchmark(json_dumps, obj, ensure_ascii=True)
    ref = reference.run(
        "from awslambdaric.lambda_runtime_marshaller import Encoder\nimport micro_shared as s\n"
        f"obj = s.response({size!r})\nenc = Encoder()",
        'enc.encode(obj).encode("utf-8")',
    )
    reference.record(ref, result)
    assert benchmark.extra_info["correct"], "fastric's bytes differ from awslambdaric's"
