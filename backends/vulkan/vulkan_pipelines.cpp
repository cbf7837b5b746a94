#include "backends/vulkan/vulkan_pipelines.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <spdlog/spdlog.h>

#include "backends/cache_folder.h"
#include "backends/vulkan/vulkan_pipeline_stats.h"
#include "backends/vulkan/vulkan_shader_code.h"
#include "graph/error.h"

namespace vdrt::vulkan {
namespace {

std::string cache_file_name(const PhysicalDeviceInfo& d) {
  char buf[128];
  std::snprintf(buf, sizeof buf, "vulkan-%04x-%04x-%08x-", d.vendor_id, d.device_id, d.driver_version);
  std::string name = buf;
  for (uint8_t b : d.cache_uuid) {
    std::snprintf(buf, sizeof buf, "%02x", b);
    name += buf;
  }
  return name + ".pipelines";
}

}  // namespace

PipelineCache::PipelineCache(Device& device) : device_(device) {
  std::vector<char> data;
  if (std::string folder = cache_folder(); !folder.empty()) {
    path_ = folder + "/" + cache_file_name(device.info());
    std::ifstream in(path_, std::ios::binary);
    if (in) data.assign(std::istreambuf_iterator<char>(in), {});
  }
  VkPipelineCacheCreateInfo ci{VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
  ci.initialDataSize = data.size();
  ci.pInitialData = data.empty() ? nullptr : data.data();
  // A stale or corrupt file is the driver's to reject; start empty then.
  if (device_.api().vkCreatePipelineCache(device_.handle(), &ci, nullptr, &cache_) != VK_SUCCESS) {
    ci.initialDataSize = 0;
    ci.pInitialData = nullptr;
    check(device_.api().vkCreatePipelineCache(device_.handle(), &ci, nullptr, &cache_), "vkCreatePipelineCache");
  }
  spdlog::debug("vulkan: pipeline cache {} ({} bytes loaded)", path_, data.size());
}

PipelineCache::~PipelineCache() {
  try {
    save();
  } catch (const std::exception& e) {
    spdlog::warn("vulkan: could not write the pipeline cache {}: {}", path_, e.what());
  }
  const Api& api = device_.api();
  VkDevice dev = device_.handle();
  for (auto& [_, p] : pipelines_) api.vkDestroyPipeline(dev, p.pipeline, nullptr);
  for (auto& [_, m] : modules_) api.vkDestroyShaderModule(dev, m, nullptr);
  for (auto& [_, l] : layouts_) {
    api.vkDestroyPipelineLayout(dev, l.second, nullptr);
    api.vkDestroyDescriptorSetLayout(dev, l.first, nullptr);
  }
  api.vkDestroyPipelineCache(dev, cache_, nullptr);
}

void PipelineCache::save() {
  if (!dirty_ || path_.empty()) return;
  size_t n = 0;
  device_.api().vkGetPipelineCacheData(device_.handle(), cache_, &n, nullptr);
  std::vector<char> data(n);
  device_.api().vkGetPipelineCacheData(device_.handle(), cache_, &n, data.data());
  std::filesystem::create_directories(std::filesystem::path(path_).parent_path());
  // Written aside and renamed, so a concurrent vdrt never reads half a file.
  std::string tmp = path_ + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary);
    out.write(data.data(), static_cast<std::streamsize>(n));
  }
  std::filesystem::rename(tmp, path_);
}

VkPipelineLayout PipelineCache::layout_for(uint32_t bindings) {
  auto it = layouts_.find(bindings);
  if (it != layouts_.end()) return it->second.second;
  std::vector<VkDescriptorSetLayoutBinding> b(bindings);
  for (uint32_t i = 0; i < bindings; ++i)
    b[i] = VkDescriptorSetLayoutBinding{i, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, nullptr};
  VkDescriptorSetLayoutCreateInfo dci{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
  dci.flags = VK_DESCRIPTOR_SET_LAYOUT_CREATE_PUSH_DESCRIPTOR_BIT_KHR;
  dci.bindingCount = bindings;
  dci.pBindings = b.data();
  VkDescriptorSetLayout dsl;
  check(device_.api().vkCreateDescriptorSetLayout(device_.handle(), &dci, nullptr, &dsl), "vkCreateDescriptorSetLayout");
  VkPushConstantRange pc{VK_SHADER_STAGE_COMPUTE_BIT, 0, kPushConstantBytes};
  VkPipelineLayoutCreateInfo lci{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
  lci.setLayoutCount = 1;
  lci.pSetLayouts = &dsl;
  lci.pushConstantRangeCount = 1;
  lci.pPushConstantRanges = &pc;
  VkPipelineLayout layout;
  check(device_.api().vkCreatePipelineLayout(device_.handle(), &lci, nullptr, &layout), "vkCreatePipelineLayout");
  layouts_[bindings] = {dsl, layout};
  return layout;
}

const Pipeline& PipelineCache::get(const std::string& shader, const std::vector<uint32_t>& spec, uint32_t bindings) {
  std::lock_guard<std::mutex> lock(mutex_);
  // Keyed on the code's hash as well as its name: with VDRT_VK_SPV_DIR a name
  // can stand for another build between two lookups. The driver's
  // VkPipelineCache (the file on disk) looks pipelines up by their whole
  // create info, SPIR-V included, so the builds share it without aliasing.
  const ShaderCode code = shader_code(shader);
  char hash[24];
  std::snprintf(hash, sizeof hash, "#%016llx", static_cast<unsigned long long>(code.hash));
  const std::string module_key = shader + hash;
  std::string key = module_key + "/" + std::to_string(bindings);
  for (uint32_t s : spec) key += "," + std::to_string(s);
  auto it = pipelines_.find(key);
  if (it != pipelines_.end()) return it->second;

  VkShaderModule& module = modules_[module_key];
  if (!module) {
    VkShaderModuleCreateInfo mci{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
    mci.codeSize = code.word_count * 4;
    mci.pCode = code.words;
    check(device_.api().vkCreateShaderModule(device_.handle(), &mci, nullptr, &module),
          ("vkCreateShaderModule " + shader + " (" + code.origin + ")").c_str());
  }
  std::vector<VkSpecializationMapEntry> entries(spec.size());
  for (uint32_t i = 0; i < spec.size(); ++i) entries[i] = {i, i * 4, 4};
  VkSpecializationInfo si{static_cast<uint32_t>(entries.size()), entries.data(), spec.size() * 4, spec.data()};
  VkComputePipelineCreateInfo ci{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
  ci.stage = VkPipelineShaderStageCreateInfo{VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO};
  ci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
  ci.stage.module = module;
  ci.stage.pName = "main";
  ci.stage.pSpecializationInfo = spec.empty() ? nullptr : &si;
  ci.layout = layout_for(bindings);
  if (device_.captures_pipeline_statistics()) ci.flags |= VK_PIPELINE_CREATE_CAPTURE_STATISTICS_BIT_KHR;
  Pipeline p;
  p.layout = ci.layout;
  check(device_.api().vkCreateComputePipelines(device_.handle(), cache_, 1, &ci, nullptr, &p.pipeline),
        ("vkCreateComputePipelines " + shader + " (" + code.origin + ")").c_str());
  dirty_ = true;
  if (device_.captures_pipeline_statistics())
    spdlog::info("vulkan pipeline {}: {}", key, format_statistics(pipeline_statistics(device_, p.pipeline)));
  return pipelines_.emplace(key, p).first->second;
}

}  // namespace vdrt::vulkan
