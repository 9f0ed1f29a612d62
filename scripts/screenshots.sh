#!/usr/bin/env bash
# Regenerates screenshots/*.png from the real views (see examples/screenshots.rs):
# buffer -> SVG -> PNG with rsvg-convert (Debian's librsvg2-bin, installed when missing).
#
#     bash scripts/screenshots.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v rsvg-convert >/dev/null; then
  apt-get install -y librsvg2-bin >/dev/null || sudo apt-get install -y librsvg2-bin >/dev/null
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cargo run --quiet --example screenshots -- "$TMP" >/dev/null
mkdir -p screenshots
for f in "$TMP"/*.svg; do
  name=$(basename "$f" .svg)
  rsvg-convert -o "screenshots/$name.png" "$f"
  echo "screenshots/$name.png"
done
