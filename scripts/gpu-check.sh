#!/usr/bin/env bash
# scripts/gpu-check.sh [LIBTORCH]: everything that needs an NVIDIA GPU, in one command, ending in one table.
#   1. builds fresnel against a CUDA libtorch: LIBTORCH (an unzipped libtorch-*-cu*.zip or any folder with
#      share/cmake/Torch), else $TORCH_CUDA_DIR, else the `torch` of `python3` (a pip wheel with CUDA);
#   2. runs the CUDA parity tests (CUDA kernels against the CPU kernels, forward and gradients) and the tests
#      of --device / distributed;
#   3. `fresnel bench render --device cuda` against the same cases on the CPU;
#   4. a short training run on the GPU, and two ranks on the GPU (NCCL with two GPUs, else Gloo staging).
# Environment: BUILD_DIR (default build-gpu), JOBS (default all cores), CUDA_ARCH (default: native).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build-gpu}
JOBS=${JOBS:-$(nproc)}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
declare -a ROWS=()
row() { ROWS+=("$(printf '| %-34s | %-6s | %s |' "$1" "$2" "$3")"); }
die() { echo "gpu-check: $*" >&2; exit 1; }

# --- 1. A CUDA libtorch ----------------------------------------------------------------------------------------
TORCH_DIR=${1:-${TORCH_CUDA_DIR:-}}
if [ -z "$TORCH_DIR" ]; then
  TORCH_DIR=$(python3 - <<'PY' 2>/dev/null
import torch, sys
if not torch.version.cuda:
    sys.exit("the python3 torch has no CUDA")
if not torch._C._GLIBCXX_USE_CXX11_ABI:
    sys.exit("the python3 torch uses the pre-C++11 ABI (pip wheels before 2.7); use a cxx11-abi libtorch zip")
print(torch.utils.cmake_prefix_path)
PY
  ) || die "no CUDA libtorch: pass its folder (libtorch-cxx11-abi-shared-with-deps-*-cu*.zip from pytorch.org, unzipped) or pip install a CUDA torch >= 2.7"
fi
[ -d "$TORCH_DIR" ] || die "$TORCH_DIR: not a folder"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader \
  | sed 's/^/gpu-check: GPU: /'
GPUS=$(nvidia-smi -L 2>/dev/null | wc -l)
[ "$GPUS" -ge 1 ] || die "no GPU visible (nvidia-smi -L lists none)"

ARCH_FLAG=()
[ -n "${CUDA_ARCH:-}" ] && ARCH_FLAG=(-DCMAKE_CUDA_ARCHITECTURES="$CUDA_ARCH")
[ -z "${CUDA_ARCH:-}" ] && ARCH_FLAG=(-DCMAKE_CUDA_ARCHITECTURES=native)
t0=$(date +%s)
if cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$TORCH_DIR" \
    -DFRESNEL_CUDA=ON -DFRESNEL_BUILD_VIEWER=OFF -DFRESNEL_BUILD_BENCH=OFF "${ARCH_FLAG[@]}" >"$WORK/cmake.log" 2>&1 &&
   cmake --build "$BUILD" -j"$JOBS" --target fresnel test_render test_cli test_distributed >"$WORK/build.log" 2>&1; then
  row "build (CUDA libtorch)" ok "$(( $(date +%s) - t0 )) s, $TORCH_DIR"
else
  tail -30 "$WORK/cmake.log" "$WORK/build.log" >&2
  die "build failed (logs above)"
fi
F="$BUILD/fresnel"
"$F" version | sed 's/^/gpu-check: /'

# --- 2. Tests ----------------------------------------------------------------------------------------------------
run_test() {  # name, binary, filter
  if "$2" --gtest_filter="$3" >"$WORK/$1.log" 2>&1; then
    row "$1" ok "$(grep -Eo '[0-9]+ tests? from [0-9]+ test suites? ran. \([0-9]+ ms' "$WORK/$1.log" | head -1))"
  else
    row "$1" FAIL "$(grep -E '^\[  FAILED  \]' "$WORK/$1.log" | head -3 | tr '\n' ' ')"
    tail -40 "$WORK/$1.log" >&2
  fi
}
run_test "CUDA parity tests" "$BUILD/tests/test_render" '*Cuda*'
run_test "device option tests" "$BUILD/tests/test_cli" 'DeviceOption.*'
run_test "distributed tests (Gloo)" "$BUILD/tests/test_distributed" '*'

