#!/usr/bin/env bash
# Fresnel v2 vs v1 on the same procedural objects (docs/benchmarks.md, "Fresnel v2: … benchmark"):
#   synth (multi-view, 64²) and synth --v2 of the same objects (same seed and --views) → v2 trains on the
#   train+val objects, v1 (the demo configuration of scripts/quality.sh) on the train split → both predict the test
#   objects → `fresnel eval` on their held-out views; plus the target Gaussians (the upper bound of v2 on this data)
#   and the unprojected GT-depth baseline. Defaults: the fifth run of docs/benchmarks.md (v2 pixel-aligned with
#   visibility, 6 epochs; v1 = the demo's model, 30 epochs with --antialias 0.05).
#   usage: scripts/v2_benchmark.sh OUT_DIR [OBJECTS] [V2_EPOCHS] [V1_EPOCHS]
#   Environment: FRESNEL (binary, default build/fresnel); V2_MODEL (reduced model flags), V2_TRAIN (training flags,
#   see below); V1_ANTIALIAS (the demo's 0.05; 0 for the v1 rows of runs 1–4).
# v1 and v2 train at the same time, each with one thread (the two cores of the machine this was measured on).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FRESNEL=${FRESNEL:-$ROOT/build/fresnel}
OUT=${1:?usage: v2_benchmark.sh OUT_DIR [OBJECTS] [V2_EPOCHS] [V1_EPOCHS]}
OBJECTS=${2:-380}
V2_EPOCHS=${3:-6}
V1_EPOCHS=${4:-30}
SEED=17
VIEWS=4
# Other views all around the object (the 360° set of scripts/quality.sh): the backs are what v2 should win.
SPREAD=(--azimuth_range 180 --elevation_range 30)
# Reduced v2 model: the default (hidden 512, 6 blocks, 4000 voxels and 50,000 target Gaussians per sample) takes
# ~73 s and 9.4 GB per 2-sample step on this CPU, i.e. days for 300 objects.
V2_MODEL=${V2_MODEL:---hidden_dim 128 --num_layers 2 --num_gaussians 8 --max_coords 512 --max_gaussians 4096}
# Training flags beyond the original's defaults: a 10× learning rate and colour weight (the colour loss sits at the
# mean-colour plateau for epochs otherwise), empty voxels for the occupancy head, so it can be asked without
# coords.pt (docs/v2.md, "Occupancy without coords"), and pixel-aligned queries with visibility ("Pixel-aligned
# queries"). Earlier runs of docs/benchmarks.md set V2_TRAIN to fewer of these.
V2_TRAIN=${V2_TRAIN:---lr 1e-3 --color_weight 10 --occupancy_negatives 256 --pixel_aligned --pixel_colour_residual --pixel_visibility}
F() { nice -n 10 "$FRESNEL" --threads 1 "$@"; }
T() { /usr/bin/time -v -o "$1" "${@:2}"; }
mkdir -p "$OUT"
stamp() { echo "[$(date -u +%H:%M:%S)] $*"; }

stamp "synth: $OBJECTS objects, seed $SEED, $VIEWS other views"
[ -f "$OUT/mv/dataset.json" ] || F --quiet synth --out "$OUT/mv" --objects "$OBJECTS" --views "$VIEWS" --size 64 \
  --seed "$SEED" "${SPREAD[@]}"
if [ ! -d "$OUT/v2test" ]; then
  F --quiet synth --v2 --out "$OUT/v2all" --objects "$OBJECTS" --views "$VIEWS" --seed "$SEED" "${SPREAD[@]}"
  # The held-out objects of the multi-view split leave the v2 training set.
  mkdir -p "$OUT/v2test.tmp"
  for d in "$OUT"/mv/test/obj_*; do mv "$OUT/v2all/$(basename "$d")" "$OUT/v2test.tmp/"; done
  mv "$OUT/v2test.tmp" "$OUT/v2test"
fi
F v2 check "$OUT/v2all" | tail -1
F v2 check "$OUT/v2test" | tail -1

