#pragma once
// What a Vulkan physical device offers vdrt, read once, and the logical
// device vdrt creates on it (one compute queue).
#include <cstdint>
#include <string>
#include <vector>

#include "backends/vulkan/vulkan_api.h"
#include "kernels/gpu/gpu_kernel.h"

namespace vdrt::vulkan {

struct PhysicalDeviceInfo {
  VkPhysicalDevice handle = VK_NULL_HANDLE;
  std::string name;
  std::string kind;            // "gpu" (discrete), "igpu", "cpu" (lavapipe, SwiftShader), "other"
  uint32_t vendor_id = 0, device_id = 0, driver_version = 0, api_version = 0;
  std::string driver;          // driver name and info where the driver reports them
  uint8_t cache_uuid[VK_UUID_SIZE] = {};
  size_t device_local_bytes = 0;
  uint32_t compute_queue_family = UINT32_MAX;
  bool push_descriptor = false;
  bool bf16_extension = false;  // VK_KHR_shader_bfloat16 (not yet used by vdrt's shaders)
  // VK_KHR_cooperative_matrix and VK_NV_cooperative_matrix2 (workgroup-scope
  // matrices, tensor-addressed loads): enabled only with VDRT_VULKAN_COOPMAT2=1,
  // for shaders given through VDRT_VK_SPV_DIR (bench/shaders/matmul_coopmat2_f16.comp).
  bool coopmat2_extension = false;
  bool pipeline_statistics = false;  // VK_KHR_pipeline_executable_properties with pipelineExecutableInfo
  gpu::DeviceCaps caps;
  std::vector<std::string> coopmat_shapes;  // "16x8x16 f16->f32", as the driver lists them

  std::string summary() const;  // one line for `vdrt devices`
};

// Every device of the process-wide instance, in the driver's order; empty
// when Vulkan is unavailable.
const std::vector<PhysicalDeviceInfo>& physical_devices();

class Device {
 public:
  explicit Device(const PhysicalDeviceInfo& info);  // throws vdrt::Error
  ~Device();
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  const PhysicalDeviceInfo& info() const { return info_; }
  const Api& api() const { return api_; }
  VkDevice handle() const { return device_; }
  VkQueue queue() const { return queue_; }
  // VDRT_VULKAN_PIPELINE_STATS=1 on a device that can: pipelines are created
  // with their compiler statistics captured (vulkan_pipeline_stats.h).
  bool captures_pipeline_statistics() const { return pipeline_statistics_; }
  const VkPhysicalDeviceMemoryProperties& memory_properties() const { return memory_; }

 private:
  PhysicalDeviceInfo info_;
  Api api_;
  VkDevice device_ = VK_NULL_HANDLE;
  VkQueue queue_ = VK_NULL_HANDLE;
  VkPhysicalDeviceMemoryProperties memory_{};
  bool pipeline_statistics_ = false;
};

void check(VkResult r, const char* what);  // throws vdrt::Error (OutOfMemory for memory errors)

}  // namespace vdrt::vulkan
