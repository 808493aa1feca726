#!/bin/sh
# ENTRYPOINT of the fastric container image (Dockerfile): `entry.sh HANDLER` (CMD supplies app.handler).
#
# On Lambda (AWS_LAMBDA_RUNTIME_API set): replaces itself with `python -m fastric HANDLER`.
# Locally (AWS_LAMBDA_RUNTIME_API unset, e.g. `docker run -p 9000:8080 IMAGE`): runs the built-in
# emulator in front of it, `fastric-rie --runtime-interface-emulator-address 0.0.0.0:8080 python -m
# fastric HANDLER`, like the entry script of AWS's base images does with aws-lambda-rie. Invoke with
#   curl -d '{}' http://localhost:9000/2015-03-31/functions/function/invocations
#
# Overridable (tests use these; the image needs none of them):
#   FASTRIC_PYTHON      the interpreter (default: python3 on PATH; /var/lang/bin/python3 in the image)
#   FASTRIC_RIE         the emulator command (default: fastric-rie on PATH)
#   FASTRIC_RIE_ADDRESS the invoke address (default 0.0.0.0:8080, the port AWS's images use)
#   FASTRIC_RIE_ARGS    extra emulator options, split on spaces (e.g. "--runtime-api-address 127.0.0.1:0")
# Exit status: 142 (as AWS's entry script) when no handler argument is given.
if [ $# -ne 1 ]; then
    echo "[fastric] entry.sh: the handler must be the only argument (CMD [\"module.function\"])" >&2
    exit 142
fi
export _HANDLER="$1"
python=${FASTRIC_PYTHON:-python3}
if [ -z "${AWS_LAMBDA_RUNTIME_API:-}" ]; then
    # shellcheck disable=SC2086 # FASTRIC_RIE_ARGS is a list of options
    exec ${FASTRIC_RIE:-fastric-rie} --runtime-interface-emulator-address "${FASTRIC_RIE_ADDRESS:-0.0.0.0:8080}" \
        ${FASTRIC_RIE_ARGS:-} "$python" -m fastric "$_HANDLER"
fi
exec "$python" -m fastric "$_HANDLER"
