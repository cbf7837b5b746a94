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
// float64 and timed at the Wan hot case (bench/RESULTS.md). Hopper
// (ptx_probe_hopper.cpp, sm_90a through the program's PTX): wgmma, which
// descriptor layout is exact and its rate; GEMMs on it with both operands in
// local memory (wgmma_gemm), with A in registers (wgmma_gemm_rs) and fed by
// bulk copies, in clusters sharing B (cluster_gemm).
//   ptx_probe [--only mma|ldmatrix|cp_async|gemm2|gemm3|gemm2w|gemm3w|flash|flash8|peak|fp8|wgmma] [--cvta]
//   ptx_probe --only wgmma_gemm [--variant BN,BK,STAGES,INFLIGHT,NI[,DYN]] [--swap]
//             (default 128,32,3,0,64; DYN 1: local memory from a kernel argument; --swap: the
//             descriptor's offsets the other way round)
//   ptx_probe --only wgmma_gemm_rs --variant BN,NWG,STAGES
//   ptx_probe --only cluster_gemm --variant BN,BK,STAGES,CM
//             [--groups N] [--iters N]
// (--cvta: local addresses through cvta.to.shared instead of as they are)
// Exit 0: everything checked matched; 1: a mismatch or a build failure
// (the compiler's log is printed); 2: no NVIDIA OpenCL device.
#include <cmath>
#include <cstring>

#include "ptx_probe_hopper.h"
#include "ptx_probe_util.h"

namespace ptx_probe {
namespace {

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
  cl_kernel k = kernel(cl, k_gemm, "gemm_f16",
                       " -DSTAGES=" + std::to_string(stages) + " -DWARPS_M=" + std::to_string(warps_m) +
                           " -DWARPS_N=" + std::to_string(warps_n));
  if (!k) return false;
  const size_t threads = size_t(32) * warps_m * warps_n;
  GemmProbe g;
  g.variant = std::to_string(stages) + " stages, " + std::to_string(warps_m) + " x " + std::to_string(warps_n) +
              " subgroups";
  g.launch = [&](cl_mem ba, cl_mem bb, cl_mem bc, unsigned M, unsigned N, unsigned K) {
    set_args(k, ba, bb, bc, M, N, K);
    run(cl, k, {N / 128, M / 128}, {threads, 1});
  };
  const bool ok = check_and_time(cl, g);
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
}  // namespace ptx_probe

int main(int argc, char** argv) {
  using namespace ptx_probe;
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
