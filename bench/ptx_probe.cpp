// Can an OpenCL kernel on an NVIDIA GPU reach the instructions that the
// Vulkan path cannot express (GL_NV_cooperative_matrix has no asynchronous
// copies and no control over fragment loads)? NVIDIA's OpenCL compiler
// accepts inline PTX; this program checks, on the first NVIDIA OpenCL
// device, that
//   1. mma.sync.m16n8k16 (f16 x f16 -> f32) computes a 16x8x16 product
//      equal to the float64 one (fragment layouts of the PTX ISA),
//   2. ldmatrix.x4 delivers the rows the PTX ISA says,
//   3. cp.async (16 bytes, global -> local memory) + cp.async.wait_all
//      copies a tile exactly,
// and times mma.sync alone (8 independent accumulator chains a subgroup, no
// memory traffic): the tensor cores' ceiling through this path, to set
// against bench/gemm_ceiling.sh's probe 1 for GL_NV_cooperative_matrix.
// gemm2 / gemm3: a whole GEMM on the three (cp.async stages, ldmatrix,
// mma.sync), exact against float64 on a small product, then timed at the Wan
// layer shapes; flash: FlashAttention-2's structure on them, checked against
// float64 and timed at the Wan hot case (bench/RESULTS.md). wgmma: Hopper's
// warp-group products from local-memory descriptors, which layout is exact
// and their rate (written and compiled to PTX here, not yet run on a GPU).
//   ptx_probe [--only mma|ldmatrix|cp_async|gemm2|gemm3|gemm2w|gemm3w|flash|flash8|peak|fp8|wgmma|wgmma_gemm] [--cvta]
//             [--variant BN,BK,STAGES,INFLIGHT,NI[,DYN]]  (wgmma_gemm; default 128,32,3,0,64; DYN 1: local
//             memory from a kernel argument, which may exceed 48 KiB)
//             [--groups N] [--iters N]
// (--cvta: local addresses through cvta.to.shared instead of as they are)
// Exit 0: everything checked matched; 1: a mismatch or a build failure
// (the compiler's log is printed); 2: no NVIDIA OpenCL device.
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

// Prepended to every kernel below: the instructions as functions and macros.
const char* k_prelude = R"CL(
// A local pointer as the 32-bit .shared address that ldmatrix and cp.async
// take: the pointer's integer value, or (-DCVTA) converted from a generic
// address.
#if CVTA
uint shared_addr(ulong p) {
  uint a;
  asm("{ .reg .u64 t; cvta.to.shared.u64 t, %1; cvt.u32.u64 %0, t; }" : "=r"(a) : "l"(p));
  return a;
}
#else
uint shared_addr(ulong p) { return (uint)p; }
#endif
// d[0..3] += A (4 registers of f16 pairs) x B (2), m16n8k16, f16 -> f32.
#define MMA(d, a0, a1, a2, a3, b0, b1)                                                                 \
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};" \
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])                                         \
               : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1))
// Four 8x8 f16 matrices from local memory; lanes 8i..8i+7 give matrix i's row addresses.
#define LDMATRIX_X4(r0, r1, r2, r3, addr)                                               \
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];"          \
               : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3) : "r"(addr))
#define LDMATRIX_X4_TRANS(r0, r1, r2, r3, addr)                                         \
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];"    \
               : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3) : "r"(addr))
// 16 bytes global -> local, asynchronously (cp.async.commit_group / wait_group).
#define CP_ASYNC16(local_addr, global_ptr) \
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" :: "r"(local_addr), "l"(global_ptr) : "memory")
float shfl_xor(float v, uint m) {
  float r;
  asm volatile("shfl.sync.bfly.b32 %0, %1, %2, 0x1f, 0xffffffff;" : "=f"(r) : "f"(v), "r"(m));
  return r;
}
uint pack_f16x2(float lo, float hi) {  // lo in the low 16 bits
  uint d;
  asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(d) : "f"(hi), "f"(lo));
  return d;
}
)CL";

// Each kernel is its own program, so that one the compiler rejects does not hide the others.
const char* k_mma_once = R"CL(
// One m16n8k16 product per subgroup of 32: A 16x16 row-major, B 16x8
// (k-major, stored [n][k] so that a column is contiguous), D 16x8 row-major;
// halves travel as ushort (NVIDIA's OpenCL has no cl_khr_fp16).
__kernel void mma_once(__global const ushort* a, __global const ushort* b, __global float* d) {
  const uint lane = get_local_id(0), g = lane >> 2, t = lane & 3;
  uint ra[4], rb[2];
  // A fragment: reg i holds rows g (+8 for i odd) and columns 2t, 2t+1 (+8 for i >= 2).
  for (int i = 0; i < 4; ++i) {
    const uint row = g + (i & 1) * 8, col = 2 * t + (i >> 1) * 8;
    ra[i] = a[row * 16 + col] | ((uint)a[row * 16 + col + 1] << 16);
  }
  // B fragment: reg i holds k = 2t, 2t+1 (+8 for i = 1) of column g.
  for (int i = 0; i < 2; ++i) {
    const uint k = 2 * t + i * 8;
    rb[i] = b[g * 16 + k] | ((uint)b[g * 16 + k + 1] << 16);
  }
  float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  MMA(acc, ra[0], ra[1], ra[2], ra[3], rb[0], rb[1]);
  d[g * 8 + 2 * t] = acc[0];
  d[g * 8 + 2 * t + 1] = acc[1];
  d[(g + 8) * 8 + 2 * t] = acc[2];
  d[(g + 8) * 8 + 2 * t + 1] = acc[3];
}
)CL";

const char* k_ldmatrix_x4 = R"CL(
// ldmatrix.x4 from local memory: four 8x8 matrices of halves, rows of 16
// bytes at addresses given by lanes 8i..8i+7 for matrix i; lane l receives in
// register i the halves 2(l%4), 2(l%4)+1 of row l/4 of matrix i.
__kernel void ldmatrix_x4(__global const uint* src, __global uint* out) {
  __local uint4 tile[32];  // 4 matrices x 8 rows x 16 bytes (ldmatrix wants rows 16-byte aligned)
  const uint lane = get_local_id(0);
  tile[lane] = vload4(lane, src);
  barrier(CLK_LOCAL_MEM_FENCE);
  const uint addr = shared_addr((ulong)(tile + lane));  // row (lane % 8) of matrix lane / 8
  uint r0, r1, r2, r3;
  LDMATRIX_X4(r0, r1, r2, r3, addr);
  out[lane * 4 + 0] = r0;
  out[lane * 4 + 1] = r1;
  out[lane * 4 + 2] = r2;
  out[lane * 4 + 3] = r3;
}
)CL";

const char* k_cp_async_copy = R"CL(
// cp.async: each work-item copies 16 bytes global -> local asynchronously,
// waits, and the group writes the tile back out shifted by one work-item.
__kernel void cp_async_copy(__global const uint4* src, __global uint4* dst) {
  __local uint4 tile[256];
  const uint l = get_local_id(0);
  const uint saddr = shared_addr((ulong)(tile + l));
  __global const uint4* g = src + get_group_id(0) * 256 + l;
  CP_ASYNC16(saddr, g);
  asm volatile("cp.async.wait_all;" ::: "memory");
  barrier(CLK_LOCAL_MEM_FENCE);
  dst[get_group_id(0) * 256 + l] = tile[(l + 1) & 255];
}
)CL";

const char* k_gemm = R"CL(
// A GEMM on these instructions, the shape of CUTLASS's Ampere kernels:
// C[M][N] (f32) = A[M][K] B[N][K]^T, f16 operands row-major (B as its
// transpose, k contiguous, which is how ldmatrix feeds mma's col operand),
// M, N multiples of 128 and K of 32. A work group of WARPS_M x WARPS_N
// subgroups (default 2 x 4) computes a 128 x 128 tile, each subgroup
// (128 / WARPS_M) x (128 / WARPS_N): FM x FN mma tiles of 16 x 8. K steps
// of 32 go through STAGES local-memory buffers filled by cp.async (no
// registers, no waiting) STAGES - 1 steps ahead; rows of 4 16-byte chunks
// are stored swizzled (chunk c of row r at c ^ ((r >> 1) & 3)), so that the
// 8 rows an ldmatrix reads hit 8 different bank groups.
#ifndef STAGES
#define STAGES 3
#endif
#ifndef WARPS_M
#define WARPS_M 2
#endif
#ifndef WARPS_N
#define WARPS_N 4
#endif
#define THREADS (32 * WARPS_M * WARPS_N)
#define FM (128 / WARPS_M / 16)
#define FN (128 / WARPS_N / 8)
#if STAGES == 2
#define WAIT_OLDEST "cp.async.wait_group 0;"
#elif STAGES == 3
#define WAIT_OLDEST "cp.async.wait_group 1;"
#else
#error STAGES is 2 or 3
#endif
uint sw(uint r, uint c) { return r * 4 + (c ^ ((r >> 1) & 3)); }

__kernel __attribute__((reqd_work_group_size(THREADS, 1, 1)))
void gemm_f16(__global const uint4* a, __global const uint4* b, __global float* c, uint M, uint N, uint K) {
  __local uint4 As[STAGES][128 * 4], Bs[STAGES][128 * 4];
  const uint tid = get_local_id(0), lane = tid & 31, warp = tid >> 5;
  const uint m0 = get_group_id(1) * 128, n0 = get_group_id(0) * 128;
  const uint wm = (warp / WARPS_N) * (128 / WARPS_M), wn = (warp % WARPS_N) * (128 / WARPS_N);
  const uint kc = K / 8;  // 16-byte chunks a row
  const uint steps = K / 32;
  float acc[FM][FN][4];
  #pragma unroll
  for (int i = 0; i < FM; ++i)
    #pragma unroll
    for (int j = 0; j < FN; ++j)
      #pragma unroll
      for (int e = 0; e < 4; ++e) acc[i][j][e] = 0.0f;

  // The group copies 512 chunks of A and 512 of B a step.
  #define LOAD(stage, step)                                                                 \
    for (uint q = 0; q < 512 / THREADS; ++q) {                                              \
      const uint e = tid + q * THREADS, r = e >> 2, ch = e & 3;                             \
      const uint sa = shared_addr((ulong)&As[stage][sw(r, ch)]);                            \
      const uint sb = shared_addr((ulong)&Bs[stage][sw(r, ch)]);                            \
      __global const uint4* ga = a + (m0 + r) * kc + (step) * 4 + ch;                       \
      __global const uint4* gb = b + (n0 + r) * kc + (step) * 4 + ch;                       \
      CP_ASYNC16(sa, ga);                                                                   \
      CP_ASYNC16(sb, gb);                                                                   \
    }

  for (uint s = 0; s < STAGES - 1; ++s) {
    if (s < steps) LOAD(s, s)
    asm volatile("cp.async.commit_group;" ::: "memory");
  }
  for (uint s = 0; s < steps; ++s) {
    asm volatile(WAIT_OLDEST ::: "memory");  // step s's copies have landed
    barrier(CLK_LOCAL_MEM_FENCE);
    // The buffer refilled now was read in step s - 1, which every subgroup
    // finished before the barrier above.
    const uint next = s + STAGES - 1;
    if (next < steps) LOAD(next % STAGES, next)
    asm volatile("cp.async.commit_group;" ::: "memory");
    const uint st = s % STAGES;
    #pragma unroll
    for (uint kk = 0; kk < 2; ++kk) {  // two k16 halves of the step
      uint fa[FM][4], fb[FN][2];
      #pragma unroll
      for (uint i = 0; i < FM; ++i) {
        // Lane l addresses row (l & 7) + 8 ((l >> 3) & 1), chunk 2 kk + (l >> 4) of the 16-row block.
        const uint r = wm + i * 16 + (lane & 7) + ((lane >> 3) & 1) * 8, ch = kk * 2 + (lane >> 4);
        const uint addr = shared_addr((ulong)&As[st][sw(r, ch)]);
        LDMATRIX_X4(fa[i][0], fa[i][1], fa[i][2], fa[i][3], addr);
      }
      #pragma unroll
      for (uint j = 0; j < FN; j += 2) {
        // Matrices: (n tile j, k 0-7), (j, k 8-15), (j + 1, k 0-7), (j + 1, k 8-15).
        const uint r = wn + j * 8 + (lane & 7) + (lane >> 4) * 8, ch = kk * 2 + ((lane >> 3) & 1);
        const uint addr = shared_addr((ulong)&Bs[st][sw(r, ch)]);
        LDMATRIX_X4(fb[j][0], fb[j][1], fb[j + 1][0], fb[j + 1][1], addr);
      }
      #pragma unroll
      for (uint i = 0; i < FM; ++i)
        #pragma unroll
        for (uint j = 0; j < FN; ++j)
          MMA(acc[i][j], fa[i][0], fa[i][1], fa[i][2], fa[i][3], fb[j][0], fb[j][1]);
    }
  }
  const uint g = lane >> 2, t = lane & 3;
  #pragma unroll
  for (uint i = 0; i < FM; ++i)
    #pragma unroll
    for (uint j = 0; j < FN; ++j) {
      const uint row = m0 + wm + i * 16 + g, col = n0 + wn + j * 8 + 2 * t;
      vstore2((float2)(acc[i][j][0], acc[i][j][1]), 0, c + row * N + col);
      vstore2((float2)(acc[i][j][2], acc[i][j][3]), 0, c + (row + 8) * N + col);
    }
}
)CL";

