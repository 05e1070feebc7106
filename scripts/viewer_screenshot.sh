#!/usr/bin/env bash
# Writes the SuperSplat viewer page that PlayCanvas splat-transform makes for a Gaussians file and takes a
# screenshot of it in headless Chromium: how a web viewer frames our files (docs/inference.md, "Frames").
# Not part of `make test`. Needs node/npm (installs @playcanvas/splat-transform and playwright-core into a
# temporary folder) and Debian's chromium (apt-get install chromium).
#   usage: scripts/viewer_screenshot.sh GAUSSIANS.(ply|spz) OUT.png [WAIT_SECONDS]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IN="${1:?usage: viewer_screenshot.sh GAUSSIANS OUT.png [WAIT_SECONDS]}"
OUT="${2:?usage: viewer_screenshot.sh GAUSSIANS OUT.png [WAIT_SECONDS]}"
WAIT="${3:-20}"
CHROMIUM="${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}"
[ -n "$CHROMIUM" ] || { echo "viewer_screenshot: chromium not found (apt-get install chromium)" >&2; exit 1; }
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
npm install --prefix "$WORK/npm" --no-audit --no-fund --silent \
  "@playcanvas/splat-transform@${SPLAT_TRANSFORM_VERSION:-3.7.0}" "playwright-core@${PLAYWRIGHT_VERSION:-1.65.1}" >/dev/null
cp "$ROOT/scripts/interop/viewer_screenshot.mjs" "$WORK/npm/"
# A PLY goes in as it is; the page is one self-contained HTML file (SOG-compressed splats inside).
"$WORK/npm/node_modules/.bin/splat-transform" -q -w -g cpu "$IN" "$WORK/page.html"
node "$WORK/npm/viewer_screenshot.mjs" "$WORK/page.html" "$(realpath -m "$OUT")" "$CHROMIUM" "$((WAIT * 1000))"
echo "wrote $OUT"