stamp "training v2 ($V2_EPOCHS epochs) and v1 ($V1_EPOCHS epochs) side by side"
# A model already trained to the last epoch is kept (rerunning the script resumes where it stopped).
[ -f "$OUT/ck_v2/direct_decoder_transformer_epoch$V2_EPOCHS.pt" ] || (T "$OUT/time_v2.txt" nice -n 10 "$FRESNEL" --threads 1 v2 train --data_dir "$OUT/v2all" --output_dir "$OUT/ck_v2" \
  --epochs "$V2_EPOCHS" --batch_size 4 --num_workers 1 --save_interval "$V2_EPOCHS" --seed 7 $V2_MODEL $V2_TRAIN \
  >"$OUT/train_v2.log" 2>&1) &
V2PID=$!
[ -f "$OUT/ck_v1/decoder_exp2_epoch$V1_EPOCHS.pt" ] || (T "$OUT/time_v1.txt" nice -n 10 "$FRESNEL" --threads 1 train --experiment 2 --encoder builtin --pixel_aligned \
  --feature_dim 32 --decoder_hidden 64,64 --gaussians_per_patch 2 --data_dir "$OUT/mv" --output_dir "$OUT/ck_v1" \
  --epochs "$V1_EPOCHS" --image_size 64 --batch_size 4 --novel_view_weight 1 --novel_views 3 --lr 1e-3 \
  --pixel_scale_floor 0.25 --save_interval "$V1_EPOCHS" --seed 7 --antialias "${V1_ANTIALIAS:-0.05}" \
  >"$OUT/train_v1.log" 2>&1) &
V1PID=$!
wait $V2PID
wait $V1PID
stamp "trained"

# Every voxel of every test object (no random subset): --max_coords = the largest voxel count.
MAXV=$(grep -h '"num_voxels"' "$OUT"/v2test/*/metadata.json | tr -dc '0-9\n' | sort -n | tail -1)
NTEST=$(ls -d "$OUT"/v2test/obj_* | wc -l)
CK="$OUT/ck_v2/direct_decoder_transformer_epoch$V2_EPOCHS.pt"
T "$OUT/time_v2_infer.txt" nice -n 10 "$FRESNEL" --threads 1 v2 infer --checkpoint "$CK" --data_dir "$OUT/v2test" --num_samples "$NTEST" \
  --max_coords "$MAXV" --frame camera --output_dir "$OUT/v2pred" >"$OUT/infer_v2.log"
stamp "evaluating"
F eval --data_dir "$OUT/mv" --gaussians "$OUT/v2pred/pred" --out "$OUT/eval-v2" >/dev/null
F eval --data_dir "$OUT/mv" --gaussians "$OUT/v2pred/target" --out "$OUT/eval-v2-target" >/dev/null
F eval --data_dir "$OUT/mv" --checkpoint "$OUT/ck_v1/decoder_exp2_best.pt" --out "$OUT/eval-v1" >/dev/null
F eval --data_dir "$OUT/mv" --baseline unprojected --out "$OUT/eval-unprojected" >/dev/null
# Voxels from the predicted occupancy over the full 64³ grid instead of coords.pt: its agreement with coords.pt on
# 3 test objects (their PLYs, up to ~2 M Gaussians each when most of the grid is predicted occupied, are deleted).
F v2 infer --checkpoint "$CK" --data_dir "$OUT/v2test" --num_samples 3 --coords predicted --max_voxels 262144 \
  --output_dir "$OUT/v2pred_occ" | grep "predicted occupancy" >"$OUT/occupancy_grid.txt"
rm -f "$OUT"/v2pred_occ/*.ply
cat "$OUT/occupancy_grid.txt"
stamp "done"
for e in eval-v2 eval-v2-target eval-v1 eval-unprojected; do
  echo "== $e"
  sed -n '/^| views/,/^$/p;/^| novel views by angle/,/^$/p' "$OUT/$e/report.md"
done
