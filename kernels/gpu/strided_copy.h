#pragma once
// Builds dispatches of copy.comp: an iteration space with a stride per dim
// for the source and the destination, collapsed to at most 6 dims.
#include <cstdint>
#include <vector>

#include "kernels/gpu/gpu_kernel.h"

namespace vdrt::gpu {

// Row-major element strides of `dims`.
std::vector<int64_t> contiguous_strides(const std::vector<int64_t>& dims);

// Element strides of a tensor of `dims` broadcast (NumPy rules) to `out`
// dims: 0 along the dims it repeats.
std::vector<int64_t> broadcast_strides(const std::vector<int64_t>& dims, const std::vector<int64_t>& out);

// Merges adjacent dims whose strides chain in every operand (and drops
// size-1 dims), so most copies and broadcasts become 1-3 dims.
void collapse_dims(std::vector<int64_t>& dims, std::vector<std::vector<int64_t>*> strides);

// A copy of elements of `elem_bytes` (4 or 8) from input `src` to output `dst`.
Dispatch strided_copy(std::vector<int64_t> dims, std::vector<int64_t> in_strides, std::vector<int64_t> out_strides,
                      int64_t in_offset, int64_t out_offset, size_t elem_bytes, Arg src, Arg dst,
                      const DeviceCaps& caps);

// Whether copy.comp can move elements of this dtype (4- and 8-byte types).
bool copyable(DType t);

}  // namespace vdrt::gpu