const char* k_flash = R"CL(
// Flash attention on these instructions, the structure of FlashAttention-2:
// O[h][q] (f32) = softmax(Q K^T / sqrt(D)) V per head, Q, K, V f16 [H][rows][128],
// query rows a multiple of 16 WARPS and key rows of 32 (no masking: a probe).
// A work group of WARPS subgroups (4, or 8 with -DWARPS=8) owns 16 WARPS
// query rows, each subgroup 16, whose Q
// fragments stay in registers. Per tile of 32 keys, K and V arrive by
// cp.async two tiles deep (rows of 16 chunks stored swizzled, chunk c of row
// r at c ^ (r & 7)); S = Q K^T (ldmatrix of K rows), the online softmax runs
// on S's accumulator fragments in registers (a row lives in a quad of lanes:
// two butterfly shuffles), P's fragments become the A fragments of P V
// without leaving registers, and V's B fragments come from ldmatrix.trans.
#define D 128
#define CH 16  // 16-byte chunks a row
#define BKEYS 32
#ifndef WARPS
#define WARPS 4  // subgroups of 16 query rows a work group
#endif
uint swz(uint r, uint c) { return r * CH + (c ^ (r & 7)); }

__kernel __attribute__((reqd_work_group_size(32 * WARPS, 1, 1)))
void flash_f16(__global const uint* q, __global const uint4* k, __global const uint4* v, __global float* o,
               uint nq, uint nk, float scale_log2) {
  __local uint4 Ks[2][BKEYS * CH], Vs[2][BKEYS * CH];
  const uint tid = get_local_id(0), lane = tid & 31, warp = tid >> 5, g = lane >> 2, t = lane & 3;
  const uint h = get_group_id(1), q0 = get_group_id(0) * 16 * WARPS + warp * 16;
  __global const uint* qh = q + ((size_t)h * nq + q0) * (D / 2);
  __global const uint4* kh = k + (size_t)h * nk * CH;
  __global const uint4* vh = v + (size_t)h * nk * CH;
  // Q's A fragments, k16 chunk c of D: rows g (+8), halves 16c + 2t (+8).
  uint qa[8][4];
  #pragma unroll
  for (uint c = 0; c < 8; ++c)
    #pragma unroll
    for (uint i = 0; i < 4; ++i) qa[c][i] = qh[(g + (i & 1) * 8) * (D / 2) + c * 8 + t + (i >> 1) * 4];
  float acc[16][4];
  #pragma unroll
  for (uint j = 0; j < 16; ++j)
    #pragma unroll
    for (uint e = 0; e < 4; ++e) acc[j][e] = 0.0f;
  float m_lo = -INFINITY, m_hi = -INFINITY, l_lo = 0.0f, l_hi = 0.0f;  // rows g and g + 8

  // The group copies a tile's 32 x 16 chunks of K and of V.
  #define LOAD_KV(stage, tile)                                                               \
    for (uint e = tid; e < BKEYS * CH; e += 32 * WARPS) {                                    \
      const uint r = e / CH, ch = e % CH;                                                    \
      const uint sk = shared_addr((ulong)&Ks[stage][swz(r, ch)]);                            \
      const uint sv = shared_addr((ulong)&Vs[stage][swz(r, ch)]);                            \
      __global const uint4* gk = kh + ((tile) * BKEYS + r) * CH + ch;                        \
      __global const uint4* gv = vh + ((tile) * BKEYS + r) * CH + ch;                        \
      CP_ASYNC16(sk, gk);                                                                    \
      CP_ASYNC16(sv, gv);                                                                    \
    }

  const uint tiles = nk / BKEYS;
  LOAD_KV(0, 0)
  asm volatile("cp.async.commit_group;" ::: "memory");
  for (uint tile = 0; tile < tiles; ++tile) {
    const uint st = tile & 1;
    asm volatile("cp.async.wait_group 0;" ::: "memory");
    barrier(CLK_LOCAL_MEM_FENCE);  // tile's rows landed; every subgroup is done with the other buffer
    if (tile + 1 < tiles) LOAD_KV(st ^ 1, tile + 1)
    asm volatile("cp.async.commit_group;" ::: "memory");

    // S = Q K^T: 16 rows x 32 keys, 4 n8 tiles of keys.
    float s[4][4];
    #pragma unroll
    for (uint j = 0; j < 4; ++j)
      #pragma unroll
      for (uint e = 0; e < 4; ++e) s[j][e] = 0.0f;
    #pragma unroll
    for (uint c = 0; c < 8; ++c) {
      #pragma unroll
      for (uint j = 0; j < 4; j += 2) {
        uint b0, b1, b2, b3;  // (keys j, d chunk 2c), (j, 2c + 1), (j + 1, 2c), (j + 1, 2c + 1)
        const uint r = j * 8 + (lane & 7) + (lane >> 4) * 8, ch = 2 * c + ((lane >> 3) & 1);
        LDMATRIX_X4(b0, b1, b2, b3, shared_addr((ulong)&Ks[st][swz(r, ch)]));
        MMA(s[j], qa[c][0], qa[c][1], qa[c][2], qa[c][3], b0, b1);
        MMA(s[j + 1], qa[c][0], qa[c][1], qa[c][2], qa[c][3], b2, b3);
      }
    }
    // Online softmax (log2 domain). Lane holds s[j][0..1] of row g and s[j][2..3] of row g + 8.
    float mx_lo = m_lo, mx_hi = m_hi;
    #pragma unroll
    for (uint j = 0; j < 4; ++j) {
      mx_lo = fmax(mx_lo, fmax(s[j][0], s[j][1]) * scale_log2);
      mx_hi = fmax(mx_hi, fmax(s[j][2], s[j][3]) * scale_log2);
    }
    mx_lo = fmax(mx_lo, shfl_xor(mx_lo, 1));
    mx_lo = fmax(mx_lo, shfl_xor(mx_lo, 2));
    mx_hi = fmax(mx_hi, shfl_xor(mx_hi, 1));
    mx_hi = fmax(mx_hi, shfl_xor(mx_hi, 2));
    const float a_lo = native_exp2(m_lo - mx_lo), a_hi = native_exp2(m_hi - mx_hi);
    m_lo = mx_lo;
    m_hi = mx_hi;
    float sum_lo = 0.0f, sum_hi = 0.0f;
    uint pa[2][4];  // P's A fragments, k16 chunk kc of the 32 keys
    #pragma unroll
    for (uint j = 0; j < 4; ++j) {
      const float p0 = native_exp2(s[j][0] * scale_log2 - m_lo), p1 = native_exp2(s[j][1] * scale_log2 - m_lo);
      const float p2 = native_exp2(s[j][2] * scale_log2 - m_hi), p3 = native_exp2(s[j][3] * scale_log2 - m_hi);
      sum_lo += p0 + p1;
      sum_hi += p2 + p3;
      // Keys 8j + 2t of rows g / g + 8: registers 0 / 1 of chunk j / 2 (2 / 3 for the odd n8 tile).
      pa[j >> 1][(j & 1) * 2 + 0] = pack_f16x2(p0, p1);
      pa[j >> 1][(j & 1) * 2 + 1] = pack_f16x2(p2, p3);
    }
    l_lo = l_lo * a_lo + sum_lo;  // partial: the quad's lanes are summed at the end
    l_hi = l_hi * a_hi + sum_hi;
    #pragma unroll
    for (uint j = 0; j < 16; ++j) {
      acc[j][0] *= a_lo;
      acc[j][1] *= a_lo;
      acc[j][2] *= a_hi;
      acc[j][3] *= a_hi;
    }
    // O += P V: V's B fragments (k = keys, n = d) through ldmatrix.trans of V rows.
    #pragma unroll
    for (uint kc = 0; kc < 2; ++kc) {
      #pragma unroll
      for (uint dj = 0; dj < 16; dj += 2) {
        uint b0, b1, b2, b3;  // (keys lo, d chunk dj), (keys hi, dj), (lo, dj + 1), (hi, dj + 1)
        const uint r = kc * 16 + (lane & 7) + ((lane >> 3) & 1) * 8, ch = dj + (lane >> 4);
        LDMATRIX_X4_TRANS(b0, b1, b2, b3, shared_addr((ulong)&Vs[st][swz(r, ch)]));
        MMA(acc[dj], pa[kc][0], pa[kc][1], pa[kc][2], pa[kc][3], b0, b1);
        MMA(acc[dj + 1], pa[kc][0], pa[kc][1], pa[kc][2], pa[kc][3], b2, b3);
      }
    }
  }
  l_lo += shfl_xor(l_lo, 1);
  l_lo += shfl_xor(l_lo, 2);
  l_hi += shfl_xor(l_hi, 1);
  l_hi += shfl_xor(l_hi, 2);
  __global float* oh = o + ((size_t)h * nq + q0) * D;
  #pragma unroll
  for (uint j = 0; j < 16; ++j) {
    vstore2((float2)(acc[j][0], acc[j][1]) / l_lo, 0, oh + g * D + j * 8 + 2 * t);
    vstore2((float2)(acc[j][2], acc[j][3]) / l_hi, 0, oh + (g + 8) * D + j * 8 + 2 * t);
  }
}
)CL";

const char* k_mma_fp8_once = R"CL(
// One m16n8k32 product of float8 e4m3 operands (sm_89 and later): A 16x32
// codes row-major, B stored [n][k] (32 codes of a column contiguous), D
// 16x8 f32 row-major. Lane g = l / 4, t = l % 4 holds A rows g (+ 8) and
// columns 4t .. 4t + 3 (+ 16) as 4 codes a register, B's column g and k
// 4t .. 4t + 3 (+ 16).
__kernel void mma_fp8_once(__global const uint* a, __global const uint* b, __global float* d) {
  const uint lane = get_local_id(0), g = lane >> 2, t = lane & 3;
  const uint a0 = a[g * 8 + t], a1 = a[(g + 8) * 8 + t], a2 = a[g * 8 + 4 + t], a3 = a[(g + 8) * 8 + 4 + t];
  const uint b0 = b[g * 8 + t], b1 = b[g * 8 + 4 + t];
  float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  asm volatile("mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
               : "+f"(acc[0]), "+f"(acc[1]), "+f"(acc[2]), "+f"(acc[3])
               : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
  d[g * 8 + 2 * t] = acc[0];
  d[g * 8 + 2 * t + 1] = acc[1];
  d[(g + 8) * 8 + 2 * t] = acc[2];
  d[(g + 8) * 8 + 2 * t + 1] = acc[3];
}
)CL";

const char* k_wgmma = R"CL(
// Hopper's warp-group products (wgmma, sm_90a; NVIDIA's OpenCL compiles for
// sm_90a): A and B read from local memory through 64-bit descriptors (start
// address, leading and stride byte offsets between 8x8 core matrices, no
// swizzle), D in registers of the 4 subgroups (128 work items). Both
// operands k-major: A [64][16], B [8][16] (n rows), arranged by the host in
// the core-matrix order under test and copied verbatim.
// NVIDIA's OpenCL compiles for .target sm_90, where ptxas refuses wgmma
// (sm_90a only): each such instruction is written as a PTX comment behind
// SM90A, with its operands filled in by the compiler, and kernel_sm90a()
// uncomments them in the PTX and loads it again as sm_90a.
#define SM90A "// @SM90A@ "
ulong wgmma_desc(uint addr, uint lbo, uint sbo) {
  return (ulong)((addr & 0x3ffffu) >> 4) | ((ulong)(lbo >> 4) << 16) | ((ulong)(sbo >> 4) << 32);
}
__kernel __attribute__((reqd_work_group_size(128, 1, 1)))
void wgmma_once(__global const uint4* a, __global const uint4* b, __global float* d, uint lbo_a, uint sbo_a, uint lbo_b,
                uint sbo_b) {
  __local uint4 as[128], bs[16];
  const uint tid = get_local_id(0), warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
  as[tid] = a[tid];
  if (tid < 16) bs[tid] = b[tid];
  barrier(CLK_LOCAL_MEM_FENCE);
  asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
  const ulong da = wgmma_desc(shared_addr((ulong)as), lbo_a, sbo_a), db = wgmma_desc(shared_addr((ulong)bs), lbo_b, sbo_b);
  float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  asm volatile(SM90A "wgmma.fence.sync.aligned;" ::: "memory");
  asm volatile(SM90A "{ .reg .pred p; setp.ne.b32 p, %6, 0; "
               "wgmma.mma_async.sync.aligned.m64n8k16.f32.f16.f16 {%0,%1,%2,%3}, %4, %5, p, 1, 1, 0, 0; }"
               : "+f"(acc[0]), "+f"(acc[1]), "+f"(acc[2]), "+f"(acc[3]) : "l"(da), "l"(db), "r"(0) : "memory");
  asm volatile(SM90A "wgmma.commit_group.sync.aligned;" ::: "memory");
  asm volatile(SM90A "wgmma.wait_group.sync.aligned 0;" ::: "memory");
  const uint row = warp * 16 + g;
  d[row * 8 + 2 * t] = acc[0];
  d[row * 8 + 2 * t + 1] = acc[1];
  d[(row + 8) * 8 + 2 * t] = acc[2];
  d[(row + 8) * 8 + 2 * t + 1] = acc[3];
}

