// The fp16 tensor-core GEMM (OpenCL twin of kernels/vulkan/matmul_coopmat_f16.comp,
// same constants, bindings and parameters) on NVIDIA tensor cores through
// inline PTX (tensor_core_ptx.cl): y = act(alpha A B (+ beta C)) (+ R), A16
// [Mp][Kp] (or [Kp][Mp] with A_T) and B16 [Kp][Np] (or [Np][Kp] with B_T)
// dense zero-padded f16 matrices from matmul_to_f16, f32 accumulation.
//
// The structure of CUTLASS's Ampere GEMMs rather than the GLSL's: K steps
// of BK = 32 travel global -> local memory by cp.async, STAGES - 1 steps
// ahead (no registers held, no waiting on loads), rows stored swizzled
// (tensor_core_ptx.cl); each subgroup loads its fragments with ldmatrix
// (.trans for the operands stored k-major: A_T, and B unless B_T) and
// multiplies WM x WN with m16n8k16 products, its accumulators in registers
// until the epilogue stores them straight to y. DIRECT and NBUF tune only
// the GLSL and are ignored; the grid (BM x BN tiles) and NT are honoured.
// H200 at the Wan shapes: 190-226 TFLOP/s with 128 x 128 tiles of 2 x 2
// subgroups and 3 stages (bench/ptx_probe.cpp, bench/RESULTS.md).
#include "activation.cl"
#include "gemm_ptx_step.cl"

#ifndef SPEC0
#define SPEC0 128
#define SPEC1 128
#define SPEC2 128
#define SPEC3 32
#define SPEC4 64
#define SPEC5 64
#define SPEC6 0
#define SPEC7 0
#define SPEC8 0
#define SPEC9 0
#define SPEC10 0
#define SPEC11 0
#define SPEC12 2
#endif
#define NT SPEC0
#define BM SPEC1
#define BN SPEC2
#define BK 32  // SPEC3: the planner gives 32 on this backend (CoopTile::valid_ptx)
#define WM SPEC4
#define WN SPEC5
#define A_T SPEC6
#define B_T SPEC7
#define HAS_C SPEC8
#define ACT SPEC10
#define HAS_R SPEC11

#define FM (WM / 16)  // m16 tiles a subgroup
#define FN (WN / 8)   // n8 tiles a subgroup (even: ldmatrix.x4 loads two)
#define WARPS_N (BN / WN)
// Local tiles in 16-byte chunks: A is BM rows of BK (BK rows of BM with A_T).
#define A_ROWS (A_T ? BK : BM)
#define A_CH ((A_T ? BM : BK) / 8)
#define B_ROWS (B_T ? BN : BK)
#define B_CH ((B_T ? BK : BN) / 8)
#define A_CHUNKS (BM * BK / 8)
#define B_CHUNKS (BN * BK / 8)
// Three stages where 48 KiB of local memory hold them.
#if 3 * (BM + BN) * BK * 2 <= 49152
#define STAGES 3
#else
#define STAGES 2
#endif

struct matmul_coopmat_f16_params {
  uint M, N, Kp;  // valid output rows / columns, padded K
  uint lda, ldb;  // 16-byte vectors per row of A16 / B16
  uint scm, scn;
  float alpha, beta;
};

kernel __attribute__((reqd_work_group_size(NT, 1, 1)))
void matmul_coopmat_f16(BUF(uint4, a), BUF(uint4, b), BUF(float, c), BUF(float, y), BUF(float, r),
                        constant const struct matmul_coopmat_f16_params* p) {
  AT(uint4, a);
  AT(uint4, b);
  AT(float, c);
  AT(float, y);
  AT(float, r);
  local uint4 As[STAGES][A_CHUNKS], Bs[STAGES][B_CHUNKS];
  GEMM_PTX_STATE()
  const uint lda = p->lda, ldb = p->ldb, steps = p->Kp / BK;

  // Step k's A and B chunks into stage st, NT chunks at a time.
#define LOAD_STEP(st, k)                                                                                 \
  {                                                                                                      \
    const uint k0 = (k) * BK;                                                                            \
    for (uint q = 0; q < A_CHUNKS / NT; ++q) {                                                           \
      const uint e = tid + q * NT, row = e / A_CH, ch = e % A_CH;                                        \
      global const uint4* g = A_T ? a + (k0 + row) * lda + m0 / 8 + ch : a + (m0 + row) * lda + k0 / 8 + ch; \
      CP_ASYNC16(shared_addr(&As[st][swizzle(row, ch, A_CH)]), g);                                       \
    }                                                                                                    \
    for (uint q = 0; q < B_CHUNKS / NT; ++q) {                                                           \
      const uint e = tid + q * NT, row = e / B_CH, ch = e % B_CH;                                        \
      global const uint4* g = B_T ? b + (n0 + row) * ldb + k0 / 8 + ch : b + (k0 + row) * ldb + n0 / 8 + ch; \
      CP_ASYNC16(shared_addr(&Bs[st][swizzle(row, ch, B_CH)]), g);                                       \
    }                                                                                                    \
  }

  GEMM_PTX_K_LOOP(steps, LOAD_STEP, GEMM_MMA_STEP(As[st], A_CH, Bs[st], B_CH))

  // Epilogue from the accumulators: lane holds rows g, g + 8 and columns 2t, 2t + 1 of each 16 x 8 tile.
  const uint g = lane >> 2, t = lane & 3, M = p->M, N = p->N;
  const float alpha = p->alpha, beta = p->beta;
  #pragma unroll
  for (uint i = 0; i < FM; ++i)
    #pragma unroll
    for (uint j = 0; j < FN; ++j)
      #pragma unroll
      for (uint h = 0; h < 2; ++h) {
        const uint gm = m0 + wm + i * 16 + g + 8 * h, gn0 = n0 + wn + j * 8 + 2 * t;
        if (gm >= M) continue;
        #pragma unroll
        for (uint e = 0; e < 2; ++e) {
          const uint gn = gn0 + e;
          if (gn >= N) continue;
          float o = alpha * acc[i][j][2 * h + e];
          if (HAS_C) o += beta * c[gm * p->scm + gn * p->scn];
          if (ACT != 0) o = epilogue_act(o, ACT);
          if (HAS_R) o += r[gm * N + gn];
          y[gm * N + gn] = o;
        }
      }
}
