// Softmax, LogSoftmax and Hardmax. The input is viewed as [outer, L, inner]
// around the axis (opset >= 13) or as [outer, L] rows after coercing to 2-D at
// the axis (opset < 13). Contiguous rows (inner == 1) use the lane-split row
// reductions; otherwise a whole [L, inner] slab is reduced along L with
// vector operations across inner. Parallel over outer x inner chunks.
#include <cmath>
#include <limits>
#include <vector>

#include <tbb/blocked_range2d.h>
#include <tbb/parallel_for.h>

#include "kernels/cpu/half_float.h"
#include "kernels/cpu/kernel.h"
#include "kernels/cpu/row_reduce.h"
#include "kernels/cpu/vector_math.h"

namespace vdrt::cpu {
namespace {

enum class Mode { Softmax, LogSoftmax, Hardmax };

struct AxisView {
  int64_t outer = 1, len = 1, inner = 1;
};

AxisView axis_view(const KernelContext& ctx, const std::vector<int64_t>& dims) {
  const int64_t rank = static_cast<int64_t>(dims.size());
  const bool legacy = ctx.opset > 0 && ctx.opset < 13;
  const int64_t axis = normalize_axis(ctx.attrs.get_int("axis", legacy ? 1 : -1), rank);
  AxisView v;
  for (int64_t i = 0; i < axis; ++i) v.outer *= dims[i];
  if (legacy) {  // coerced to 2-D: everything from the axis on is one row
    for (int64_t i = axis; i < rank; ++i) v.len *= dims[i];
  } else {
    v.len = rank ? dims[axis] : 1;
    for (int64_t i = axis + 1; i < rank; ++i) v.inner *= dims[i];
  }
  return v;
}

void row(Mode mode, const float* x, float* y, int64_t n) {
  if (mode == Mode::Hardmax) {
    int64_t best = 0;
    for (int64_t i = 1; i < n; ++i)
      if (x[i] > x[best]) best = i;
    for (int64_t i = 0; i < n; ++i) y[i] = i == best ? 1.0f : 0.0f;
    return;
  }
  const float m = row_max(x, n);
  const float s = row_exp_sum(x, y, n, m);
  if (mode == Mode::Softmax) {
    row_scale(y, n, 1.0f / s);
  } else {
    // (x - m) first: folding log(s) into the shift would round at |m|'s scale.
    const float ls = std::log(s);
    for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - m) - ls;
  }
}

// Columns [c0, c1) of one [len, inner] slab.
VDRT_MULTIVERSION void slab(Mode mode, const float* x, float* y, int64_t len, int64_t inner, int64_t c0, int64_t c1) {
  const int64_t w = c1 - c0;
  std::vector<float> mx(static_cast<size_t>(w), -std::numeric_limits<float>::infinity()), sum(static_cast<size_t>(w), 0.0f);
  std::vector<int64_t> arg(mode == Mode::Hardmax ? static_cast<size_t>(w) : 0, 0);
  for (int64_t l = 0; l < len; ++l) {
    const float* xr = x + l * inner + c0;
    if (mode == Mode::Hardmax) {
      for (int64_t c = 0; c < w; ++c)
        if (xr[c] > mx[c] || l == 0) mx[c] = xr[c], arg[c] = l;
    } else {
      for (int64_t c = 0; c < w; ++c) mx[c] = (xr[c] > mx[c] || xr[c] != xr[c]) ? xr[c] : mx[c];
    }
  }
  if (mode == Mode::Hardmax) {
    for (int64_t l = 0; l < len; ++l)
      for (int64_t c = 0; c < w; ++c) y[l * inner + c0 + c] = arg[c] == l ? 1.0f : 0.0f;
    return;
  }
  for (int64_t l = 0; l < len; ++l) {
    const float* xr = x + l * inner + c0;
    float* yr = y + l * inner + c0;
    for (int64_t c = 0; c < w; ++c) {
      const float e = vmath::exp(xr[c] - mx[c]);
      yr[c] = e;
      sum[c] += e;
    }
  }
  for (int64_t l = 0; l < len; ++l) {
    const float* xr = x + l * inner + c0;
    float* yr = y + l * inner + c0;
    if (mode == Mode::Softmax)
      for (int64_t c = 0; c < w; ++c) yr[c] /= sum[c];
    else
      for (int64_t c = 0; c < w; ++c) yr[c] = (xr[c] - mx[c]) - std::log(sum[c]);
  }
}

// f64 (e.g. Attention's softmax_precision=DOUBLE, expanded): a plain
// strided loop with libm; precision, not speed, is the point there.
void softmax_f64(Mode mode, const double* x, double* y, const AxisView& v) {
  for (int64_t o = 0; o < v.outer; ++o)
    for (int64_t c = 0; c < v.inner; ++c) {
      auto at = [&](int64_t l) { return (o * v.len + l) * v.inner + c; };
      double m = -std::numeric_limits<double>::infinity(), sum = 0;
      int64_t best = 0;
      for (int64_t l = 0; l < v.len; ++l) {
        if (x[at(l)] > x[at(best)]) best = l;
        m = (x[at(l)] > m || x[at(l)] != x[at(l)]) ? x[at(l)] : m;
      }
      for (int64_t l = 0; l < v.len; ++l) sum += std::exp(x[at(l)] - m);
      for (int64_t l = 0; l < v.len; ++l) {
        if (mode == Mode::Softmax) y[at(l)] = std::exp(x[at(l)] - m) / sum;
        else if (mode == Mode::LogSoftmax) y[at(l)] = (x[at(l)] - m) - std::log(sum);
        else y[at(l)] = l == best ? 1.0 : 0.0;
      }
    }
}

KernelFn softmax_family(Mode mode, const char* name) {
  return with_half_float([mode, name](KernelContext& ctx) {
    const TensorView& in = ctx.in(0);
    const AxisView v = axis_view(ctx, in.dims);
    if (in.dtype == DType::F64) {
      softmax_f64(mode, static_cast<const double*>(in.data), static_cast<double*>(ctx.out(0).data), v);
      return;
    }
    VDRT_CHECK(in.dtype == DType::F32, std::string(name) + " supports f32, f64, f16 and bf16, got " + dtype_name(in.dtype));
    const float* x = static_cast<const float*>(in.data);
    float* y = static_cast<float*>(ctx.out(0).data);
    if (in.numel() == 0) return;
    if (v.inner == 1) {
      const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(v.len, 1));
      tbb::parallel_for(tbb::blocked_range<int64_t>(0, v.outer, grain), [&](const tbb::blocked_range<int64_t>& r) {
        for (int64_t o = r.begin(); o < r.end(); ++o) row(mode, x + o * v.len, y + o * v.len, v.len);
      });
      return;
    }
    const int64_t col_grain = std::max<int64_t>(16, 16384 / std::max<int64_t>(v.len, 1));
    tbb::parallel_for(tbb::blocked_range2d<int64_t>(0, v.outer, 1, 0, v.inner, col_grain),
                      [&](const tbb::blocked_range2d<int64_t>& r) {
                        for (int64_t o = r.rows().begin(); o < r.rows().end(); ++o)
                          slab(mode, x + o * v.len * v.inner, y + o * v.len * v.inner, v.len, v.inner,
                               r.cols().begin(), r.cols().end());
                      });
  });
}

const SupportsFn kFloatTypes = dtypes_in({DType::F32, DType::F64, DType::F16, DType::BF16});

VDRT_CPU_KERNEL_IF("", "Softmax", softmax_family(Mode::Softmax, "Softmax"), kFloatTypes);
VDRT_CPU_KERNEL_IF("", "LogSoftmax", softmax_family(Mode::LogSoftmax, "LogSoftmax"), kFloatTypes);
VDRT_CPU_KERNEL_IF("", "Hardmax", softmax_family(Mode::Hardmax, "Hardmax"), kFloatTypes);

}  // namespace
}  // namespace vdrt::cpu
