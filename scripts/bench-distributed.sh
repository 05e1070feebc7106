#!/usr/bin/env bash
# Data-parallel throughput on this machine (docs/benchmarks.md, "Data-parallel training"): the same training (the
# default experiment-2 model with the built-in encoder, global batch 4) as 1 process × 2 threads and as
# 2 processes × 1 thread (`fresnel launch`), measured alternately ROUNDS times in one window so that load from
# other users hits both alike. Prints one line per run: configuration, samples/s of the training epochs after the
# first, and for 2 processes the gradient all-reduce time per step (it includes waiting for the slower rank).
# Usage: scripts/bench-distributed.sh [FRESNEL] [ROUNDS] [CONFIGS]   CONFIGS default "1x2 2x1" (processes x threads;
# 1x1 is the single-thread baseline of the scaling efficiency).
set -euo pipefail
F=${1:-build/fresnel}
ROUNDS=${2:-3}
CONFIGS=${3:-1x2 2x1}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
"$F" --quiet synth --out "$W/d" --objects 32 --views 2 --size 64 --seed 1 --split 1,0,0 --aa 1 >/dev/null
TRAIN=(train --experiment 2 --encoder builtin --data_dir "$W/d" --image_size 64 --epochs 2 --num_workers 1
       --save_interval 0 --lr 1e-4)
samples_per_s() {  # log, samples per epoch: mean over the epochs after the first (warm-up)
  grep -Eo 'epoch [0-9]+/[0-9]+: loss .*, [0-9.e+-]+ s,' "$1" | grep -v '^epoch 1/' |
    sed -E 's/.*, ([0-9.e+-]+) s,$/\1/' | awk -v n="$2" '{ t += $1; k++ } END { printf "%.2f", n * k / t }'
}
echo "date: $(date -u +%FT%TZ), load: $(cut -d' ' -f1-3 /proc/loadavg), cores: $(nproc)"
for r in $(seq 1 "$ROUNDS"); do
  for c in $CONFIGS; do
    p=${c%x*} t=${c#*x}
    if [ "$p" = 1 ]; then
      "$F" --threads "$t" "${TRAIN[@]}" --batch_size 4 --output_dir "$W/$c-$r" >"$W/$c-$r.log" 2>&1
      echo "round $r  1 process  x $t thread(s): $(samples_per_s "$W/$c-$r.log" 32) samples/s"
    else
      "$F" --threads $((p * t)) launch --nproc_per_node "$p" -- "${TRAIN[@]}" --batch_size $((4 / p)) \
        --output_dir "$W/$c-$r" >"$W/$c-$r.log" 2>&1
      echo "round $r  $p processes x $t thread(s): $(samples_per_s "$W/$c-$r.log" 32) samples/s;" \
        "$(grep -Eo '[0-9]+ gradient all-reduces of [0-9.]+ MB, mean [0-9.]+ ms' "$W/$c-$r.log")"
    fi
  done
done
