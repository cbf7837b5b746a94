#!/usr/bin/env bash
# Builds bench/shaders/matmul_coopmat2_f16.comp (VK_NV_cooperative_matrix2)
# into DIR/matmul_coopmat_f16.spv, for VDRT_VK_SPV_DIR=DIR with
# VDRT_VULKAN_COOPMAT2=1 on a device that has the extension. Debian 12's
# glslang (11.13) does not know the extension: GLSLANG names a newer
# glslang (16.x was used, built from KhronosGroup/glslang with
# -DENABLE_OPT=OFF).
#   GLSLANG=/path/to/glslang bench/build_coopmat2.sh DIR
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-}"
[ -n "$dir" ] && [ -n "${GLSLANG:-}" ] || { sed -n '2,9p' "$0"; exit 2; }
mkdir -p "$dir"
"$GLSLANG" -V --target-env vulkan1.3 -S comp -Ikernels/vulkan -o "$dir/matmul_coopmat_f16.spv" \
  bench/shaders/matmul_coopmat2_f16.comp
