#pragma once
// What the hand-run attention benchmarks (AttentionBench.DISABLED_WanHotCase,
// SparseAttentionBench.DISABLED_WanScale) share: one attention op timed on a
// device as a chain of `n` of them over the same keys and cache (each one's
// output the next one's query) minus a chain of one, so that uploads and
// downloads cancel; the ';' lists their environment switches take; and the
// shader builds they compare in one process (VDRT_BENCH_SPV_DIRS).
#include <cstdint>
#include <string>
#include <vector>

#include "graph/attribute.h"
#include "runtime/session.h"

namespace vdrt::test {

struct AttentionChain {
  int64_t queries = 0, keys = 0, past = 0, heads = 0, head_dim = 0;
  std::string op = "Attention";  // a vdrt-domain attention op
  AttributeMap attrs;
};

// Seconds per op: (best of 4 runs of a chain of n - best of 4 of a chain of 1) / (n - 1).
double seconds_per_op(const AttentionChain& chain, int n, const SessionOptions& options);

// The ';'-separated items of environment variable `env`, or of `fallback`
// where it is unset or empty.
std::vector<std::string> env_list(const char* env, const std::string& fallback);

// The Vulkan shader builds a benchmark times, in order. A real GPU's speed
// drifts by tens of percent between processes (bench/RESULTS.md), so two
// builds are compared in one process, interleaved:
// VDRT_BENCH_SPV_DIRS="embedded;DIR;..." (each DIR a VDRT_VK_SPV_DIR, made
// by bench/build_spv.sh; "embedded" the library's own shaders) repeated
// VDRT_BENCH_ROUNDS times (default 1): A B A B ... Unset: one run of the
// embedded build, labelled "".
struct ShaderBuildRun {
  std::string dir;    // "" : the embedded shaders
  std::string label;  // " [build DIR, round r/R]" where there is more than one run
};
std::vector<ShaderBuildRun> shader_build_runs();

}  // namespace vdrt::test
