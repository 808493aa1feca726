#!/usr/bin/env bash
# Build fastric's release wheels (manylinux_2_17, i.e. manylinux2014: glibc >= 2.17, so they install
# on Lambda's Amazon Linux 2 (glibc 2.26) and Amazon Linux 2023 (glibc 2.34)), then print
# `auditwheel show` for each.
#
# Usage: scripts/build-wheels.sh [--arch x86_64|aarch64] [--out DIR] [--all-pythons] [PYTHON...]
#   --arch x86_64   (default) native build; glibc symbol versions are held to 2.17 by linking with
#                   zig (`maturin --zig`, the `ziglang` package from requirements-dev.txt).
#   --arch aarch64  cross build with Debian's Rust (rustc-web as RUSTC, libstd-rust-web-dev:arm64 for
#                   the aarch64 std) linked by zig (Debian's aarch64 gcc links against glibc 2.36
#                   symbols and fails the manylinux check) for the arm64 CPython 3.11 unpacked into
#                   $FASTRIC_ARM64_SYSROOT (default target/arm64/sysroot); scripts/arm64-smoke.sh
#                   installs all of that first.
#   --out DIR       where the wheels go (default dist/).
#   --all-pythons   every CPython 3.10-3.14 found on PATH or under ~/.pyenv/versions (x86_64 only).
#   PYTHON...       interpreters to build for (default: $PYTHON, else python3).
# One wheel per Python version (cp310 ... cp314), not abi3: docs/DEPLOY.md has the measurement.
# Each wheel also carries the native `fastric-rie` executable (cargo-zigbuild, same glibc floor).
# Needs maturin, ziglang and auditwheel on PATH / importable (the .venv from `make install`).
# Exit status: maturin's, or 1 when a wheel fails `auditwheel show`.
set -euo pipefail
cd "$(dirname "$0")/.."
arch=x86_64
out=dist
all=0
pythons=()
while [ $# -gt 0 ]; do
    case "$1" in
        --arch) arch=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --all-pythons) all=1; shift ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) pythons+=("$1"); shift ;;
    esac
done
export CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-1}
mkdir -p "$out"
started=$(date +%s)

case "$arch" in
x86_64)
    if [ "$all" = 1 ]; then
        for v in 3.10 3.11 3.12 3.13 3.14; do
            found=$(command -v "python$v" || ls -d "$HOME"/.pyenv/versions/"$v".*/bin/"python$v" 2>/dev/null | tail -n 1 || true)
            [ -n "$found" ] && pythons+=("$found")
        done
    fi
    [ ${#pythons[@]} -eq 0 ] && pythons=("${PYTHON:-python3}")
    args=()
    for p in "${pythons[@]}"; do args+=(-i "$p"); done
    maturin build --release --strip --locked --compatibility manylinux2014 --zig "${args[@]}" --out "$out"
    CARGO_PROFILE_RELEASE_STRIP=symbols cargo zigbuild --release --locked -p fastric-rie \
        --target x86_64-unknown-linux-gnu.2.17
    rie_bin=target/x86_64-unknown-linux-gnu/release/fastric-rie
    pattern='*manylinux*x86_64.whl'
    ;;
aarch64)
    sysroot=$(realpath "${FASTRIC_ARM64_SYSROOT:-target/arm64/sysroot}")
    if [ ! -x /usr/bin/rustc ] || [ ! -d /usr/lib/rustlib/aarch64-unknown-linux-gnu ] || [ ! -f "$sysroot/usr/bin/python3.11" ]; then
        echo "build-wheels.sh: the arm64 cross toolchain or sysroot is missing; run scripts/arm64-smoke.sh (it installs them)" >&2
        exit 2
    fi
    # Debian's rustc (with the arm64 std) under a separate target dir, so that the rustup
    # toolchain's x86_64 build artefacts are not invalidated.
    RUSTC=/usr/bin/rustc \
    CARGO_TARGET_DIR=target/arm64-cross \
    PYO3_CROSS_LIB_DIR="$sysroot/usr/lib/python3.11" \
        maturin build --release --strip --locked --compatibility manylinux2014 \
        --zig --target aarch64-unknown-linux-gnu -i python3.11 --out "$out"
    RUSTC=/usr/bin/rustc CARGO_TARGET_DIR=target/arm64-cross CARGO_PROFILE_RELEASE_STRIP=symbols \
        cargo zigbuild --release --locked -p fastric-rie --target aarch64-unknown-linux-gnu.2.17
    rie_bin=target/arm64-cross/aarch64-unknown-linux-gnu/release/fastric-rie
    pattern='*manylinux*aarch64.whl'
    ;;
*) echo "build-wheels.sh: unknown --arch $arch" >&2; exit 2 ;;
esac

status=0
for wheel in $(find "$out" -maxdepth 1 -name "$pattern" -newermt "@$started"); do
    # The native fastric-rie (rust/rie_bin: no interpreter, no libpython; zig-linked for glibc 2.17 as
    # the extension is) goes in as a data script, installed next to the interpreter.
    python3 scripts/add-wheel-script.py "$wheel" "$rie_bin"
    auditwheel show "$wheel" || status=1
    ls -l "$wheel"
done
echo "build-wheels.sh: $arch wheels built in $(( $(date +%s) - started )) s"
exit $status
