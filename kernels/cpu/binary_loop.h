#pragma once
// The broadcast loop shared by every two-operand elementwise kernel: splits
// the output into runs of the innermost dim and picks one of four inner
// loops (both contiguous, left scalar, right scalar, both scalar), each a
// plain loop the compiler vectorises for simple `op`s. Operands of the
// output's shape skip the plan: one flat loop.
#include "kernels/cpu/broadcast.h"
#include "kernels/cpu/kernel.h"

namespace vdrt::cpu {

// Elements per task: big enough that scheduling costs nothing next to a
// memory-bound add, small enough to give both cores work on mid-size tensors.
inline constexpr int64_t kElementwiseGrain = 32768;

template <typename A, typename B, typename Out, typename Op>
void binary_loop(const A* pa, const std::vector<int64_t>& a_dims, const B* pb, const std::vector<int64_t>& b_dims,
                 Out* po, const std::vector<int64_t>& out_dims, const Op& op) {
  // Same shapes (residual adds, most modulations): one flat loop, without the
  // broadcast plan's allocations, split as for_each_broadcast_run splits it.
  if (a_dims == out_dims && b_dims == out_dims) {
    int64_t total = 1;
    for (int64_t d : out_dims) total *= d;
    auto flat = [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) po[i] = op(pa[i], pb[i]);
    };
    if (total <= kElementwiseGrain) {
      if (total > 0) flat(0, total);
      return;
    }
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, total, kElementwiseGrain),
                      [&](const tbb::blocked_range<int64_t>& r) { flat(r.begin(), r.end()); });
    return;
  }
  const BroadcastPlan plan = make_broadcast_plan(out_dims, {a_dims, b_dims});
  for_each_broadcast_run<2>(plan, kElementwiseGrain,
                            [&](int64_t o, int64_t n, const std::array<int64_t, 2>& off,
                                const std::array<int64_t, 2>& s) {
                              const A* x = pa + off[0];
                              const B* y = pb + off[1];
                              Out* z = po + o;
                              if (s[0] && s[1]) {
                                for (int64_t i = 0; i < n; ++i) z[i] = op(x[i], y[i]);
                              } else if (s[1]) {
                                const A xv = *x;
                                for (int64_t i = 0; i < n; ++i) z[i] = op(xv, y[i]);
                              } else if (s[0]) {
                                const B yv = *y;
                                for (int64_t i = 0; i < n; ++i) z[i] = op(x[i], yv);
                              } else {
                                const Out v = op(*x, *y);
                                for (int64_t i = 0; i < n; ++i) z[i] = v;
                              }
                            });
}

template <typename T, typename Out, typename Op>
void binary_loop(const TensorView& a, const TensorView& b, TensorView& out, const Op& op) {
  binary_loop(static_cast<const T*>(a.data), a.dims, static_cast<const T*>(b.data), b.dims,
              static_cast<Out*>(out.data), out.dims, op);
}

}  // namespace vdrt::cpu