// The ceiling: m64n64k16 products from the same local tiles, 8 to a commit
// group, chained on one accumulator set (32 floats a work item). LBO / SBO:
// the layout wgmma_once found exact (defaults only so that it builds).
#ifndef LBO
#define LBO 128u
#define SBO 256u
#endif
#define ACC8(i) "+f"(c[i]), "+f"(c[i + 1]), "+f"(c[i + 2]), "+f"(c[i + 3]), "+f"(c[i + 4]), "+f"(c[i + 5]), "+f"(c[i + 6]), "+f"(c[i + 7])
__kernel __attribute__((reqd_work_group_size(128, 1, 1)))
void wgmma_peak(__global float* out, uint iters) {
  __local uint4 as[128], bs[128];  // A 64 x 16, B 64 x 16: core matrices (i, k) at (2 i + k) * 128 bytes
  const uint tid = get_local_id(0);
  as[tid] = (uint4)(0x3c003c00u ^ tid);
  bs[tid] = (uint4)(0x38003800u ^ tid);
  barrier(CLK_LOCAL_MEM_FENCE);
  asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
  const ulong da = wgmma_desc(shared_addr((ulong)as), LBO, SBO), db = wgmma_desc(shared_addr((ulong)bs), LBO, SBO);
  float c[32];
  for (int i = 0; i < 32; ++i) c[i] = 0.0f;
  for (uint it = 0; it < iters; ++it) {
    asm volatile(SM90A "wgmma.fence.sync.aligned;" ::: "memory");
    for (int r = 0; r < 8; ++r)
      asm volatile(SM90A "{ .reg .pred p; setp.ne.b32 p, %34, 0; "
                   "wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 "
                   "{%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,"
                   "%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31}, %32, %33, p, 1, 1, 0, 0; }"
                   : ACC8(0), ACC8(8), ACC8(16), ACC8(24) : "l"(da), "l"(db), "r"(1) : "memory");
    asm volatile(SM90A "wgmma.commit_group.sync.aligned;" ::: "memory");
    asm volatile(SM90A "wgmma.wait_group.sync.aligned 0;" ::: "memory");
  }
  float s = 0.0f;
  for (int i = 0; i < 32; ++i) s += c[i];
  out[get_global_id(0)] = s;
}
)CL";

const char* k_wgmma_gemm = R"CL(
// A GEMM on warp-group products, C[M][N] (f32) = A[M][K] B[N][K]^T with f16
// operands k contiguous: a work group of 2 warp groups computes a 128 x BN
// tile, each warp group 64 rows through m64nNIk16 products whose operands
// wgmma reads from local memory. K steps of BK go through STAGES local
// buffers filled by cp.async LEAD = STAGES - 1 - INFLIGHT steps ahead;
// INFLIGHT warp-group products stay running while the next copies are
// issued. Each tile is stored as 8 x 16-byte core matrices without swizzle:
// core (row group rg, k chunk kc) at ((rg * KC + kc) * 8) 16-byte chunks, so
// k-adjacent cores are 128 bytes apart and row-adjacent ones KC * 128 (SWAP:
// the descriptor's two offset fields the other way round). The copy of
// chunk e goes to local chunk e: row (e / 8 / KC) * 8 + e % 8, k chunk
// (e / 8) % KC, so that 8 consecutive work items fill one core matrix.
#ifndef BN
#define BN 128
#endif
#ifndef BK
#define BK 32
#endif
#ifndef STAGES
#define STAGES 3
#endif
#ifndef INFLIGHT
#define INFLIGHT 0
#endif
#ifndef NI
#define NI 64
#endif
#ifndef SWAP
#define SWAP 0
#endif
#ifndef DYN
#define DYN 0
#endif
#define BM 128
#define THREADS 256
#define KC (BK / 8)
#define LEAD (STAGES - 1 - INFLIGHT)
#define A_CHUNKS (BM * KC)
#define B_CHUNKS (BN * KC)
ulong tile_desc(uint addr) {
  const uint k_step = 128u, row_step = KC * 128u;
  const uint lbo = SWAP ? row_step : k_step, sbo = SWAP ? k_step : row_step;
  return (ulong)((addr & 0x3ffffu) >> 4) | ((ulong)(lbo >> 4) << 16) | ((ulong)(sbo >> 4) << 32);
}
#define STR_(x) #x
#define STR(x) STR_(x)
// PTX takes a literal: the count of copy groups that may stay in flight.
#if LEAD == 1
#define CP_PENDING 0
#elif LEAD == 2
#define CP_PENDING 1
#elif LEAD == 3
#define CP_PENDING 2
#elif LEAD == 4
#define CP_PENDING 3
#elif LEAD == 5
#define CP_PENDING 4
#else
#error LEAD is 1 to 5
#endif
#define CP_WAIT(n) asm volatile("cp.async.wait_group " STR(n) ";" ::: "memory")
#define SM90A "// @SM90A@ "
#define WG_WAIT(n) asm volatile(SM90A "wgmma.wait_group.sync.aligned " STR(n) ";" ::: "memory")

__kernel __attribute__((reqd_work_group_size(THREADS, 1, 1)))
void wgmma_gemm(__global const uint4* a, __global const uint4* b, __global float* c, uint M, uint N, uint K
#if DYN  // local memory sized by the host (clSetKernelArg), past the 48 KiB of static arrays?
                , __local uint4* smem) {
#else
                ) {
  __local uint4 smem[STAGES * (A_CHUNKS + B_CHUNKS)];
#endif
  __local uint4* const As = smem;
  __local uint4* const Bs = smem + STAGES * A_CHUNKS;
  const uint tid = get_local_id(0), wg = tid >> 7, warp = (tid >> 5) & 3, lane = tid & 31;
  const uint m0 = get_group_id(1) * BM, n0 = get_group_id(0) * BN;
  const uint kc = K / 8, steps = K / BK;
  float acc[BN / 2];
  #pragma unroll
  for (int i = 0; i < BN / 2; ++i) acc[i] = 0.0f;

  #define LOAD(stage, step)                                                                  \
    _Pragma("unroll") for (uint q = 0; q < A_CHUNKS / THREADS; ++q) {                        \
      const uint e = tid + q * THREADS, r = (e / 8 / KC) * 8 + (e & 7), ch = (e / 8) % KC;   \
      CP_ASYNC16(shared_addr((ulong)&As[(stage) * A_CHUNKS + e]), a + (m0 + r) * kc + (step) * KC + ch);   \
    }                                                                                        \
    _Pragma("unroll") for (uint q = 0; q < B_CHUNKS / THREADS; ++q) {                        \
      const uint e = tid + q * THREADS, r = (e / 8 / KC) * 8 + (e & 7), ch = (e / 8) % KC;   \
      CP_ASYNC16(shared_addr((ulong)&Bs[(stage) * B_CHUNKS + e]), b + (n0 + r) * kc + (step) * KC + ch);   \
    }

  for (uint s = 0; s < LEAD; ++s) {
    if (s < steps) LOAD(s, s)
    asm volatile("cp.async.commit_group;" ::: "memory");
  }
  for (uint s = 0; s < steps; ++s) {
    CP_WAIT(CP_PENDING);  // step s's copies (of this work item) have landed
    asm volatile("fence.proxy.async.shared::cta;" ::: "memory");  // visible to wgmma's reads
    barrier(CLK_LOCAL_MEM_FENCE);
    // The stage refilled now was read by step s - 1 - INFLIGHT, whose products
    // every warp group waited for before the barrier above.
    const uint next = s + LEAD;
    if (next < steps) LOAD(next % STAGES, next)
    asm volatile("cp.async.commit_group;" ::: "memory");
    const uint st = s % STAGES;
    asm volatile(SM90A "wgmma.fence.sync.aligned;" ::: "memory");
    #pragma unroll
    for (uint kk = 0; kk < BK / 16; ++kk) {
      const ulong da = tile_desc(shared_addr((ulong)&As[st * A_CHUNKS + (wg * 8 * KC + kk * 2) * 8]));
      #pragma unroll
      for (uint nb = 0; nb < BN / NI; ++nb) {
        const ulong db = tile_desc(shared_addr((ulong)&Bs[st * B_CHUNKS + (nb * (NI / 8) * KC + kk * 2) * 8]));
        WGMMA(acc + nb * (NI / 2), da, db);
      }
    }
    asm volatile(SM90A "wgmma.commit_group.sync.aligned;" ::: "memory");
    WG_WAIT(INFLIGHT);
  }
  WG_WAIT(0);
  const uint g = lane >> 2, t = lane & 3, row = m0 + wg * 64 + warp * 16 + g;
  #pragma unroll
  for (uint j = 0; j < BN / 8; ++j) {
    const uint col = n0 + j * 8 + 2 * t;
    vstore2((float2)(acc[j * 4], acc[j * 4 + 1]), 0, c + row * N + col);
    vstore2((float2)(acc[j * 4 + 2], acc[j * 4 + 3]), 0, c + (row + 8) * N + col);
  }
}
)CL";

const char* k_wgmma_gemm_rs = R"CL(
// The warp-group GEMM with A from registers: C[M][N] (f32) = A[M][K] B[N][K]^T,
// a work group of NWG warp groups computes a (64 NWG) x BN tile. A goes from
// global memory straight into the work items' registers, one k64 block ahead,
// 32 contiguous bytes a row (a warp reads 16 whole 128-byte rows), because B
// is stored with k permuted inside each block of 64 (prepared once for
// weights): B'[n][64 b + 16 j + s] = B[n][64 b + 16 t + 4 j + 2 p + e] for
// the slot s = 2 t + 8 p + e of k16 step j, which is where mma's A fragment
// of lane t holds it. B' tiles (BN x 64) go through STAGES local buffers by
// cp.async, as core matrices: (row group rg, chunk kc) at (rg * 8 + kc) * 8.
#ifndef BN
#define BN 128
#endif
#ifndef NWG
#define NWG 2
#endif
#ifndef STAGES
#define STAGES 3
#endif
#define THREADS (128 * NWG)
#define B_CHUNKS (BN * 8)
#define LEAD (STAGES - 1)
#define SM90A "// @SM90A@ "
#define STR_(x) #x
#define STR(x) STR_(x)
#if LEAD == 1
#define CP_PENDING 0
#elif LEAD == 2
#define CP_PENDING 1
#elif LEAD == 3
#define CP_PENDING 2
#else
#error STAGES is 2 to 4
#endif
ulong tile_desc(uint addr) {  // no swizzle; k-adjacent cores 128 bytes apart, row groups 1024
  return (ulong)((addr & 0x3ffffu) >> 4) | ((ulong)(128u >> 4) << 16) | ((ulong)(1024u >> 4) << 32);
}

