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

// Empty when the probe built, ran and matched the exact product; else why
// not. Only for devices whose DeviceEntry::ptx_unavailable() is empty (the
// backend checks that before it creates a context): other drivers may abort
// on PTX instead of rejecting it.
std::string probe_tensor_cores(cl_context context, cl_command_queue queue, ProgramCache& programs);

// The same for the float8 kernels (kernels/opencl/tensor_core_probe_e4m3.cl:
// cvt to e4m3, ldmatrix of codes, mma m16n8k32 e4m3): empty when they run
// and multiply exactly. Only after probe_tensor_cores passed, on devices of
// compute capability 8.9 and later.
std::string probe_e4m3_tensor_cores(cl_context context, cl_command_queue queue, ProgramCache& programs);

}  // namespace vdrt::opencl
