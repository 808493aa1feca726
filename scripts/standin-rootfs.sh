#!/usr/bin/env bash
# A Debian root filesystem made with debootstrap, imported into podman as a base image, for the image
# tests (make test-image) and the Python 3.14 wheel test (make test-wheels): AWS's base images cannot
# be pulled here, so the stand-ins in docker/standin/ are built FROM these.
#
# Usage: scripts/standin-rootfs.sh SUITE PACKAGE[,PACKAGE...]
#   e.g.  scripts/standin-rootfs.sh bookworm python3.11,python3.11-venv,python3-distutils
# (debootstrap resolves no virtual packages: name what a package provides for, as python3-distutils)
# Prints the image reference, localhost/fastric-rootfs-SUITE:KEY, where KEY is a hash of the suite,
# the package list and this script; the root tree stays in ${FASTRIC_CACHE:-~/.cache/fastric}/
# rootfs-SUITE-KEY/root (outside the clone; a new package list or a change here makes a new key), and
# the import is skipped when podman already has the image.
# Needs root, debootstrap and podman (scripts/install-podman.sh installs them); debootstrap uses its
# default Debian mirror. Exit status: debootstrap's or podman's on failure.
set -euo pipefail
suite=$1
packages=$2
cache=${FASTRIC_CACHE:-$HOME/.cache/fastric}
key=$( (echo "$suite $packages"; cat "$0") | sha256sum | cut -c1-12)
image=localhost/fastric-rootfs-$suite:$key
dir=$cache/rootfs-$suite-$key
if [ ! -f "$dir/complete" ]; then
    rm -rf "$dir"
    mkdir -p "$dir"
    echo "standin-rootfs.sh: debootstrap $suite (+ $packages) into $dir" >&2
    debootstrap --variant=minbase --include="$packages" "$suite" "$dir/root" >"$dir/log" 2>&1 || {
        tail -n 20 "$dir/log" "$dir/root/debootstrap/debootstrap.log" >&2 2>/dev/null
        exit 1
    }
    # apt lists and caches are not needed in an image
    rm -rf "$dir"/root/var/lib/apt/lists/* "$dir"/root/var/cache/apt/*.bin "$dir"/root/var/cache/apt/archives/*.deb
    touch "$dir/complete"
fi
if ! podman image exists "$image"; then
    tar -C "$dir/root" --numeric-owner -c . | podman import --quiet - "$image" >/dev/null
fi
echo "$image"
