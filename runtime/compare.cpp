#include "runtime/compare.h"

#include <cmath>

namespace vdrt {

Comparison compare_tensors(const Tensor& actual, const Tensor& expected, double rtol, double atol) {
  Comparison c;
  if (actual.dims() != expected.dims()) {
    c.reason = "shape " + dims_str(actual.dims()) + " != expected " + dims_str(expected.dims());
    return c;
  }
  if (actual.dtype() != expected.dtype()) {
    c.reason = std::string("dtype ") + dtype_name(actual.dtype()) + " != expected " + dtype_name(expected.dtype());
    return c;
  }
  std::vector<double> a = actual.as_double(), e = expected.as_double();
  for (size_t i = 0; i < a.size(); ++i) {
    bool bad;
    if (std::isnan(a[i]) || std::isnan(e[i])) {
      bad = std::isnan(a[i]) != std::isnan(e[i]);
    } else if (std::isinf(a[i]) || std::isinf(e[i])) {
      bad = a[i] != e[i];
    } else {
      double err = std::fabs(a[i] - e[i]);
      c.max_abs_error = std::max(c.max_abs_error, err);
      if (e[i] != 0) c.max_rel_error = std::max(c.max_rel_error, err / std::fabs(e[i]));
      bad = err > atol + rtol * std::fabs(e[i]);
    }
    if (bad) {
      if (c.mismatches == 0)
        c.reason = "element " + std::to_string(i) + ": " + std::to_string(a[i]) + " vs expected " + std::to_string(e[i]);
      ++c.mismatches;
    }
  }
  c.ok = c.mismatches == 0;
  return c;
}

}  // namespace vdrt
