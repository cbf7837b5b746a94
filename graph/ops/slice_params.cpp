// Implements slice_params.h: ONNX Slice clamping in one place for shape function and kernel.
#include "graph/ops/slice_params.h"

#include <algorithm>
#include <cstdint>
#include <string>

#include "graph/error.h"
#include "graph/ops/shape_fn_util.h"

namespace vdrt {

SliceRange slice_range(int64_t dim, int64_t start, int64_t end, int64_t step) {
  VDRT_CHECK(step != 0, "Slice step must not be 0");
  if (dim <= 0) return SliceRange{0, step, 0};
  if (start < 0) start += dim;
  if (end < 0) end += dim;
  SliceRange r;
  r.step = step;
  // |step| without overflow for INT64_MIN; any step past the axis takes one element.
  const int64_t astep = step > 0 ? step : (step == INT64_MIN ? INT64_MAX : -step);
  if (step > 0) {
    start = std::clamp<int64_t>(start, 0, dim);
    end = std::clamp<int64_t>(end, 0, dim);
    r.count = end > start ? (end - start - 1) / astep + 1 : 0;
  } else {
    // Walking backwards the first readable index is dim-1 and the end may
    // sit one before the start of the axis.
    start = std::clamp<int64_t>(start, 0, dim - 1);
    end = std::clamp<int64_t>(end, -1, dim - 1);
    r.count = start > end ? (start - end - 1) / astep + 1 : 0;
  }
  r.start = r.count > 0 ? start : 0;
  return r;
}

std::vector<SliceRange> resolve_slice(const std::vector<int64_t>& dims, const std::vector<int64_t>& starts,
                                      const std::vector<int64_t>& ends, const std::vector<int64_t>& axes_in,
                                      const std::vector<int64_t>& steps) {
  const int64_t rank = static_cast<int64_t>(dims.size());
  VDRT_CHECK(starts.size() == ends.size(), "Slice starts has " + std::to_string(starts.size()) +
                                               " entries but ends has " + std::to_string(ends.size()));
  VDRT_CHECK(axes_in.empty() || axes_in.size() == starts.size(),
             "Slice axes has " + std::to_string(axes_in.size()) + " entries, starts has " + std::to_string(starts.size()));
  VDRT_CHECK(steps.empty() || steps.size() == starts.size(),
             "Slice steps has " + std::to_string(steps.size()) + " entries, starts has " + std::to_string(starts.size()));
  std::vector<int64_t> axes = axes_in;
  if (axes.empty())
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  axes = normalize_axes(axes, rank, "Slice axes");
  std::vector<SliceRange> out(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) out[i] = SliceRange{0, 1, dims[i]};
  for (size_t i = 0; i < axes.size(); ++i)
    out[axes[i]] = slice_range(dims[axes[i]], starts[i], ends[i], steps.empty() ? 1 : steps[i]);
  return out;
}

}  // namespace vdrt
