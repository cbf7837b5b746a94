#include "test_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

namespace vdrt::test {

std::string source_path(const std::string& relative) { return std::string(VDRT_SOURCE_ROOT) + "/" + relative; }
std::string vdrt_binary() { return std::string(VDRT_BINARY_ROOT) + "/tools/vdrt"; }

double max_abs_diff(const Tensor& actual, const Tensor& expected) {
  EXPECT_EQ(actual.dims(), expected.dims()) << "shape mismatch";
  if (actual.dims() != expected.dims()) return INFINITY;
  auto a = actual.as_double(), e = expected.as_double();
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) != std::isnan(e[i])) return INFINITY;
    if (!std::isnan(a[i]) && a[i] != e[i]) m = std::max(m, std::fabs(a[i] - e[i]));
  }
  return m;
}

}  // namespace vdrt::test
