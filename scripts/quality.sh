#!/usr/bin/env bash
# The "Quality" protocol of docs/benchmarks.md (issue 18), outside `make test`: the demo's model configuration on a
# `fresnel synth` set, scored on its held-out test split
#   - image-only model vs the GT-depth unprojected baseline: input/novel PSNR/SSIM, novel views by angle bin,
#     depth AbsRel/δ1 (depth head and rendered);
#   - anti-aliasing: the model (trained with --antialias, ANTIALIAS=0.05 by default, as the demo) rendered natively at
#     1×, 2×, 4× against `synth` ground truth at that size (same seed), next to its 1× render upsampled bilinearly
#     (--render_scale);
#   - the same on a 360° set (--azimuth_range 180).
#   usage: scripts/quality.sh OUT_DIR [OBJECTS] [EPOCHS]     (FRESNEL=path/to/fresnel; THREADS, default 1)
set -euo pipefail
OUT=${1:?usage: quality.sh OUT_DIR [OBJECTS] [EPOCHS]}
OBJECTS=${2:-320}
EPOCHS=${3:-30}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
F="${FRESNEL:-$ROOT/build/fresnel} --threads ${THREADS:-1}"
SEED=${SEED:-7}
mkdir -p "$OUT"

train() {  # data_dir out_dir: the demo's default configuration (scripts/demo.sh)
  $F train --experiment 2 --encoder builtin --pixel_aligned --feature_dim 32 --decoder_hidden 64,64 \
    --gaussians_per_patch 2 --data_dir "$1" --output_dir "$2" --epochs "$EPOCHS" --image_size 64 --batch_size 4 \
    --novel_view_weight 1 --novel_views 3 --lr 1e-3 --pixel_scale_floor 0.25 --save_interval "$EPOCHS" --seed 7 \
    --antialias "${ANTIALIAS:-0.05}"
}

for set in front 360; do
  spread=""
  [ "$set" = 360 ] && spread="--azimuth_range 180 --elevation_range 30"
  for size in 64 128 256; do
    [ "$set" = 360 ] && [ "$size" != 64 ] && continue
    [ -f "$OUT/$set-$size/dataset.json" ] || \
      $F --quiet synth --out "$OUT/$set-$size" --objects "$OBJECTS" --views 4 --size "$size" --seed "$SEED" $spread
  done
  [ -f "$OUT/ck-$set/decoder_exp2_best.pt" ] || train "$OUT/$set-64" "$OUT/ck-$set"
  CK="$OUT/ck-$set/decoder_exp2_best.pt"
  $F eval --data_dir "$OUT/$set-64" --checkpoint "$CK" --out "$OUT/eval-$set-model"
  $F eval --data_dir "$OUT/$set-64" --baseline unprojected --out "$OUT/eval-$set-baseline"
  [ "$set" = 360 ] && continue
  # Anti-aliasing: Gaussians inferred from the 64² test images (the model applies its own filters; infer records its
  # screen filter in each cameras.json, eval renders with it) at 1x/2x/4x, natively and as the 1x render upsampled.
  $F --quiet infer "$OUT/$set-64"/images_test/*.png --checkpoint "$CK" -o "$OUT/g-$set"
  for size in 64 128 256; do
    $F eval --data_dir "$OUT/$set-$size" --gaussians "$OUT/g-$set" --views all --out "$OUT/eval-aa-$size"
  done
  for size in 128 256; do  # the 1x render upsampled bilinearly
    $F eval --data_dir "$OUT/$set-$size" --gaussians "$OUT/g-$set" --render_scale "$(echo "64/$size" | bc -l)" \
      --out "$OUT/eval-upsampled-$size"
  done
done
python3 - "$OUT" <<'PY'
import glob, json, sys
for path in sorted(glob.glob(sys.argv[1] + "/eval-*/report.json")):
    m = json.load(open(path))["metrics"]
    f = lambda v: "n/a" if v is None else f"{v:.2f}"
    bins = " ".join(f(b["psnr"]) + f"({b['views']})" for b in m["novel_by_angle"])
    d = lambda k: f"AbsRel {m[k]['abs_rel']:.3f} d1 {m[k]['delta1']:.3f}" if m[k]["objects"] else "-"
    print(f"{path.split('/')[-2]:28s} input {f(m['input']['psnr'])}/{f(m['input']['ssim'])} "
          f"novel {f(m['novel']['psnr'])}/{f(m['novel']['ssim'])} | bins {bins} | head {d('depth_head')} | render {d('depth_render')}")
PY
