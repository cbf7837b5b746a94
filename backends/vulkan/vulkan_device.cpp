#include "backends/vulkan/vulkan_device.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include <spdlog/spdlog.h>

#include "backends/gpu_backend_common.h"
#include "graph/error.h"

namespace vdrt::vulkan {

void check(VkResult r, const char* what) {
  if (r == VK_SUCCESS) return;
  std::string msg = std::string("Vulkan: ") + what + " failed (" + result_name(r) + ")";
  if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY) throw OutOfMemory(msg);
  throw Error(msg);
}

namespace {

const char* component_name(VkComponentTypeNV t) {
  switch (t) {
    case VK_COMPONENT_TYPE_FLOAT16_NV: return "f16";
    case VK_COMPONENT_TYPE_FLOAT32_NV: return "f32";
    case VK_COMPONENT_TYPE_SINT8_NV: return "s8";
    case VK_COMPONENT_TYPE_SINT32_NV: return "s32";
    case VK_COMPONENT_TYPE_UINT8_NV: return "u8";
    default: return "?";
  }
}

PhysicalDeviceInfo describe(const Api& api, VkPhysicalDevice pd) {
  PhysicalDeviceInfo d;
  d.handle = pd;
  uint32_t n_ext = 0;
  api.vkEnumerateDeviceExtensionProperties(pd, nullptr, &n_ext, nullptr);
  std::vector<VkExtensionProperties> exts(n_ext);
  api.vkEnumerateDeviceExtensionProperties(pd, nullptr, &n_ext, exts.data());
  auto has = [&](const char* e) {
    return std::any_of(exts.begin(), exts.end(), [&](const VkExtensionProperties& p) { return std::strcmp(p.extensionName, e) == 0; });
  };
  d.push_descriptor = has(VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME);
  d.bf16_extension = has("VK_KHR_shader_bfloat16");
  d.coopmat2_extension = has("VK_KHR_cooperative_matrix") && has("VK_NV_cooperative_matrix2");
  bool coop_nv = has(VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME);
  const bool executables = has(VK_KHR_PIPELINE_EXECUTABLE_PROPERTIES_EXTENSION_NAME);

  VkPhysicalDeviceDriverProperties driver{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
  VkPhysicalDeviceSubgroupProperties subgroup{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
  subgroup.pNext = &driver;
  VkPhysicalDeviceProperties2 props{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
  props.pNext = &subgroup;
  api.vkGetPhysicalDeviceProperties2(pd, &props);
  const VkPhysicalDeviceProperties& p = props.properties;
  d.name = p.deviceName;
  d.vendor_id = p.vendorID;
  d.device_id = p.deviceID;
  d.driver_version = p.driverVersion;
  d.api_version = p.apiVersion;
  std::memcpy(d.cache_uuid, p.pipelineCacheUUID, VK_UUID_SIZE);
  d.driver = std::string(driver.driverName) + (driver.driverInfo[0] ? std::string(" ") + driver.driverInfo : "");
  switch (p.deviceType) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: d.kind = "gpu"; break;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: d.kind = "igpu"; break;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: d.kind = "cpu"; break;
    default: d.kind = "other"; break;
  }

  VkPhysicalDeviceVulkan12Features f12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
  VkPhysicalDeviceVulkan11Features f11{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES};
  f11.pNext = &f12;
  VkPhysicalDeviceCooperativeMatrixFeaturesNV fcoop{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV};
  if (coop_nv) f12.pNext = &fcoop;
  VkPhysicalDevicePipelineExecutablePropertiesFeaturesKHR fexec{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PIPELINE_EXECUTABLE_PROPERTIES_FEATURES_KHR};
  if (executables) {
    fexec.pNext = f12.pNext;
    f12.pNext = &fexec;
  }
  VkPhysicalDeviceFeatures2 feats{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
  feats.pNext = &f11;
  api.vkGetPhysicalDeviceFeatures2(pd, &feats);
  d.pipeline_statistics = executables && fexec.pipelineExecutableInfo;

  VkPhysicalDeviceMemoryProperties mem;
  api.vkGetPhysicalDeviceMemoryProperties(pd, &mem);
  for (uint32_t h = 0; h < mem.memoryHeapCount; ++h)
    if (mem.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)
      d.device_local_bytes = std::max<size_t>(d.device_local_bytes, mem.memoryHeaps[h].size);

  uint32_t n_fam = 0;
  api.vkGetPhysicalDeviceQueueFamilyProperties(pd, &n_fam, nullptr);
  std::vector<VkQueueFamilyProperties> fams(n_fam);
  api.vkGetPhysicalDeviceQueueFamilyProperties(pd, &n_fam, fams.data());
  for (uint32_t i = 0; i < n_fam; ++i)  // prefer a queue family that also does graphics: the "main" queue
    if (fams[i].queueFlags & VK_QUEUE_COMPUTE_BIT) {
      if (d.compute_queue_family == UINT32_MAX || (fams[i].queueFlags & VK_QUEUE_GRAPHICS_BIT)) d.compute_queue_family = i;
      if (fams[i].queueFlags & VK_QUEUE_GRAPHICS_BIT) break;
    }

  gpu::DeviceCaps& c = d.caps;
  c.subgroup_size = subgroup.subgroupSize;
  c.max_shared_bytes = p.limits.maxComputeSharedMemorySize;
  c.max_workgroup_invocations = p.limits.maxComputeWorkGroupInvocations;
  c.max_groups_x = p.limits.maxComputeWorkGroupCount[0];
  c.max_groups_y = p.limits.maxComputeWorkGroupCount[1];
  c.max_groups_z = p.limits.maxComputeWorkGroupCount[2];
  c.fp16 = f12.shaderFloat16 && f11.storageBuffer16BitAccess;
  c.half_kv_pools = true;
  c.min_storage_offset_alignment = p.limits.minStorageBufferOffsetAlignment;
  c.max_storage_range = p.limits.maxStorageBufferRange;

  if (coop_nv && fcoop.cooperativeMatrix && api.vkGetPhysicalDeviceCooperativeMatrixPropertiesNV) {
    uint32_t n = 0;
    api.vkGetPhysicalDeviceCooperativeMatrixPropertiesNV(pd, &n, nullptr);
    std::vector<VkCooperativeMatrixPropertiesNV> shapes(n, {VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_NV});
    api.vkGetPhysicalDeviceCooperativeMatrixPropertiesNV(pd, &n, shapes.data());
    for (const auto& s : shapes) {
      d.coopmat_shapes.push_back(std::to_string(s.MSize) + "x" + std::to_string(s.NSize) + "x" + std::to_string(s.KSize) +
                                 " " + component_name(s.AType) + "->" + component_name(s.DType));
      // vdrt's cooperative-matrix shaders use 16x16x16 tiles of f16 with f32 accumulators.
      if (s.MSize == 16 && s.NSize == 16 && s.KSize == 16 && s.AType == VK_COMPONENT_TYPE_FLOAT16_NV &&
          s.BType == VK_COMPONENT_TYPE_FLOAT16_NV && s.CType == VK_COMPONENT_TYPE_FLOAT32_NV &&
          s.DType == VK_COMPONENT_TYPE_FLOAT32_NV && s.scope == VK_SCOPE_SUBGROUP_NV)
        c.coopmat_f16_16x16x16 = true;
    }
    // Drivers over-report cooperative matrices on some vendors: the fast path
    // is used on NVIDIA only (measured there), and can be switched off.
    if (d.vendor_id != 0x10DE || gpu::env_on("VDRT_VULKAN_NO_COOPMAT") || !c.fp16 || c.subgroup_size != 32)
      c.coopmat_f16_16x16x16 = false;
  }
  return d;
}

}  // namespace

std::string PhysicalDeviceInfo::summary() const {
  std::string s = "subgroup " + std::to_string(caps.subgroup_size) + ", shared memory " +
                  std::to_string(caps.max_shared_bytes / 1024) + " KiB, fp16 " + (caps.fp16 ? "yes" : "no") +
                  ", bf16 " + (bf16_extension ? "yes (extension; computed as fp32)" : "no");
  if (coopmat_shapes.empty()) {
    s += ", no cooperative matrices";
  } else {
    s += ", cooperative matrices (NV) " + std::to_string(coopmat_shapes.size()) + " shapes: ";
    for (size_t i = 0; i < coopmat_shapes.size(); ++i) s += (i ? "; " : "") + coopmat_shapes[i];
    s += caps.coopmat_f16_16x16x16 ? " [used]" : " [not used]";
  }
  return s + "; " + driver;
}

const std::vector<PhysicalDeviceInfo>& physical_devices() {
  static const std::vector<PhysicalDeviceInfo> devices = [] {
    std::vector<PhysicalDeviceInfo> out;
    Instance& inst = Instance::get();
    if (!inst.available()) return out;
    const Api& api = inst.api();
    uint32_t n = 0;
    if (api.vkEnumeratePhysicalDevices(inst.handle(), &n, nullptr) != VK_SUCCESS) return out;
    std::vector<VkPhysicalDevice> pds(n);
    api.vkEnumeratePhysicalDevices(inst.handle(), &n, pds.data());
    for (VkPhysicalDevice pd : pds) {
      PhysicalDeviceInfo d = describe(api, pd);
      if (VK_API_VERSION_MINOR(d.api_version) < 2 && VK_API_VERSION_MAJOR(d.api_version) == 1) {
        spdlog::debug("vulkan: skipping {}: Vulkan 1.{} < 1.2", d.name, VK_API_VERSION_MINOR(d.api_version));
        continue;
      }
      if (!d.push_descriptor || d.compute_queue_family == UINT32_MAX) {
        spdlog::debug("vulkan: skipping {}: no VK_KHR_push_descriptor or compute queue", d.name);
        continue;
      }
      out.push_back(std::move(d));
    }
    return out;
  }();
  return devices;
}

Device::Device(const PhysicalDeviceInfo& info) : info_(info) {
  const Instance& inst = Instance::get();
  VDRT_CHECK(inst.available(), "Vulkan is unavailable: " + inst.why_unavailable());
  const Api& iapi = inst.api();
  float priority = 1.0f;
  VkDeviceQueueCreateInfo q{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
  q.queueFamilyIndex = info_.compute_queue_family;
  q.queueCount = 1;
  q.pQueuePriorities = &priority;

  std::vector<const char*> exts{VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME};
  VkPhysicalDeviceVulkan12Features f12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
  VkPhysicalDeviceVulkan11Features f11{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES};
  f11.pNext = &f12;
  VkPhysicalDeviceCooperativeMatrixFeaturesNV fcoop{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV};
  if (info_.caps.fp16) {
    f12.shaderFloat16 = VK_TRUE;
    f11.storageBuffer16BitAccess = VK_TRUE;
  }
  if (info_.caps.coopmat_f16_16x16x16) {
    exts.push_back(VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME);
    fcoop.cooperativeMatrix = VK_TRUE;
    f12.pNext = &fcoop;
  }
  // The local Vulkan headers may predate these two extensions: their
  // feature structures as the registry defines them.
  struct CoopmatKhrFeatures {
    VkStructureType sType = VkStructureType(1000506000);  // ..._COOPERATIVE_MATRIX_FEATURES_KHR
    void* pNext = nullptr;
    VkBool32 cooperativeMatrix = VK_TRUE, cooperativeMatrixRobustBufferAccess = VK_FALSE;
  } fkhr;
  struct Coopmat2Features {
    VkStructureType sType = VkStructureType(1000593000);  // ..._COOPERATIVE_MATRIX_2_FEATURES_NV
    void* pNext = nullptr;
    VkBool32 workgroupScope = VK_TRUE, flexibleDimensions = VK_TRUE, reductions = VK_FALSE, conversions = VK_FALSE,
             perElementOperations = VK_FALSE, tensorAddressing = VK_TRUE, blockLoads = VK_FALSE;
  } fcm2;
  VkPhysicalDeviceVulkan13Features f13{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES};
  if (gpu::env_on("VDRT_VULKAN_COOPMAT2")) {
    if (!info_.coopmat2_extension) {
      spdlog::warn("vulkan: {} has no VK_NV_cooperative_matrix2; VDRT_VULKAN_COOPMAT2 ignored", info_.name);
    } else {
      exts.push_back("VK_KHR_cooperative_matrix");
      exts.push_back("VK_NV_cooperative_matrix2");
      f13.maintenance4 = VK_TRUE;  // workgroup-scope matrices take their sizes from specialization constants
      fcm2.pNext = f12.pNext;
      fkhr.pNext = &fcm2;
      f13.pNext = &fkhr;
      f12.pNext = &f13;
      spdlog::info("vulkan: VK_NV_cooperative_matrix2 enabled on {} (VDRT_VULKAN_COOPMAT2)", info_.name);
    }
  }
  VkPhysicalDevicePipelineExecutablePropertiesFeaturesKHR fexec{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PIPELINE_EXECUTABLE_PROPERTIES_FEATURES_KHR};
  if (gpu::env_on("VDRT_VULKAN_PIPELINE_STATS") && !info_.pipeline_statistics) {
    spdlog::warn("vulkan: {} cannot report pipeline statistics (no VK_KHR_pipeline_executable_properties)", info_.name);
  } else if (gpu::env_on("VDRT_VULKAN_PIPELINE_STATS")) {
    exts.push_back(VK_KHR_PIPELINE_EXECUTABLE_PROPERTIES_EXTENSION_NAME);
    fexec.pipelineExecutableInfo = VK_TRUE;
    fexec.pNext = f12.pNext;
    f12.pNext = &fexec;
    pipeline_statistics_ = true;
  }
  VkPhysicalDeviceFeatures2 feats{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
  feats.pNext = &f11;
  VkDeviceCreateInfo ci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
  ci.pNext = &feats;
  ci.queueCreateInfoCount = 1;
  ci.pQueueCreateInfos = &q;
  ci.enabledExtensionCount = static_cast<uint32_t>(exts.size());
  ci.ppEnabledExtensionNames = exts.data();
  check(iapi.vkCreateDevice(info_.handle, &ci, nullptr, &device_), ("vkCreateDevice on " + info_.name).c_str());
  api_ = inst.device_api(device_);
  api_.vkGetDeviceQueue(device_, info_.compute_queue_family, 0, &queue_);
  iapi.vkGetPhysicalDeviceMemoryProperties(info_.handle, &memory_);
}

Device::~Device() {
  if (device_) {
    api_.vkDeviceWaitIdle(device_);
    api_.vkDestroyDevice(device_, nullptr);
  }
}

}  // namespace vdrt::vulkan
