#pragma once
// Whether an OpenCL device runs the inline-PTX tensor-core kernels
// (kernels/opencl/tensor_core_ptx.cl) that fp16 sessions need: decided by
// building kernels/opencl/tensor_core_probe.cl and checking one product, not
// by the driver's name, so a driver that rejects or miscompiles the PTX is
// refused with its own words instead of failing inside a model.
#include <string>

#include "backends/opencl/opencl_device.h"
#include "backends/opencl/opencl_programs.h"

namespace vdrt::opencl {

// Empty when the probe built, ran and matched the exact product; else why not.
std::string probe_tensor_cores(cl_context context, cl_command_queue queue, ProgramCache& programs,
                               const DeviceEntry& device);

}  // namespace vdrt::opencl
