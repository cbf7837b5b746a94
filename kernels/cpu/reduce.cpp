// Reduce* ops. Size-1 dims are dropped and neighbouring dims that are both
// kept or both reduced are merged, which leaves two loop shapes:
//   innermost dim reduced: each output is a sum of contiguous rows (16-lane
//     accumulators, vectorised), over the offsets of the other reduced dims;
//   innermost dim kept: each group of outputs is a contiguous vector that
//     accumulates whole input rows, once per reduced index (vectorised across
//     outputs).
// Float accumulates in float (double for f64), integers in int64. Parallel
// over outputs (or over columns when there are few output groups).
// ReduceLogSumExp runs a Max pass first and shifts by it for stability.
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include "kernels/cpu/dtype_dispatch.h"
#include "kernels/cpu/half_float.h"
#include "kernels/cpu/kernel.h"
#include "kernels/cpu/wrapping.h"

namespace vdrt::cpu {
namespace {

struct Run {
  int64_t size, stride;
};

struct ReducePlan {
  std::vector<Run> kept;     // outer to inner
  std::vector<Run> reduced;  // outer to inner
  bool inner_reduced = false;
  int64_t out_count = 1, red_count = 1;
};

ReducePlan make_plan(const std::vector<int64_t>& dims, const std::vector<bool>& reduce) {
  ReducePlan p;
  const size_t rank = dims.size();
  std::vector<int64_t> stride(rank, 1);
  for (int i = static_cast<int>(rank) - 2; i >= 0; --i) stride[i] = stride[i + 1] * dims[i + 1];
  int last = -1;  // 0 kept, 1 reduced
  for (size_t i = 0; i < rank; ++i) {
    if (reduce[i]) p.red_count *= dims[i];
    else p.out_count *= dims[i];
    if (dims[i] == 1) continue;
    const int kind = reduce[i] ? 1 : 0;
    auto& runs = kind ? p.reduced : p.kept;
    if (kind == last) {  // contiguous with the previous run of the same kind
      runs.back().size *= dims[i];
      runs.back().stride = stride[i];
    } else {
      runs.push_back({dims[i], stride[i]});
    }
    last = kind;
  }
  p.inner_reduced = last == 1;
  return p;
}

// Offsets of every index combination of `runs` (row-major order).
std::vector<int64_t> offsets_of(const std::vector<Run>& runs) {
  std::vector<int64_t> offs{0};
  for (const Run& r : runs) {
    std::vector<int64_t> next;
    next.reserve(offs.size() * static_cast<size_t>(r.size));
    for (int64_t o : offs)
      for (int64_t i = 0; i < r.size; ++i) next.push_back(o + i * r.stride);
    offs.swap(next);
  }
  return offs;
}

int64_t base_offset(int64_t index, const std::vector<Run>& runs, size_t count) {
  int64_t off = 0;
  for (size_t j = count; j-- > 0;) {
    off += (index % runs[j].size) * runs[j].stride;
    index /= runs[j].size;
  }
  return off;
}

template <typename T> using AccOf = std::conditional_t<std::is_floating_point_v<T>, T, int64_t>;

enum class Kind { Sum, Mean, Max, Min, Prod, SumSquare, L1, L2, LogSum, LogSumExp };

template <typename T, Kind K>
struct ReduceOp {
  using Acc = AccOf<T>;
  static Acc init() {
    if constexpr (K == Kind::Max) return std::is_floating_point_v<T> ? -std::numeric_limits<Acc>::infinity() : Acc(std::numeric_limits<T>::lowest());
    else if constexpr (K == Kind::Min) return std::is_floating_point_v<T> ? std::numeric_limits<Acc>::infinity() : Acc(std::numeric_limits<T>::max());
    else if constexpr (K == Kind::Prod) return Acc(1);
    else return Acc(0);
  }
  static Acc step(Acc a, T x, Acc shift) {
    const Acc v = static_cast<Acc>(x);
    if constexpr (K == Kind::Max) return (v > a || v != v) ? v : a;
    else if constexpr (K == Kind::Min) return (v < a || v != v) ? v : a;
    else if constexpr (K == Kind::Prod) return wrapping_mul(a, v);
    else if constexpr (K == Kind::SumSquare || K == Kind::L2) return wrapping_add(a, wrapping_mul(v, v));
    else if constexpr (K == Kind::L1) return wrapping_add(a, v < 0 ? wrapping_neg(v) : v);
    else if constexpr (K == Kind::LogSumExp) return a + static_cast<Acc>(std::exp(v - shift));
    else return wrapping_add(a, v);
  }
  static Acc merge(Acc a, Acc b) {
    if constexpr (K == Kind::Max || K == Kind::Min) return step(a, static_cast<T>(b), 0);
    else if constexpr (K == Kind::Prod) return wrapping_mul(a, b);
    else return wrapping_add(a, b);
  }
  static T finish(Acc a, int64_t count, Acc shift) {
    if constexpr (K == Kind::Mean) return static_cast<T>(a / static_cast<Acc>(count));
    else if constexpr (K == Kind::L2) return static_cast<T>(std::sqrt(static_cast<double>(a)));
    else if constexpr (K == Kind::LogSum) return static_cast<T>(std::log(static_cast<double>(a)));
    else if constexpr (K == Kind::LogSumExp) return static_cast<T>(std::log(static_cast<double>(a)) + static_cast<double>(shift));
    else return static_cast<T>(a);
  }
};

// `shift` (per output, may be null) is only read by LogSumExp.
template <typename T, typename Op>
void reduce(const T* x, T* y, const ReducePlan& p, const AccOf<T>* shift) {
  using Acc = AccOf<T>;
  auto shift_at = [&](int64_t o) { return shift ? shift[o] : Acc(0); };
  if (p.red_count == 0) {  // empty reduction: the op's identity
    for (int64_t o = 0; o < p.out_count; ++o) y[o] = Op::finish(Op::init(), 0, shift_at(o));
    return;
  }
  if (p.out_count == 0) return;
  if (p.reduced.empty()) {  // nothing to reduce (noop axes or size-1 dims)
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, p.out_count, 16384), [&](const tbb::blocked_range<int64_t>& r) {
      for (int64_t o = r.begin(); o < r.end(); ++o) y[o] = Op::finish(Op::step(Op::init(), x[o], shift_at(o)), 1, shift_at(o));
    });
    return;
  }
  if (p.inner_reduced) {
    const int64_t row = p.reduced.back().size;
    const std::vector<Run> outer_red(p.reduced.begin(), p.reduced.end() - 1);
    const std::vector<int64_t> roffs = offsets_of(outer_red);
    const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(p.red_count, 1));
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, p.out_count, grain), [&](const tbb::blocked_range<int64_t>& r) {
      constexpr int kLanes = 16;
      for (int64_t o = r.begin(); o < r.end(); ++o) {
        const int64_t base = base_offset(o, p.kept, p.kept.size());
        const Acc sh = shift_at(o);
        Acc lane[kLanes];
        for (int l = 0; l < kLanes; ++l) lane[l] = Op::init();
        Acc tail = Op::init();
        for (int64_t ro : roffs) {
          const T* xr = x + base + ro;
          int64_t i = 0;
          for (; i + kLanes <= row; i += kLanes)
            for (int l = 0; l < kLanes; ++l) lane[l] = Op::step(lane[l], xr[i + l], sh);
          for (; i < row; ++i) tail = Op::step(tail, xr[i], sh);
        }
        for (int l = 0; l < kLanes; ++l) tail = Op::merge(tail, lane[l]);
        y[o] = Op::finish(tail, p.red_count, sh);
      }
    });
    return;
  }
  // Innermost dim kept: outputs come in contiguous groups of `width`.
  const int64_t width = p.kept.back().size;
  const int64_t groups = p.out_count / width;
  const std::vector<int64_t> roffs = offsets_of(p.reduced);
  const int64_t col_grain = std::max<int64_t>(64, 65536 / std::max<int64_t>(p.red_count, 1));
  const int64_t col_blocks = (width + col_grain - 1) / col_grain;
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, groups * col_blocks), [&](const tbb::blocked_range<int64_t>& r) {
    std::vector<Acc> acc;
    for (int64_t t = r.begin(); t < r.end(); ++t) {
      const int64_t g = t / col_blocks, c0 = (t % col_blocks) * col_grain, c1 = std::min(width, c0 + col_grain);
      const int64_t base = base_offset(g, p.kept, p.kept.size() - 1) + c0;
      T* yo = y + g * width + c0;
      const Acc* sh = shift ? shift + g * width + c0 : nullptr;
      const int64_t w = c1 - c0;
      acc.assign(static_cast<size_t>(w), Op::init());
      for (int64_t ro : roffs) {
        const T* xr = x + base + ro;
        if (sh)
          for (int64_t c = 0; c < w; ++c) acc[c] = Op::step(acc[c], xr[c], sh[c]);
        else
          for (int64_t c = 0; c < w; ++c) acc[c] = Op::step(acc[c], xr[c], Acc(0));
      }
      for (int64_t c = 0; c < w; ++c) yo[c] = Op::finish(acc[c], p.red_count, sh ? sh[c] : Acc(0));
    }
  });
}

