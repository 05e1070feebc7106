#!/usr/bin/env bash
# `make cuda-check`: compiles every CUDA source (src/*/*.cu) with nvcc against the libtorch headers, without
# linking or running (machines without a GPU or a CUDA libtorch can still check that the kernels build).
# NVCC_ARCH overrides the target architecture (default sm_80).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NVCC=${NVCC:-$(command -v nvcc || true)}
if [ -z "$NVCC" ]; then
  echo "cuda-check: nvcc not found (install the CUDA toolkit or set NVCC=/path/to/nvcc)" >&2
  exit 1
fi
ARCH=${NVCC_ARCH:-sm_80}
TORCH_INC=${TORCH_INCLUDE:-/usr/include}
# /usr/include is already a system directory; naming it again breaks libstdc++'s #include_next.
INC=(-I"$ROOT/src" -isystem "$TORCH_INC/torch/csrc/api/include")
[ "$TORCH_INC" != /usr/include ] && INC+=(-isystem "$TORCH_INC")
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
status=0
shopt -s nullglob
files=("$ROOT"/src/*/*.cu)
if [ ${#files[@]} -eq 0 ]; then
  echo "cuda-check: no .cu files under src/" >&2
  exit 1
fi
for cu in "${files[@]}"; do
  rel=${cu#"$ROOT"/}
  if "$NVCC" -std=c++17 -arch="$ARCH" --expt-relaxed-constexpr -DFRESNEL_WITH_CUDA=1 -D_GLIBCXX_USE_CXX11_ABI=1 \
      "${INC[@]}" \
      -c "$cu" -o "$OUT/$(basename "$cu").o"; then
    echo "cuda-check: OK   $rel ($ARCH, $("$NVCC" --version | tail -1))"
  else
    echo "cuda-check: FAIL $rel" >&2
    status=1
  fi
done
exit $status
