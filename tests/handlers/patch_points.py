"""Patches the runtime's bootstrap module the way sentry-sdk's AwsLambdaIntegration does, and prints
what each patched function receives (``PATCH ...`` lines), so the call protocol can be compared."""

import os
import sys


def find_bootstrap():
    # sentry_sdk.integrations.aws_lambda.get_lambda_bootstrap, in the same order
    if "bootstrap" in sys.modules:
        return sys.modules["bootstrap"]
    module = sys.modules["__main__"]
    if hasattr(module, "awslambdaricmain") and hasattr(module.awslambdaricmain, "bootstrap"):
        return module.awslambdaricmain.bootstrap
    if hasattr(module, "bootstrap"):
        return module.bootstrap
    return None


def note(text):
    sys.stdout.write("PATCH " + text + "\n")


def describe(value):
    if isinstance(value, (bytes, str)):
        return f"{type(value).__name__}:{value[:60]!r}"
    return type(value).__name__


def patch_posts(bs):
    cls = bs.LambdaRuntimeClient
    original_result = cls.post_invocation_result
    original_error = cls.post_invocation_error

    def post_invocation_result(self, *args, **kwargs):
        note("post_invocation_result " + " ".join(describe(a) for a in args) + f" kw={sorted(kwargs)}")
        return original_result(self, *args, **kwargs)

    def post_invocation_error(self, *args, **kwargs):
        note(
            "post_invocation_error "
            + " ".join(describe(a) for a in args[:1] + args[3:])
            + f" kw={sorted(kwargs)}"
        )
        note(f"  document {type(args[1]).__name__} cause {type(args[2]).__name__}")
        return original_error(self, *args, **kwargs)

    cls.post_invocation_result = post_invocation_result
    cls.post_invocation_error = post_invocation_error


def patch_all(bs):
    cls = bs.LambdaRuntimeClient
    original_init_error = cls.post_init_error

    def post_init_error(self, *args, **kwargs):
        exc = sys.exc_info()[1]
        note(
            f"post_init_error {describe(args[0])} {args[0].get('errorType')} n={len(args)} kw={sorted(kwargs)}"
        )
        note(f"  exc_info {type(exc).__name__ if exc is not None else None}")
        return original_init_error(self, *args, **kwargs)

    cls.post_init_error = post_init_error
    original = bs.handle_event_request

    def handle_event_request(lambda_runtime_client, request_handler, *args, **kwargs):
        note(
            f"handle_event_request {type(lambda_runtime_client).__name__} "
            + " ".join(describe(a) for a in args[:-2])
        )
        note(f"  log_sink {hasattr(args[-2], 'log')} invocation_id {args[-1]!r} kw={sorted(kwargs)}")

        def wrapped(event, context):
            note(f"handler wrapped {context.aws_request_id} {context.get_remaining_time_in_millis() > 0}")
            return request_handler(event, context)

        return original(lambda_runtime_client, wrapped, *args, **kwargs)

    bs.handle_event_request = handle_event_request
    patch_posts(bs)


BOOTSTRAP = find_bootstrap()
note(
    f"found {BOOTSTRAP is not None} {hasattr(BOOTSTRAP, 'handle_event_request')} {hasattr(BOOTSTRAP, 'LambdaRuntimeClient')}"
)
if os.environ.get("PATCH_AT_INIT") == "1":
    patch_all(BOOTSTRAP)
if os.environ.get("PATCH_INIT_FAIL") == "1":
    raise ValueError("init failed on purpose")


def handler(event, context):
    if event == "patch_posts":
        patch_posts(BOOTSTRAP)  # from inside an invocation: its own post is already the patched one
        return {"patched": True}
    if event == "raise":
        raise KeyError("boom")
    if event == "bytes":
        return b"\x00raw"
    if event == "unserialisable":
        return {1, 2}
    if event == "exit":
        sys.exit(3)
    return {"echo": event, "arn": context.invoked_function_arn}
