#pragma once
// The SPIR-V a pipeline is created from: the shader embedded in
// libvdrt_kernels_vulkan, or, for kernel work, DIR/NAME.spv where
// VDRT_VK_SPV_DIR=DIR holds one. The variable is read at every lookup, so a
// benchmark can time several shader builds in one process (one session each);
// pipelines are keyed on the code's hash, never on the name alone.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace vdrt::vulkan {

struct ShaderCode {
  const uint32_t* words = nullptr;
  size_t word_count = 0;
  uint64_t hash = 0;       // 64-bit FNV-1a of the words
  std::string origin;      // "embedded" or the file's path
  std::shared_ptr<const std::vector<uint32_t>> file;  // owns `words` when read from a file
};

// Throws vdrt::Error for an unknown name, or a DIR/NAME.spv that cannot be
// read or is not SPIR-V (size not a multiple of 4, wrong magic number).
ShaderCode shader_code(const std::string& name);

// DIR/NAME.spv as SPIR-V words (the same checks), for tests and tools.
std::vector<uint32_t> read_spirv_file(const std::string& path);

}  // namespace vdrt::vulkan
