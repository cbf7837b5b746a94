// BatchNormalization. Inference folds each channel's statistics and affine
// parameters into one multiply-add per element. Training mode (opset 14+)
// first gathers per-channel batch moments over N and the spatial dims (double
// lanes), normalises with them and returns the updated running statistics.
// X is [N, C, S...]; parallel over (n, c) planes.
#include <cmath>
#include <string>
#include <vector>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include "kernels/cpu/half_float.h"
#include "kernels/cpu/kernel.h"
#include "kernels/cpu/norm_apply.h"
#include "kernels/cpu/row_reduce.h"

namespace vdrt::cpu {
namespace {

const float* channel_param(const KernelContext& ctx, size_t i, int64_t c, const char* what) {
  const TensorView& t = ctx.in(i);
  VDRT_CHECK(t.dtype == DType::F32, std::string(what) + " must be f32 like the input");
  VDRT_CHECK(t.numel() == c, std::string(what) + " has " + std::to_string(t.numel()) + " elements, expected " +
                                 std::to_string(c) + " (one per channel)");
  return static_cast<const float*>(t.data);
}

void batch_norm_kernel(KernelContext& ctx) {
  const TensorView& x = ctx.in(0);
  VDRT_CHECK(x.dtype == DType::F32, std::string("BatchNormalization supports f32 (and f16/bf16), got ") + dtype_name(x.dtype));
  const int64_t n = x.rank() >= 1 ? x.dims[0] : 1, c = x.rank() >= 2 ? x.dims[1] : 1;
  const int64_t spatial = x.rank() >= 2 ? x.numel() / std::max<int64_t>(n * c, 1) : 1;
  const float* scale = channel_param(ctx, 1, c, "scale");
  const float* bias = channel_param(ctx, 2, c, "B");
  const float* in_mean = channel_param(ctx, 3, c, "input_mean");
  const float* in_var = channel_param(ctx, 4, c, "input_var");
  const float eps = ctx.attrs.get_float("epsilon", 1e-5f);
  const bool training = ctx.attrs.get_int("training_mode", 0) != 0;
  const float* px = static_cast<const float*>(x.data);
  float* py = static_cast<float*>(ctx.out(0).data);

  std::vector<float> mean(in_mean, in_mean + c), var(in_var, in_var + c);
  if (training) {
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, c), [&](const tbb::blocked_range<int64_t>& r) {
      for (int64_t ch = r.begin(); ch < r.end(); ++ch) {
        double sum = 0, sq = 0;
        for (int64_t b = 0; b < n; ++b) {
          double s, q;
          row_moments_f64(px + (b * c + ch) * spatial, spatial, &s, &q);
          sum += s, sq += q;
        }
        const double count = double(n * spatial), m = sum / count;
        mean[ch] = static_cast<float>(m);
        var[ch] = static_cast<float>(std::max(0.0, sq / count - m * m));
      }
    });
    const float momentum = ctx.attrs.get_float("momentum", 0.9f);
    for (size_t o = 1; o <= 2; ++o) {
      if (o >= ctx.outputs.size() || !ctx.outputs[o].present()) continue;
      const float* prev = o == 1 ? in_mean : in_var;
      const std::vector<float>& cur = o == 1 ? mean : var;
      float* dst = static_cast<float*>(ctx.outputs[o].data);
      for (int64_t ch = 0; ch < c; ++ch) dst[ch] = prev[ch] * momentum + cur[ch] * (1.0f - momentum);
    }
  }
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, n * c), [&](const tbb::blocked_range<int64_t>& r) {
    for (int64_t p = r.begin(); p < r.end(); ++p) {
      const int64_t ch = p % c;
      norm_apply_scalar(px + p * spatial, py + p * spatial, spatial, mean[ch], 1.0f / std::sqrt(var[ch] + eps),
                        scale[ch], bias[ch]);
    }
  });
}

VDRT_CPU_KERNEL_IF("", "BatchNormalization", with_half_float(batch_norm_kernel), f32_or_half());

}  // namespace
}  // namespace vdrt::cpu
