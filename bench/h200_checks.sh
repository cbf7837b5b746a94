#!/usr/bin/env bash
# The checks a session runs first on the lent GPU machine, in one device call
# (each call costs about a minute of the session's device time before the
# command starts): the tensor-core parity and rollout tests, then the
# attention micro-benchmarks with shader builds interleaved in one process,
# then a 2-layer Wan-width rollout profile per configuration, and (ptx) the
# inline-PTX probes of bench/ptx_probe.cpp (bundle ptx_probe too), and
# (opencl) fp16 on NVIDIA's OpenCL: its tests, 2-layer profiles against
# Vulkan's dense one, and (gemm) the GEMMs of both (bundle bench_gpu_gemm too), (regs) the
# tensor-core kernels' registers and the GEMMs under register caps, (rollout) the 30-layer
# one-minute rollout on OpenCL against PyTorch. Everything
# (logs and JSON) comes back as $OUT/h200_checks.tgz, with summary.txt beside
# it; a stage that fails is logged and the next runs.
#
# On the device machine, after unpacking a bundle of vdrt, vdrt_backends_tests
# and (for the A/B) folders made here by bench/build_spv.sh:
#   mkdir -p /tmp/b && tar -C /tmp/b -xJf .device/vdrt.tar.xz && source /tmp/b/env.sh &&
#     bench/h200_checks.sh [--spv DIR ...] [--rounds N] [--stages tests,attention,sparse,profile,fusion,ptx,wgmma,opencl[,gemm],regs,rollout]
#
# --spv DIR (repeatable): builds timed against the embedded one
# (VDRT_BENCH_SPV_DIRS), --rounds N interleaved rounds (default 2; also of
# the fusion stage, which is not run unless named).
set -uo pipefail
cd "$(dirname "$0")/.."
# The device returns only a few files from $OUT: everything is written to a
# work folder and packed into $OUT/h200_checks.tgz (and summary.txt) at the end.
dest="${OUT:-/tmp/h200_checks}"
out="$(mktemp -d /tmp/h200_checks.XXXXXX)"
mkdir -p "$dest"
: >"$out/summary.txt"
spv_dirs="embedded"
rounds=2
stages="tests,attention,sparse,profile"
while [ $# -gt 0 ]; do
  case "$1" in
    --spv) spv_dirs="$spv_dirs;$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --stages) stages="$2"; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "h200_checks: unknown argument $1" >&2; exit 2 ;;
  esac
done
export VDRT_CACHE_DIR="${VDRT_CACHE_DIR:-/tmp/vc}"
tests_bin="$(command -v vdrt_backends_tests || echo build/tests/vdrt_backends_tests)"
vdrt_bin="$(command -v vdrt || echo build/tools/vdrt)"
want() { case ",$stages," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }
stage() {  # stage NAME COMMAND...: runs, logs to $out/NAME.log, notes the time and status
  local name="$1"
  shift
  local t0=$SECONDS
  "$@" >"$out/$name.log" 2>&1
  local rc=$?
  echo "$name: exit $rc, $((SECONDS - t0)) s" | tee -a "$out/summary.txt"
}

nvidia-smi --query-gpu=name,driver_version,clocks.sm,temperature.gpu --format=csv >"$out/gpu.txt" 2>&1

if want tests; then
  # The tensor-core kernels run only here: their parity and rollout tests.
  stage tests env VDRT_REQUIRE_GPU=1 VDRT_REQUIRE_COOPMAT=1 "$tests_bin" \
    --gtest_filter='SparseCoopmatPlan.*:*SparseCoopmat*vulkan*:*AttentionParity*vulkan_Fp16*:*SparseAttentionParity*vulkan*:*SparseGpuSession*vulkan*:VulkanPipelineStats.*:GpuRolloutHalfCache.*:*ElementwiseParity*vulkan*Cast*:*MatMulParity*vulkan*Fp16*:*FusedMatMulParity*vulkan*:*GemmFusionOnGpu*vulkan*:*ViewsOnGpu*vulkan*'
  grep -E "^\[  (PASSED|FAILED) " "$out/tests.log" >>"$out/summary.txt"
