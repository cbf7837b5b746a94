#include "backends/vulkan/vulkan_api.h"

#include <dlfcn.h>

#include <cstdlib>

#include "backends/gpu_backend_common.h"

namespace vdrt::vulkan {

const char* result_name(VkResult r) {
  switch (r) {
    case VK_SUCCESS: return "VK_SUCCESS";
    case VK_NOT_READY: return "VK_NOT_READY";
    case VK_TIMEOUT: return "VK_TIMEOUT";
    case VK_INCOMPLETE: return "VK_INCOMPLETE";
    case VK_ERROR_OUT_OF_HOST_MEMORY: return "VK_ERROR_OUT_OF_HOST_MEMORY";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: return "VK_ERROR_OUT_OF_DEVICE_MEMORY";
    case VK_ERROR_INITIALIZATION_FAILED: return "VK_ERROR_INITIALIZATION_FAILED";
    case VK_ERROR_DEVICE_LOST: return "VK_ERROR_DEVICE_LOST";
    case VK_ERROR_MEMORY_MAP_FAILED: return "VK_ERROR_MEMORY_MAP_FAILED";
    case VK_ERROR_LAYER_NOT_PRESENT: return "VK_ERROR_LAYER_NOT_PRESENT";
    case VK_ERROR_EXTENSION_NOT_PRESENT: return "VK_ERROR_EXTENSION_NOT_PRESENT";
    case VK_ERROR_FEATURE_NOT_PRESENT: return "VK_ERROR_FEATURE_NOT_PRESENT";
    case VK_ERROR_INCOMPATIBLE_DRIVER: return "VK_ERROR_INCOMPATIBLE_DRIVER";
    case VK_ERROR_TOO_MANY_OBJECTS: return "VK_ERROR_TOO_MANY_OBJECTS";
    case VK_ERROR_FORMAT_NOT_SUPPORTED: return "VK_ERROR_FORMAT_NOT_SUPPORTED";
    case VK_ERROR_FRAGMENTED_POOL: return "VK_ERROR_FRAGMENTED_POOL";
    case VK_ERROR_OUT_OF_POOL_MEMORY: return "VK_ERROR_OUT_OF_POOL_MEMORY";
    default: return "VkResult error";
  }
}

Instance& Instance::get() {
  static Instance instance;
  return instance;
}

Instance::Instance() {
  if (const char* off = std::getenv("VDRT_VULKAN_DISABLE"); off && *off && std::string(off) != "0") {
    why_ = "disabled by VDRT_VULKAN_DISABLE";
    return;
  }
  for (const char* name : {"libvulkan.so.1", "libvulkan.so"}) {
    library_ = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (library_) break;
  }
  if (!library_) {
    why_ = "the Vulkan loader (libvulkan.so.1) is not installed (Debian: apt-get install libvulkan1 and a driver, e.g. mesa-vulkan-drivers)";
    return;
  }
  api_.vkGetInstanceProcAddr = reinterpret_cast<PFN_vkGetInstanceProcAddr>(dlsym(library_, "vkGetInstanceProcAddr"));
  if (!api_.vkGetInstanceProcAddr) {
    why_ = "libvulkan.so.1 has no vkGetInstanceProcAddr";
    return;
  }
#define VDRT_VK_LOAD_GLOBAL(name) \
  api_.name = reinterpret_cast<PFN_##name>(api_.vkGetInstanceProcAddr(VK_NULL_HANDLE, #name));
  VDRT_VK_GLOBAL_FUNCTIONS(VDRT_VK_LOAD_GLOBAL)
#undef VDRT_VK_LOAD_GLOBAL
  if (!api_.vkCreateInstance) {
    why_ = "the Vulkan loader exports no vkCreateInstance";
    return;
  }
  uint32_t version = VK_API_VERSION_1_0;
  if (api_.vkEnumerateInstanceVersion) api_.vkEnumerateInstanceVersion(&version);
  if (version < VK_API_VERSION_1_2) {
    why_ = "the Vulkan loader supports only Vulkan " + std::to_string(VK_API_VERSION_MAJOR(version)) + "." +
           std::to_string(VK_API_VERSION_MINOR(version)) + "; vdrt needs 1.2";
    return;
  }
  VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.pApplicationName = "vdrt";
  // VK_NV_cooperative_matrix2's shaders are SPIR-V 1.6, which needs Vulkan 1.3
  // (VDRT_VULKAN_COOPMAT2, an experiment; vulkan_device.cpp).
  app.apiVersion =
      gpu::env_on("VDRT_VULKAN_COOPMAT2") && version >= VK_API_VERSION_1_3 ? VK_API_VERSION_1_3 : VK_API_VERSION_1_2;
  VkInstanceCreateInfo ci{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  ci.pApplicationInfo = &app;
  VkResult r = api_.vkCreateInstance(&ci, nullptr, &instance_);
  if (r != VK_SUCCESS) {
    instance_ = VK_NULL_HANDLE;
    why_ = std::string("vkCreateInstance failed (") + result_name(r) +
           "): no Vulkan driver is installed or it cannot start";
    return;
  }
#define VDRT_VK_LOAD_INSTANCE(name) \
  api_.name = reinterpret_cast<PFN_##name>(api_.vkGetInstanceProcAddr(instance_, #name));
  VDRT_VK_INSTANCE_FUNCTIONS(VDRT_VK_LOAD_INSTANCE)
  VDRT_VK_OPTIONAL_INSTANCE_FUNCTIONS(VDRT_VK_LOAD_INSTANCE)
#undef VDRT_VK_LOAD_INSTANCE
}

Instance::~Instance() {
  // The loader and instance live for the whole process: drivers may still be
  // referenced from other static destructors, so neither is torn down here.
}

Api Instance::device_api(VkDevice device) const {
  Api a = api_;
#define VDRT_VK_LOAD_DEVICE(name) a.name = reinterpret_cast<PFN_##name>(api_.vkGetDeviceProcAddr(device, #name));
  VDRT_VK_DEVICE_FUNCTIONS(VDRT_VK_LOAD_DEVICE)
  VDRT_VK_OPTIONAL_DEVICE_FUNCTIONS(VDRT_VK_LOAD_DEVICE)
#undef VDRT_VK_LOAD_DEVICE
  return a;
}

}  // namespace vdrt::vulkan
