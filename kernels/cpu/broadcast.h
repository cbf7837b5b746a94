#pragma once
// Iteration over numpy-broadcast operands. The plan drops size-1 output dims
// and merges neighbouring dims that every operand walks contiguously (or
// broadcasts along), so most real cases collapse to one or two dims: same
// shape -> one run, bias add -> rows of a vector, scalar -> stride 0. The
// loop then hands the caller runs of the innermost dim, where each operand
// has stride 0 or 1, so the caller's inner loops are simple and vectorise.
#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

namespace vdrt::cpu {

struct BroadcastPlan {
  std::vector<int64_t> dims;                  // collapsed output dims; never empty
  std::vector<std::vector<int64_t>> strides;  // per operand, per dim, in elements (0 = broadcast)
  int64_t total = 0;                          // output element count
};

// Builds the plan for operands of `in_dims` broadcast to `out_dims`. Each
// operand must be broadcastable to `out_dims`; throws vdrt::Error otherwise.
BroadcastPlan make_broadcast_plan(const std::vector<int64_t>& out_dims,
                                  const std::vector<std::vector<int64_t>>& in_dims);

// Calls run(out_offset, count, in_offsets, in_inner_strides) for consecutive
// runs along the innermost dim, covering every output element once. Runs are
// distributed over threads in blocks of at least `grain` elements.
template <size_t N, typename Run>
void for_each_broadcast_run(const BroadcastPlan& plan, int64_t grain, const Run& run) {
  const int r = static_cast<int>(plan.dims.size());
  const int64_t inner = plan.dims[r - 1];
  std::array<int64_t, N> inner_stride{};
  for (size_t k = 0; k < N; ++k) inner_stride[k] = plan.strides[k][r - 1];

  auto work = [&](int64_t begin, int64_t end) {
    // Decompose `begin` into outer coordinates and an offset in the inner dim.
    std::vector<int64_t> coord(static_cast<size_t>(std::max(r - 1, 0)), 0);
    std::array<int64_t, N> off{};
    int64_t rest = begin / inner, pos_in = begin % inner;
    for (int d = r - 2; d >= 0; --d) {
      coord[d] = rest % plan.dims[d];
      rest /= plan.dims[d];
      for (size_t k = 0; k < N; ++k) off[k] += coord[d] * plan.strides[k][d];
    }
    int64_t pos = begin;
    while (pos < end) {
      const int64_t n = std::min(inner - pos_in, end - pos);
      std::array<int64_t, N> o = off;
      for (size_t k = 0; k < N; ++k) o[k] += pos_in * inner_stride[k];
      run(pos, n, o, inner_stride);
      pos += n;
      pos_in += n;
      if (pos_in < inner) break;  // only happens at the end of the block
      pos_in = 0;
      for (int d = r - 2; d >= 0; --d) {  // odometer step over the outer dims
        for (size_t k = 0; k < N; ++k) off[k] += plan.strides[k][d];
        if (++coord[d] < plan.dims[d]) break;
        for (size_t k = 0; k < N; ++k) off[k] -= coord[d] * plan.strides[k][d];
        coord[d] = 0;
      }
    }
  };
  if (plan.total <= grain) {
    if (plan.total > 0) work(0, plan.total);
    return;
  }
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, plan.total, grain),
                    [&](const tbb::blocked_range<int64_t>& b) { work(b.begin(), b.end()); });
}

}  // namespace vdrt::cpu
