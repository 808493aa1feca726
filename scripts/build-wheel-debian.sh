#!/usr/bin/env bash
# Build the manylinux2014 wheel for a CPython that this machine lacks but a Debian release ships
# (3.14: Debian testing, "forky"), for the per-version wheel tests (make test-wheels).
#
# Usage: scripts/build-wheel-debian.sh [--out DIR] SUITE VERSION     e.g. testing 3.14
# The interpreter comes from a debootstrap root filesystem (scripts/standin-rootfs.sh, cached under
# ~/.cache/fastric; the same tree is the podman image the wheel is then tested in). It needs a newer
# glibc than this machine's, so it runs here through the root filesystem's own dynamic loader (the
# wrapper <cache>/bin/pythonVERSION that this script writes), which is how maturin reads its tags.
# PyO3's build script would run the unwrapped binary, so it gets the interpreter's configuration as a
# PYO3_CONFIG_FILE instead, written from what the interpreter reports. Then scripts/build-wheels.sh.
# Prints the wrapper's path on the last line.
set -euo pipefail
cd "$(dirname "$0")/.."
out=dist
[ "${1:-}" = --out ] && { out=$2; shift 2; }
suite=$1
version=$2
image=$(scripts/standin-rootfs.sh "$suite" "python$version,python$version-venv")
key=${image##*:}
dir=${FASTRIC_CACHE:-$HOME/.cache/fastric}/rootfs-$suite-$key
root=$dir/root
mkdir -p "$dir/bin"
wrapper=$dir/bin/python$version
cat >"$wrapper" <<WRAP
#!/bin/sh
exec "$root/lib64/ld-linux-x86-64.so.2" --library-path "$root/lib/x86_64-linux-gnu:$root/usr/lib/x86_64-linux-gnu" "$root/usr/bin/python$version" "\$@"
WRAP
chmod 755 "$wrapper"
"$wrapper" - >"$dir/pyo3-config.txt" <<'PY'
import sys, sysconfig
v = sysconfig.get_config_var
print("implementation=CPython")
print("version=%d.%d" % sys.version_info[:2])
print("shared=%s" % ("true" if v("Py_ENABLE_SHARED") else "false"))
print("abi3=false")
print("lib_name=python%d.%d%s" % (*sys.version_info[:2], sys.abiflags))
print("pointer_width=%d" % (8 * v("SIZEOF_VOID_P")))
print("build_flags=%s" % ("Py_GIL_DISABLED" if v("Py_GIL_DISABLED") else ""))
print("suppress_build_script_link_lines=false")
PY
PYO3_CONFIG_FILE=$dir/pyo3-config.txt scripts/build-wheels.sh --out "$out" "$wrapper" >&2
echo "$wrapper"
