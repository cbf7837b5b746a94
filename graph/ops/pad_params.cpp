// Implements pad_params.h: Pad's pads/axes resolution, shared by shape function and kernel.
#include "graph/ops/pad_params.h"

#include <string>

#include "graph/error.h"
#include "graph/ops/shape_fn_util.h"

namespace vdrt {

PadAmounts resolve_pads(size_t rank, const std::vector<int64_t>& pads, const std::vector<int64_t>& axes_in) {
  std::vector<int64_t> axes = axes_in;
  if (axes.empty())
    for (size_t i = 0; i < rank; ++i) axes.push_back(static_cast<int64_t>(i));
  axes = normalize_axes(axes, static_cast<int64_t>(rank), "Pad axes");
  VDRT_CHECK(pads.size() == 2 * axes.size(), "Pad expects " + std::to_string(2 * axes.size()) +
                                                  " pad values (begin and end for each of " +
                                                  std::to_string(axes.size()) + " axes), got " +
                                                  std::to_string(pads.size()));
  PadAmounts p{std::vector<int64_t>(rank, 0), std::vector<int64_t>(rank, 0)};
  for (size_t i = 0; i < axes.size(); ++i) {
    p.begin[axes[i]] = pads[i];
    p.end[axes[i]] = pads[axes.size() + i];
  }
  return p;
}

std::vector<int64_t> padded_dims(const std::vector<int64_t>& dims, const PadAmounts& p) {
  std::vector<int64_t> out(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) {
    const bool overflow = __builtin_add_overflow(dims[i], p.begin[i], &out[i]) ||
                          __builtin_add_overflow(out[i], p.end[i], &out[i]);
    VDRT_CHECK(!overflow, "Pad amounts " + std::to_string(p.begin[i]) + ", " + std::to_string(p.end[i]) +
                              " are out of range");
    VDRT_CHECK(out[i] >= 0, "Pad crops axis " + std::to_string(i) + " of size " + std::to_string(dims[i]) +
                                " by " + std::to_string(-p.begin[i]) + " and " + std::to_string(-p.end[i]) +
                                ", which leaves a negative size");
  }
  checked_shape(out, "Pad");
  return out;
}

}  // namespace vdrt