__kernel __attribute__((reqd_work_group_size(THREADS, 1, 1)))
void wgmma_gemm_rs(__global const uint4* a, __global const uint4* b, __global float* c, uint M, uint N, uint K) {
  __local uint4 Bs[STAGES * B_CHUNKS];
  const uint tid = get_local_id(0), wg = tid >> 7, warp = (tid >> 5) & 3, lane = tid & 31, g = lane >> 2, t = lane & 3;
  const uint m0 = get_group_id(1) * (64 * NWG), n0 = get_group_id(0) * BN;
  const uint kc = K / 8, blocks = K / 64;
  const uint row = m0 + wg * 64 + warp * 16 + g;
  __global const uint4* a_lo = a + row * kc + 2 * t;        // row g: 32 bytes at k 16 t of each block
  __global const uint4* a_hi = a + (row + 8) * kc + 2 * t;  // row g + 8
  float acc[BN / 2];
  #pragma unroll
  for (int i = 0; i < BN / 2; ++i) acc[i] = 0.0f;

  #define LOAD_B(stage, blk)                                                                  \
    _Pragma("unroll") for (uint q = 0; q < (B_CHUNKS + THREADS - 1) / THREADS; ++q) {         \
      const uint e = tid + q * THREADS, r = (e / 64) * 8 + (e & 7), ch = (e / 8) % 8;         \
      if (B_CHUNKS % THREADS == 0 || e < B_CHUNKS) CP_ASYNC16(shared_addr((ulong)&Bs[(stage) * B_CHUNKS + e]), b + (n0 + r) * kc + (blk) * 8 + ch); \
    }
  for (uint s = 0; s < LEAD; ++s) {
    if (s < blocks) LOAD_B(s, s)
    asm volatile("cp.async.commit_group;" ::: "memory");
  }
  uint4 lo0 = a_lo[0], lo1 = a_lo[1], hi0 = a_hi[0], hi1 = a_hi[1];
  for (uint s = 0; s < blocks; ++s) {
    asm volatile("cp.async.wait_group " STR(CP_PENDING) ";" ::: "memory");
    asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
    barrier(CLK_LOCAL_MEM_FENCE);
    const uint next = s + LEAD;
    if (next < blocks) LOAD_B(next % STAGES, next)
    asm volatile("cp.async.commit_group;" ::: "memory");
    const uint st = s % STAGES;
    // A's fragments of k16 step j: (row g, slots 2t, 2t+1), (g + 8, ...), (g, 2t + 8, 2t + 9), (g + 8, ...)
    const uint fr[4][4] = {{lo0.x, hi0.x, lo0.y, hi0.y}, {lo0.z, hi0.z, lo0.w, hi0.w},
                           {lo1.x, hi1.x, lo1.y, hi1.y}, {lo1.z, hi1.z, lo1.w, hi1.w}};
    asm volatile(SM90A "wgmma.fence.sync.aligned;" ::: "memory");
    #pragma unroll
    for (uint j = 0; j < 4; ++j) {
      const ulong db = tile_desc(shared_addr((ulong)&Bs[st * B_CHUNKS + j * 16]));
      WGMMA_RS(acc, fr[j][0], fr[j][1], fr[j][2], fr[j][3], db);
    }
    asm volatile(SM90A "wgmma.commit_group.sync.aligned;" ::: "memory");
    // The next block's A while the products run, into other registers: the
    // products read this block's asynchronously, so the wait takes them as
    // operands to keep them live (and unshared) until then.
    const uint nb = min(s + 1, blocks - 1) * 8;
    const uint4 nlo0 = a_lo[nb], nlo1 = a_lo[nb + 1], nhi0 = a_hi[nb], nhi1 = a_hi[nb + 1];
    asm volatile(SM90A "wgmma.wait_group.sync.aligned 0;"
                 :: "r"(lo0.x), "r"(lo0.y), "r"(lo0.z), "r"(lo0.w), "r"(lo1.x), "r"(lo1.y), "r"(lo1.z), "r"(lo1.w),
                    "r"(hi0.x), "r"(hi0.y), "r"(hi0.z), "r"(hi0.w), "r"(hi1.x), "r"(hi1.y), "r"(hi1.z), "r"(hi1.w)
                 : "memory");
    lo0 = nlo0, lo1 = nlo1, hi0 = nhi0, hi1 = nhi1;
  }
  #pragma unroll
  for (uint j = 0; j < BN / 8; ++j) {
    const uint col = n0 + j * 8 + 2 * t;
    vstore2((float2)(acc[j * 4], acc[j * 4 + 1]), 0, c + row * N + col);
    vstore2((float2)(acc[j * 4 + 2], acc[j * 4 + 3]), 0, c + (row + 8) * N + col);
  }
}
)CL";

const char* k_cluster_gemm = R"CL(
// A Hopper-style GEMM from OpenCL: C[M][N] (f32) = A[M][K] B[N][K]^T with
// both operands laid out tile by tile (the BM x BK tile of A for k step s is
// one contiguous block, in 8x8 core matrices: (row group, k chunk, row)), so
// that one bulk copy (cp.async.bulk, no tensor map) brings each, completing
// on an mbarrier. Work groups run in clusters of CM along M (the
// .reqnctapercluster the host patches into the PTX): the CM work groups of a
// cluster need the same B tile, and each copies 1/CM of it to all of them at
// once (.multicast::cluster), so B crosses L2 once a cluster. A stage is
// refilled once every work group of the cluster has released it (empty[st]
// counts CM arrivals, made remotely through mapa). Thread 0 is the producer.
#ifndef BK
#define BK 32
#endif
#ifndef BN
#define BN 128
#endif
#ifndef STAGES
#define STAGES 2
#endif
#ifndef CM
#define CM 2
#endif
#define BM 128
#define KC (BK / 8)
#define A_BYTES (BM * BK * 2)
#define B_BYTES (BN * BK * 2)
#define SM90A "// @SM90A@ "
ulong tile_desc(uint addr) {  // no swizzle; k-adjacent cores 128 bytes apart, row groups KC * 128
  return (ulong)((addr & 0x3ffffu) >> 4) | ((ulong)(128u >> 4) << 16) | ((ulong)((KC * 128u) >> 4) << 32);
}
void mbar_wait(uint bar, uint parity) {
  uint done = 0;
  while (!done)
    asm volatile("{ .reg .pred p; mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2; selp.u32 %0, 1, 0, p; }"
                 : "=r"(done) : "r"(bar), "r"(parity) : "memory");
}
void cluster_sync(void) {
  asm volatile("barrier.cluster.arrive.release.aligned;" ::: "memory");
  asm volatile("barrier.cluster.wait.acquire.aligned;" ::: "memory");
}

__kernel __attribute__((reqd_work_group_size(256, 1, 1)))
void cluster_gemm(__global const uint4* at, __global const uint4* bt, __global float* c, uint M, uint N, uint K) {
  __local uint4 As[STAGES * A_BYTES / 16], Bs[STAGES * B_BYTES / 16];
  __local ulong full[STAGES], empty[STAGES];
  const uint tid = get_local_id(0), wg = tid >> 7, warp = (tid >> 5) & 3, lane = tid & 31;
  const uint mt = get_group_id(1), nt = get_group_id(0), steps = K / BK;
  uint rank, ncta;
  asm volatile("mov.u32 %0, %%cluster_ctarank;" : "=r"(rank));
  asm volatile("mov.u32 %0, %%cluster_nctarank;" : "=r"(ncta));
  if (ncta != CM) {  // the launch did not follow .reqnctapercluster: say so instead of faulting
    if (get_global_id(0) == 0 && get_global_id(1) == 0) c[0] = -1000.0f - (float)ncta;
    return;
  }
  const uint full0 = shared_addr((ulong)&full[0]), empty0 = shared_addr((ulong)&empty[0]);
  if (tid == 0) {
    for (uint st = 0; st < STAGES; ++st) {
      asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;" :: "r"(full0 + 8 * st) : "memory");
      asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" :: "r"(empty0 + 8 * st), "r"(CM) : "memory");
    }
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
  }
  cluster_sync();  // every work group's barriers exist before anyone copies into it

  #define ISSUE(step, st)                                                                                  \
    {                                                                                                      \
      const uint bar = full0 + 8 * (st);                                                                   \
      asm volatile("{ .reg .b64 s; mbarrier.arrive.expect_tx.shared::cta.b64 s, [%0], %1; }"               \
                   :: "r"(bar), "r"(A_BYTES + B_BYTES) : "memory");                                        \
      __global const uint4* src_a = at + ((size_t)mt * steps + (step)) * (A_BYTES / 16);                   \
      asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];" \
                   :: "r"(shared_addr((ulong)&As[(st) * (A_BYTES / 16)])), "l"(src_a), "r"(A_BYTES), "r"(bar)  \
                   : "memory");                                                                            \
      const uint part = B_BYTES / CM;                                                                      \
      __global const uint4* src_b = bt + ((size_t)nt * steps + (step)) * (B_BYTES / 16) + rank * (part / 16); \
      const uint dst_b = shared_addr((ulong)&Bs[(st) * (B_BYTES / 16) + rank * (part / 16)]);             \
      if (CM == 1)                                                                                         \
        asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];" \
                     :: "r"(dst_b), "l"(src_b), "r"(part), "r"(bar) : "memory");                          \
      else                                                                                                 \
        asm volatile("{ .reg .b16 m; cvt.u16.u32 m, %4; "                                                 \
                     "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes.multicast::cluster [%0], [%1], %2, [%3], m; }" \
                     :: "r"(dst_b), "l"(src_b), "r"(part), "r"(bar), "r"((1u << CM) - 1) : "memory");     \
    }

  if (tid == 0)
    for (uint st = 0; st < STAGES; ++st)
      if (st < steps) ISSUE(st, st)
  float acc[BN / 2];
  #pragma unroll
  for (int i = 0; i < BN / 2; ++i) acc[i] = 0.0f;
  for (uint s = 0; s < steps; ++s) {
    const uint st = s % STAGES, parity = (s / STAGES) & 1;
    mbar_wait(full0 + 8 * st, parity);
    asm volatile(SM90A "wgmma.fence.sync.aligned;" ::: "memory");
    #pragma unroll
    for (uint kk = 0; kk < BK / 16; ++kk) {
      const ulong da = tile_desc(shared_addr((ulong)&As[st * (A_BYTES / 16) + (wg * 8 * KC + kk * 2) * 8]));
      const ulong db = tile_desc(shared_addr((ulong)&Bs[st * (B_BYTES / 16) + kk * 2 * 8]));
      WGMMA(acc, da, db);
    }
    asm volatile(SM90A "wgmma.commit_group.sync.aligned;" ::: "memory");
    asm volatile(SM90A "wgmma.wait_group.sync.aligned 0;" ::: "memory");
    barrier(CLK_LOCAL_MEM_FENCE);  // the whole work group is done with stage st
    if (tid == 0) {
      for (uint r = 0; r < CM; ++r) {
        uint remote;
        asm volatile("mapa.shared::cluster.u32 %0, %1, %2;" : "=r"(remote) : "r"(empty0 + 8 * st), "r"(r));
        asm volatile("mbarrier.arrive.release.cluster.shared::cluster.b64 _, [%0];" :: "r"(remote) : "memory");
      }
      if (s + STAGES < steps) {
        mbar_wait(empty0 + 8 * st, parity);  // every work group of the cluster is done with it
        ISSUE(s + STAGES, st)
      }
    }
  }
  cluster_sync();  // nobody leaves while a peer may still copy into it or arrive on its barriers
  const uint g = lane >> 2, t = lane & 3, row = mt * BM + wg * 64 + warp * 16 + g;
  #pragma unroll
  for (uint j = 0; j < BN / 8; ++j) {
    const uint col = nt * BN + j * 8 + 2 * t;
    vstore2((float2)(acc[j * 4], acc[j * 4 + 1]), 0, c + row * N + col);
    vstore2((float2)(acc[j * 4 + 2], acc[j * 4 + 3]), 0, c + (row + 8) * N + col);
  }
}
)CL";

const char* k_mma_peak = R"CL(
// The ceiling: 8 independent accumulator chains of m16n8k16 per subgroup.
__kernel void mma_peak(__global float* out, uint iters, uint seed) {
  const uint lane = get_local_id(0) & 31;
  uint a0 = seed ^ lane, a1 = a0 * 3u, a2 = a0 * 5u, a3 = a0 * 7u, b0 = a0 * 11u, b1 = a0 * 13u;
  a0 &= 0x3bff3bffu; a1 &= 0x3bff3bffu; a2 &= 0x3bff3bffu; a3 &= 0x3bff3bffu; b0 &= 0x3bff3bffu; b1 &= 0x3bff3bffu;
  float c[8][4];
  for (int j = 0; j < 8; ++j) for (int e = 0; e < 4; ++e) c[j][e] = 0.0f;
  for (uint it = 0; it < iters; ++it) {
    #pragma unroll
    for (int j = 0; j < 8; ++j) {
#if FP8
      asm volatile("mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
                   : "+f"(c[j][0]), "+f"(c[j][1]), "+f"(c[j][2]), "+f"(c[j][3])
                   : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
#else
      MMA(c[j], a0, a1, a2, a3, b0, b1);
#endif
    }
  }
  float s = 0;
  for (int j = 0; j < 8; ++j) for (int e = 0; e < 4; ++e) s += c[j][e];
  out[get_global_id(0)] = s;
}
)CL";

