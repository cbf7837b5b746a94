// Compiler statistics of a pipeline: see vulkan_pipeline_stats.h.
#include "backends/vulkan/vulkan_pipeline_stats.h"

#include <cstdio>

namespace vdrt::vulkan {
namespace {

std::string value_text(const VkPipelineExecutableStatisticKHR& s) {
  char buf[64];
  switch (s.format) {
    case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_BOOL32_KHR: return s.value.b32 ? "true" : "false";
    case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_INT64_KHR:
      std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(s.value.i64));
      return buf;
    case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_UINT64_KHR:
      std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(s.value.u64));
      return buf;
    case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_FLOAT64_KHR:
      std::snprintf(buf, sizeof buf, "%g", s.value.f64);
      return buf;
    default: return "?";
  }
}

}  // namespace

std::vector<PipelineStatistic> pipeline_statistics(const Device& device, VkPipeline pipeline) {
  std::vector<PipelineStatistic> out;
  const Api& api = device.api();
  if (!device.captures_pipeline_statistics() || !api.vkGetPipelineExecutablePropertiesKHR ||
      !api.vkGetPipelineExecutableStatisticsKHR)
    return out;
  VkPipelineInfoKHR pi{VK_STRUCTURE_TYPE_PIPELINE_INFO_KHR};
  pi.pipeline = pipeline;
  uint32_t n = 0;
  if (api.vkGetPipelineExecutablePropertiesKHR(device.handle(), &pi, &n, nullptr) != VK_SUCCESS) return out;
  std::vector<VkPipelineExecutablePropertiesKHR> execs(n, {VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_PROPERTIES_KHR});
  if (api.vkGetPipelineExecutablePropertiesKHR(device.handle(), &pi, &n, execs.data()) != VK_SUCCESS) return out;
  for (uint32_t e = 0; e < n; ++e) {
    VkPipelineExecutableInfoKHR ei{VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_INFO_KHR};
    ei.pipeline = pipeline;
    ei.executableIndex = e;
    uint32_t m = 0;
    if (api.vkGetPipelineExecutableStatisticsKHR(device.handle(), &ei, &m, nullptr) != VK_SUCCESS) continue;
    std::vector<VkPipelineExecutableStatisticKHR> stats(m, {VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_STATISTIC_KHR});
    if (api.vkGetPipelineExecutableStatisticsKHR(device.handle(), &ei, &m, stats.data()) != VK_SUCCESS) continue;
    for (const auto& s : stats) out.push_back({execs[e].name, s.name, value_text(s)});
  }
  return out;
}

std::string format_statistics(const std::vector<PipelineStatistic>& stats) {
  std::string line;
  const std::string* exec = nullptr;
  for (const PipelineStatistic& s : stats) {
    if (!exec || *exec != s.executable) {
      line += (exec ? "; " : "") + s.executable + ": ";
      exec = &s.executable;
    } else {
      line += ", ";
    }
    line += s.name + "=" + s.value;
  }
  return line;
}

}  // namespace vdrt::vulkan
