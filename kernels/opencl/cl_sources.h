#pragma once
// The OpenCL C of kernels/opencl/*.cl, embedded in the library at build time
// and compiled for the device at run time: the OpenCL side of the dispatches
// that kernels/gpu plans (docs/gpu_kernels.md).
#include <string>
#include <vector>

namespace vdrt::cl {

// The source of kernels/opencl/NAME.cl; nullptr if there is none. "common"
// is the prelude every kernel is built with.
const char* find_source(const std::string& name);
std::vector<std::string> source_names();

}  // namespace vdrt::cl