#define CHECK(x)                                                                          \
  do {                                                                                    \
    cl_int e_ = (x);                                                                      \
    if (e_ != CL_SUCCESS) {                                                               \
      std::fprintf(stderr, "ptx_probe: %s failed: OpenCL error %d\n", #x, e_);            \
      std::exit(1);                                                                       \
    }                                                                                     \
  } while (0)

uint16_t to_half(float f) {  // round to nearest even, normal range only (the test values are small)
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  int32_t exp = int32_t((x >> 23) & 0xff) - 127 + 15;
  uint32_t mant = x & 0x7fffffu;
  if (exp <= 0) return uint16_t(sign);
  uint32_t h = sign | (uint32_t(exp) << 10) | (mant >> 13);
  const uint32_t rest = mant & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;
  return uint16_t(h);
}
float from_half(uint16_t h) {
  const int exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  const float v = exp ? std::ldexp(float(mant | 0x400), exp - 25) : std::ldexp(float(mant), -24);
  return (h & 0x8000) ? -v : v;
}

struct Cl {
  cl_context ctx = nullptr;
  cl_command_queue q = nullptr;
  cl_device_id dev = nullptr;
};

cl_mem buffer(Cl& cl, size_t bytes, const void* host) {
  cl_int e;
  cl_mem m = clCreateBuffer(cl.ctx, CL_MEM_READ_WRITE | (host ? CL_MEM_COPY_HOST_PTR : 0), bytes,
                            const_cast<void*>(host), &e);
  CHECK(e);
  return m;
}

// The kernel `name` built from `source`, or null (the compiler's log printed).
bool g_cvta = false;  // --cvta

cl_kernel kernel(Cl& cl, const char* source, const char* name, const std::string& defines = "") {
  const std::string options = std::string("-cl-std=CL1.2") + (g_cvta ? " -DCVTA=1" : "") + defines;
  cl_int e;
  const char* sources[2] = {k_prelude, source};
  cl_program prog = clCreateProgramWithSource(cl.ctx, 2, sources, nullptr, &e);
  CHECK(e);
  const cl_int built = clBuildProgram(prog, 1, &cl.dev, options.c_str(), nullptr, nullptr);
  if (built != CL_SUCCESS) {
    size_t n = 0;
    clGetProgramBuildInfo(prog, cl.dev, CL_PROGRAM_BUILD_LOG, 0, nullptr, &n);
    std::string log(n, '\0');
    clGetProgramBuildInfo(prog, cl.dev, CL_PROGRAM_BUILD_LOG, n, log.data(), nullptr);
    std::printf("%s: does not build (OpenCL error %d):\n%s\n", name, built, log.c_str());
    clReleaseProgram(prog);
    return nullptr;
  }
  cl_kernel k = clCreateKernel(prog, name, &e);
  CHECK(e);
  clReleaseProgram(prog);  // the kernel keeps it alive
  return k;
}

// A kernel with sm_90a instructions (written behind SM90A): built from
// source as sm_90 with them commented out, its PTX (NVIDIA's program binary)
// taken back, the markers removed, .target raised to sm_90a (and .version to
// 8.0 if lower), and loaded again as a binary.
cl_kernel kernel_sm90a(Cl& cl, const char* source, const char* name, const std::string& defines = "",
                       const std::string& entry_directive = "") {
  const std::string options = std::string("-cl-std=CL1.2") + defines;
  cl_int e;
  const char* sources[2] = {k_prelude, source};
  cl_program prog = clCreateProgramWithSource(cl.ctx, 2, sources, nullptr, &e);
  CHECK(e);
  auto log_of = [&](cl_program p) {
    size_t n = 0;
    clGetProgramBuildInfo(p, cl.dev, CL_PROGRAM_BUILD_LOG, 0, nullptr, &n);
    std::string log(n, '\0');
    clGetProgramBuildInfo(p, cl.dev, CL_PROGRAM_BUILD_LOG, n, log.data(), nullptr);
    return log;
  };
  if (clBuildProgram(prog, 1, &cl.dev, options.c_str(), nullptr, nullptr) != CL_SUCCESS) {
    std::printf("%s: does not build as sm_90:\n%s\n", name, log_of(prog).c_str());
    clReleaseProgram(prog);
    return nullptr;
  }
  size_t size = 0;
  CHECK(clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof size, &size, nullptr));
  std::string ptx(size, '\0');
  unsigned char* bin = reinterpret_cast<unsigned char*>(ptx.data());
  CHECK(clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bin, &bin, nullptr));
  clReleaseProgram(prog);
  ptx.resize(std::strlen(ptx.c_str()));
  size_t markers = 0;
  for (size_t at; (at = ptx.find("// @SM90A@ ")) != std::string::npos; ++markers) ptx.erase(at, 11);
  const size_t target = ptx.find(".target sm_90");
  const size_t version = ptx.find(".version ");
  if (target == std::string::npos || version == std::string::npos) {
    std::printf("%s: no .target sm_90 / .version in the PTX\n", name);
    return nullptr;
  }
  const std::string old_version = ptx.substr(version + 9, ptx.find('\n', version) - version - 9);
  if (ptx.compare(target, 14, ".target sm_90a") != 0) ptx.insert(target + 13, "a");
  if (std::atof(old_version.c_str()) < 8.0) ptx.replace(version + 9, old_version.size(), "8.0");
  if (!entry_directive.empty()) {  // e.g. .reqnctapercluster: between the entry's parameters and its body
    const size_t entry = ptx.find(".entry " + std::string(name));
    const size_t body = entry == std::string::npos ? entry : ptx.find("\n{", entry);
    if (body == std::string::npos) {
      std::printf("%s: no entry body in the PTX\n", name);
      return nullptr;
    }
    ptx.insert(body + 1, entry_directive + "\n");
  }
  static bool told = false;
  if (!told) std::printf("sm_90a: %zu instructions uncommented, PTX .version %s\n", markers, old_version.c_str()), told = true;
  const unsigned char* text = reinterpret_cast<const unsigned char*>(ptx.c_str());
  const size_t length = ptx.size() + 1;
  cl_int status = 0;
  prog = clCreateProgramWithBinary(cl.ctx, 1, &cl.dev, &length, &text, &status, &e);
  if (e != CL_SUCCESS) {
    std::printf("%s: the sm_90a PTX is not accepted as a binary (%d, %d)\n", name, e, status);
    return nullptr;
  }
  if (clBuildProgram(prog, 1, &cl.dev, "", nullptr, nullptr) != CL_SUCCESS) {
    std::printf("%s: the sm_90a PTX does not build:\n%s\n", name, log_of(prog).c_str());
    clReleaseProgram(prog);
    return nullptr;
  }
  cl_kernel k = clCreateKernel(prog, name, &e);
  CHECK(e);
  clReleaseProgram(prog);
  return k;
}

void set_arg(cl_kernel k, cl_uint i, size_t bytes, const void* value) { CHECK(clSetKernelArg(k, i, bytes, value)); }

// The kernel's arguments in order: buffers as cl_mem, scalars as themselves.
template <typename... T>
void set_args(cl_kernel k, const T&... args) {
  cl_uint i = 0;
  (set_arg(k, i++, sizeof(T), &args), ...);
}

// Launches groups[0] x groups[1] work groups of local[0] x local[1] and waits.
void run(Cl& cl, cl_kernel k, const size_t (&groups)[2], const size_t (&local)[2]) {
  const size_t global[2] = {groups[0] * local[0], groups[1] * local[1]};
  CHECK(clEnqueueNDRangeKernel(cl.q, k, 2, nullptr, global, local, 0, nullptr, nullptr));
  CHECK(clFinish(cl.q));
}
void run(Cl& cl, cl_kernel k, size_t groups, size_t local) { run(cl, k, {groups, 1}, {local, 1}); }

// Wall-clock seconds of `reps` calls of launch() (each waits for its kernel)
// after one warm-up, fastest first.
template <typename Launch>
std::vector<double> sorted_times(int reps, Launch launch) {
  launch();
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    launch();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t;
}

template <typename T>
void read_back(Cl& cl, cl_mem from, std::vector<T>& to) {
  CHECK(clEnqueueReadBuffer(cl.q, from, CL_TRUE, 0, to.size() * sizeof(T), to.data(), 0, nullptr, nullptr));
}

bool check_mma(Cl& cl) {
  std::vector<uint16_t> a(256), b(128);
  std::vector<float> af(256), bf(128);
  for (int i = 0; i < 256; ++i) af[i] = from_half(a[i] = to_half(float((i * 7) % 13 - 6) / 8.0f));
  for (int i = 0; i < 128; ++i) bf[i] = from_half(b[i] = to_half(float((i * 5) % 11 - 5) / 4.0f));
  cl_mem ba = buffer(cl, 512, a.data()), bb = buffer(cl, 256, b.data()), bd = buffer(cl, 512, nullptr);
  cl_kernel k = kernel(cl, k_mma_once, "mma_once");
  if (!k) return false;
  set_args(k, ba, bb, bd);
  run(cl, k, 1, 32);
  std::vector<float> d(128);
  read_back(cl, bd, d);
  double worst = 0;
  for (int m = 0; m < 16; ++m)
    for (int n = 0; n < 8; ++n) {
      double ref = 0;
      for (int kk = 0; kk < 16; ++kk) ref += double(af[m * 16 + kk]) * double(bf[n * 16 + kk]);
      worst = std::max(worst, std::abs(ref - d[m * 8 + n]));
    }
  std::printf("mma.sync m16n8k16 f16 -> f32: max |error| vs float64 %.3g\n", worst);
  clReleaseKernel(k);
  clReleaseMemObject(ba), clReleaseMemObject(bb), clReleaseMemObject(bd);
  return worst < 1e-5;
}

bool check_ldmatrix(Cl& cl) {
  std::vector<uint32_t> src(128), out(128);
  for (uint32_t i = 0; i < 128; ++i) src[i] = 0x10000u * (2 * i + 1) + 2 * i;  // halves numbered 0..255
  cl_mem bs = buffer(cl, 512, src.data()), bo = buffer(cl, 512, nullptr);
  cl_kernel k = kernel(cl, k_ldmatrix_x4, "ldmatrix_x4");
  if (!k) return false;
  set_args(k, bs, bo);
  run(cl, k, 1, 32);
  read_back(cl, bo, out);
  int bad = 0;
  for (uint32_t lane = 0; lane < 32; ++lane)
    for (uint32_t i = 0; i < 4; ++i) {
      // Matrix i, row lane / 4: halves 8 * (8 i + row) + 2 (lane % 4) and the next.
      const uint32_t first = 8 * (8 * i + lane / 4) + 2 * (lane % 4);
      if (out[lane * 4 + i] != (first | ((first + 1) << 16))) ++bad;
    }
  std::printf("ldmatrix.x4: %d of 128 registers differ from the PTX ISA's layout\n", bad);
  clReleaseKernel(k);
  clReleaseMemObject(bs), clReleaseMemObject(bo);
  return bad == 0;
}

bool check_cp_async(Cl& cl) {
  const int groups = 4;
  std::vector<uint32_t> src(groups * 256 * 4), out(src.size());
  for (size_t i = 0; i < src.size(); ++i) src[i] = uint32_t(i * 2654435761u);
  cl_mem bs = buffer(cl, src.size() * 4, src.data()), bo = buffer(cl, src.size() * 4, nullptr);
  cl_kernel k = kernel(cl, k_cp_async_copy, "cp_async_copy");
  if (!k) return false;
  set_args(k, bs, bo);
  run(cl, k, groups, 256);
  read_back(cl, bo, out);
  int bad = 0;
  for (int g = 0; g < groups; ++g)
    for (int l = 0; l < 256; ++l)
      for (int c = 0; c < 4; ++c)
        if (out[(g * 256 + l) * 4 + c] != src[(g * 256 + ((l + 1) & 255)) * 4 + c]) ++bad;
  std::printf("cp.async 16 B global -> local: %d of %zu words differ\n", bad, out.size());
  clReleaseKernel(k);
  clReleaseMemObject(bs), clReleaseMemObject(bo);
  return bad == 0;
}

