#pragma once
// Helpers shared by the test suites.
#include <string>

#include "graph/tensor.h"

namespace vdrt::test {

// Absolute path of a file in the source tree, e.g. source_path("models/tiny_wan").
std::string source_path(const std::string& relative);
// Path of the built `vdrt` binary.
std::string vdrt_binary();
// Largest absolute elementwise difference; fails the test on dtype/shape mismatch.
double max_abs_diff(const Tensor& actual, const Tensor& expected);

}  // namespace vdrt::test
