#!/usr/bin/env bash
# Stand-in for scripts/trellis_worker.py in tests of `fresnel v2 generate` (same arguments and outputs, no TRELLIS):
# for each listed image it writes the sample folder through a temporary folder. An image whose name contains
# "crash" makes it exit 3 before writing anything; "crashonce" only the first time (a marker in the output folder).
# Every start is appended to <output_dir>/_starts.log so tests can count worker restarts.
set -euo pipefail
while [ $# -gt 0 ]; do
  case "$1" in
    --images) LIST=$2; shift 2 ;;
    --output_dir) OUT=$2; shift 2 ;;
    --num_steps|--seed) shift 2 ;;
    *) echo "stand-in worker: unknown argument $1" >&2; exit 2 ;;
  esac
done
echo start >>"$OUT/_starts.log"
while IFS= read -r image; do
  name=$(basename "$image"); stem=${name%.*}
  case "$name" in
    *crashonce*) if [ ! -e "$OUT/.crashed_$stem" ]; then touch "$OUT/.crashed_$stem"; exit 3; fi ;;
    *crash*) exit 3 ;;
  esac
  tmp="$OUT/$stem.tmp"; rm -rf "$tmp"; mkdir -p "$tmp"
  cp "$image" "$tmp/image.png"
  for f in features.pt coords.pt slat.pt gaussians.ply; do echo "$stem" >"$tmp/$f"; done
  echo '{}' >"$tmp/metadata.json"
  rm -rf "$OUT/$stem"; mv "$tmp" "$OUT/$stem"
done <"$LIST"
