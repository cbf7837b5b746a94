#pragma once
// The elementwise tail shared by the normalisation kernels:
// y = (x - mean) * inv_std * scale + bias over one contiguous run, with
// per-element scale/bias vectors or per-run scalars.
#include <cstdint>
#include <vector>

#include "kernels/cpu/kernel.h"

namespace vdrt::cpu {

// scale and bias are vectors of n elements; bias may be null.
void norm_apply_vec(const float* x, float* y, int64_t n, float mean, float inv_std, const float* scale,
                    const float* bias);
// One scale and bias for the whole run.
void norm_apply_scalar(const float* x, float* y, int64_t n, float mean, float inv_std, float scale, float bias);

// A scale or bias tensor as `numel(target)` contiguous floats: the tensor's
// own data when it already has that many elements, else broadcast into
// `storage`. Throws vdrt::Error naming `what` when it does not broadcast.
const float* broadcast_param(const TensorView& t, const std::vector<int64_t>& target, std::vector<float>& storage,
                             const char* what);

}  // namespace vdrt::cpu
