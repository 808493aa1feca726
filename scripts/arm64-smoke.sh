#!/usr/bin/env bash
# Build the aarch64 (Graviton) wheel on this x86_64 machine and smoke-test it on an emulated arm64
# CPython 3.11. Installs what it needs (root, Debian bookworm): the arm64 dpkg architecture,
# rustc-web + libstd-rust-web-dev:arm64 (Rust with the aarch64 std; zig from requirements-dev.txt
# links, as for x86_64, to keep glibc symbol versions at 2.17), qemu-user-static; and unpacks Debian's arm64 python3.11 into a sysroot (dpkg -x, nothing installed).
#
# Usage: scripts/arm64-smoke.sh            (work files under target/arm64/, the wheel in dist/)
# Checks, each with exact expected bytes: the interpreter is aarch64; json_loads/json_dumps round
# trips; `fastric-rie` (running on the emulated Python) serves a handler run by `python -m fastric`
# (also emulated): a success, a handler error with X-Amz-Function-Error, and a second invoke on the
# same runtime. Timings under qemu mean nothing and are not measured.
# Exit status 0 when every check passes; prints "arm64 smoke: N passed, 0 failed".
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=$root/target/arm64
sysroot=$work/sysroot
site=$work/site
started=$(date +%s)
mkdir -p "$work" dist

# 1. Toolchain (apt), only what is missing.
need=()
[ -x /usr/bin/rustc ] || need+=(rustc-web)
[ -d /usr/lib/rustlib/aarch64-unknown-linux-gnu ] || need+=(libstd-rust-web-dev:arm64)
command -v qemu-aarch64-static >/dev/null || need+=(qemu-user-static)
if [ ! -f "$sysroot/usr/bin/python3.11" ] || [ ${#need[@]} -gt 0 ]; then
    if ! dpkg --print-foreign-architectures | grep -qx arm64; then
        dpkg --add-architecture arm64
        apt-get update -q
    elif ! apt-cache show python3.11-minimal:arm64 >/dev/null 2>&1; then
        apt-get update -q
    fi
fi
if [ ${#need[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
fi

# 2. The arm64 CPython 3.11 sysroot (Debian's packages, unpacked).
if [ ! -f "$sysroot/usr/bin/python3.11" ]; then
    rm -rf "$work/debs" "$sysroot"
    mkdir -p "$work/debs" "$sysroot"
    (cd "$work/debs" && apt-get download -q \
        python3.11-minimal:arm64 libpython3.11-minimal:arm64 libpython3.11-stdlib:arm64 \
        libc6:arm64 libgcc-s1:arm64 zlib1g:arm64 libexpat1:arm64 libffi8:arm64 \
        libbz2-1.0:arm64 liblzma5:arm64 libcrypt1:arm64 libuuid1:arm64 libssl3:arm64)
    for deb in "$work"/debs/*.deb; do dpkg -x "$deb" "$sysroot"; done
fi
qemu=(qemu-aarch64-static -L "$sysroot")
py=("${qemu[@]}" "$sysroot/usr/bin/python3.11")

# 3. The wheel.
rm -f dist/fastric-*-cp311-*aarch64.whl
FASTRIC_ARM64_SYSROOT=$sysroot scripts/build-wheels.sh --arch aarch64 --out dist
wheel=$(ls dist/fastric-*-cp311-*manylinux*aarch64.whl)
rm -rf "$site"
python3 -m pip install -q --no-deps --target "$site" --platform manylinux2014_aarch64 \
    --python-version 3.11 --implementation cp --abi cp311 --only-binary=:all: "$wheel"

# 4. Checks.
passed=0
failed=0
check() {  # check NAME EXPECTED ACTUAL
    if [ "$2" == "$3" ]; then
        passed=$((passed + 1)); echo "ok: $1"
    else
        failed=$((failed + 1)); printf 'FAILED: %s\n  expected: %q\n  actual:   %q\n' "$1" "$2" "$3"
    fi
}
export PYTHONPATH=$site
check "interpreter is aarch64" "aarch64 3.11" "$("${py[@]}" -c 'import platform; print(platform.machine(), platform.python_version()[:4])')"
check "native module loads" "fastric/_fastric.cpython-311-aarch64-linux-gnu.so" \
    "$("${py[@]}" -c 'import fastric._fastric as f; print("/".join(f.__file__.split("/")[-2:]))')"
check "json_dumps" '{"a": [1, 2.5, null, true, "\u00e9"], "b": {"c": 1e+100}}' \
    "$("${py[@]}" -c 'import sys; from fastric import _fastric as f; sys.stdout.write(f.json_dumps({"a": [1, 2.5, None, True, "é"], "b": {"c": 1e100}}, True).decode())')"
check "json_loads" "{'k': [1, 2.5, 'é', None, False, 12345678901234567890]}" \
    "$("${py[@]}" -c 'from fastric import _fastric as f; print(f.json_loads(b"{\"k\": [1, 2.5, \"\\u00e9\", null, false, 12345678901234567890]}"))')"

task=$work/task
mkdir -p "$task"
cat > "$task/app.py" <<'PY'
import platform


def handler(event, context):
    if event.get("fail"):
        raise ValueError("boom")
    return {"echo": event, "machine": platform.machine(), "request": len(context.aws_request_id)}
PY
log=$work/rie.log
(cd "$task" && exec "${py[@]}" -m fastric.rie --runtime-interface-emulator-address 127.0.0.1:0 \
    --runtime-api-address 127.0.0.1:0 "${qemu[@]}" "$sysroot/usr/bin/python3.11" -m fastric app.handler) \
    > "$log" 2>&1 &
rie_pid=$!
trap 'kill "$rie_pid" 2>/dev/null || true; wait "$rie_pid" 2>/dev/null || true' EXIT
url=
for _ in $(seq 1 600); do
    url=$(sed -n 's/.*listening: invoke=\(http[^ ]*\) .*/\1/p' "$log")
    [ -n "$url" ] && break
    sleep 0.1
done
[ -n "$url" ] || { cat "$log"; echo "arm64 smoke: fastric-rie did not start"; exit 1; }
invoke() { curl -s -D "$work/headers" --max-time 120 -d "$1" "$url"; }
check "invoke 1" '{"echo": {"n": 1, "s": "caf\u00e9"}, "machine": "aarch64", "request": 36}' "$(invoke '{"n": 1, "s": "café"}')"
check "invoke 2 (same runtime)" '{"echo": {"n": 2}, "machine": "aarch64", "request": 36}' "$(invoke '{"n": 2}')"
body=$(invoke '{"fail": true}')
check "handler error body" '{"errorMessage": "boom", "errorType": "ValueError", "requestId": "<id>", "stackTrace": ["  File \"'"$task"'/app.py\", line 6, in handler\n    raise ValueError(\"boom\")\n"]}' \
    "$(printf '%s' "$body" | sed -E 's/"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"/"<id>"/')"
check "handler error header" "X-Amz-Function-Error: Unhandled" "$(grep -i '^x-amz-function-error' "$work/headers" | tr -d '\r')"
check "one init for three invokes" "1" "$(grep -c 'Init Duration' "$log")"

echo "arm64 smoke: took $(( $(date +%s) - started )) s"
echo "arm64 smoke: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
