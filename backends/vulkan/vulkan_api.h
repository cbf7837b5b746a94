#pragma once
// The Vulkan entry points vdrt uses, loaded at run time from the system's
// loader (libvulkan.so.1) instead of linked: a machine without Vulkan still
// starts vdrt, and `vdrt devices` says why no Vulkan device is listed.
#define VK_NO_PROTOTYPES
#include <vulkan/vulkan.h>

#include <string>

namespace vdrt::vulkan {

#define VDRT_VK_GLOBAL_FUNCTIONS(X) \
  X(vkCreateInstance)               \
  X(vkEnumerateInstanceExtensionProperties) \
  X(vkEnumerateInstanceVersion)

#define VDRT_VK_INSTANCE_FUNCTIONS(X)            \
  X(vkDestroyInstance)                           \
  X(vkEnumeratePhysicalDevices)                  \
  X(vkGetPhysicalDeviceProperties)               \
  X(vkGetPhysicalDeviceProperties2)              \
  X(vkGetPhysicalDeviceFeatures2)                \
  X(vkGetPhysicalDeviceMemoryProperties)         \
  X(vkGetPhysicalDeviceQueueFamilyProperties)    \
  X(vkEnumerateDeviceExtensionProperties)        \
  X(vkCreateDevice)                              \
  X(vkGetDeviceProcAddr)

// Loaded only when the extension is present.
#define VDRT_VK_OPTIONAL_INSTANCE_FUNCTIONS(X) X(vkGetPhysicalDeviceCooperativeMatrixPropertiesNV)

// Device entry points of optional extensions (null where not enabled).
#define VDRT_VK_OPTIONAL_DEVICE_FUNCTIONS(X)   \
  X(vkGetPipelineExecutablePropertiesKHR) \
  X(vkGetPipelineExecutableStatisticsKHR)

#define VDRT_VK_DEVICE_FUNCTIONS(X) \
  X(vkDestroyDevice)                \
  X(vkGetDeviceQueue)               \
  X(vkCreateBuffer)                 \
  X(vkDestroyBuffer)                \
  X(vkGetBufferMemoryRequirements)  \
  X(vkAllocateMemory)               \
  X(vkFreeMemory)                   \
  X(vkBindBufferMemory)             \
  X(vkMapMemory)                    \
  X(vkUnmapMemory)                  \
  X(vkCreateShaderModule)           \
  X(vkDestroyShaderModule)          \
  X(vkCreateDescriptorSetLayout)    \
  X(vkDestroyDescriptorSetLayout)   \
  X(vkCreatePipelineLayout)         \
  X(vkDestroyPipelineLayout)        \
  X(vkCreateComputePipelines)       \
  X(vkDestroyPipeline)              \
  X(vkCreatePipelineCache)          \
  X(vkDestroyPipelineCache)         \
  X(vkGetPipelineCacheData)         \
  X(vkCreateCommandPool)            \
  X(vkDestroyCommandPool)           \
  X(vkAllocateCommandBuffers)       \
  X(vkFreeCommandBuffers)           \
  X(vkBeginCommandBuffer)           \
  X(vkEndCommandBuffer)             \
  X(vkResetCommandBuffer)           \
  X(vkCmdBindPipeline)              \
  X(vkCmdPushDescriptorSetKHR)      \
  X(vkCmdPushConstants)             \
  X(vkCmdDispatch)                  \
  X(vkCmdPipelineBarrier)           \
  X(vkCmdCopyBuffer)                \
  X(vkCmdFillBuffer)                \
  X(vkQueueSubmit)                  \
  X(vkQueueWaitIdle)                \
  X(vkCreateFence)                  \
  X(vkDestroyFence)                 \
  X(vkWaitForFences)                \
  X(vkResetFences)                  \
  X(vkDeviceWaitIdle)               \
  X(vkCreateQueryPool)              \
  X(vkDestroyQueryPool)             \
  X(vkCmdResetQueryPool)            \
  X(vkCmdWriteTimestamp)            \
  X(vkGetQueryPoolResults)

struct Api {
#define VDRT_VK_DECLARE(name) PFN_##name name = nullptr;
  PFN_vkGetInstanceProcAddr vkGetInstanceProcAddr = nullptr;
  VDRT_VK_GLOBAL_FUNCTIONS(VDRT_VK_DECLARE)
  VDRT_VK_INSTANCE_FUNCTIONS(VDRT_VK_DECLARE)
  VDRT_VK_OPTIONAL_INSTANCE_FUNCTIONS(VDRT_VK_DECLARE)
  VDRT_VK_DEVICE_FUNCTIONS(VDRT_VK_DECLARE)
  VDRT_VK_OPTIONAL_DEVICE_FUNCTIONS(VDRT_VK_DECLARE)
#undef VDRT_VK_DECLARE
};

// The process-wide loader and instance. `available()` is false, with
// `why_unavailable()` saying why, when the loader or a driver is missing.
class Instance {
 public:
  static Instance& get();
  bool available() const { return instance_ != VK_NULL_HANDLE; }
  const std::string& why_unavailable() const { return why_; }
  VkInstance handle() const { return instance_; }
  const Api& api() const { return api_; }
  // Loads the device-level entry points of `device` into a copy of the table.
  Api device_api(VkDevice device) const;

 private:
  Instance();
  ~Instance();
  void* library_ = nullptr;
  VkInstance instance_ = VK_NULL_HANDLE;
  Api api_;
  std::string why_;
};

const char* result_name(VkResult r);

}  // namespace vdrt::vulkan
