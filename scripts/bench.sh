#!/usr/bin/env bash
# Benchmarks: `make bench` runs this after building. Prints JSON from `fresnel bench render` and the Google
# Benchmark programs' tables. BUILD_DIR selects the build (default build/).
set -euo pipefail
BUILD_DIR=${BUILD_DIR:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
echo "== fresnel bench render ($(nproc) cores, $(date -u +%FT%TZ))"
"$BUILD_DIR/fresnel" bench render --reps 5
for prog in "$BUILD_DIR"/bench/bench_*; do
  [ -x "$prog" ] || continue
  echo "== $(basename "$prog")"
  "$prog" --benchmark_min_time=0.5
done