fi
if want attention; then
  stage attention env VDRT_ATTN_BENCH_FP16_ONLY=1 VDRT_BENCH_SPV_DIRS="$spv_dirs" VDRT_BENCH_ROUNDS="$rounds" \
    "$tests_bin" --gtest_also_run_disabled_tests --gtest_filter='AttentionBench.*'
fi
if want sparse; then
  stage sparse env VDRT_SPARSE_BENCH_BACKEND=vulkan VDRT_SPARSE_BENCH_PRECISIONS=fp16 VDRT_SPARSE_BENCH_PAST_FRAMES=9 \
    VDRT_BENCH_SPV_DIRS="$spv_dirs" VDRT_BENCH_ROUNDS="$rounds" \
    "$tests_bin" --gtest_also_run_disabled_tests --gtest_filter='SparseAttentionBench.*'
fi
if want profile; then
  # Kernel time per shader over 10 chunks of a 2-layer Wan-width rollout, and its peak KV bytes.
  for config in dense pbsa lightforcing+fp8; do
    stage "profile_${config//+/_}" env VDRT_VULKAN_PROFILE=1 python3 bench/rollout_bench.py --layers 2 --chunks 10 \
      --configs "$config" --no-decode --work /tmp/wan2 --vdrt "$vdrt_bin" --json "$out/profile_${config//+/_}.json"
  done
fi
if want fusion; then
  # GEMM epilogues (vdrt.FusedMatMul) on against off, alternating processes
  # (the machine drifts between them): the 2-layer dense profile with the
  # default pipeline and with fuse-gemm-epilogue disabled.
  "$vdrt_bin" opt --print-pipeline 2>/dev/null |
    sed 's/^name = "fuse-gemm-epilogue"$/name = "fuse-gemm-epilogue"\nenabled = false/' >"$out/no_gemm_epilogue.toml"
  for round in $(seq "$rounds"); do
    for mode in fused unfused; do
      extra=()
      [ "$mode" = unfused ] && extra=(--dense-pipeline "$out/no_gemm_epilogue.toml")
      stage "fusion_${mode}_$round" env VDRT_VULKAN_PROFILE=1 python3 bench/rollout_bench.py --layers 2 --chunks 10 \
        --configs dense --no-decode --work /tmp/wan2 --vdrt "$vdrt_bin" "${extra[@]}" \
        --json "$out/fusion_${mode}_$round.json"
    done
  done
fi
if want ptx; then
  # Tensor cores through OpenCL's inline PTX (bench/ptx_probe.cpp), one check
  # a process: a kernel that faults loses its context.
  ptx_bin="$(command -v ptx_probe || echo build/bench/ptx_probe)"
  for c in mma ldmatrix cp_async gemm2 gemm3 gemm2w gemm3w flash flash8 peak fp8 wgmma; do
    stage "ptx_$c" "$ptx_bin" --only "$c"
    grep -vE '^device' "$out/ptx_$c.log" >>"$out/summary.txt"
  done
fi
if want wgmma; then
  # Hopper's warp-group GEMM (ptx_probe --only wgmma_gemm), one variant a
  # process: WGMMA_VARIANTS="BN,BK,STAGES,INFLIGHT,NI ...".
  ptx_bin="$(command -v ptx_probe || echo build/bench/ptx_probe)"
  for v in ${WGMMA_VARIANTS:-128,32,3,0,64 128,32,3,1,64 128,16,6,1,64 128,16,6,2,64 256,16,4,1,64 128,32,3,0,128 128,16,6,1,128 256,16,4,1,128 256,16,4,1,256}; do
    stage "wgmma_gemm_${v//,/_}" "$ptx_bin" --only wgmma_gemm --variant "$v"
    grep -vE '^device|^wgmma m64n8k16' "$out/wgmma_gemm_${v//,/_}.log" | head -12 >>"$out/summary.txt"
  done
