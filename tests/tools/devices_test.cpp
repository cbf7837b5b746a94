// `vdrt devices` and `--device` on machines with and without a Vulkan or OpenCL driver:
// the device is listed with its features, and its absence is a clear message
// and exit code 1, never a crash.
#include <gtest/gtest.h>

#include "test_util.h"

namespace vdrt::test {
namespace {

TEST(DevicesCli, ListsTheCpuAndEveryVulkanDeviceWithItsFeatures) {
  CliResult r = run_vdrt("devices");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("cpu:0"), std::string::npos) << r.output;
#ifdef VDRT_WITH_VULKAN
  // CI pins Mesa lavapipe (scripts/run-tests.sh); elsewhere any driver will do.
  if (std::getenv("VDRT_REQUIRE_GPU") && std::string(std::getenv("VDRT_REQUIRE_GPU")) == "1") {
    EXPECT_NE(r.output.find("vulkan:0"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("subgroup "), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("fp16 "), std::string::npos) << r.output;
  }
#endif
#ifdef VDRT_WITH_OPENCL
  // CI installs PoCL; its CPU device is listed like any other OpenCL device.
  if (std::getenv("VDRT_REQUIRE_GPU") && std::string(std::getenv("VDRT_REQUIRE_GPU")) == "1") {
    EXPECT_NE(r.output.find("opencl:0"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("compute units, local memory "), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("max allocation "), std::string::npos) << r.output;
  }
#endif
  // CI's devices are software ones (lavapipe, PoCL), which auto never takes.
  if (std::getenv("VDRT_REQUIRE_GPU") && std::string(std::getenv("VDRT_REQUIRE_GPU")) == "1" &&
      r.output.find(" gpu ") == std::string::npos && r.output.find(" igpu ") == std::string::npos) {
    EXPECT_NE(r.output.find("--device auto: cpu:0 (fp32), cpu:0 (fp16)"), std::string::npos) << r.output;
  } else {
    EXPECT_NE(r.output.find("--device auto: "), std::string::npos) << r.output;
  }
}

TEST(DevicesCli, NoOpenCLDriverIsAClearMessage) {
  CliResult r = run_vdrt("devices", "VDRT_OPENCL_DISABLE=1");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(r.output.find("opencl:0"), std::string::npos) << r.output;
#ifdef VDRT_WITH_OPENCL
  EXPECT_NE(r.output.find("(no device) opencl: disabled by VDRT_OPENCL_DISABLE"), std::string::npos) << r.output;
  // An ICD loader that finds no driver at all: pointed at an empty vendor folder.
  r = run_vdrt("devices", "OCL_ICD_VENDORS=/nonexistent/vendors");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(r.output.find("opencl:0"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("(no device) opencl: the OpenCL ICD loader found no platform"), std::string::npos) << r.output;
#endif
  const std::string model = source_path("models/tiny_wan/ts17/denoiser.onnx");
  const std::string data = source_path("models/tiny_wan/ts17/denoiser/test_data_set_1");
  r = run_vdrt("run " + model + " -i " + data + " -d opencl", "VDRT_OPENCL_DISABLE=1");
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("opencl"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("internal error"), std::string::npos) << r.output;
}

TEST(DevicesCli, NoVulkanDriverIsAClearMessage) {
  CliResult r = run_vdrt("devices", "VDRT_VULKAN_DISABLE=1");
  ASSERT_EQ(r.code, 0) << r.output;
#ifdef VDRT_WITH_VULKAN
  EXPECT_NE(r.output.find("(no device) vulkan: disabled by VDRT_VULKAN_DISABLE"), std::string::npos) << r.output;
#endif
  // A missing loader (no libvulkan.so.1 at all): the library path leads nowhere.
  r = run_vdrt("devices", "VK_DRIVER_FILES=/nonexistent/icd.json VK_ICD_FILENAMES=/nonexistent/icd.json");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(r.output.find("vulkan:0"), std::string::npos) << r.output;

  const std::string model = source_path("models/tiny_wan/ts17/denoiser.onnx");
  const std::string data = source_path("models/tiny_wan/ts17/denoiser/test_data_set_1");
  r = run_vdrt("run " + model + " -i " + data + " -d vulkan", "VDRT_VULKAN_DISABLE=1");
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("vulkan"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("no device"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("internal error"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace vdrt::test
