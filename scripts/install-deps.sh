#!/usr/bin/env bash
# Installs every Debian package Fresnel needs. Idempotent: packages already present are skipped,
# so a second run does nothing and needs no network.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config
  libtorch-dev libopenblas0-pthread libomp-dev
  libopencv-dev
  libcli11-dev nlohmann-json3-dev libcurl4-openssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libglfw3-dev libimgui-dev libstb-dev libgl-dev libglx-mesa0 mesa-utils
  libonnx-dev libprotobuf-dev protobuf-compiler
  libgloo-dev libcpp-httplib-dev libzip-dev libzstd-dev zlib1g-dev opencv-data
  xvfb xauth
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${#missing[@]} packages: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
APT_OPTS=(-o DPkg::Lock::Timeout=600 -y --no-install-recommends)
$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
$SUDO apt-get install "${APT_OPTS[@]}" "${missing[@]}"
echo "install-deps: done"
