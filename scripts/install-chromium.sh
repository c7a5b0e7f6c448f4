#!/usr/bin/env bash
# Install Debian's chromium and chromium-driver (headless browser tests of the docs) when missing.
# Idempotent: does nothing when both are installed. Needs root (or sudo) and Debian's apt mirror.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    exit 0
fi

sudo=""
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "install-chromium.sh: needs root or sudo to apt-get install chromium" >&2; exit 1; }
    sudo="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
# The package lists may be empty on a fresh machine: refresh them only when apt cannot see chromium.
if ! apt-cache show chromium-driver >/dev/null 2>&1; then
    $sudo apt-get update -qq
fi
# apt's lock may be held by another install running beside this one (other tests' scripts):
# wait for it rather than fail.
$sudo apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends chromium chromium-driver
command -v chromium >/dev/null && command -v chromedriver >/dev/null
