// bench/ptx_probe_hopper.h: the kernels (OpenCL C with inline PTX) and
// their checks.
#include "ptx_probe_hopper.h"

#include <cmath>

namespace ptx_probe {
namespace {

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

// Shared by the warp-group GEMMs below (prepended to their sources): the
// marker of sm_90a instructions, a macro's value as a string (PTX literals),
// and a warp group's m64 x BN_ accumulators in wgmma's register layout (work
// item g, t of a warp holds rows row and row + 8, columns 8 j + 2 t and + 1)
// stored to c[M][N] from column n0.
const char* k_wgmma_common = R"CL(
#define SM90A "// @SM90A@ "
#define STR_(x) #x
#define STR(x) STR_(x)
#define STORE_WG_TILE(acc, c, N, row, n0, BN_)                                         \
  _Pragma("unroll") for (uint j = 0; j < (BN_) / 8; ++j) {                             \
    const uint col = (n0) + j * 8 + 2 * t;                                             \
    vstore2((float2)((acc)[j * 4], (acc)[j * 4 + 1]), 0, (c) + (row) * (N) + col);      \
    vstore2((float2)((acc)[j * 4 + 2], (acc)[j * 4 + 3]), 0, (c) + ((row) + 8) * (N) + col); \
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
// BN, BK, STAGES, INFLIGHT, NI, SWAP, DYN and CP_PENDING (LEAD - 1: the copy groups
// that may stay in flight, a literal as PTX wants) come from the host (-D).
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
#define CP_WAIT(n) asm volatile("cp.async.wait_group " STR(n) ";" ::: "memory")
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
  STORE_WG_TILE(acc, c, N, row, n0, BN);
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
// BN, NWG, STAGES and CP_PENDING (LEAD - 1) come from the host (-D).
#define THREADS (128 * NWG)
#define B_CHUNKS (BN * 8)
#define LEAD (STAGES - 1)
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
  STORE_WG_TILE(acc, c, N, row, n0, BN);
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
// BK, BN, STAGES and CM come from the host (-D).
#define BM 128
#define KC (BK / 8)
#define A_BYTES (BM * BK * 2)
#define B_BYTES (BN * BK * 2)
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
  STORE_WG_TILE(acc, c, N, row, nt * BN, BN);
}
)CL";

}  // namespace

// wgmma: one m64n8k16 product for each way of laying out A's core matrices
// (8 x 8 halves, 128 contiguous bytes): (m, k) core at (2 m + k) * 128 bytes
// ("MK": k-adjacent cores 128 bytes apart, m-adjacent 256), with the leading /
// stride byte offsets both ways round, or at (k * 8 + m) * 128 ("KM", leading
// 1024 and stride 128; the other way round faults the H200's context); B's
// two cores (k 0-7, 8-15) at 0 and 128. Prints which match the float64
// product (the PTX ISA: leading = between k-adjacent cores for k-major
// operands), then times m64n64k16 with the first that matched.
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

// An m64nNk16 wgmma's accumulators as inline-asm operands: the register
// list "%0,...,%(regs - 1)" and the constraints "+f"((acc)[i]).
void accumulator_operands(int regs, std::string& list, std::string& ops) {
  for (int i = 0; i < regs; ++i) {
    list += (i ? "," : "") + std::string("%") + std::to_string(i);
    ops += (i ? ", " : "") + std::string("\"+f\"((acc)[") + std::to_string(i) + "])";
  }
}

