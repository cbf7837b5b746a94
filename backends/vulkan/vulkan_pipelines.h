#pragma once
// Compute pipelines of the embedded shaders (or VDRT_VK_SPV_DIR's builds of
// them, vulkan_shader_code.h), one per (shader code, specialization
// constants, binding count), created on first use through one VkPipelineCache
// that persists on disk under the user's cache folder, keyed by device and
// driver, so a second start of vdrt compiles no shader.
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backends/vulkan/vulkan_device.h"

namespace vdrt::vulkan {

constexpr uint32_t kPushConstantBytes = 128;  // the minimum every device offers

struct Pipeline {
  VkPipeline pipeline = VK_NULL_HANDLE;
  VkPipelineLayout layout = VK_NULL_HANDLE;
};

class PipelineCache {
 public:
  explicit PipelineCache(Device& device);
  ~PipelineCache();  // writes the cache file
  const Pipeline& get(const std::string& shader, const std::vector<uint32_t>& spec, uint32_t bindings);
  size_t size() const { return pipelines_.size(); }
  const std::string& path() const { return path_; }

 private:
  VkPipelineLayout layout_for(uint32_t bindings);
  void save();

  Device& device_;
  VkPipelineCache cache_ = VK_NULL_HANDLE;
  std::string path_;
  std::map<uint32_t, std::pair<VkDescriptorSetLayout, VkPipelineLayout>> layouts_;
  std::map<std::string, VkShaderModule> modules_;  // "name#hash"
  std::map<std::string, Pipeline> pipelines_;      // "name#hash/bindings,spec..."
  std::mutex mutex_;
  bool dirty_ = false;
};

}  // namespace vdrt::vulkan