std::vector<bool> reduced_axes(const KernelContext& ctx, size_t rank) {
  std::vector<int64_t> axes;
  if (ctx.has(1)) axes = ctx.in(1).to_int64();
  else axes = ctx.attrs.get_ints("axes", {});
  const bool noop = ctx.attrs.get_int("noop_with_empty_axes", 0) != 0;
  std::vector<bool> red(rank, axes.empty() && !noop);
  for (int64_t a : axes) red[normalize_axis(a, static_cast<int64_t>(rank))] = true;
  return red;
}

template <Kind K>
void reduce_kernel(KernelContext& ctx) {
  const TensorView& in = ctx.in(0);
  TensorView& out = ctx.out(0);
  const ReducePlan plan = make_plan(in.dims, reduced_axes(ctx, in.rank()));
  VDRT_CHECK(plan.out_count == out.numel(), "Reduce: output shape " + dims_str(out.dims) + " does not fit the input");
  dispatch_numeric_or_bool(in.dtype, "Reduce", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* x = static_cast<const T*>(in.data);
    T* y = static_cast<T*>(out.data);
    if constexpr (K == Kind::LogSumExp) {
      if constexpr (std::is_floating_point_v<T>) {
        // Shift by the max so exp never overflows; an all -inf or +inf group
        // would make the shift meaningless, so those fall back to 0.
        std::vector<T> mx(static_cast<size_t>(plan.out_count));
        reduce<T, ReduceOp<T, Kind::Max>>(x, mx.data(), plan, nullptr);
        for (auto& m : mx)
          if (!std::isfinite(m)) m = 0;
        reduce<T, ReduceOp<T, K>>(x, y, plan, mx.data());
      } else {
        throw Error("ReduceLogSumExp needs a float input");
      }
    } else if constexpr (std::is_same_v<T, uint8_t>) {
      // Bool (and u8) tensors: only Max and Min make sense for bool.
      if (in.dtype == DType::Bool && K != Kind::Max && K != Kind::Min)
        throw Error("this reduction does not support bool inputs");
      reduce<T, ReduceOp<T, K>>(x, y, plan, nullptr);
    } else {
      reduce<T, ReduceOp<T, K>>(x, y, plan, nullptr);
    }
  });
}

