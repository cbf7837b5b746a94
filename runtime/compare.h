#pragma once
// Output comparison in the numpy.testing.assert_allclose sense:
// |actual - expected| <= atol + rtol * |expected|, NaN equal to NaN.
#include <string>

#include "graph/tensor.h"

namespace vdrt {

struct Comparison {
  bool ok = false;
  double max_abs_error = 0;
  double max_rel_error = 0;
  int64_t mismatches = 0;
  std::string reason;  // set when !ok: shape/dtype mismatch or first bad element
};

Comparison compare_tensors(const Tensor& actual, const Tensor& expected, double rtol, double atol);

}  // namespace vdrt
