#!/usr/bin/env bash
# How fast can the fp16 cooperative-matrix GEMM be on this device, and which
# part of its main loop costs what? Times bench/shaders/gemm_ceiling.comp's
# probes (the GEMM with parts of its loop taken away; see that file) in place
# of matmul_coopmat_f16 (VDRT_VK_SPV_DIR), interleaved with the real shader,
# through bench_gpu_gemm's per-kernel profile.
#
#   here:  bench/gemm_ceiling.sh build DIR        (needs glslc; DIR/pN/*.spv)
#   there: bench/gemm_ceiling.sh run DIR [ROUNDS] [TILES] [SHAPES]
# TILES: ';'-separated VDRT_VK_GEMM_VARIANT values ('' = the default tile);
# SHAPES: bench_gpu_gemm --shapes. Prints one line per (round, tile, probe):
# the kernel's GPU time per product and its rate in TFLOP/s of the full GEMM.
# PROBES (default "real 1 2 3 4"): which to time; "real" is the embedded shader.
# KERNEL (default matmul_coopmat_f16): the profile line to read; GEMM_ARGS:
# more bench_gpu_gemm options (e.g. "--weights fp8" with PROBES=real and
# KERNEL=matmul_coopmat_e4m3 times the FP8 GEMM's tiles).
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-}"
dir="${2:-}"
[ -n "$mode" ] && [ -n "$dir" ] || { sed -n '2,16p' "$0"; exit 2; }
if [ "$mode" = build ]; then
  for p in 1 2 3 4; do
    mkdir -p "$dir/p$p"
    glslc --target-env=vulkan1.2 -fshader-stage=compute -O0 -DPROBE="$p" -I kernels/vulkan bench/shaders/gemm_ceiling.comp \
      -o "$dir/p$p/matmul_coopmat_f16.spv"
  done
  exit 0
fi
[ "$mode" = run ] || { echo "gemm_ceiling: mode build or run" >&2; exit 2; }
rounds="${3:-2}"
tiles="${4:-}"
shapes="${5:-4680x1536x8960,4680x8960x1536}"
gemm="$(command -v bench_gpu_gemm || echo build/bench/bench_gpu_gemm)"
IFS=';' read -r -a tile_list <<<"${tiles:-default}"
for r in $(seq 1 "$rounds"); do
  for t in "${tile_list[@]}"; do
    for p in ${PROBES:-real 1 2 3 4}; do
      spv=""
      [ "$p" = real ] || spv="$dir/p$p"
      variant="$t"
      [ "$t" = default ] && variant=""
      # The kernel table: "matmul_coopmat_f16[...]  N  total ms  mean ms ..."
      VDRT_VK_SPV_DIR="$spv" VDRT_VK_GEMM_VARIANT="$variant" "$gemm" --device vulkan --precision fp16 ${GEMM_ARGS:-} \
        --no-peer --runs 5 --warmup 1 --chain 3 --shapes "$shapes" 2>&1 |
        awk -v r="$r" -v t="$t" -v p="$p" -v kernel="${KERNEL:-matmul_coopmat_f16}" '
          /kernels \(/ { s = $0; gsub(/ /, "", s); split(s, d, "x"); shape = d[1] "x" d[2] "x" (d[3] + 0); flop = 2 * d[1] * d[2] * d[3] }
          $0 ~ kernel && /%/ {
            for (i = 2; i <= NF; ++i) { if ($i == "ms") ms = $(i - 1); if ($i == "x") n = $(i - 1) }
            printf "round %s tile %s probe %s %s: %.3f ms a product, %.1f TFLOP/s\n", r, t, p, shape, ms / n,
              flop / (ms / n * 1e-3) * 1e-12 }'
    done
  done
done
