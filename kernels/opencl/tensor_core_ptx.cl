// NVIDIA tensor cores from OpenCL C through inline PTX (sm_80 and later):
// mma.sync m16n8k16 (f16 x f16 -> f32; m16n8k32 e4m3 on sm_89+), ldmatrix (8x8 f16 blocks from local
// memory into mma fragments) and cp.async (16 bytes global -> local memory
// without passing through registers). NVIDIA's OpenCL compiler accepts them;
// other drivers never build the kernels that include this file, because the
// OpenCL backend only reports cooperative matrices after building and
// checking tensor_core_probe.cl (docs/opencl_backend.md). Fragment layouts
// are the PTX ISA's ("Matrix Fragments for mma.m16n8k16"): lane l holds
// rows l / 4 (+ 8) and columns 2 (l % 4) (+ 1, + 8) of each operand.
#ifndef VDRT_TENSOR_CORE_PTX_CL
#define VDRT_TENSOR_CORE_PTX_CL

// A local pointer's 32-bit .shared address, as ldmatrix and cp.async take
// it: on NVIDIA's OpenCL the pointer's integer value (checked by
// bench/ptx_probe.cpp and tensor_core_probe.cl).
inline uint shared_addr(local const void* p) { return (uint)(ulong)p; }

// d[0..3] += A (4 registers of f16 pairs) B (2 registers).
#define MMA_16816(d, a0, a1, a2, a3, b0, b1)                                                                   \
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};" \
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])                                                   \
               : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1))
// d[0..3] += A B for float8 e4m3 operands (sm_89 and later), m16n8k32:
// each register holds four codes along k, lane l rows l / 4 (+ 8) and k
// 4 (l % 4) .. + 3 (+ 16) of A, column l / 4 and the same k of B. Loaded
// by ldmatrix (non-transposed) from k-contiguous rows, a b16 pair of codes
// at a time, these are exactly the f16 fragments' places with k16 -> k32.
#define MMA_16832_E4M3(d, a0, a1, a2, a3, b0, b1)                                                                    \
  asm volatile("mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};" \
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])                                                       \
               : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1))
// Four 8x8 blocks; lanes 8i .. 8i + 7 give the addresses of block i's rows.
#define LDMATRIX_X4(r0, r1, r2, r3, addr)                                      \
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];" \
               : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3) : "r"(addr))
// The same blocks transposed: a [k][n] tile gives col-operand fragments.
#define LDMATRIX_X4_TRANS(r0, r1, r2, r3, addr)                                      \
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];" \
               : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3) : "r"(addr))
#define CP_ASYNC16(local_addr, global_ptr) \
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(local_addr), "l"(global_ptr) : "memory")
#define CP_ASYNC_COMMIT() asm volatile("cp.async.commit_group;" ::: "memory")
#define CP_ASYNC_WAIT(n) asm volatile("cp.async.wait_group " #n ";" ::: "memory")

inline float shfl_xor_f32(float v, uint m) {
  float r;
  asm volatile("shfl.sync.bfly.b32 %0, %1, %2, 0x1f, 0xffffffff;" : "=f"(r) : "f"(v), "r"(m));
  return r;
}
// Two floats rounded to f16 (nearest even), lo in the low half.
inline uint pack_f16x2(float lo, float hi) {
  uint d;
  asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(d) : "f"(hi), "f"(lo));
  return d;
}

// Four floats as four float8 e4m3 codes (nearest even, saturating at +-448;
// sm_89 and later), x.s0 in the low byte.
inline uint pack_e4m3x4(float4 x) {
  uint lo, hi;
  asm("{ .reg .b16 t; cvt.rn.satfinite.e4m3x2.f32 t, %1, %2; cvt.u32.u16 %0, t; }" : "=r"(lo) : "f"(x.s1), "f"(x.s0));
  asm("{ .reg .b16 t; cvt.rn.satfinite.e4m3x2.f32 t, %1, %2; cvt.u32.u16 %0, t; }" : "=r"(hi) : "f"(x.s3), "f"(x.s2));
  return lo | hi << 16;
}

// Chunk c (16 bytes) of row r in a local tile of `ch` chunks a row, swizzled
// so that the 8 rows one ldmatrix block reads fall in 8 different bank
// groups: rows of >= 8 chunks xor the chunk with r % 8, rows of 4 chunks
// (32 halves) with (r / 2) % 4, since two such rows share a 128-byte line.
inline uint swizzle(uint r, uint c, uint ch) { return r * ch + (ch >= 8 ? c ^ (r & 7) : c ^ ((r >> 1) & 3)); }

#endif
