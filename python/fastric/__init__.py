"""fastric: a faster drop-in replacement for awslambdaric, the AWS Lambda Python runtime client.

Start it as ``python -m fastric module.function``. Public names: ``__version__``, the handler's context
type :class:`LambdaContext`, the exceptions :class:`FaultException`, :class:`FastricError` and
:class:`RuntimeApiError` (see :mod:`fastric.errors`), and response streaming: the decorator
:func:`response_stream` and :class:`HttpResponseStream` (see :mod:`fastric.streaming`).

The names are resolved on first access (module ``__getattr__``), so ``python -m fastric`` imports only
what its start-up needs.
"""

__all__ = [
    "FastricError",
    "FaultException",
    "HttpResponseStream",
    "LambdaContext",
    "RuntimeApiError",
    "__version__",
    "response_stream",
]

_FROM = {
    "FastricError": "errors",
    "FaultException": "errors",
    "RuntimeApiError": "errors",
    "LambdaContext": "lambda_context",
    "HttpResponseStream": "streaming",
    "response_stream": "streaming",
}


def __getattr__(name):
    """Resolve a public name lazily: ``__version__`` from the native module (``"0+unknown"`` when it
    cannot be imported), the classes from their modules. Raises ``AttributeError`` for other names."""
    if name == "__version__":
        try:
            from ._fastric import VERSION as value
        except ImportError:  # native core not built/importable (python -m fastric then says so)
            value = "0+unknown"
    elif name in _FROM:
        from importlib import import_module

        value = getattr(import_module("." + _FROM[name], __name__), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    """The module attributes plus the lazily resolved public names."""
    return sorted(set(globals()) | set(__all__))