// The GEMM kernel: exact against float64 on a small product (f16 inputs,
// f32 sums), then timed at the Wan layer shapes (rows padded to 128).
bool check_and_time_gemm(Cl& cl, int stages, int warps_m, int warps_n) {
  const std::string variant = std::to_string(stages) + " stages, " + std::to_string(warps_m) + " x " +
                              std::to_string(warps_n) + " subgroups";
  cl_kernel k = kernel(cl, k_gemm, "gemm_f16",
                       " -DSTAGES=" + std::to_string(stages) + " -DWARPS_M=" + std::to_string(warps_m) +
                           " -DWARPS_N=" + std::to_string(warps_n));
  const size_t threads = size_t(32) * warps_m * warps_n;
  if (!k) return false;
  auto run_gemm = [&](cl_mem ba, cl_mem bb, cl_mem bc, unsigned M, unsigned N, unsigned K) {
    set_args(k, ba, bb, bc, M, N, K);
    run(cl, k, {N / 128, M / 128}, {threads, 1});
  };
  bool ok = true;
  {
    const unsigned M = 256, N = 384, K = 160;
    std::vector<uint16_t> a(M * K), b(N * K);
    std::vector<float> af(a.size()), bf(b.size());
    for (size_t i = 0; i < a.size(); ++i) af[i] = from_half(a[i] = to_half(float(int(i * 7919 % 17) - 8) / 8.0f));
    for (size_t i = 0; i < b.size(); ++i) bf[i] = from_half(b[i] = to_half(float(int(i * 104729 % 13) - 6) / 4.0f));
    cl_mem ba = buffer(cl, a.size() * 2, a.data()), bb = buffer(cl, b.size() * 2, b.data());
    cl_mem bc = buffer(cl, size_t(M) * N * 4, nullptr);
    run_gemm(ba, bb, bc, M, N, K);
    std::vector<float> c(size_t(M) * N);
    read_back(cl, bc, c);
    double worst = 0;
    for (unsigned m = 0; m < M; ++m)
      for (unsigned n = 0; n < N; ++n) {
        double ref = 0;
        for (unsigned kk = 0; kk < K; ++kk) ref += double(af[m * K + kk]) * double(bf[n * K + kk]);
        worst = std::max(worst, std::abs(ref - c[size_t(m) * N + n]));
      }
    std::printf("GEMM (%s) %ux%ux%u: max |error| vs float64 %.3g\n", variant.c_str(), M, K, N, worst);
    ok = worst < 1e-3;
    clReleaseMemObject(ba), clReleaseMemObject(bb), clReleaseMemObject(bc);
  }
  const unsigned shapes[][3] = {{4736, 1536, 8960}, {4736, 8960, 1536}, {4736, 1536, 1536}};
  for (const auto& sh : shapes) {
    const unsigned M = sh[0], K = sh[1], N = sh[2];
    std::vector<uint16_t> a(size_t(M) * K, 0x3c00), b(size_t(N) * K, 0x3c00);
    cl_mem ba = buffer(cl, a.size() * 2, a.data()), bb = buffer(cl, b.size() * 2, b.data());
    cl_mem bc = buffer(cl, size_t(M) * N * 4, nullptr);
    const std::vector<double> t = sorted_times(20, [&] { run_gemm(ba, bb, bc, M, N, K); });
    const double flop = 2.0 * 4680 * K * N;  // the 4680 real rows of a chunk
    std::printf("GEMM (%s) 4680x%ux%u (rows padded to %u): median %.3f ms, best %.3f ms, %.1f TFLOP/s at the median\n",
                variant.c_str(), K, N, M, t[10] * 1e3, t[0] * 1e3, flop / t[10] * 1e-12);
    clReleaseMemObject(ba), clReleaseMemObject(bb), clReleaseMemObject(bc);
  }
  clReleaseKernel(k);
  return ok;
}

// The flash-attention kernel: against float64 softmax attention of the same
// f16 inputs on a small case (P is rounded to f16 as on the tensor cores, so
// within 2e-3 of the largest output), then timed at the Wan hot case (12
// heads of 128, a chunk's 4680 queries against 9360 cached + 4680 own keys;
// rows padded to 4736 queries and 14048 keys, FLOPs counted on the real ones).
bool check_and_time_flash(Cl& cl, unsigned warps) {
  cl_kernel k = kernel(cl, k_flash, "flash_f16", " -DWARPS=" + std::to_string(warps));
  if (!k) return false;
  auto run_flash = [&](cl_mem bq, cl_mem bk, cl_mem bv, cl_mem bo, unsigned H, unsigned nq, unsigned nk) {
    const float scale_log2 = float(1.0 / std::sqrt(128.0) / std::log(2.0));
    set_args(k, bq, bk, bv, bo, nq, nk, scale_log2);
    run(cl, k, {nq / (16 * warps), H}, {32 * warps, 1});
  };
  bool ok = true;
  {
    const unsigned H = 2, nq = 128, nk = 96, D = 128;
    std::vector<uint16_t> q(H * nq * D), kk(H * nk * D), v(H * nk * D);
    std::vector<float> qf(q.size()), kf(kk.size()), vf(v.size());
    auto fill = [](std::vector<uint16_t>& h, std::vector<float>& f, uint32_t seed) {
      for (size_t i = 0; i < h.size(); ++i) {
        seed = seed * 1664525u + 1013904223u;
        f[i] = from_half(h[i] = to_half(float(int(seed >> 9) % 2001 - 1000) / 1000.0f));
      }
    };
    fill(q, qf, 1), fill(kk, kf, 2), fill(v, vf, 3);
    cl_mem bq = buffer(cl, q.size() * 2, q.data()), bk = buffer(cl, kk.size() * 2, kk.data());
    cl_mem bv = buffer(cl, v.size() * 2, v.data()), bo = buffer(cl, size_t(H) * nq * D * 4, nullptr);
    run_flash(bq, bk, bv, bo, H, nq, nk);
    std::vector<float> o(size_t(H) * nq * D);
    read_back(cl, bo, o);
    double worst = 0, largest = 0;
    std::vector<double> sc(nk);
    for (unsigned h = 0; h < H; ++h)
      for (unsigned i = 0; i < nq; ++i) {
        double mx = -1e300, sum = 0;
        for (unsigned j = 0; j < nk; ++j) {
          double d = 0;
          for (unsigned c = 0; c < D; ++c) d += double(qf[(h * nq + i) * D + c]) * kf[(h * nk + j) * D + c];
          sc[j] = d / std::sqrt(double(D));
          mx = std::max(mx, sc[j]);
        }
        for (unsigned j = 0; j < nk; ++j) sum += sc[j] = std::exp(sc[j] - mx);
        for (unsigned c = 0; c < D; ++c) {
          double ref = 0;
          for (unsigned j = 0; j < nk; ++j) ref += sc[j] * vf[(h * nk + j) * D + c];
          ref /= sum;
          largest = std::max(largest, std::abs(ref));
          worst = std::max(worst, std::abs(ref - o[(size_t(h) * nq + i) * D + c]));
        }
      }
    std::printf("flash attention (%u subgroups) %u heads, %u queries x %u keys: max |error| vs float64 %.3g "
                "(largest output %.3g)\n", warps, H, nq, nk, worst, largest);
    ok = worst <= 2e-3 * largest;
    clReleaseMemObject(bq), clReleaseMemObject(bk), clReleaseMemObject(bv), clReleaseMemObject(bo);
  }
  {
    const unsigned H = 12, nq = 4736, nk = 14048, D = 128;
    std::vector<uint16_t> q(size_t(H) * nq * D, 0x2c00), kv(size_t(H) * nk * D, 0x2c00);  // 1/16
    cl_mem bq = buffer(cl, q.size() * 2, q.data()), bk = buffer(cl, kv.size() * 2, kv.data());
    cl_mem bv = buffer(cl, kv.size() * 2, kv.data()), bo = buffer(cl, size_t(H) * nq * D * 4, nullptr);
    const std::vector<double> t = sorted_times(11, [&] { run_flash(bq, bk, bv, bo, H, nq, nk); });
    const double flop = 4.0 * H * 4680 * 14040 * D;
    std::printf("flash attention (%u subgroups), Wan hot case (12 x 4680 queries x 14040 keys, D 128): median %.3f ms, "
                "best %.3f ms, %.1f TFLOP/s at the median\n", warps, t[5] * 1e3, t[0] * 1e3, flop / t[5] * 1e-12);
    clReleaseMemObject(bq), clReleaseMemObject(bk), clReleaseMemObject(bv), clReleaseMemObject(bo);
  }
  clReleaseKernel(k);
  return ok;
}

// float8 e4m3fn code -> value (NaN codes as 480, as vdrt's decoders read them).
double e4m3_value(uint8_t c) {
  const int e = (c >> 3) & 15, m = c & 7;
  const double v = e ? std::ldexp(1.0 + m / 8.0, e - 7) : std::ldexp(m / 8.0, -6);
  return (c & 0x80) ? -v : v;
}

bool check_mma_fp8(Cl& cl) {
  std::vector<uint8_t> a(16 * 32), b(8 * 32);  // b: [n][k]
  for (size_t i = 0; i < a.size(); ++i) a[i] = uint8_t((i * 37 + 11) & 0xf7);  // 0xf7: never a NaN code
  for (size_t i = 0; i < b.size(); ++i) b[i] = uint8_t((i * 53 + 5) & 0xb7);
  cl_mem ba = buffer(cl, a.size(), a.data()), bb = buffer(cl, b.size(), b.data()), bd = buffer(cl, 512, nullptr);
  cl_kernel k = kernel(cl, k_mma_fp8_once, "mma_fp8_once");
  if (!k) return false;
  set_args(k, ba, bb, bd);
  run(cl, k, 1, 32);
  std::vector<float> d(128);
  read_back(cl, bd, d);
  double worst = 0, largest = 0;
  for (int m = 0; m < 16; ++m)
    for (int n = 0; n < 8; ++n) {
      double ref = 0;
      for (int kk = 0; kk < 32; ++kk) ref += e4m3_value(a[m * 32 + kk]) * e4m3_value(b[n * 32 + kk]);
      worst = std::max(worst, std::abs(ref - d[m * 8 + n]));
      largest = std::max(largest, std::abs(ref));
    }
  std::printf("mma.sync m16n8k32 e4m3 x e4m3 -> f32: max |error| vs float64 %.3g (largest %.3g)\n", worst, largest);
  clReleaseKernel(k);
  clReleaseMemObject(ba), clReleaseMemObject(bb), clReleaseMemObject(bd);
  return worst <= 1e-6 * std::max(1.0, largest);
}

// wgmma: one m64n8k16 product for each way of laying out A's core matrices
// (8 x 8 halves, 128 contiguous bytes): (m, k) core at (2 m + k) * 128 bytes
// ("MK": k-adjacent cores 128 bytes apart, m-adjacent 256), with the leading /
// stride byte offsets both ways round, or at (k * 8 + m) * 128 ("KM", leading
// 1024 and stride 128; the other way round faults the H200's context); B's two cores (k 0-7, 8-15) at 0 and 128. Prints which
// match the float64 product (the PTX ISA: leading = between k-adjacent cores
// for k-major operands), then times m64n64k16 with the first that matched.
bool check_and_time_wgmma(Cl& cl, size_t groups, unsigned iters) {
  auto av = [](int m, int k) { return float((m * 3 + k * 5) % 7 - 3); };
  auto bv = [](int n, int k) { return float((k * 2 + n * 7) % 9 - 4); };
  std::vector<uint16_t> bh(8 * 16);
  for (int kc = 0; kc < 2; ++kc)
    for (int n = 0; n < 8; ++n)
      for (int k = 0; k < 8; ++k) bh[kc * 64 + n * 8 + k] = to_half(bv(n, kc * 8 + k));
  cl_mem bb = buffer(cl, bh.size() * 2, bh.data()), bd = buffer(cl, 64 * 8 * 4, nullptr);
  cl_kernel k = kernel_sm90a(cl, k_wgmma, "wgmma_once");
  if (!k) return false;
  struct Way { const char* name; bool mk; unsigned lbo, sbo; };
  const Way ways[] = {{"MK lbo 128 sbo 256", true, 128, 256}, {"MK lbo 256 sbo 128", true, 256, 128},
                      {"KM lbo 1024 sbo 128", false, 1024, 128}};
  const Way* first = nullptr;
  for (const Way& w : ways) {
    std::vector<uint16_t> ah(64 * 16);
    for (int mc = 0; mc < 8; ++mc)
      for (int kc = 0; kc < 2; ++kc) {
        const int core = w.mk ? mc * 2 + kc : kc * 8 + mc;
        for (int r = 0; r < 8; ++r)
          for (int c = 0; c < 8; ++c) ah[core * 64 + r * 8 + c] = to_half(av(mc * 8 + r, kc * 8 + c));
      }
    cl_mem ba = buffer(cl, ah.size() * 2, ah.data());
    set_args(k, ba, bb, bd, cl_uint(w.lbo), cl_uint(w.sbo), cl_uint(128), cl_uint(128));
    run(cl, k, 1, 128);
    std::vector<float> d(64 * 8);
    read_back(cl, bd, d);
    double worst = 0;
    for (int m = 0; m < 64; ++m)
      for (int n = 0; n < 8; ++n) {
        double ref = 0;
        for (int kk = 0; kk < 16; ++kk) ref += double(av(m, kk)) * bv(n, kk);
        worst = std::max(worst, std::abs(ref - d[m * 8 + n]));
      }
    std::printf("wgmma m64n8k16 f16, A cores %s: max |error| vs float64 %.3g\n", w.name, worst);
    if (worst == 0 && !first) first = &w;
    clReleaseMemObject(ba);
  }
  clReleaseKernel(k);
  clReleaseMemObject(bb), clReleaseMemObject(bd);
  if (!first || !first->mk) return first != nullptr;
  cl_kernel kp = kernel_sm90a(cl, k_wgmma, "wgmma_peak",
                        " -DLBO=" + std::to_string(first->lbo) + "u -DSBO=" + std::to_string(first->sbo) + "u");
  if (!kp) return false;
  cl_mem bo = buffer(cl, groups * 128 * 4, nullptr);
  set_args(kp, bo, iters);
  const double best = sorted_times(5, [&] { run(cl, kp, groups, 128); })[0];
  const double flop = double(groups) * iters * 8 * 2.0 * 64 * 64 * 16;
  std::printf("wgmma m64n64k16 f16 alone: %zu groups of 128, %u iterations x 8: %.3f ms, %.1f TFLOP/s (best of 5)\n",
              groups, iters, best * 1e3, flop / best * 1e-12);
  clReleaseKernel(kp);
  clReleaseMemObject(bo);
  return true;
}

