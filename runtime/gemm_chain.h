#pragma once
// The graph GEMM measurements time (`vdrt tune`, bench/bench_gpu_gemm): x
// [M, K] through `count` MatMuls whose constant weights alternate [K, N]
// and [N, K], so a chain of n products against a chain of one cancels the
// submission and transfer costs.
#include <cstdint>
#include <memory>
#include <vector>

#include "graph/graph.h"

namespace vdrt {

// N(0, scale^2) floats from a fixed seed.
Tensor random_normal_tensor(const std::vector<int64_t>& dims, uint32_t seed, float scale);

// Weights are scaled by 1/sqrt(rows) (chained activations stay O(1)) and
// made once per shape in the process: every chain multiplies by the same ones.
std::unique_ptr<Graph> gemm_chain_graph(int64_t m, int64_t k, int64_t n, int count);

}  // namespace vdrt
