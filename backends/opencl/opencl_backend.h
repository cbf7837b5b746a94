#pragma once
#include <memory>
#include <string>

#include "backends/backend.h"

namespace vdrt {

// Runs kernels/opencl on OpenCL device `index` (every platform's devices, in
// the order `vdrt devices` lists them). Throws vdrt::Error when OpenCL or the
// device is unavailable, or `precision` is not one the device runs.
std::unique_ptr<Backend> make_opencl_backend(int index, const std::string& precision = "fp32");

// Why no OpenCL device is listed (empty when one is).
std::string opencl_unavailable_reason();

}  // namespace vdrt
