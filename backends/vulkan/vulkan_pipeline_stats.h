#pragma once
// What the driver's shader compiler made of a pipeline (registers, shared
// memory, spills, instruction counts: whatever the driver reports through
// VK_KHR_pipeline_executable_properties), for kernel work: occupancy on a
// GPU follows from registers and shared memory, which no timing shows.
// VDRT_VULKAN_PIPELINE_STATS=1 captures them as pipelines are created and
// logs one line per pipeline executable.
#include <string>
#include <vector>

#include "backends/vulkan/vulkan_device.h"

namespace vdrt::vulkan {

struct PipelineStatistic {
  std::string executable;  // the driver's name of the compiled stage, e.g. "Compute Shader"
  std::string name;        // e.g. "Register Count"
  std::string value;       // formatted: an integer, a float, or true/false
};

// Empty where the device was not created to capture statistics.
std::vector<PipelineStatistic> pipeline_statistics(const Device& device, VkPipeline pipeline);

// "executable: name=value, name=value; executable: ..." (one line).
std::string format_statistics(const std::vector<PipelineStatistic>& stats);

}  // namespace vdrt::vulkan
