"""Handler returning every observable attribute of the context object."""

import os


def _client(client):
    if client is None:
        return None
    return {
        "type": type(client).__name__,
        "installation_id": client.installation_id,
        "app_title": client.app_title,
        "app_version_name": client.app_version_name,
        "app_version_code": client.app_version_code,
        "app_package_name": client.app_package_name,
    }


def handler(event, context):
    """Return a dict describing ``context`` (values that depend on the clock are reduced to types)."""
    cc = context.client_context
    ident = context.identity
    remaining = context.get_remaining_time_in_millis()
    deadline = getattr(context, "_epoch_deadline_time_in_ms", None)
    return {
        "type": type(context).__name__,
        "aws_request_id": context.aws_request_id,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "invoked_function_arn": context.invoked_function_arn,
        "tenant_id": context.tenant_id,
        "client_context": None
        if cc is None
        else {"type": type(cc).__name__, "custom": cc.custom, "env": cc.env, "client": _client(cc.client)},
        "identity": {
            "type": type(ident).__name__,
            "cognito_identity_id": ident.cognito_identity_id,
            "cognito_identity_pool_id": ident.cognito_identity_pool_id,
        },
        "w3c": context.w3c() if hasattr(context, "w3c") else "missing",
        "remaining_type": type(remaining).__name__,
        "remaining_in_range": 0 <= remaining <= 600000,
        "remaining_zero": remaining == 0,
        "deadline_type": type(deadline).__name__,
        "deadline_zero": deadline == 0,
        "repr": repr(context),
        "trace_env": os.environ.get("_X_AMZN_TRACE_ID"),
        "has_log": callable(getattr(context, "log", None)),
    }
