#!/bin/sh
# Stand-in for /lambda-entrypoint.sh of AWS's Lambda base images (lambda-python.Containerfile):
# `lambda-entrypoint.sh HANDLER` exports _HANDLER and starts the runtime, /var/runtime/bootstrap,
# behind the emulator when AWS_LAMBDA_RUNTIME_API is unset (AWS's images run
# /usr/local/bin/aws-lambda-rie, which the stand-in does not have), directly otherwise.
# Exit status 142 when the handler is not the only argument, as AWS's script.
if [ $# -ne 1 ]; then
    echo "stand-in lambda-entrypoint.sh: the handler must be the only argument" >&2
    exit 142
fi
export _HANDLER="$1"
if [ -z "${AWS_LAMBDA_RUNTIME_API:-}" ]; then
    if [ ! -x /usr/local/bin/aws-lambda-rie ]; then
        echo "stand-in lambda-entrypoint.sh: no emulator in this stand-in; set AWS_LAMBDA_RUNTIME_API" >&2
        exit 127
    fi
    exec /usr/local/bin/aws-lambda-rie /var/runtime/bootstrap
fi
exec /var/runtime/bootstrap
