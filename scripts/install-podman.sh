#!/usr/bin/env bash
# Installs what the podman-based tests need from Debian's packages, when it is missing: podman, runc
# (crun, podman's default, fails on this machine's cgroups) and debootstrap (the stand-in base
# images, scripts/standin-rootfs.sh). Needs root (CI and the development machines run as root).
# Prints nothing when all three are present.
set -euo pipefail
missing=()
for tool in podman:podman runc:runc debootstrap:debootstrap; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool#*:}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-podman.sh: apt-get install ${missing[*]}" >&2
apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
