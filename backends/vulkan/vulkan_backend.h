#pragma once
#include <memory>
#include <string>

#include "backends/backend.h"

namespace vdrt {

// Runs kernels/vulkan on Vulkan device `index` (in the order `vdrt devices`
// lists them). `precision`: "fp32" or "fp16" (matmul, conv and attention
// multiply in fp16 with fp32 accumulation where the device supports it).
// Throws vdrt::Error when Vulkan or the device is unavailable.
std::unique_ptr<Backend> make_vulkan_backend(int index, const std::string& precision = "fp32");

// Why no Vulkan device is listed (empty when Vulkan is available).
std::string vulkan_unavailable_reason();

}  // namespace vdrt
