"""fastric: a faster drop-in replacement for awslambdaric, the AWS Lambda Python runtime client.

Start it as ``python -m fastric module.function``. Public names: ``__version__``, the handler's context
type :class:`LambdaContext`, and the exceptions :class:`FaultException`, :class:`FastricError` and
:class:`RuntimeApiError` (see :mod:`fastric.errors`).
"""

try:
    from ._fastric import VERSION as __version__
except ImportError:  # native core not built/importable: the pure-Python loop can still run
    __version__ = "0+unknown"

from .errors import FastricError, FaultException, RuntimeApiError
from .lambda_context import LambdaContext

__all__ = ["FastricError", "FaultException", "LambdaContext", "RuntimeApiError", "__version__"]
