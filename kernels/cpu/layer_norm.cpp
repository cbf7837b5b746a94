// LayerNormalization and RMSNormalization: X viewed as [rows, N] with N the
// product of the dims from `axis` on. Each row is reduced once for its
// statistics (mean in double lanes, variance as a centered second pass over
// the cache-resident row) and normalised in one vectorised pass. Parallel
// over rows. Statistics are computed in f32/f64 whatever stash_type says,
// which is at least as precise as the f32 stash the spec asks for.
#include <cmath>
#include <vector>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include "kernels/cpu/half_float.h"
#include "kernels/cpu/kernel.h"
#include "kernels/cpu/norm_apply.h"
#include "kernels/cpu/row_reduce.h"

namespace vdrt::cpu {
namespace {

struct RowView {
  int64_t rows = 1, n = 1;
  std::vector<int64_t> norm_dims;
};

RowView row_view(const KernelContext& ctx, const std::vector<int64_t>& dims) {
  const int64_t rank = static_cast<int64_t>(dims.size());
  const int64_t axis = normalize_axis(ctx.attrs.get_int("axis", -1), rank);
  RowView v;
  for (int64_t i = 0; i < axis; ++i) v.rows *= dims[i];
  v.norm_dims.assign(dims.begin() + axis, dims.end());
  v.n = numel(v.norm_dims);
  return v;
}

void for_rows(int64_t rows, int64_t n, const std::function<void(int64_t)>& f) {
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(n, 1));
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, rows, grain), [&](const tbb::blocked_range<int64_t>& r) {
    for (int64_t i = r.begin(); i < r.end(); ++i) f(i);
  });
}

float* optional_f32_output(KernelContext& ctx, size_t i) {
  if (i >= ctx.outputs.size() || !ctx.outputs[i].present()) return nullptr;
  VDRT_CHECK(ctx.outputs[i].dtype == DType::F32, "Mean and InvStdDev outputs must be f32");
  return static_cast<float*>(ctx.outputs[i].data);
}

void layer_norm_kernel(KernelContext& ctx) {
  const TensorView& x = ctx.in(0);
  VDRT_CHECK(x.dtype == DType::F32, std::string("LayerNormalization supports f32 (and f16/bf16), got ") + dtype_name(x.dtype));
  const RowView v = row_view(ctx, x.dims);
  const float eps = ctx.attrs.get_float("epsilon", 1e-5f);
  std::vector<float> scale_buf, bias_buf;
  const float* scale = broadcast_param(ctx.in(1), v.norm_dims, scale_buf, "Scale");
  const float* bias = ctx.has(2) ? broadcast_param(ctx.in(2), v.norm_dims, bias_buf, "B") : nullptr;
  const float* px = static_cast<const float*>(x.data);
  float* py = static_cast<float*>(ctx.out(0).data);
  float* mean_out = optional_f32_output(ctx, 1);
  float* inv_out = optional_f32_output(ctx, 2);
  for_rows(v.rows, v.n, [&](int64_t r) {
    const float* xr = px + r * v.n;
    const float mean = v.n ? static_cast<float>(row_sum_f64(xr, v.n) / double(v.n)) : 0.0f;
    const float var = v.n ? row_sum_sq_centered(xr, v.n, mean) / float(v.n) : 0.0f;
    const float inv = 1.0f / std::sqrt(var + eps);
    norm_apply_vec(xr, py + r * v.n, v.n, mean, inv, scale, bias);
    if (mean_out) mean_out[r] = mean;
    if (inv_out) inv_out[r] = inv;
  });
}

void rms_norm_kernel(KernelContext& ctx) {
  const TensorView& x = ctx.in(0);
  VDRT_CHECK(x.dtype == DType::F32, std::string("RMSNormalization supports f32 (and f16/bf16), got ") + dtype_name(x.dtype));
  const RowView v = row_view(ctx, x.dims);
  const float eps = ctx.attrs.get_float("epsilon", 1e-5f);
  std::vector<float> scale_buf;
  const float* scale = broadcast_param(ctx.in(1), v.norm_dims, scale_buf, "scale");
  const float* px = static_cast<const float*>(x.data);
  float* py = static_cast<float*>(ctx.out(0).data);
  for_rows(v.rows, v.n, [&](int64_t r) {
    const float* xr = px + r * v.n;
    const float ms = v.n ? row_sum_sq_centered(xr, v.n, 0.0f) / float(v.n) : 0.0f;
    norm_apply_vec(xr, py + r * v.n, v.n, 0.0f, 1.0f / std::sqrt(ms + eps), scale, nullptr);
  });
}

VDRT_CPU_KERNEL_IF("", "LayerNormalization", with_half_float(layer_norm_kernel), f32_or_half());
VDRT_CPU_KERNEL_IF("", "RMSNormalization", with_half_float(rms_norm_kernel), f32_or_half());

}  // namespace
}  // namespace vdrt::cpu