// The wgmma instruction m64nNk16 (f16 -> f32, both operands k-major from
// descriptors, accumulating) as a macro WGMMA(acc, da, db) over acc[0 .. N/2).
std::string wgmma_macro(int n) {
  const int regs = n / 2;
  std::string list, ops;
  for (int i = 0; i < regs; ++i) {
    list += (i ? "," : "") + std::string("%") + std::to_string(i);
    ops += (i ? ", " : "") + std::string("\"+f\"((acc)[") + std::to_string(i) + "])";
  }
  return "#define WGMMA(acc, da, db) asm volatile(SM90A \"{ .reg .pred p; setp.ne.b32 p, %" + std::to_string(regs + 2) +
         ", 0; wgmma.mma_async.sync.aligned.m64n" + std::to_string(n) + "k16.f32.f16.f16 {" + list + "}, %" +
         std::to_string(regs) + ", %" + std::to_string(regs + 1) + ", p, 1, 1, 0, 0; }\" : " + ops +
         " : \"l\"(da), \"l\"(db), \"r\"(1) : \"memory\")\n";
}

// The warp-group GEMM: exact against float64 on a small product, then timed
// at the Wan shapes as check_and_time_gemm times the mma.sync one.
bool check_and_time_wgmma_gemm(Cl& cl, int bn, int bk, int stages, int inflight, int ni, bool dyn, bool swap) {
  char variant[200];
  const size_t local_bytes = size_t(stages) * (128 + bn) * bk * 2;
  std::snprintf(variant, sizeof variant, "wgmma 128x%d, BK %d, %d stages (%zu KiB%s), %d in flight, n%d%s", bn, bk, stages,
                local_bytes / 1024, dyn ? " from an argument" : "", inflight, ni, swap ? ", offsets swapped" : "");
  const std::string source = wgmma_macro(ni) + k_wgmma_gemm;
  char defines[200];
  std::snprintf(defines, sizeof defines, " -DBN=%d -DBK=%d -DSTAGES=%d -DINFLIGHT=%d -DNI=%d -DSWAP=%d -DDYN=%d", bn, bk,
                stages, inflight, ni, swap ? 1 : 0, dyn ? 1 : 0);
  cl_kernel k = kernel_sm90a(cl, source.c_str(), "wgmma_gemm", defines);
  if (!k) {
    std::printf("%s: does not build\n", variant);
    return false;
  }
  auto run_gemm = [&](cl_mem ba, cl_mem bb, cl_mem bc, unsigned M, unsigned N, unsigned K) {
    set_args(k, ba, bb, bc, M, N, K);
    if (dyn) set_arg(k, 6, local_bytes, nullptr);
    const size_t global[2] = {N / unsigned(bn) * size_t(256), M / 128};
    const size_t local[2] = {256, 1};
    const cl_int e = clEnqueueNDRangeKernel(cl.q, k, 2, nullptr, global, local, 0, nullptr, nullptr);
    if (e != CL_SUCCESS) {
      std::printf("GEMM (%s): not launched (OpenCL error %d)\n", variant, e);
      std::exit(1);
    }
    CHECK(clFinish(cl.q));
  };
  bool ok = true;
  {
    const unsigned M = 256, N = 512, K = 192;
    std::vector<uint16_t> a(M * K), b(N * K);
    std::vector<float> af(a.size()), bf(b.size());
    for (size_t i = 0; i < a.size(); ++i) af[i] = from_half(a[i] = to_half(float(int(i * 7919 % 17) - 8) / 8.0f));
    for (size_t i = 0; i < b.size(); ++i) bf[i] = from_half(b[i] = to_half(float(int(i * 104729 % 13) - 6) / 4.0f));
    cl_mem ba = buffer(cl, a.size() * 2, a.data()), bb = buffer(cl, b.size() * 2, b.data());
    cl_mem bc = buffer(cl, size_t(M) * N * 4, nullptr);
    run_gemm(ba, bb, bc, M, N, K);
    std::vector<float> c(size_t(M) * N);
    read_back(cl, bc, c);
    double worst = 0;
    for (unsigned m = 0; m < M; ++m)
      for (unsigned n = 0; n < N; ++n) {
        double ref = 0;
        for (unsigned kk = 0; kk < K; ++kk) ref += double(af[m * K + kk]) * double(bf[n * K + kk]);
        worst = std::max(worst, std::abs(ref - c[size_t(m) * N + n]));
      }
    std::printf("GEMM (%s) %ux%ux%u: max |error| vs float64 %.3g\n", variant, M, K, N, worst);
    ok = worst < 1e-3;
    clReleaseMemObject(ba), clReleaseMemObject(bb), clReleaseMemObject(bc);
  }
  const unsigned shapes[][3] = {{4736, 1536, 8960}, {4736, 8960, 1536}, {4736, 1536, 1536}};
  for (const auto& sh : shapes) {
    if (!ok) break;
    const unsigned M = sh[0], K = sh[1], N = sh[2];
    if (N % bn) continue;
    std::vector<uint16_t> a(size_t(M) * K, 0x3c00), b(size_t(N) * K, 0x3c00);
    cl_mem ba = buffer(cl, a.size() * 2, a.data()), bb = buffer(cl, b.size() * 2, b.data());
    cl_mem bc = buffer(cl, size_t(M) * N * 4, nullptr);
    const std::vector<double> t = sorted_times(20, [&] { run_gemm(ba, bb, bc, M, N, K); });
    const double flop = 2.0 * 4680 * K * N;
    std::printf("GEMM (%s) 4680x%ux%u (rows padded to %u): median %.3f ms, best %.3f ms, %.1f TFLOP/s at the median\n",
                variant, K, N, M, t[10] * 1e3, t[0] * 1e3, flop / t[10] * 1e-12);
    clReleaseMemObject(ba), clReleaseMemObject(bb), clReleaseMemObject(bc);
  }
  clReleaseKernel(k);
  return ok;
}

// WGMMA_RS(acc, a0, a1, a2, a3, db): m64nNk16 with A's fragment in registers.
std::string wgmma_rs_macro(int n) {
  const int regs = n / 2;
  std::string list, ops;
  for (int i = 0; i < regs; ++i) {
    list += (i ? "," : "") + std::string("%") + std::to_string(i);
    ops += (i ? ", " : "") + std::string("\"+f\"((acc)[") + std::to_string(i) + "])";
  }
  auto r = [&](int i) { return "%" + std::to_string(regs + i); };
  return "#define WGMMA_RS(acc, a0, a1, a2, a3, db) asm volatile(SM90A \"{ .reg .pred p; setp.ne.b32 p, " + r(5) +
         ", 0; wgmma.mma_async.sync.aligned.m64n" + std::to_string(n) + "k16.f32.f16.f16 {" + list + "}, {" + r(0) + "," +
         r(1) + "," + r(2) + "," + r(3) + "}, " + r(4) + ", p, 1, 1, 0; }\" : " + ops +
         " : \"r\"(a0), \"r\"(a1), \"r\"(a2), \"r\"(a3), \"l\"(db), \"r\"(1) : \"memory\")\n";
}

// B with k permuted inside each block of 64 as wgmma_gemm_rs wants it.
std::vector<uint16_t> permute_k64(const std::vector<uint16_t>& b, unsigned N, unsigned K) {
  std::vector<uint16_t> out(b.size());
  for (unsigned n = 0; n < N; ++n)
    for (unsigned blk = 0; blk < K / 64; ++blk)
      for (unsigned j = 0; j < 4; ++j)
        for (unsigned slot = 0; slot < 16; ++slot) {
          const unsigned t = (slot & 7) >> 1, p = slot >> 3, e = slot & 1;
          out[size_t(n) * K + blk * 64 + 16 * j + slot] = b[size_t(n) * K + blk * 64 + 16 * t + 4 * j + 2 * p + e];
        }
  return out;
}

bool check_and_time_wgmma_gemm_rs(Cl& cl, int bn, int nwg, int stages) {
  char variant[160];
  std::snprintf(variant, sizeof variant, "wgmma, A in registers, %dx%d, %d stages of B (%d KiB)", 64 * nwg, bn, stages,
                stages * bn * 64 * 2 / 1024);
  const std::string source = wgmma_rs_macro(bn) + k_wgmma_gemm_rs;
  const std::string defines =
      " -DBN=" + std::to_string(bn) + " -DNWG=" + std::to_string(nwg) + " -DSTAGES=" + std::to_string(stages);
  cl_kernel k = kernel_sm90a(cl, source.c_str(), "wgmma_gemm_rs", defines);
  if (!k) return false;
  const unsigned bm = 64 * unsigned(nwg);
  auto run_gemm = [&](cl_mem ba, cl_mem bb, cl_mem bc, unsigned M, unsigned N, unsigned K) {
    set_args(k, ba, bb, bc, M, N, K);
    run(cl, k, {N / unsigned(bn), M / bm}, {128 * size_t(nwg), 1});
  };
  bool ok = true;
  {
    const unsigned M = 512, N = 256, K = 192;
    std::vector<uint16_t> a(M * K), b(N * K);
    std::vector<float> af(a.size()), bf(b.size());
    for (size_t i = 0; i < a.size(); ++i) af[i] = from_half(a[i] = to_half(float(int(i * 7919 % 17) - 8) / 8.0f));
    for (size_t i = 0; i < b.size(); ++i) bf[i] = from_half(b[i] = to_half(float(int(i * 104729 % 13) - 6) / 4.0f));
    const std::vector<uint16_t> bp = permute_k64(b, N, K);
    cl_mem ba = buffer(cl, a.size() * 2, a.data()), bb = buffer(cl, bp.size() * 2, bp.data());
    cl_mem bc = buffer(cl, size_t(M) * N * 4, nullptr);
    run_gemm(ba, bb, bc, M, N, K);
    std::vector<float> c(size_t(M) * N);
    read_back(cl, bc, c);
    double worst = 0;
    for (unsigned m = 0; m < M; ++m)
      for (unsigned n = 0; n < N; ++n) {
        double ref = 0;
        for (unsigned kk = 0; kk < K; ++kk) ref += double(af[m * K + kk]) * double(bf[n * K + kk]);
        worst = std::max(worst, std::abs(ref - c[size_t(m) * N + n]));
      }
    std::printf("GEMM (%s) %ux%ux%u: max |error| vs float64 %.3g\n", variant, M, K, N, worst);
    ok = worst < 1e-3;
    clReleaseMemObject(ba), clReleaseMemObject(bb), clReleaseMemObject(bc);
  }
  const unsigned shapes[][3] = {{4680, 1536, 8960}, {4680, 8960, 1536}, {4680, 1536, 1536}};
  for (const auto& sh : shapes) {
    if (!ok) break;
    const unsigned M = (sh[0] + bm - 1) / bm * bm, K = sh[1], N = sh[2];
    std::vector<uint16_t> a(size_t(M) * K, 0x3c00), b(size_t(N) * K, 0x3c00);
    cl_mem ba = buffer(cl, a.size() * 2, a.data()), bb = buffer(cl, b.size() * 2, b.data());
    cl_mem bc = buffer(cl, size_t(M) * N * 4, nullptr);
    const std::vector<double> t = sorted_times(20, [&] { run_gemm(ba, bb, bc, M, N, K); });
    const double flop = 2.0 * 4680 * K * N;
    std::printf("GEMM (%s) 4680x%ux%u (rows padded to %u): median %.3f ms, best %.3f ms, %.1f TFLOP/s at the median\n",
                variant, K, N, M, t[10] * 1e3, t[0] * 1e3, flop / t[10] * 1e-12);
    clReleaseMemObject(ba), clReleaseMemObject(bb), clReleaseMemObject(bc);
  }
  clReleaseKernel(k);
  return ok;
}

