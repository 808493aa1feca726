"""fastric: a faster drop-in replacement for awslambdaric, the AWS Lambda Python runtime client."""

from ._fastric import VERSION as __version__

__all__ = ["__version__"]
