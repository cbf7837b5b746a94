#!/usr/bin/env bash
# Builds the Vulkan shaders of a git revision into a folder of NAME.spv files,
# for VDRT_VK_SPV_DIR (docs/vulkan_backend.md): a benchmark then times that
# revision's kernels against the embedded ones in one process
# (VDRT_BENCH_SPV_DIRS), since a real GPU drifts by tens of percent between
# processes. The shaders are compiled by that revision's own CMake rules (the
# same glslc flags and variants), in a throwaway worktree; nothing else is built.
#
#   bench/build_spv.sh REV OUT_DIR
#   VDRT_BENCH_SPV_DIRS="embedded;OUT_DIR" VDRT_BENCH_ROUNDS=3 build/tests/vdrt_backends_tests \
#       --gtest_also_run_disabled_tests --gtest_filter='SparseAttentionBench.*'
#
# A build only fits the vdrt binary it is timed with where its shaders keep the
# bindings, push constants and specialization constants that binary passes:
# compare revisions whose kernels/gpu host code is the same (git diff REV --
# kernels/gpu backends says so).
set -euo pipefail
if [ $# -ne 2 ]; then
  echo "usage: $0 REV OUT_DIR" >&2
  exit 2
fi
rev="$1"
out="$2"
repo="$(cd "$(dirname "$0")/.." && pwd)"
commit="$(git -C "$repo" rev-parse --verify "$rev^{commit}")" || { echo "build_spv: no revision '$rev'" >&2; exit 1; }
work="$(mktemp -d "${TMPDIR:-/tmp}/vdrt-spv-XXXXXX")"
cleanup() {
  git -C "$repo" worktree remove --force "$work/src" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

git -C "$repo" worktree add --detach --quiet "$work/src" "$commit"
# Configure the whole tree (kernels/vulkan reads the project's options), build one target.
cmake -S "$work/src" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DVDRT_BUILD_TESTS=OFF \
  -DVDRT_BUILD_BENCH=OFF -DVDRT_BUILD_PYTHON=OFF -DVDRT_WITH_VULKAN=ON -DVDRT_WITH_OPENCL=OFF >"$work/configure.log" 2>&1 ||
  { cat "$work/configure.log" >&2; echo "build_spv: configuring $rev failed" >&2; exit 1; }
cmake --build "$work/build" --target vdrt_kernels_vulkan >"$work/build.log" 2>&1 ||
  { tail -30 "$work/build.log" >&2; echo "build_spv: building $rev's shaders failed" >&2; exit 1; }

mkdir -p "$out"
cp "$work/build/kernels/vulkan/spv/"*.spv "$out/"
echo "$commit" >"$out/REVISION"
echo "build_spv: $(ls "$out"/*.spv | wc -l) shaders of ${commit:0:7} in $out"
