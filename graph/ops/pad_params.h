#pragma once
// Pad's argument resolution (pads list in ONNX order, optional axes) shared by
// the shape function and the CPU kernel.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace vdrt {

struct PadAmounts {
  std::vector<int64_t> begin, end;  // per axis of the input; negative values crop
};

// `pads` is [x1_begin, x2_begin, ..., x1_end, x2_end, ...] over `axes` (all
// axes when empty). Throws vdrt::Error on a length mismatch or bad axis.
PadAmounts resolve_pads(size_t rank, const std::vector<int64_t>& pads, const std::vector<int64_t>& axes);

// Output dims; throws when cropping would make a dim negative.
std::vector<int64_t> padded_dims(const std::vector<int64_t>& dims, const PadAmounts& p);

}  // namespace vdrt