// The wgmma instruction m64nNk16 (f16 -> f32, both operands k-major from
// descriptors, accumulating) as a macro WGMMA(acc, da, db) over acc[0 .. N/2).
std::string wgmma_macro(int n) {
  const int regs = n / 2;
  std::string list, ops;
  accumulator_operands(regs, list, ops);
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
  const std::string source = wgmma_macro(ni) + k_wgmma_common + k_wgmma_gemm;
  char defines[200];
  std::snprintf(defines, sizeof defines,
                " -DBN=%d -DBK=%d -DSTAGES=%d -DINFLIGHT=%d -DNI=%d -DSWAP=%d -DDYN=%d -DCP_PENDING=%d", bn, bk, stages,
                inflight, ni, swap ? 1 : 0, dyn ? 1 : 0, stages - 2 - inflight);
  cl_kernel k = kernel_sm90a(cl, source.c_str(), "wgmma_gemm", defines);
  if (!k) return false;
  GemmProbe g;
  g.variant = variant;
  g.n = 512, g.k = 192, g.col_multiple = unsigned(bn);
  g.launch = [&](cl_mem ba, cl_mem bb, cl_mem bc, unsigned M, unsigned N, unsigned K) {
    set_args(k, ba, bb, bc, M, N, K);
    if (dyn) set_arg(k, 6, local_bytes, nullptr);
    run_or_exit(cl, k, {N / unsigned(bn), M / 128}, {256, 1}, variant);
  };
  const bool ok = check_and_time(cl, g);
  clReleaseKernel(k);
  return ok;
}

// WGMMA_RS(acc, a0, a1, a2, a3, db): m64nNk16 with A's fragment in registers.
std::string wgmma_rs_macro(int n) {
  const int regs = n / 2;
  std::string list, ops;
  accumulator_operands(regs, list, ops);
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
  const std::string source = wgmma_rs_macro(bn) + k_wgmma_common + k_wgmma_gemm_rs;
  const std::string defines = " -DBN=" + std::to_string(bn) + " -DNWG=" + std::to_string(nwg) +
                              " -DSTAGES=" + std::to_string(stages) + " -DCP_PENDING=" + std::to_string(stages - 2);
  cl_kernel k = kernel_sm90a(cl, source.c_str(), "wgmma_gemm_rs", defines);
  if (!k) return false;
  const unsigned bm = 64 * unsigned(nwg);
  GemmProbe g;
  g.variant = variant;
  g.m = 512, g.n = 256, g.k = 192, g.row_multiple = bm;
  g.lay_b = permute_k64;
  g.launch = [&](cl_mem ba, cl_mem bb, cl_mem bc, unsigned M, unsigned N, unsigned K) {
    set_args(k, ba, bb, bc, M, N, K);
    run(cl, k, {N / unsigned(bn), M / bm}, {128 * size_t(nwg), 1});
  };
  const bool ok = check_and_time(cl, g);
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
  const std::string source = wgmma_macro(bn) + k_wgmma_common + k_cluster_gemm;
  const std::string defines = " -DBN=" + std::to_string(bn) + " -DBK=" + std::to_string(bk) +
                              " -DSTAGES=" + std::to_string(stages) + " -DCM=" + std::to_string(cm);
  cl_kernel k = kernel_sm90a(cl, source.c_str(), "cluster_gemm", defines,
                             ".reqnctapercluster 1, " + std::to_string(cm) + ", 1");
  if (!k) return false;
  GemmProbe g;
  g.variant = variant;
  g.m = 512, g.n = 512, g.k = 192, g.row_multiple = 128 * unsigned(cm), g.col_multiple = unsigned(bn);
  g.lay_a = [&](const std::vector<uint16_t>& x, unsigned rows, unsigned K) { return tile_operand(x, rows, K, 128, bk); };
  g.lay_b = [&](const std::vector<uint16_t>& x, unsigned rows, unsigned K) { return tile_operand(x, rows, K, bn, bk); };
  g.refused = [&](const std::vector<float>& c) {
    if (c[0] > -1000.0f) return false;
    std::printf("GEMM (%s): not run as clusters of %d: a work group's cluster has %d\n", variant, cm, int(-c[0] - 1000.0f));
    return true;
  };
  g.launch = [&](cl_mem ba, cl_mem bb, cl_mem bc, unsigned M, unsigned N, unsigned K) {
    set_args(k, ba, bb, bc, M, N, K);
    run_or_exit(cl, k, {N / unsigned(bn), M / 128}, {256, 1}, variant);
  };
  const bool ok = check_and_time(cl, g);
  clReleaseKernel(k);
  return ok;
}

}  // namespace ptx_probe
