// The device capabilities the Vulkan backend reports for the lent H200, for
// planning tests that need a tensor-core device without having one.
#pragma once

#include <string>

#include "kernels/gpu/gpu_kernel.h"

namespace vdrt::test {

// Subgroups of 32, 48 KiB of shared memory, 1024 invocations, fp16, NV
// cooperative matrices 16x16x16, f16 KV pools in fp16 sessions; group
// counts left at the portable minimum.
inline gpu::DeviceCaps h200_caps(const std::string& precision) {
  gpu::DeviceCaps c;
  c.subgroup_size = 32;
  c.max_shared_bytes = 48 * 1024;
  c.max_workgroup_invocations = 1024;
  c.max_storage_range = 0xffffffffu;
  c.fp16 = true;
  c.coopmat_f16_16x16x16 = true;
  c.half_kv_pools = true;  // every Vulkan device
  c.precision = precision;
  return c;
}

// What the OpenCL backend reports for the H200 in an fp16 session once its
// tensor-core probes passed: the same limits, the inline-PTX kernels
// (DeviceCaps::ptx_mma, and the float8 ones: compute capability 9.0) and
// f16 KV pools; in fp32 sessions none of them.
inline gpu::DeviceCaps h200_opencl_caps(const std::string& precision) {
  gpu::DeviceCaps c = h200_caps(precision);
  c.ptx_mma = precision == "fp16";
  c.coopmat_f16_16x16x16 = c.fp16 = c.half_kv_pools = c.ptx_mma_e4m3 = c.ptx_mma;
  return c;
}

}  // namespace vdrt::test
