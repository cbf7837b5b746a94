#pragma once
// ONNX Slice's index arithmetic (negative indices, clamping, negative steps)
// in one place, because the shape function and the CPU kernel must agree on
// it to the element.
#include <cstdint>
#include <vector>

namespace vdrt {

struct SliceRange {
  int64_t start = 0;  // first index read
  int64_t step = 1;
  int64_t count = 0;  // number of elements taken
};

// One axis of size `dim`; throws vdrt::Error when step is 0.
SliceRange slice_range(int64_t dim, int64_t start, int64_t end, int64_t step);

// Resolves Slice's starts/ends/axes/steps (axes and steps may be empty for
// their defaults) against `dims`; axes not named keep their full range.
std::vector<SliceRange> resolve_slice(const std::vector<int64_t>& dims, const std::vector<int64_t>& starts,
                                      const std::vector<int64_t>& ends, const std::vector<int64_t>& axes,
                                      const std::vector<int64_t>& steps);

}  // namespace vdrt
