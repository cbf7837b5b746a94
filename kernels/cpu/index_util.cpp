// Implements index_util.h: index validation shared by the gather and scatter kernels.
#include "kernels/cpu/index_util.h"

namespace vdrt::cpu {

std::vector<int64_t> checked_indices(const TensorView& idx, int64_t dim, const char* op, int64_t axis) {
  VDRT_CHECK(idx.dtype == DType::I64 || idx.dtype == DType::I32,
             std::string(op) + " indices must be int32 or int64, got " + dtype_name(idx.dtype));
  std::vector<int64_t> v = idx.to_int64();
  for (int64_t& i : v) {
    if (i < -dim || i >= dim)
      throw Error(std::string(op) + " index " + std::to_string(i) + " is out of range for axis " +
                  std::to_string(axis) + " of size " + std::to_string(dim));
    if (i < 0) i += dim;
  }
  return v;
}

void check_indices(const TensorView& idx, int64_t dim, const char* op, int64_t axis) {
  VDRT_CHECK(idx.dtype == DType::I64 || idx.dtype == DType::I32,
             std::string(op) + " indices must be int32 or int64, got " + dtype_name(idx.dtype));
  with_index_type(idx, [&](const auto* p) {
    for (int64_t i = 0, n = idx.numel(); i < n; ++i)
      if (p[i] < -dim || p[i] >= dim)
        throw Error(std::string(op) + " index " + std::to_string(p[i]) + " is out of range for axis " +
                    std::to_string(axis) + " of size " + std::to_string(dim));
  });
}

}  // namespace vdrt::cpu
