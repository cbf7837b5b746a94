#pragma once
// Index handling shared by the gather and scatter kernels: ONNX allows
// negative indices (counted from the end) and leaves out-of-range ones
// undefined; vdrt rejects them with an error instead of reading wild memory.
#include <string>
#include <vector>

#include "kernels/cpu/kernel.h"

namespace vdrt::cpu {

// The indices of `idx` (int32 or int64) normalised into [0, dim); throws
// vdrt::Error naming `op` and `axis` on the first one out of range.
std::vector<int64_t> checked_indices(const TensorView& idx, int64_t dim, const char* op, int64_t axis);

}  // namespace vdrt::cpu
