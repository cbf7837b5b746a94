#!/usr/bin/env bash
# Installs the Debian packages vdrt needs to build, test and run; does nothing
# when they are all present. Needs root (or sudo).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libonnx-dev libonnx-testdata libprotobuf-dev protobuf-compiler
  libtbb-dev libspdlog-dev libfmt-dev libtoml11-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  ocl-icd-opencl-dev opencl-headers pocl-opencl-icd
  libvulkan-dev mesa-vulkan-drivers glslc
  libavcodec-dev libavformat-dev libavutil-dev libswscale-dev zlib1g-dev
  python3-dev python3-venv   # the Python package: headers for the extension, a venv for its tests
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
