// GroupNormalization and InstanceNormalization (instance = one group per
// channel). X is [N, C, S...]; a group of C/G channels is one contiguous
// block of (C/G) * S floats, so statistics come from a single pass of
// double-lane moments over the block and the normalisation is one
// multiply-add per element with the channel's folded scale and bias.
// Parallel over (n, group) blocks.
#include <cmath>
#include <string>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include "kernels/cpu/half_float.h"
#include "kernels/cpu/kernel.h"
#include "kernels/cpu/norm_apply.h"
#include "kernels/cpu/row_reduce.h"

namespace vdrt::cpu {
namespace {

// scale/bias hold one value per channel (per_channel) or per group.
void group_norm(const TensorView& x, float* py, int64_t groups, const float* scale, const float* bias, bool per_channel,
                float eps) {
  VDRT_CHECK(x.rank() >= 2, "input must be [N, C, ...], got shape " + dims_str(x.dims));
  const int64_t n = x.dims[0], c = x.dims[1];
  int64_t spatial = 1;
  for (size_t i = 2; i < x.rank(); ++i) spatial *= x.dims[i];
  VDRT_CHECK(groups > 0 && c % groups == 0,
             "num_groups " + std::to_string(groups) + " does not divide the " + std::to_string(c) + " channels");
  const int64_t cpg = c / groups, block = cpg * spatial;
  const float* px = static_cast<const float*>(x.data);
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, n * groups), [&](const tbb::blocked_range<int64_t>& r) {
    for (int64_t b = r.begin(); b < r.end(); ++b) {
      const int64_t g = b % groups;
      const float* xb = px + b * block;
      float* yb = py + b * block;
      double sum = 0, sq = 0;
      row_moments_f64(xb, block, &sum, &sq);
      const double mean = block ? sum / double(block) : 0.0;
      const double var = block ? std::max(0.0, sq / double(block) - mean * mean) : 0.0;
      const float inv = static_cast<float>(1.0 / std::sqrt(var + double(eps)));
      for (int64_t k = 0; k < cpg; ++k) {
        const int64_t idx = per_channel ? g * cpg + k : g;
        norm_apply_scalar(xb + k * spatial, yb + k * spatial, spatial, static_cast<float>(mean), inv, scale[idx],
                          bias ? bias[idx] : 0.0f);
      }
    }
  });
}

const float* f32_param(const TensorView& t, int64_t expected, const char* what) {
  VDRT_CHECK(t.dtype == DType::F32, std::string(what) + " must be f32 like the input");
  VDRT_CHECK(t.numel() == expected,
             std::string(what) + " has " + std::to_string(t.numel()) + " elements, expected " + std::to_string(expected));
  return static_cast<const float*>(t.data);
}

void group_norm_kernel(KernelContext& ctx) {
  const TensorView& x = ctx.in(0);
  VDRT_CHECK(x.dtype == DType::F32 && x.rank() >= 2, "GroupNormalization needs an f32 [N, C, ...] input");
  const int64_t groups = ctx.attrs.get_int("num_groups");
  const int64_t c = x.dims[1];
  // Opset 18 has one scale/bias per group, opset 21 one per channel; the
  // element count tells which one a model carries.
  const bool per_channel = ctx.in(1).numel() == c;
  const int64_t expected = per_channel ? c : groups;
  group_norm(x, static_cast<float*>(ctx.out(0).data), groups, f32_param(ctx.in(1), expected, "scale"),
             f32_param(ctx.in(2), expected, "bias"), per_channel, ctx.attrs.get_float("epsilon", 1e-5f));
}

void instance_norm_kernel(KernelContext& ctx) {
  const TensorView& x = ctx.in(0);
  VDRT_CHECK(x.dtype == DType::F32 && x.rank() >= 2, "InstanceNormalization needs an f32 [N, C, ...] input");
  const int64_t c = x.dims[1];
  group_norm(x, static_cast<float*>(ctx.out(0).data), c, f32_param(ctx.in(1), c, "scale"), f32_param(ctx.in(2), c, "B"),
             true, ctx.attrs.get_float("epsilon", 1e-5f));
}

VDRT_CPU_KERNEL_IF("", "GroupNormalization", with_half_float(group_norm_kernel), f32_or_half());
VDRT_CPU_KERNEL_IF("vdrt", "GroupNormalization", with_half_float(group_norm_kernel), f32_or_half());
VDRT_CPU_KERNEL_IF("", "InstanceNormalization", with_half_float(instance_norm_kernel), f32_or_half());

}  // namespace
}  // namespace vdrt::cpu
