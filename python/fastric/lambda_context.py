"""The ``context`` object passed to handlers, attribute-for-attribute compatible with awslambdaric 4.2.2.

Source of the behaviour: awslambdaric ``lambda_context.py`` (see section 5 of the behaviour reference).
One instance is built per invocation, so construction is kept to plain attribute stores.
"""

from __future__ import annotations

import os
import sys
import time

from . import log as _log

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is not imported at run time (start-up cost)
    from typing import Any

__all__ = ["Client", "ClientContext", "CognitoIdentity", "LambdaContext"]

# The W3C trace-context keys that `LambdaContext.w3c()` exposes (string values only).
_W3C_KEYS = ("traceparent", "tracestate", "baggage")


class CognitoIdentity:
    """Amazon Cognito identity of the caller (mobile SDK invocations).

    Attributes: ``cognito_identity_id``, ``cognito_identity_pool_id`` (str or None).
    """

    __slots__ = ["cognito_identity_id", "cognito_identity_pool_id"]
    cognito_identity_id: str | None
    cognito_identity_pool_id: str | None

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}([cognito_identity_id={self.cognito_identity_id},"
            f"cognito_identity_pool_id={self.cognito_identity_pool_id}])"
        )


class Client:
    """The ``client`` part of a mobile client context.

    Attributes (each the parsed JSON value, or None when the key is absent): ``installation_id``,
    ``app_title``, ``app_version_name``, ``app_version_code``, ``app_package_name``.
    """

    __slots__ = ["installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name"]
    installation_id: Any
    app_title: Any
    app_version_name: Any
    app_version_code: Any
    app_package_name: Any

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}([installation_id={self.installation_id},"
            f"app_title={self.app_title},"
            f"app_version_name={self.app_version_name},"
            f"app_version_code={self.app_version_code},"
            f"app_package_name={self.app_package_name}])"
        )


class ClientContext:
    """The client context sent by the caller (``Lambda-Runtime-Client-Context``).

    Attributes: ``custom`` and ``env`` (the parsed JSON values, or None) and ``client``
    (a :class:`Client`, or None).
    """

    __slots__ = ["custom", "env", "client"]
    custom: Any
    env: Any
    client: Any

    def __repr__(self) -> str:
        return f"{type(self).__name__}([custom={self.custom},env={self.env},client={self.client}])"


def _fill(obj: Any, source: Any) -> Any:
    # Every slot is set from the mapping; `source.get` on a non-dict raises AttributeError exactly as
    # awslambdaric does (e.g. "'list' object has no attribute 'get'").
    get = source.get
    for name in type(obj).__slots__:
        setattr(obj, name, get(name))
    return obj


class LambdaContext:
    """Information about the invocation, the function and the execution environment.

    Args:
        invoke_id: the request id (``Lambda-Runtime-Aws-Request-Id``).
        client_context: the parsed ``Lambda-Runtime-Client-Context`` JSON object, or None. Its ``w3c``
            key, if any, is popped out (the dict is modified) and exposed through :meth:`w3c` only.
        cognito_identity: the parsed ``Lambda-Runtime-Cognito-Identity`` JSON object, or None.
        epoch_deadline_time_in_ms: the deadline, ms since the Unix epoch (0 when unknown).
        invoked_function_arn: the ARN used to invoke the function ('' when the header was absent).
        tenant_id: ``Lambda-Runtime-Aws-Tenant-Id``, or None.

    Raises:
        AttributeError: when ``client_context``, its ``client`` member or ``cognito_identity`` is JSON
            that is not an object (as awslambdaric does).

    The ``log_group_name``, ``log_stream_name``, ``function_name``, ``memory_limit_in_mb`` (a str) and
    ``function_version`` attributes are read from the environment at construction time.
    """

    def __init__(
        self,
        invoke_id: str,
        client_context: dict[str, Any] | None,
        cognito_identity: dict[str, Any] | None,
        epoch_deadline_time_in_ms: int,
        invoked_function_arn: str | None = None,
        tenant_id: str | None = None,
    ) -> None:
        env = os.environ.get
        self.aws_request_id = invoke_id
        self.log_group_name = env("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = env("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = env("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = env("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = invoked_function_arn
        self.tenant_id = tenant_id

        # `_w3c_fields` before `client_context`: the attribute order awslambdaric gives (`vars(context)`).
        w3c: dict[str, str] = {}
        self._w3c_fields = w3c
        if client_context is None:
            self.client_context = None
        else:
            if isinstance(client_context, dict) and "w3c" in client_context:
                raw = client_context.pop("w3c")
                if isinstance(raw, dict):
                    for key in _W3C_KEYS:
                        value = raw.get(key)
                        if isinstance(value, str):
                            w3c[key] = value
            cc = _fill(ClientContext(), client_context)
            if cc.client is not None:
                cc.client = _fill(Client(), cc.client)
            self.client_context = cc

        identity = CognitoIdentity()
        if cognito_identity is None:
            identity.cognito_identity_id = None
            identity.cognito_identity_pool_id = None
        else:
            identity.cognito_identity_id = cognito_identity.get("cognitoIdentityId")
            identity.cognito_identity_pool_id = cognito_identity.get("cognitoIdentityPoolId")
        self.identity = identity

        self._epoch_deadline_time_in_ms = epoch_deadline_time_in_ms

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the deadline, by the wall clock now; never negative (0 when the
        deadline is unknown or past)."""
        left = self._epoch_deadline_time_in_ms - int(time.time() * 1000)
        return left if left > 0 else 0

    def w3c(self) -> dict[str, str]:
        """A copy of the W3C trace context (``traceparent``, ``tracestate``, ``baggage``; string values
        only) that arrived in the client context's ``w3c`` object; ``{}`` when there was none."""
        return dict(self._w3c_fields)

    def log(self, msg: object) -> None:
        """Write ``str(msg)`` as is (no newline added) to the runtime's log sink: the telemetry fd as
        one frame of type ``0xA55A0003`` when it is in use, otherwise ``sys.stdout``.

        The sink is that of the first root-logger handler with a ``log_sink`` attribute, as in
        awslambdaric; with none, ``sys.stdout``. While the runtime's logging set-up waits for
        ``logging`` to be imported (:func:`fastric.log.install_logging`), the sink that handler will
        get; ``logging`` is not imported by this method.
        """
        text = str(msg)
        sink = _log.pending_log_sink()
        if sink is None:
            logging = sys.modules.get("logging")
            if logging is not None:
                for handler in logging.getLogger().handlers:
                    sink = getattr(handler, "log_sink", None)
                    if sink is not None:
                        break
        if sink is not None:
            sink.log(text)
        else:
            sys.stdout.write(text)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(["
            f"aws_request_id={self.aws_request_id},"
            f"log_group_name={self.log_group_name},"
            f"log_stream_name={self.log_stream_name},"
            f"function_name={self.function_name},"
            f"memory_limit_in_mb={self.memory_limit_in_mb},"
            f"function_version={self.function_version},"
            f"invoked_function_arn={self.invoked_function_arn},"
            f"client_context={self.client_context},"
            f"identity={self.identity},"
            f"tenant_id={self.tenant_id}"
            "])"
        )
