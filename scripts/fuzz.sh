#!/usr/bin/env bash
# Builds every libFuzzer target (fuzz/fuzz_*.cpp) with clang in its own build directory and runs each for
# SECONDS seconds (default 60), seeded from fuzz/corpus/<name>/. A crash stops the script with a non-zero
# exit and leaves the input in build-fuzz/artifacts/. Not part of `make test`.
#   usage: scripts/fuzz.sh [SECONDS]        (make fuzz FUZZ_SECONDS=10)
set -euo pipefail
SECONDS_PER_TARGET="${1:-60}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${FUZZ_BUILD_DIR:-$ROOT/build-fuzz}"

if ! command -v clang++ >/dev/null 2>&1; then
  echo "fuzz: clang++ not found; installing clang (libFuzzer ships with it)"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends clang
fi

cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DFRESNEL_BUILD_FUZZ=ON -DFRESNEL_BUILD_TESTS=OFF -DFRESNEL_BUILD_BENCH=OFF -DFRESNEL_BUILD_VIEWER=OFF >/dev/null
cmake --build "$BUILD" --target fuzz_targets -j "$(nproc)"

mkdir -p "$BUILD/artifacts"
ran=0
for exe in "$BUILD"/fuzz/fuzz_*; do
  [ -f "$exe" ] && [ -x "$exe" ] || continue
  name="$(basename "$exe")"
  short="${name#fuzz_}"
  corpus="$BUILD/corpus/$short"
  mkdir -p "$corpus"
  dirs=("$corpus")
  if [ -d "$ROOT/fuzz/corpus/$short" ]; then dirs+=("$ROOT/fuzz/corpus/$short"); fi
  echo "fuzz: running $name for ${SECONDS_PER_TARGET}s"
  set +e
  "$exe" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$BUILD/artifacts/$name-" "${dirs[@]}" 2>&1 | tail -n 40
  status=${PIPESTATUS[0]}
  set -e
  if [ "$status" -ne 0 ]; then
    echo "fuzz: $name FAILED (exit $status); reproducer in $BUILD/artifacts/" >&2
    exit "$status"
  fi
  ran=$((ran + 1))
done
if [ "$ran" -eq 0 ]; then
  echo "fuzz: no fuzz targets were built" >&2
  exit 1
fi
echo "fuzz: $ran targets ran ${SECONDS_PER_TARGET}s each without a crash"
