#pragma once
#include <string>

namespace vdrt {

// Where backends keep what they compile for a device (Vulkan pipeline
// caches, OpenCL program binaries): $VDRT_CACHE_DIR, else
// $XDG_CACHE_HOME/vdrt, else ~/.cache/vdrt; empty when none is set.
std::string cache_folder();

}  // namespace vdrt
