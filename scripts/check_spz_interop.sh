#!/usr/bin/env bash
# Checks .spz interoperability with PlayCanvas splat-transform (npm @playcanvas/splat-transform), outside
# `make test` (it needs node/npm and the npm registry):
#   1. splat-transform reads our .spz (v3 and v4) and decodes the values we decode;
#   2. we read splat-transform's .spz (v3 and v4) and decode the values it decodes.
# Values are compared as CSV (splat-transform's .csv writer, PLY conventions) Gaussian by Gaussian; see
# scripts/interop/spz_compare.mjs for the tolerances and the axis map.
#   usage: scripts/check_spz_interop.sh [FRESNEL_BINARY]     (default build/fresnel)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FRESNEL="${1:-$ROOT/build/fresnel}"
VERSION="${SPLAT_TRANSFORM_VERSION:-3.7.0}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
command -v node >/dev/null || { echo "check_spz_interop: node is required" >&2; exit 1; }
[ -x "$FRESNEL" ] || { echo "check_spz_interop: $FRESNEL not built (cmake --build build --target fresnel)" >&2; exit 1; }

npm install --prefix "$WORK/npm" --no-audit --no-fund --silent "@playcanvas/splat-transform@$VERSION" >/dev/null
ST="$WORK/npm/node_modules/.bin/splat-transform"
CMP="node $ROOT/scripts/interop/spz_compare.mjs"
echo "splat-transform $("$ST" -v 2>/dev/null | head -1)"

cd "$WORK"
$CMP make-ply in.ply 2000
status=0
for v in 3 4; do
  echo "== fresnel writes .spz v$v, splat-transform reads it"
  "$FRESNEL" convert --spz_version "$v" in.ply "ours_v$v.spz" >/dev/null
  "$ST" -q -w "ours_v$v.spz" "st_reads_ours_v$v.csv"
  "$FRESNEL" convert "ours_v$v.spz" "we_read_ours_v$v.ply" >/dev/null
  "$ST" -q -w "we_read_ours_v$v.ply" "we_read_ours_v$v.csv"
  $CMP compare "we_read_ours_v$v.csv" "st_reads_ours_v$v.csv" || status=1

  echo "== splat-transform writes .spz v$v, fresnel reads it"
  "$ST" -q -w --spz-version "$v" in.ply "st_v$v.spz"
  "$ST" -q -w "st_v$v.spz" "st_reads_st_v$v.csv"
  "$FRESNEL" convert "st_v$v.spz" "we_read_st_v$v.ply" >/dev/null
  "$ST" -q -w "we_read_st_v$v.ply" "we_read_st_v$v.csv"
  $CMP compare "we_read_st_v$v.csv" "st_reads_st_v$v.csv" || status=1
done
exit $status
