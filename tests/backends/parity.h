#pragma once
// The backend-parity harness: every op case runs on the CPU backend and on
// each GPU backend compiled in (Vulkan and OpenCL), with CPU fallback
// off so the case fails if the GPU backend cannot place the node, and the
// outputs are compared. A missing device skips, except under
// VDRT_REQUIRE_GPU=1 (CI sets it: lavapipe and PoCL must be there), where it fails.
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "graph/graph.h"
#include "passes/graph_builder.h"

namespace vdrt::test {

struct ParityCase {
  std::string name;
  std::function<void(GraphBuilder&)> build;  // adds inputs, nodes and outputs
  double tolerance = 1e-5;                   // on max |gpu - cpu| / max(1, max |cpu|)
  int64_t opset = 18;
  SessionOptions options = {};               // device is overwritten; e.g. precision
};

// "vulkan", ... : the GPU backends this build has.
std::vector<std::string> gpu_backends();

// Empty when `backend` has a device; else why not.
std::string missing_device(const std::string& backend);
// VDRT_REQUIRE_GPU=1: a missing device fails instead of skipping.
bool gpu_required();

// Skips, or fails under VDRT_REQUIRE_GPU=1, a test whose backend has no device.
#define VDRT_REQUIRE_DEVICE(backend)                                                         \
  do {                                                                                       \
    if (std::string why_ = ::vdrt::test::missing_device(backend); !why_.empty()) {           \
      if (::vdrt::test::gpu_required()) FAIL() << why_ << " (VDRT_REQUIRE_GPU=1)";           \
      GTEST_SKIP() << why_;                                                                  \
    }                                                                                        \
  } while (0)

// Empty when device 0 of `backend` runs the tensor-core kernels of fp16
// sessions (Vulkan: NV cooperative matrices; OpenCL: inline PTX on NVIDIA;
// e.g. the H200); else why not.
std::string missing_coopmat(const std::string& backend = "vulkan");

void expect_parity(const std::string& backend, const ParityCase& c);

// Appends an fp16-precision twin of every case in `v` (name + "Fp16",
// tolerance at least `min_tolerance`): the GEMM cases' cooperative-matrix
// runs where the device has them.
void add_fp16_twins(std::vector<ParityCase>& v, double min_tolerance);

// Instantiates one test per (GPU backend, case) of `cases_fn()`.
#define VDRT_PARITY_SUITE(Suite, cases_fn)                                                                  \
  class Suite : public ::testing::TestWithParam<std::tuple<std::string, size_t>> {};                       \
  TEST_P(Suite, MatchesCpu) {                                                                              \
    const auto& [backend, index] = GetParam();                                                             \
    VDRT_REQUIRE_DEVICE(backend);                                                                          \
    ::vdrt::test::expect_parity(backend, cases_fn()[index]);                                               \
  }                                                                                                        \
  INSTANTIATE_TEST_SUITE_P(                                                                                \
      Backends, Suite,                                                                                     \
      ::testing::Combine(::testing::ValuesIn(::vdrt::test::gpu_backends()),                                \
                         ::testing::Range<size_t>(0, cases_fn().size())),                                  \
      [](const ::testing::TestParamInfo<std::tuple<std::string, size_t>>& info) {                          \
        return std::get<0>(info.param) + "_" + cases_fn()[std::get<1>(info.param)].name;                   \
      })

}  // namespace vdrt::test