# --- 3. Renderer benchmark: GPU against CPU ------------------------------------------------------------------------
for c in a b c d; do
  if "$F" bench render --case "$c" --no-twin --reps 20 --device cuda >"$WORK/gpu_$c.json" 2>/dev/null &&
     "$F" bench render --case "$c" --no-twin --reps 3 >"$WORK/cpu_$c.json" 2>/dev/null; then
    row "bench render case $c" ok "$(python3 - "$WORK/gpu_$c.json" "$WORK/cpu_$c.json" <<'PY'
import json, sys
g, c = (json.load(open(p))[0] for p in sys.argv[1:3])
print(f"{g['name']}: GPU fwd {g['forward_ms']:.2f} ms, fwd+bwd {g['forward_backward_ms']:.2f} ms; "
      f"CPU ({c['threads']} threads) fwd {c['forward_ms']:.1f} ms -> {c['forward_ms'] / g['forward_ms']:.0f}x")
PY
)"
  else
    row "bench render case $c" FAIL "see $WORK/gpu_$c.json"
  fi
done

# --- 4. Training on the GPU ------------------------------------------------------------------------------------------
"$F" --quiet synth --out "$WORK/d" --objects 16 --views 2 --size 64 --seed 1 --split 1,0,0 >/dev/null 2>&1 ||
  die "fresnel synth failed"
TRAIN=(train --experiment 2 --encoder builtin --data_dir "$WORK/d" --image_size 64 --batch_size 4 --epochs 3
       --num_workers 2 --device cuda)
t0=$SECONDS
if "$F" "${TRAIN[@]}" --output_dir "$WORK/t1" >"$WORK/train1.log" 2>&1; then
  row "train --device cuda (1 GPU)" ok "$(grep -Eo 'epoch 3/3: loss [0-9.e+-]+' "$WORK/train1.log"), $((SECONDS - t0)) s"
else
  row "train --device cuda (1 GPU)" FAIL "$(grep error "$WORK/train1.log" | head -1)"
  tail -20 "$WORK/train1.log" >&2
fi
if [ "$GPUS" -ge 2 ]; then BACKEND=nccl; else BACKEND=gloo; fi
if "$F" launch --nproc_per_node 2 -- "${TRAIN[@]}" --batch_size 2 --dist_backend "$BACKEND" --dist_timeout 120 \
    --output_dir "$WORK/t2" >"$WORK/train2.log" 2>&1; then
  row "launch 2 ranks --device cuda ($BACKEND)" ok "$(grep -Eo 'gradient all-reduces of [0-9.]+ MB, mean [0-9.]+ ms' "$WORK/train2.log")"
else
  row "launch 2 ranks --device cuda ($BACKEND)" FAIL "$(grep error "$WORK/train2.log" | head -1)"
  tail -20 "$WORK/train2.log" >&2
fi
if "$F" infer "$(find "$WORK/d/images" -type f | sort | head -1)" --checkpoint "$WORK/t1/decoder_exp2_epoch3.pt" -o "$WORK/x.ply" \
    --device cuda >"$WORK/infer.log" 2>&1 &&
   "$F" render "$WORK/x.ply" --out "$WORK/r" --orbit 4 --size 256x256 --device cuda >>"$WORK/infer.log" 2>&1; then
  row "infer + render --device cuda" ok "$(find "$WORK/r" -name 'view_*.png' | wc -l) views"
else
  row "infer + render --device cuda" FAIL "$(grep error "$WORK/infer.log" | head -1)"
fi

echo
printf '| %-34s | %-6s | %s |\n' "check" "result" "detail"
printf '|%s|%s|%s|\n' "------------------------------------" "--------" "------"
printf '%s\n' "${ROWS[@]}"
printf '%s\n' "${ROWS[@]}" | grep -q '| FAIL ' && exit 1
exit 0
