#!/usr/bin/env bash
# Build the container base image `localbase:bookworm` without pulling from the internet:
# debootstrap a minimal Debian bookworm with its python3 (3.11, the lock's Python), add uv
# (the Bento's Dockerfile installs packages with it), and `podman import` the tree.
# Skips the work when the image exists. Usage: [CONTAINER_BACKEND=podman|docker] scripts/base-image.sh [IMAGE]
set -euo pipefail

IMAGE="${1:-localbase:bookworm}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
ROOT_DIR="$(cd "$(dirname "$0")/.." && pwd)"
UV_BIN="${UV_BIN:-$ROOT_DIR/.venv/bin/uv}"
BACKEND="${CONTAINER_BACKEND:-podman}"

if "$BACKEND" image inspect "$IMAGE" >/dev/null 2>&1; then
    exit 0
fi
command -v debootstrap >/dev/null || { echo "base-image.sh: debootstrap is missing; run scripts/install-podman.sh" >&2; exit 1; }
[ -x "$UV_BIN" ] || { echo "base-image.sh: no uv at $UV_BIN (make init installs the locked environment)" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "base-image.sh: debootstrap bookworm (minbase + python3) into $work/rootfs"
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$work/rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; echo "base-image.sh: debootstrap failed" >&2; exit 1; }
install -m 0755 "$UV_BIN" "$work/rootfs/usr/local/bin/uv"
# Package caches and lists are dead weight in every image built on this one.
rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
tar -C "$work/rootfs" -c . | "$BACKEND" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' --change 'CMD ["/bin/bash"]' - "$IMAGE" >"$work/import.log" 2>&1 \
    || { cat "$work/import.log" >&2; echo "base-image.sh: $BACKEND import failed" >&2; exit 1; }
echo "base-image.sh: built $IMAGE"
