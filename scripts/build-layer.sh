#!/usr/bin/env bash
# Build the fastric Lambda layer zip from the wheels in dist/ (scripts/build-wheels.sh).
#
# Usage: scripts/build-layer.sh [--arch x86_64|aarch64] [--dist DIR] [--out ZIP]
# Default output: dist/fastric-layer-<version>-<arch>.zip. Layout (Lambda unpacks a layer into /opt):
#   bootstrap                 custom runtime entry (provided.al2023 / provided.al2), mode 755
#   fastric-exec-wrapper      AWS_LAMBDA_EXEC_WRAPPER target for the managed python3.x runtimes, mode 755
#   python/fastric/...        the package; one _fastric.cpython-3XX-<arch>-linux-gnu.so per wheel found,
#                             so one layer serves every Python version that a wheel was built for
#   python/snapshot_restore_py.py, python/*.dist-info
# /opt/python is on sys.path in Lambda's managed Python runtimes; bootstrap and the wrapper also put
# it on PYTHONPATH. The wheel's scripts (the native fastric-rie) are left out: the emulator is not used on Lambda.
# Needs python3 with pip (for the pure-Python dependency snapshot-restore-py, from PyPI or a pip cache).
set -euo pipefail
cd "$(dirname "$0")/.."
arch=x86_64
dist=dist
out=
while [ $# -gt 0 ]; do
    case "$1" in
        --arch) arch=$2; shift 2 ;;
        --dist) dist=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "build-layer.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
shopt -s nullglob
wheels=("$dist"/fastric-*-cp3*-manylinux*_"$arch".whl)
if [ ${#wheels[@]} -eq 0 ]; then
    echo "build-layer.sh: no $arch wheel in $dist/; run make wheel (or scripts/build-wheels.sh --arch $arch)" >&2
    exit 2
fi
version=$(basename "${wheels[0]}" | cut -d- -f2)
out=${out:-$dist/fastric-layer-$version-$arch.zip}
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
PY=${PYTHON:-python3}
for wheel in "${wheels[@]}"; do
    # Unpacking a wheel is installing it (pure files + the .so); later wheels add their own .so.
    "$PY" -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$wheel" "$stage/python"
done
PIP_ROOT_USER_ACTION=ignore "$PY" -m pip install -q --disable-pip-version-check --no-deps --no-compile --target "$stage/python" snapshot-restore-py==1.0.0
rm -rf "$stage/python/bin" "$stage/python"/fastric-*.data  # the native fastric-rie is for local runs only
install -m 755 bootstrap/bootstrap bootstrap/fastric-exec-wrapper "$stage/"
# Deterministic zip: sorted entries, fixed timestamps, unix modes kept (Lambda honours them).
"$PY" - "$stage" "$out" <<'PY'
import os, sys, zipfile

stage, out = sys.argv[1], sys.argv[2]
paths = []
for dirpath, dirnames, filenames in os.walk(stage):
    dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
    paths += [os.path.join(dirpath, f) for f in filenames]
with zipfile.ZipFile(out + ".tmp", "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
    for path in sorted(paths):
        info = zipfile.ZipInfo(os.path.relpath(path, stage), date_time=(1980, 1, 1, 0, 0, 0))
        mode = 0o755 if os.access(path, os.X_OK) and not path.endswith((".py", ".pyi")) else 0o644
        info.external_attr = (0o100000 | mode) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        with open(path, "rb") as f:
            z.writestr(info, f.read())
os.replace(out + ".tmp", out)
PY
ls -l "$out"
