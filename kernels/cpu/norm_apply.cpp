// Vectorised normalisation tails (see norm_apply.h), compiled for AVX2 and
// the baseline.
#include "kernels/cpu/norm_apply.h"

#include <string>

#include "kernels/cpu/binary_loop.h"
#include "kernels/cpu/multiversion.h"

namespace vdrt::cpu {

VDRT_MULTIVERSION void norm_apply_vec(const float* x, float* y, int64_t n, float mean, float inv_std,
                                      const float* scale, const float* bias) {
  if (bias)
    for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - mean) * inv_std * scale[i] + bias[i];
  else
    for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - mean) * inv_std * scale[i];
}

VDRT_MULTIVERSION void norm_apply_scalar(const float* x, float* y, int64_t n, float mean, float inv_std, float scale,
                                         float bias) {
  // Folded into one multiply-add per element.
  const float a = inv_std * scale, b = bias - mean * a;
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * a + b;
}

const float* broadcast_param(const TensorView& t, const std::vector<int64_t>& target, std::vector<float>& storage,
                             const char* what) {
  VDRT_CHECK(t.dtype == DType::F32, std::string(what) + " must be f32 like the input");
  const float* p = static_cast<const float*>(t.data);
  if (t.numel() == numel(target)) {
    // Same element count: only leading 1s may differ, anything else is a mismatch.
    VDRT_CHECK(broadcast_dims(t.dims, target) == target,
               std::string(what) + " of shape " + dims_str(t.dims) + " does not match " + dims_str(target));
    return p;
  }
  storage.resize(static_cast<size_t>(numel(target)));
  try {
    binary_loop(p, t.dims, p, t.dims, storage.data(), target, [](float v, float) { return v; });
  } catch (const Error&) {
    throw Error(std::string(what) + " of shape " + dims_str(t.dims) + " does not broadcast to " + dims_str(target));
  }
  return storage.data();
}

}  // namespace vdrt::cpu
