#!/usr/bin/env bash
# Fetch the JavaScript that `make docs` needs to render diagrams and formulas offline, from the
# npm registry, into docs/vendor/ with their licences. Run it to update the pinned versions;
# the result is committed so that building the docs needs no network.
#   scripts/vendor-docs-assets.sh                      # the pinned versions below
#   MERMAID_VERSION=11.17.2 scripts/vendor-docs-assets.sh
set -euo pipefail

MERMAID_VERSION="${MERMAID_VERSION:-11.17.2}"
MATHJAX_VERSION="${MATHJAX_VERSION:-3.2.2}"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
vendor="$root/docs/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

command -v npm >/dev/null || { echo "npm is needed to fetch the docs assets (apt-get install npm)" >&2; exit 1; }

fetch() {  # fetch NAME VERSION: unpack the package's tarball into $work/NAME
    local name="$1" version="$2" tarball
    tarball="$(cd "$work" && npm pack --silent "$name@$version")"
    mkdir -p "$work/$name"
    tar -xzf "$work/$tarball" -C "$work/$name" --strip-components=1
}

fetch mermaid "$MERMAID_VERSION"
fetch mathjax "$MATHJAX_VERSION"

rm -rf "$vendor/mermaid" "$vendor/mathjax"
mkdir -p "$vendor/mermaid" "$vendor/mathjax"
# mermaid.min.js is the one-file (UMD) build: a classic <script> works over file://, unlike the
# ES-module build that pdoc's default template imports from a CDN.
cp "$work/mermaid/dist/mermaid.min.js" "$work/mermaid/LICENSE" "$vendor/mermaid/"
# tex-svg.js draws formulas as SVG: one file and no web fonts, which Chromium refuses to load
# from file:// pages (the CHTML output of pdoc's default needs them).
cp "$work/mathjax/es5/tex-svg.js" "$work/mathjax/LICENSE" "$vendor/mathjax/"
printf 'mermaid %s (npm, MIT): dist/mermaid.min.js\nmathjax %s (npm, Apache-2.0): es5/tex-svg.js\n' \
    "$MERMAID_VERSION" "$MATHJAX_VERSION" >"$vendor/VERSIONS"
echo "vendored into $vendor:"
cat "$vendor/VERSIONS"