// A [R][K] row-major as cluster_gemm reads it: per tile of BM rows and k step
// of BK, one block of 8x8 core matrices ordered (row group, k chunk, row).
std::vector<uint16_t> tile_operand(const std::vector<uint16_t>& x, unsigned R, unsigned K, unsigned bm, unsigned bk) {
  std::vector<uint16_t> out(x.size());
  size_t o = 0;
  for (unsigned rt = 0; rt < R / bm; ++rt)
    for (unsigned ks = 0; ks < K / bk; ++ks)
      for (unsigned rg = 0; rg < bm / 8; ++rg)
        for (unsigned kc = 0; kc < bk / 8; ++kc)
          for (unsigned r = 0; r < 8; ++r)
            for (unsigned e = 0; e < 8; ++e)
              out[o++] = x[size_t(rt * bm + rg * 8 + r) * K + ks * bk + kc * 8 + e];
  return out;
}

bool check_and_time_cluster_gemm(Cl& cl, int bn, int bk, int stages, int cm) {
  char variant[160];
  std::snprintf(variant, sizeof variant, "bulk copies, clusters of %d sharing B, 128x%d, BK %d, %d stages (%d KiB)", cm,
                bn, bk, stages, stages * (128 + bn) * bk * 2 / 1024);
  const std::string source = wgmma_macro(bn) + k_cluster_gemm;
  const std::string defines = " -DBN=" + std::to_string(bn) + " -DBK=" + std::to_string(bk) +
                              " -DSTAGES=" + std::to_string(stages) + " -DCM=" + std::to_string(cm);
  cl_kernel k = kernel_sm90a(cl, source.c_str(), "cluster_gemm", defines,
                             ".reqnctapercluster 1, " + std::to_string(cm) + ", 1");
  if (!k) return false;
  auto run_gemm = [&](cl_mem ba, cl_mem bb, cl_mem bc, unsigned M, unsigned N, unsigned K) {
    set_args(k, ba, bb, bc, M, N, K);
    const size_t global[2] = {N / unsigned(bn) * size_t(256), M / 128};
    const size_t local[2] = {256, 1};
    const cl_int e = clEnqueueNDRangeKernel(cl.q, k, 2, nullptr, global, local, 0, nullptr, nullptr);
    if (e != CL_SUCCESS) {
      std::printf("GEMM (%s): not launched (OpenCL error %d)\n", variant, e);
      std::exit(1);
    }
    CHECK(clFinish(cl.q));
  };
  bool ok = true;
  {
    const unsigned M = 512, N = 512, K = 192;
    std::vector<uint16_t> a(M * K), b(N * K);
    std::vector<float> af(a.size()), bf(b.size());
    for (size_t i = 0; i < a.size(); ++i) af[i] = from_half(a[i] = to_half(float(int(i * 7919 % 17) - 8) / 8.0f));
    for (size_t i = 0; i < b.size(); ++i) bf[i] = from_half(b[i] = to_half(float(int(i * 104729 % 13) - 6) / 4.0f));
    const std::vector<uint16_t> at = tile_operand(a, M, K, 128, bk), bt = tile_operand(b, N, K, bn, bk);
    cl_mem ba = buffer(cl, at.size() * 2, at.data()), bb = buffer(cl, bt.size() * 2, bt.data());
    cl_mem bc = buffer(cl, size_t(M) * N * 4, nullptr);
    run_gemm(ba, bb, bc, M, N, K);
    std::vector<float> c(size_t(M) * N);
    read_back(cl, bc, c);
    if (c[0] <= -1000.0f) {
      std::printf("GEMM (%s): not run as clusters of %d: a work group's cluster has %d\n", variant, cm,
                  int(-c[0] - 1000.0f));
      return false;
    }
    double worst = 0;
    for (unsigned m = 0; m < M; ++m)
      for (unsigned n = 0; n < N; ++n) {
        double ref = 0;
        for (unsigned kk = 0; kk < K; ++kk) ref += double(af[m * K + kk]) * double(bf[n * K + kk]);
        worst = std::max(worst, std::abs(ref - c[size_t(m) * N + n]));
      }
    std::printf("GEMM (%s) %ux%ux%u: max |error| vs float64 %.3g\n", variant, M, K, N, worst);
    ok = worst < 1e-3;
    clReleaseMemObject(ba), clReleaseMemObject(bb), clReleaseMemObject(bc);
  }
  const unsigned shapes[][3] = {{4680, 1536, 8960}, {4680, 8960, 1536}, {4680, 1536, 1536}};
  for (const auto& sh : shapes) {
    if (!ok) break;
    const unsigned tile_rows = 128 * unsigned(cm);
    const unsigned M = (sh[0] + tile_rows - 1) / tile_rows * tile_rows, K = sh[1], N = sh[2];
    if (N % bn) continue;
    std::vector<uint16_t> a(size_t(M) * K, 0x3c00), b(size_t(N) * K, 0x3c00);
    cl_mem ba = buffer(cl, a.size() * 2, a.data()), bb = buffer(cl, b.size() * 2, b.data());
    cl_mem bc = buffer(cl, size_t(M) * N * 4, nullptr);
    const std::vector<double> t = sorted_times(20, [&] { run_gemm(ba, bb, bc, M, N, K); });
    const double flop = 2.0 * 4680 * K * N;
    std::printf("GEMM (%s) 4680x%ux%u (rows padded to %u): median %.3f ms, best %.3f ms, %.1f TFLOP/s at the median\n",
                variant, K, N, M, t[10] * 1e3, t[0] * 1e3, flop / t[10] * 1e-12);
    clReleaseMemObject(ba), clReleaseMemObject(bb), clReleaseMemObject(bc);
  }
  clReleaseKernel(k);
  return ok;
}

void time_peak(Cl& cl, size_t groups, unsigned iters, bool fp8 = false) {
  const size_t local = 256;
  cl_kernel k = kernel(cl, k_mma_peak, "mma_peak", fp8 ? " -DFP8=1" : " -DFP8=0");
  if (!k) return;
  cl_mem bo = buffer(cl, groups * local * 4, nullptr);
  unsigned seed = 12345;
  set_args(k, bo, iters, seed);
  const double best = sorted_times(5, [&] { run(cl, k, groups, local); })[0];
  const double flop = double(groups) * (local / 32) * iters * 8 * 2.0 * 16 * 8 * (fp8 ? 32 : 16);
  std::printf("mma.sync %s alone: %zu groups of %zu, %u iterations x 8 chains: %.3f ms, %.1f TFLOP/s (best of 5)\n",
              fp8 ? "e4m3 m16n8k32" : "f16 m16n8k16", groups, local, iters, best * 1e3, flop / best * 1e-12);
  clReleaseKernel(k);
  clReleaseMemObject(bo);
}

}  // namespace

int main(int argc, char** argv) {
  size_t groups = 132 * 8;
  unsigned iters = 4096;
  bool swap = false;
  std::string variant = "128,32,3,0,64";  // wgmma_gemm: BN,BK,STAGES,INFLIGHT,NI
  std::string only;  // one check per process: a kernel that faults loses its context
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--cvta")) g_cvta = true;
    else if (!std::strcmp(argv[i], "--swap")) swap = true;
    else if (i + 1 >= argc) break;
    else if (!std::strcmp(argv[i], "--groups")) groups = std::strtoul(argv[++i], nullptr, 10);
    else if (!std::strcmp(argv[i], "--iters")) iters = unsigned(std::strtoul(argv[++i], nullptr, 10));
    else if (!std::strcmp(argv[i], "--only")) only = argv[++i];
    else if (!std::strcmp(argv[i], "--variant")) variant = argv[++i];
  }
  auto want = [&](const char* c) { return only.empty() || only == c; };
  Cl cl;
  cl_uint np = 0;
  clGetPlatformIDs(0, nullptr, &np);
  std::vector<cl_platform_id> ps(np);
  if (np) clGetPlatformIDs(np, ps.data(), nullptr);
  for (cl_platform_id p : ps) {
    char vendor[256] = {};
    clGetPlatformInfo(p, CL_PLATFORM_VENDOR, sizeof vendor, vendor, nullptr);
    if (!std::strstr(vendor, "NVIDIA")) continue;
    cl_uint nd = 0;
    if (clGetDeviceIDs(p, CL_DEVICE_TYPE_GPU, 1, &cl.dev, &nd) == CL_SUCCESS && nd) break;
  }
  if (!cl.dev) {
    std::fprintf(stderr, "ptx_probe: no NVIDIA OpenCL GPU (inline PTX is NVIDIA's)\n");
    return 2;
  }
  char name[256] = {}, version[256] = {};
  clGetDeviceInfo(cl.dev, CL_DEVICE_NAME, sizeof name, name, nullptr);
  clGetDeviceInfo(cl.dev, CL_DRIVER_VERSION, sizeof version, version, nullptr);
  std::printf("device: %s, driver %s\n", name, version);
  cl_int e;
  cl.ctx = clCreateContext(nullptr, 1, &cl.dev, nullptr, nullptr, &e);
  CHECK(e);
  cl.q = clCreateCommandQueue(cl.ctx, cl.dev, 0, &e);
  CHECK(e);
  bool ok = true;
  if (want("mma")) ok = check_mma(cl) && ok;
  if (want("ldmatrix")) ok = check_ldmatrix(cl) && ok;
  if (want("cp_async")) ok = check_cp_async(cl) && ok;
  // gemm2 / gemm3: 8 subgroups of 64 x 32; gemm2w / gemm3w: 4 of 64 x 64.
  if (want("gemm2")) ok = check_and_time_gemm(cl, 2, 2, 4) && ok;
  if (want("gemm3")) ok = check_and_time_gemm(cl, 3, 2, 4) && ok;
  if (want("gemm2w")) ok = check_and_time_gemm(cl, 2, 2, 2) && ok;
  if (want("gemm3w")) ok = check_and_time_gemm(cl, 3, 2, 2) && ok;
  if (want("flash")) ok = check_and_time_flash(cl, 4) && ok;
  if (want("flash8")) ok = check_and_time_flash(cl, 8) && ok;
  if (want("peak")) {
    time_peak(cl, groups, iters);
    time_peak(cl, groups * 2, iters);
  }
  // float8 e4m3 multiplies (sm_89+): exact on one product, then their rate.
  if (want("fp8")) {
    ok = check_mma_fp8(cl) && ok;
    time_peak(cl, groups, iters, true);
    time_peak(cl, groups * 2, iters, true);
  }
  // Warp-group products (sm_90a): which descriptor layout is exact, then their rate.
  if (want("wgmma")) ok = check_and_time_wgmma(cl, groups, iters / 4) && ok;
  // The warp-group GEMM (only when asked for): the layout from the probe
  // above (both ways when neither matched), then one variant.
  // The layout is the one wgmma_once found exact on the H200 (leading offset
  // between k-adjacent core matrices): --swap tries the other.
  if (only == "cluster_gemm") {  // --variant BN,BK,STAGES,CM
    int v[4] = {};
    if (std::sscanf(variant.c_str(), "%d,%d,%d,%d", &v[0], &v[1], &v[2], &v[3]) != 4) return 2;
    ok = check_and_time_cluster_gemm(cl, v[0], v[1], v[2], v[3]) && ok;
  }
  if (only == "wgmma_gemm_rs") {  // --variant BN,NWG,STAGES
    int v[3] = {};
    if (std::sscanf(variant.c_str(), "%d,%d,%d", &v[0], &v[1], &v[2]) != 3) return 2;
    ok = check_and_time_wgmma_gemm_rs(cl, v[0], v[1], v[2]) && ok;
  }
  if (only == "wgmma_gemm") {
    int v[6] = {};
    if (std::sscanf(variant.c_str(), "%d,%d,%d,%d,%d,%d", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) < 5) {
      std::fprintf(stderr, "ptx_probe: --variant BN,BK,STAGES,INFLIGHT,NI[,DYN]\n");
      return 2;
    }
    ok = check_and_time_wgmma_gemm(cl, v[0], v[1], v[2], v[3], v[4], v[5] != 0, swap) && ok;
  }
  std::printf("%s\n", ok ? "all checks match" : "MISMATCH");
  return ok ? 0 : 1;
}
