// vdrt.QMatMul with per-token e4m3 activations on NVIDIA's float8 tensor
// cores (mma.sync m16n8k32 e4m3, sm_89 and later, through inline PTX):
// y = (A8 Wt^T) * R[m] * S[n] (+ bias[n]), then the folded GELU (ACT) and
// residual (HAS_RES). A8 [Mp][Kp] holds the activations' codes
// (quantize_rows_e4m3_codes.cl, row scales R), Wt [Np][Kp] the weights'
// codes transposed (transpose_e4m3.cl), both zero-padded, so every load is
// a whole 16-byte cp.async.
//
// matmul_coopmat_f16.cl's structure with both operands k-contiguous (A_T 0,
// B_T 1): a step of BK = 64 codes is 4 chunks a row, the f16 kernel's 32
// halves, so tiles, swizzle and ldmatrix addressing are the same and each
// chunk pair is one k32 mma instead of one k16. Products of e4m3 codes are
// exact; the tensor cores add them into the accumulator with a short
// mantissa on Hopper, so with PROMOTE each step's two mma start from zero
// and their sum is added to the f32 accumulators by ordinary adds (the
// scheme of DeepSeek-V3's FP8 GEMMs, there every 128).
#include "activation.cl"
#include "gemm_ptx_step.cl"

#ifndef SPEC0
#define SPEC0 128
#define SPEC1 128
#define SPEC2 128
#define SPEC3 64
#define SPEC4 64
#define SPEC5 64
#define SPEC6 0
#define SPEC7 0
#define SPEC8 0
#define SPEC9 1
#endif
#define NT SPEC0
#define BM SPEC1
#define BN SPEC2
#define BK 64  // SPEC3: codes a step (4 chunks a row)
#define WM SPEC4
#define WN SPEC5
#define HAS_BIAS SPEC6
#define ACT SPEC7
#define HAS_RES SPEC8
#define PROMOTE SPEC9
#define A_T 0
#define B_T 1

#define FM (WM / 16)
#define FN (WN / 8)
#define WARPS_N (BN / WN)
#define CH (BK / 16)  // 16-byte chunks of a row of either tile
#define A_CHUNKS (BM * CH)
#define B_CHUNKS (BN * CH)
#if 3 * (BM + BN) * BK <= 49152
#define STAGES 3
#else
#define STAGES 2
#endif

struct matmul_e4m3_mma_params {
  uint M, N;  // valid output rows / columns
  uint Kp;    // padded K (a multiple of BK)
  uint ld;    // 16-byte vectors per row of A8 and of Wt (Kp / 16)
};

kernel __attribute__((reqd_work_group_size(NT, 1, 1)))
void matmul_e4m3_mma(BUF(uint4, a), BUF(uint4, wt), BUF(float, rs), BUF(float, sc), BUF(float, bias), BUF(float, y),
                     BUF(float, res), constant const struct matmul_e4m3_mma_params* p) {
  AT(uint4, a);
  AT(uint4, wt);
  AT(float, rs);
  AT(float, sc);
  AT(float, bias);
  AT(float, y);
  AT(float, res);
  local uint4 As[STAGES][A_CHUNKS], Bs[STAGES][B_CHUNKS];
  GEMM_PTX_STATE()
  const uint ld = p->ld, steps = p->Kp / BK;

#define LOAD_STEP(st, k)                                                                    \
  {                                                                                         \
    const uint c0 = (k) * CH;                                                               \
    for (uint q = 0; q < A_CHUNKS / NT; ++q) {                                              \
      const uint e = tid + q * NT, row = e / CH, ch = e % CH;                               \
      CP_ASYNC16(shared_addr(&As[st][swizzle(row, ch, CH)]), a + (m0 + row) * ld + c0 + ch); \
    }                                                                                       \
    for (uint q = 0; q < B_CHUNKS / NT; ++q) {                                              \
      const uint e = tid + q * NT, row = e / CH, ch = e % CH;                               \
      CP_ASYNC16(shared_addr(&Bs[st][swizzle(row, ch, CH)]), wt + (n0 + row) * ld + c0 + ch); \
    }                                                                                       \
  }

#if PROMOTE
  GEMM_PTX_K_LOOP(steps, LOAD_STEP, GEMM_MMA_STEP_PROMOTED(As[st], CH, Bs[st], CH, MMA_16832_E4M3))
#else
  GEMM_PTX_K_LOOP(steps, LOAD_STEP, GEMM_MMA_STEP_WITH(As[st], CH, Bs[st], CH, MMA_16832_E4M3))
#endif

  const uint M = p->M, N = p->N;
  QMATMUL_PTX_EPILOGUE(1.0f, 1)
}