fi
if want opencl; then
  # fp16 on NVIDIA's OpenCL through inline PTX: every OpenCL test (the fp16
  # parity cases run the PTX kernels here, PoCL refuses them in CI), the GEMMs
  # at the Wan shapes on both backends, and the 2-layer dense profile on both.
  "$vdrt_bin" devices >"$out/devices.txt" 2>&1
  stage opencl_tests env VDRT_REQUIRE_GPU=1 VDRT_REQUIRE_COOPMAT=1 "$tests_bin" --gtest_filter='*opencl*:QMatMulPlan.*:SparseCoopmatPlan.*'
  grep -E "^\[  (PASSED|FAILED) |FAILED  \]" "$out/opencl_tests.log" >>"$out/summary.txt"
  if want gemm; then
    gemm_bin="$(command -v bench_gpu_gemm || echo build/bench/bench_gpu_gemm)"
    for device in opencl vulkan; do
      stage "gemm_$device" "$gemm_bin" --device "$device" --precision fp16 --no-peer
      grep -E "x.*ms|TFLOP" "$out/gemm_$device.log" | head -8 >>"$out/summary.txt"
    done
  fi
  # CONFIG:DEVICE pairs; OPENCL_PROFILES="..." picks others.
  for run in ${OPENCL_PROFILES:-dense:opencl dense:vulkan lightforcing:opencl pbsa:opencl lightforcing+fp8:opencl}; do
    config="${run%%:*}" device="${run##*:}" name="profile_${run//[+:]/_}"
    stage "$name" env VDRT_VULKAN_PROFILE=1 VDRT_OPENCL_PROFILE=1 python3 bench/rollout_bench.py \
      --layers 2 --chunks 10 --configs "$config" --no-decode --work /tmp/wan2 --vdrt "$vdrt_bin" --device "$device" \
      --json "$out/$name.json"
    grep -E "profile \(|^\[info\] +[0-9.]+ ms" "$out/$name.log" | head -6 >>"$out/summary.txt"
  done
fi
if want regs; then
  # What NVIDIA's compiler makes of the tensor-core kernels (-cl-nv-verbose:
  # registers, spills, local memory), built from source in a fresh cache, and
  # the GEMMs at register caps that let more work groups share a
  # multiprocessor (OPENCL_REG_CAPS, default 168 128).
  gemm_bin="$(command -v bench_gpu_gemm || echo build/bench/bench_gpu_gemm)"
  stage regs_log env VDRT_CACHE_DIR="$(mktemp -d)" VDRT_OPENCL_BUILD_LOG=1 VDRT_OPENCL_OPTIONS=-cl-nv-verbose \
    "$gemm_bin" --device opencl --precision fp16 --weights fp8-w8a8 --runs 3 --no-kernels
  stage regs_log_attention env VDRT_CACHE_DIR="$(mktemp -d)" VDRT_OPENCL_BUILD_LOG=1 VDRT_OPENCL_OPTIONS=-cl-nv-verbose \
    python3 bench/rollout_bench.py --layers 2 --chunks 2 --configs lightforcing --no-decode --work /tmp/wan2 \
    --vdrt "$vdrt_bin" --device opencl
  grep -hE "opencl: [a-z_0-9]+ \(|ptxas info *: (Used|Compiling)|spill" "$out"/regs_log*.log | head -80 >"$out/regs.txt"
  for cap in ${OPENCL_REG_CAPS:-168 128}; do
    for w in f32 fp8-w8a8; do
      stage "regs_${cap}_$w" env VDRT_OPENCL_OPTIONS="-cl-nv-maxrregcount=$cap" \
        "$gemm_bin" --device opencl --precision fp16 --weights "$w" --no-peer --runs 10
      grep -E "per product|x  (MatMul|vdrt)" "$out/regs_${cap}_$w.log" | sed 's/^.*\] //' >>"$out/summary.txt"
    done
  done
fi
if want rollout; then
  # The one-minute Wan-width rollout on OpenCL (30 layers), every
  # configuration for ROLLOUT_BUDGET_S (default 38) against PyTorch eager bf16.
  stage rollout python3 bench/rollout_bench.py --work /tmp/wan --vdrt "$vdrt_bin" --device opencl --no-decode \
    --deadline-s "${ROLLOUT_DEADLINE_S:-300}" --config-budget-s "${ROLLOUT_BUDGET_S:-38}" \
    --configs "${ROLLOUT_CONFIGS:-torch,lightforcing,lightforcing+fp8,pbsa,dense}" --json "$out/rollout.json"
  grep -E "^(config|torch|lightforcing|pbsa|dense)" "$out/rollout.log" >>"$out/summary.txt"
fi
tar -C "$out" -czf "$dest/h200_checks.tgz" .
cp "$out/summary.txt" "$dest/summary.txt"
cat "$out/summary.txt"
