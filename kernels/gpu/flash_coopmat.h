#pragma once
// Planning of flash attention on cooperative matrices (Vulkan,
// GL_NV_cooperative_matrix, kernels/vulkan/flash_coopmat_tile.glsl), shared
// by dense attention (attention.cpp: flash_attention_coopmat) and the block-
// sparse ops (sparse_attention.cpp: sparse_flash_coopmat): when the tensor-
// core path applies, the work-group configurations and their shared memory,
// and the f16 row copies (flash_attention_f16_rows) the kernels read keys
// from. On OpenCL (DeviceCaps::ptx_mma, NVIDIA) both run as inline-PTX twins.
#include <cstdint>

#include "kernels/gpu/gpu_kernel.h"

namespace vdrt::gpu {

// Whether attention with query/key head dim d and value head dim dv runs on
// the tensor-core shaders: an fp16 session on a device with NV cooperative
// matrices of 16x16x16 f16 -> f32, subgroups of 32 and 128 invocations;
// d == dv, 64 or 128 (the shaders' HEAD_DIM variants).
bool flash_coopmat_applies(const DeviceCaps& caps, int64_t d, int64_t dv);

// A work group of nt invocations (32 per 16 query rows), keys per tile bk,
// K (bit 0) / V (bit 1) fragments loaded from global memory instead of
// shared tiles, staged tiles loaded one tile ahead.
struct FlashCoopmatConfig {
  uint32_t nt, bk, global_kv, prefetch;
  uint32_t query_rows() const { return nt / 32 * 16; }
  size_t shared_bytes(uint32_t d) const;  // flash_coopmat_tile.glsl's own
};

// Dense attention's configuration for head dim d (VDRT_VK_ATTN_VARIANT=
// "nt,bk,global_kv[,prefetch]" forces one); nullptr where none fits.
const FlashCoopmatConfig* pick_dense_flash_coopmat(uint32_t d, const DeviceCaps& caps);

// The element strides of a [batch, head, row, dim] view.
struct RowStrides {
  int64_t batch = 0, head = 0, row = 0;
};

// flash_attention_f16_rows: rows [0, t) of view a and [t, t + s) of view b,
// per (batch, head), into the packed f16 scratch `dst` [batch, heads,
// rows_pad, d] (zero rows past t + s). Strides and d multiples of 4.
Dispatch f16_rows(Arg a, const RowStrides& va, Arg b, const RowStrides& vb, int64_t batch, int64_t heads,
                  int64_t rows_pad, int64_t t, int64_t s, uint32_t d, uint32_t dst, const DeviceCaps& caps);

}  // namespace vdrt::gpu
