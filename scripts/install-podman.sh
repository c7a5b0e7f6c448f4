#!/usr/bin/env bash
# Install what the container deploy needs from Debian when missing: podman with runc, skopeo,
# debootstrap (the local base image), docker-registry (a local registry), awscli and catatonit (the
# pause process of `podman kube play`'s pods); then make
# podman use runc and cgroupfs (crun fails on this host's hybrid cgroups).
# Idempotent. Needs root (or sudo) and Debian's apt mirror.
set -euo pipefail

PACKAGES=(podman runc skopeo debootstrap docker-registry awscli containernetworking-plugins catatonit)
CONF=/etc/containers/containers.conf

sudo=""
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "install-podman.sh: needs root or sudo to apt-get install ${PACKAGES[*]}" >&2; exit 1; }
    sudo="sudo"
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    # The package lists may be empty on a fresh machine: refresh them only when apt cannot see podman.
    if ! apt-cache show podman >/dev/null 2>&1; then
        $sudo apt-get update -qq
    fi
    # apt's lock may be held by another install beside this one (other tests' scripts): wait for it.
    $sudo apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends "${missing[@]}"
    # The package starts a registry on :5000 for every address; tests start their own on loopback.
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet docker-registry 2>/dev/null; then
        $sudo systemctl disable --now docker-registry || true
    fi
fi

if ! grep -qs '^runtime = "runc"' "$CONF"; then
    $sudo mkdir -p "$(dirname "$CONF")"
    $sudo tee "$CONF" >/dev/null <<'CONFEOF'
# Written by scripts/install-podman.sh: crun fails on this host's hybrid cgroups; runc works.
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONFEOF
fi

command -v podman >/dev/null && command -v skopeo >/dev/null && [ -x /usr/bin/aws ]
