#pragma once
// The SPIR-V of kernels/vulkan/*.comp, compiled by glslc at build time and
// embedded in the library: the Vulkan side of the dispatches that
// kernels/gpu plans.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace vdrt::vk {

struct ShaderBinary {
  const uint32_t* words = nullptr;
  size_t word_count = 0;
};
const ShaderBinary* find_shader(const std::string& name);  // nullptr if unknown
std::vector<std::string> shader_names();

}  // namespace vdrt::vk
