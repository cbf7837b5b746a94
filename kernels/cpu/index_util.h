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

// The same check without copying, for index tensors as large as the data
// (GatherElements, ScatterElements); read them afterwards with
// with_index_type + normalized_index.
void check_indices(const TensorView& idx, int64_t dim, const char* op, int64_t axis);

template <typename F>
void with_index_type(const TensorView& idx, F&& f) {
  if (idx.dtype == DType::I32) f(static_cast<const int32_t*>(idx.data));
  else f(static_cast<const int64_t*>(idx.data));
}

template <typename I>
inline int64_t normalized_index(I v, int64_t dim) {
  return v < 0 ? static_cast<int64_t>(v) + dim : static_cast<int64_t>(v);
}

// Normalises v into [0, dim) for a loop that checks as it goes: an index out
// of range reads element 0 instead (so the loop stays in bounds) and sets
// `bad`; the caller then reports it with check_indices.
template <typename I>
inline int64_t guarded_index(I v, int64_t dim, bool& bad) {
  int64_t i = static_cast<int64_t>(v);
  i += i < 0 ? dim : 0;
  const bool ok = static_cast<uint64_t>(i) < static_cast<uint64_t>(dim);
  bad |= !ok;
  return ok ? i : 0;
}

}  // namespace vdrt::cpu
