// Whether this device runs tensor_core_ptx.cl: one m16n8k16 product whose B
// operand travels global -> local by cp.async and local -> registers by
// ldmatrix.trans, A straight from global memory. The OpenCL backend builds
// it (only on NVIDIA platforms), runs it once and compares d with the exact
// product (the operands are small integers, exact in f16 and f32) before it
// accepts fp16 sessions. a: A [16][16], b: B [16][8] (k rows), as f16 bits.
#include "tensor_core_ptx.cl"

kernel __attribute__((reqd_work_group_size(32, 1, 1)))
void tensor_core_probe(global const ushort* a, global const uint4* b, global float* d) {
  local uint4 bs[16];  // B's 16 rows of 8 halves
  const uint lane = get_local_id(0), g = lane >> 2, t = lane & 3;
  if (lane < 16) CP_ASYNC16(shared_addr(bs + lane), b + lane);
  CP_ASYNC_COMMIT();
  CP_ASYNC_WAIT(0);
  barrier(CLK_LOCAL_MEM_FENCE);
  uint ra[4];
  for (uint i = 0; i < 4; ++i) {
    const uint row = g + (i & 1) * 8, col = 2 * t + (i >> 1) * 8;
    ra[i] = a[row * 16 + col] | ((uint)a[row * 16 + col + 1] << 16);
  }
  // Blocks: k rows 0-7 and 8-15 (lanes 16-31 repeat them; .x4 wants 32 addresses).
  uint b0, b1, b2, b3;
  LDMATRIX_X4_TRANS(b0, b1, b2, b3, shared_addr(bs + (lane & 15)));
  float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  MMA_16816(acc, ra[0], ra[1], ra[2], ra[3], b0, b1);
  d[g * 8 + 2 * t] = acc[0];
  d[g * 8 + 2 * t + 1] = acc[1];
  d[(g + 8) * 8 + 2 * t] = acc[2];
  d[(g + 8) * 8 + 2 * t + 1] = acc[3];
}
