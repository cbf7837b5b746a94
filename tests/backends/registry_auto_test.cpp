// Which device --device auto takes (backends/registry.h auto_candidates), on
// device lists like the machines vdrt runs on: the ranking is pure, so it is
// checked here without the devices.
#include <gtest/gtest.h>

#include "backends/registry.h"

namespace vdrt::test {
namespace {

DeviceInfo device(const std::string& backend, const std::string& kind, int fp16_tier, int index = 0) {
  DeviceInfo d;
  d.backend = backend;
  d.name = backend + " " + kind;
  d.kind = kind;
  d.index = index;
  d.fp16_tier = fp16_tier;
  return d;
}

std::vector<std::string> order(const std::vector<DeviceInfo>& devices, const std::string& precision) {
  std::vector<std::string> out;
  for (const DeviceInfo& d : auto_candidates(devices, precision)) out.push_back(d.backend + ":" + std::to_string(d.index));
  return out;
}

using Order = std::vector<std::string>;

TEST(AutoDevice, NvidiaFp16TakesOpenClTensorCoresFp32TakesVulkan) {
  // The H200 machine: Vulkan with NV cooperative matrices, NVIDIA's OpenCL
  // with inline PTX, PoCL on the CPU (never a candidate).
  const std::vector<DeviceInfo> h200{device("cpu", "cpu", 0), device("vulkan", "gpu", 1), device("opencl", "gpu", 2),
                                     device("opencl", "cpu", 0, 1)};
  EXPECT_EQ(order(h200, "fp16"), (Order{"opencl:0", "vulkan:0"}));
  EXPECT_EQ(order(h200, "fp32"), (Order{"vulkan:0", "opencl:0"}));
}

TEST(AutoDevice, WithoutTensorCoresVulkanComesFirstAndDiscreteBeforeIntegrated) {
  const std::vector<DeviceInfo> laptop{device("opencl", "igpu", 0), device("vulkan", "igpu", 0),
                                       device("opencl", "gpu", 0, 1), device("vulkan", "gpu", 0, 1)};
  EXPECT_EQ(order(laptop, "fp16"), (Order{"vulkan:1", "opencl:1", "vulkan:0", "opencl:0"}));
  EXPECT_EQ(order(laptop, "fp32"), order(laptop, "fp16"));
}

TEST(AutoDevice, SoftwareDevicesAreNeverCandidates) {
  // CI: lavapipe and PoCL report kind "cpu"; the CPU backend is what remains.
  EXPECT_TRUE(order({device("cpu", "cpu", 0), device("vulkan", "cpu", 0), device("opencl", "cpu", 0)}, "fp16").empty());
}

}  // namespace
}  // namespace vdrt::test
