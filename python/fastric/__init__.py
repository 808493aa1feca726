"""fastric: a faster drop-in replacement for awslambdaric, the AWS Lambda Python runtime client.

Start it as ``python -m fastric module.function``. Public names: ``__version__``,
:class:`fastric.lambda_context.LambdaContext` (the handler's ``context``) and the exceptions in
:mod:`fastric.errors`.
"""

try:
    from ._fastric import VERSION as __version__
except ImportError:  # native core not built/importable: the pure-Python loop can still run
    __version__ = "0+unknown"

__all__ = ["__version__"]
