#pragma once
// Resize's output-size arithmetic (scales or sizes, axes, keep_aspect_ratio)
// shared by the shape function and the CPU kernel: the kernel's sampling
// positions depend on the same effective scales that fixed the output shape.
#include <cstdint>
#include <string>
#include <vector>

namespace vdrt {

struct ResizePlan {
  std::vector<int64_t> out_dims;  // per input axis
  std::vector<double> scales;     // effective scale per input axis (1 where untouched)
  std::vector<int64_t> axes;      // the axes named by `axes`, normalised (all axes when none given)
};

// Exactly one of `scales` (floats) and `sizes` must be non-empty; each has
// one entry per axis in `axes` (all axes when empty). `policy` is
// keep_aspect_ratio_policy: stretch, not_larger or not_smaller (sizes only).
ResizePlan plan_resize(const std::vector<int64_t>& in_dims, const std::vector<float>& scales,
                       const std::vector<int64_t>& sizes, const std::vector<int64_t>& axes,
                       const std::string& policy);

}  // namespace vdrt

namespace vdrt {

class AttributeMap;

// Resize's (and Upsample's) attributes with each opset's defaults applied
// and checked; `upsample` selects the deprecated Upsample op.
struct ResizeAttrs {
  std::string mode = "nearest";                 // nearest, linear, cubic
  std::string coord = "half_pixel";             // coordinate_transformation_mode
  std::string nearest_mode = "round_prefer_floor";  // or "simple" (Upsample, Resize-10)
  double cubic_a = -0.75;
  bool exclude_outside = false;
  double extrapolation_value = 0.0;
  bool antialias = false;
  std::string policy = "stretch";               // keep_aspect_ratio_policy
  std::vector<int64_t> axes;                    // as given (not normalised)
};

ResizeAttrs resize_attrs(const AttributeMap& attrs, int64_t opset, bool upsample);

}  // namespace vdrt
