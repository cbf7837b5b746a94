// Whether this device runs the float8 parts of tensor_core_ptx.cl
// (matmul_e4m3_mma.cl and its quantiser): A's codes packed from floats by
// cvt.rn.satfinite.e4m3x2 into local memory, B's codes by cp.async, both
// read by ldmatrix into one m16n8k32 e4m3 product. The OpenCL backend runs
// it once on devices of compute capability 8.9 and later and compares d
// with the exact product (small integers, exact in e4m3 and f32) before its
// plans take those kernels. a: A [16][32] floats, b: B [8][32] codes (n
// rows), d: D [16][8].
#include "tensor_core_ptx.cl"

kernel __attribute__((reqd_work_group_size(32, 1, 1)))
void tensor_core_probe_e4m3(global const float4* a, global const uint4* b, global float* d) {
  local uint4 as[32], bs[16];  // rows of 2 chunks (32 codes)
  const uint lane = get_local_id(0), g = lane >> 2, t = lane & 3;
  if (lane < 16) CP_ASYNC16(shared_addr(bs + lane), b + lane);
  CP_ASYNC_COMMIT();
  // Lane: A row lane / 2, codes 16 (lane % 2) .. + 15.
  as[lane] = (uint4)(pack_e4m3x4(a[4 * lane]), pack_e4m3x4(a[4 * lane + 1]), pack_e4m3x4(a[4 * lane + 2]),
                     pack_e4m3x4(a[4 * lane + 3]));
  CP_ASYNC_WAIT(0);
  barrier(CLK_LOCAL_MEM_FENCE);
  uint a0, a1, a2, a3, b0, b1, b2, b3;
  LDMATRIX_X4(a0, a1, a2, a3, shared_addr(as + ((lane & 7) + ((lane >> 3) & 1) * 8) * 2 + (lane >> 4)));
  LDMATRIX_X4(b0, b1, b2, b3, shared_addr(bs + (lane & 7) * 2 + ((lane >> 3) & 1)));  // lanes 16-31 repeat
  float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  MMA_16832_E4M3(acc, a0, a1, a2, a3, b0, b1);
  d[g * 8 + 2 * t] = acc[0];
  d[g * 8 + 2 * t + 1] = acc[1];
  d[(g + 8) * 8 + 2 * t] = acc[2];
  d[(g + 8) * 8 + 2 * t + 1] = acc[3];
}
