#pragma once
// The OpenCL devices of every platform the ICD loader finds, in the order
// `vdrt devices` lists them, and what each offers to kernels/gpu.
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>

#include <string>
#include <vector>

#include "kernels/gpu/gpu_kernel.h"

namespace vdrt::opencl {

struct DeviceEntry {
  cl_platform_id platform = nullptr;
  cl_device_id device = nullptr;
  std::string name, platform_name, platform_version, device_version, driver_version, extensions;
  std::string kind;  // "gpu", "igpu", "cpu" (PoCL and other CPU drivers), "other"
  size_t global_mem_bytes = 0, local_mem_bytes = 0, max_alloc_bytes = 0;
  uint32_t compute_units = 0, max_work_group = 0, clock_mhz = 0;
  bool fp16 = false, fp64 = false, subgroups = false;
  // NVIDIA's compute capability (cl_nv_device_attribute_query), 0 elsewhere:
  // 8.0 and later have the instructions of kernels/opencl/tensor_core_ptx.cl.
  uint32_t nv_cc_major = 0, nv_cc_minor = 0;
  gpu::DeviceCaps caps;

  bool has_extension(const std::string& ext) const;
  // Empty when fp16 sessions may try tensor cores through inline PTX (an
  // NVIDIA GPU of compute capability 8.0+; the backend still probes them,
  // opencl_tensor_cores.h); else why not.
  std::string ptx_unavailable() const;
  // Compute capability 8.9 and later: mma.sync on float8 e4m3 (W8A8 vdrt.QMatMul, after its probe).
  bool float8_mma() const { return nv_cc_major * 10 + nv_cc_minor >= 89; }
  std::string compute_capability() const;  // "9.0"; meaningful where nv_cc_major > 0
  std::string summary() const;  // for `vdrt devices`
};

// Every device of every platform; empty when there is no loader, no ICD or
// VDRT_OPENCL_DISABLE=1. Never throws.
const std::vector<DeviceEntry>& devices();
std::string unavailable_reason();

// "CL_OUT_OF_RESOURCES" for -5, ...
std::string error_name(cl_int code);
// Throws vdrt::OutOfMemory for allocation failures, vdrt::Error otherwise.
void check(cl_int code, const std::string& what);

}  // namespace vdrt::opencl
