// GEMM operand pre-pass of the tensor-core GEMM (OpenCL twin of
// kernels/vulkan/matmul_to_f16.comp): a strided f32 matrix
// src[off + r * sr + c * sc] (R x C) into a dense, zero-padded f16 matrix
// dst[Rp][Cp], 8 halves (16 bytes) per work item, rounded to nearest even.
// Only tensor-core sessions plan it (DeviceCaps::ptx_mma), so it packs with
// PTX's cvt.rn.f16x2 (vstore_half8_rte took 1.7x as long on the H200).
#include "tensor_core_ptx.cl"
#ifndef SPEC0
#define SPEC0 0
#endif
#define VEC4 SPEC0

struct matmul_to_f16_params {
  uint R, C;    // valid rows and columns
  uint Rp, Cv;  // padded rows, 16-byte vectors per destination row (Cp / 8)
  uint sr, sc;  // source element strides of a row and a column
  uint off;     // source element offset
};

kernel __attribute__((reqd_work_group_size(256, 1, 1)))
void matmul_to_f16(BUF(float, src), BUF(uint4, dst), constant const struct matmul_to_f16_params* p) {
  AT(float, src);
  AT(uint4, dst);
  const uint i = flat_group() * 256u + (uint)get_local_id(0);
  if (i >= p->Rp * p->Cv) return;
  const uint r = i / p->Cv, c = (i - r * p->Cv) * 8;
  float8 x = (float8)(0.0f);
  if (r < p->R) {
    const uint base = p->off + r * p->sr;
    if (VEC4) {
      // C % 4 == 0: each float4 lies wholly inside or outside the row.
      if (c < p->C) x.lo = vload4(0, src + base + c);
      if (c + 4 < p->C) x.hi = vload4(0, src + base + c + 4);
    } else {
#define EL(j) (c + j < p->C ? src[base + (c + j) * p->sc] : 0.0f)
      x = (float8)(EL(0), EL(1), EL(2), EL(3), EL(4), EL(5), EL(6), EL(7));
#undef EL
    }
  }
  dst[i] = (uint4)(pack_f16x2(x.s0, x.s1), pack_f16x2(x.s2, x.s3), pack_f16x2(x.s4, x.s5), pack_f16x2(x.s6, x.s7));
}
