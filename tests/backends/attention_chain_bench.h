#pragma once
// What the hand-run attention benchmarks (AttentionBench.DISABLED_WanHotCase,
// SparseAttentionBench.DISABLED_WanScale) share: one attention op timed on a
// device as a chain of `n` of them over the same keys and cache (each one's
// output the next one's query) minus a chain of one, so that uploads and
// downloads cancel; and the ';' lists their environment switches take.
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

}  // namespace vdrt::test