VDRT_CPU_KERNEL("", "ReduceSum", with_half_float(reduce_kernel<Kind::Sum>));
VDRT_CPU_KERNEL("", "ReduceMean", with_half_float(reduce_kernel<Kind::Mean>));
VDRT_CPU_KERNEL("", "ReduceMax", with_half_float(reduce_kernel<Kind::Max>));
VDRT_CPU_KERNEL("", "ReduceMin", with_half_float(reduce_kernel<Kind::Min>));
VDRT_CPU_KERNEL("", "ReduceProd", with_half_float(reduce_kernel<Kind::Prod>));
VDRT_CPU_KERNEL("", "ReduceSumSquare", with_half_float(reduce_kernel<Kind::SumSquare>));
VDRT_CPU_KERNEL("", "ReduceL1", with_half_float(reduce_kernel<Kind::L1>));
VDRT_CPU_KERNEL("", "ReduceL2", with_half_float(reduce_kernel<Kind::L2>));
VDRT_CPU_KERNEL("", "ReduceLogSum", with_half_float(reduce_kernel<Kind::LogSum>));
VDRT_CPU_KERNEL("", "ReduceLogSumExp", with_half_float(reduce_kernel<Kind::LogSumExp>));

}  // namespace
}  // namespace vdrt::cpu
