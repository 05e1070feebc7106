#!/usr/bin/env bash
# Makes the legacy checkpoints with the fresnel binary of commit 4e8c1fe (before the training loop refactor).
set -euo pipefail
F=${1:-/work/main/build/fresnel}
OUT=${2:-/tmp/golden/out}
rm -rf "$OUT"; mkdir -p "$OUT"
"$F" --threads 2 --quiet synth --out "$OUT/data" --objects 6 --views 2 --size 32 --seed 3
"$F" --threads 2 train --experiment 2 --encoder builtin --pixel_aligned --feature_dim 8 --decoder_hidden 16 \
  --gaussians_per_patch 2 --image_size 32 --epochs 2 --batch_size 2 --data_dir "$OUT/data" --output_dir "$OUT/exp2" \
  --seed 1 --num_workers 1 --lr 1e-3
"$F" --threads 2 train --experiment 1 --encoder builtin --feature_dim 8 --decoder_hidden 16 --saag_subsample 4 \
  --image_size 32 --epochs 2 --batch_size 2 --data_dir "$OUT/data" --output_dir "$OUT/exp1" --seed 1 --num_workers 1 --lr 1e-3
ls "$OUT/data"
