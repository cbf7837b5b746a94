// vdrt.QMatMul on NVIDIA tensor cores through inline PTX (tensor_core_ptx.cl),
// the OpenCL twin of kernels/vulkan/matmul_coopmat_e4m3.comp (same constants,
// bindings and parameters): y = (A16 W) * 256 S[n] (* R[m]) (+ bias[n]), then
// the folded GELU (ACT) and residual (HAS_RES), W the [K][N] float8 e4m3
// weight codes as stored (one byte each, never expanded in global memory).
// A16 is a dense zero-padded [Mp][Kp] f16 matrix: the activations from
// matmul_to_f16, or with ROW_SCALES their e4m3 snaps from
// quantize_rows_e4m3_f16, whose row scales R the epilogue applies.
//
// matmul_coopmat_f16.cl's structure: K steps of BK = 32 travel global ->
// local memory by cp.async, STAGES - 1 steps ahead, A as f16 rows and W as
// its 16-byte vectors of codes (zero-filled past K); each step, the work
// group decodes the step's codes into an f16 tile (e4m3.cl: bit moves,
// exact, 1/256 of the value; 256 S[n] restores it), then the subgroups
// multiply with ldmatrix (.trans for the [k][n] tile) and m16n8k16 mma.
// e4m3 values fit f16 exactly, so every product of decoded weights is exact;
// the activations are rounded to f16 (ROW_SCALES: exact too). W_VEC16 (N % 16
// == 0) lets whole 16-byte vectors of a row be copied; otherwise codes are
// read byte by byte into the same tile.
#include "activation.cl"
#include "e4m3.cl"
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
#define SPEC8 1
#define SPEC9 0
#define SPEC10 0
#endif
#define NT SPEC0
#define BM SPEC1
#define BN SPEC2
#define BK 32  // SPEC3: the planner gives 32 on this backend (CoopTile::valid_ptx)
#define WM SPEC4
#define WN SPEC5
#define HAS_BIAS SPEC6
#define ROW_SCALES SPEC7
#define W_VEC16 SPEC8
#define ACT SPEC9
#define HAS_RES SPEC10
#define A_T 0  // A16 is [Mp][Kp]
#define B_T 0  // the decoded tile is [k][n]

#define FM (WM / 16)
#define FN (WN / 8)
#define WARPS_N (BN / WN)
#define A_CHUNKS (BM * BK / 8)   // 16-byte chunks of an A step (8 halves)
#define W_CHUNKS (BK * BN / 16)  // 16-byte chunks of a W step (16 codes)
#define B_CH (BN / 8)            // 16-byte chunks of a decoded row
#if 3 * (BM * BK * 2 + BK * BN) + BK * BN * 2 <= 49152
#define STAGES 3
#else
#define STAGES 2
#endif

struct matmul_coopmat_e4m3_params {
  uint M, N, K;  // valid output rows / columns, W's rows
  uint Kp;       // A16's padded K (a multiple of BK)
  uint lda;      // 16-byte vectors per row of A16 (Kp / 8)
};

kernel __attribute__((reqd_work_group_size(NT, 1, 1)))
void matmul_coopmat_e4m3(BUF(uint4, a), BUF(uchar, w), BUF(float, sc), BUF(float, bias), BUF(float, rs), BUF(float, y),
                         BUF(float, res), constant const struct matmul_coopmat_e4m3_params* p) {
  AT(uint4, a);
  AT(uchar, w);
  AT(float, sc);
  AT(float, bias);
  AT(float, rs);
  AT(float, y);
  AT(float, res);
  local uint4 As[STAGES][A_CHUNKS];
  local uint4 Ws[STAGES][W_CHUNKS];  // codes, rows of BN / 16 vectors
  local uint4 Bs[BK * B_CH];         // the step's decoded f16 tile [k][n], swizzled
  GEMM_PTX_STATE()
  const uint lda = p->lda, K = p->K, N = p->N, steps = p->Kp / BK;

  // Codes n .. n + 3 of W's row k as a word, zeros past K and N (byte by byte: N % 16 != 0).
#define CODE(k, n) ((k) < K && (n) < N ? (uint)w[(k) * N + (n)] : 0u)
#define CODES4(k, n) (CODE(k, n) | CODE(k, (n) + 1) << 8 | CODE(k, (n) + 2) << 16 | CODE(k, (n) + 3) << 24)
  // Step k's A chunks and W codes into stage st. Codes past K or N are zeros:
  // cp.async copies 0 of the 16 bytes there (src-size 0) from a valid address.
#define LOAD_STEP(st, k)                                                                                 \
  {                                                                                                      \
    const uint k0 = (k) * BK;                                                                            \
    for (uint q = 0; q < A_CHUNKS / NT; ++q) {                                                           \
      const uint e = tid + q * NT, row = e / (BK / 8), ch = e % (BK / 8);                                \
      CP_ASYNC16(shared_addr(&As[st][swizzle(row, ch, BK / 8)]), a + (m0 + row) * lda + k0 / 8 + ch);    \
    }                                                                                                    \
    for (uint q = 0; q < W_CHUNKS / NT; ++q) {                                                           \
      const uint e = tid + q * NT, row = e / (BN / 16), v = e % (BN / 16);                               \
      const uint kk = k0 + row, nn = n0 + v * 16;                                                        \
      if (W_VEC16) {                                                                                     \
        const uint ok = kk < K && nn < N;                                                                \
        global const uchar* src = w + (ok ? kk * N + nn : 0);                                            \
        asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(shared_addr(&Ws[st][e])),    \
                     "l"(src), "r"(ok ? 16u : 0u) : "memory");                                           \
      } else {                                                                                           \
        Ws[st][e] = (uint4)(CODES4(kk, nn), CODES4(kk, nn + 4), CODES4(kk, nn + 8), CODES4(kk, nn + 12));   \
      }                                                                                                  \
    }                                                                                                    \
  }

  // Each step: decode every vector of 16 codes (row k, columns 16 v ..) into
  // two chunks of 8 halves, then (all decoded) multiply. The loop's barrier
  // before a step also keeps the decode off Bs until the last step's reads end.
#define DECODE_AND_MULTIPLY(st)                                                                  \
  _Pragma("unroll") for (uint q = 0; q < W_CHUNKS / NT; ++q) {                                   \
    const uint e = tid + q * NT, row = e / (BN / 16), v = e % (BN / 16);                         \
    const uint4 c = Ws[st][e];                                                                   \
    const uint4 lo = (uint4)(e4m3x4_to_f16x4_div256(c.x), e4m3x4_to_f16x4_div256(c.y));          \
    const uint4 hi = (uint4)(e4m3x4_to_f16x4_div256(c.z), e4m3x4_to_f16x4_div256(c.w));          \
    Bs[swizzle(row, 2 * v, B_CH)] = lo;                                                          \
    Bs[swizzle(row, 2 * v + 1, B_CH)] = hi;                                                      \
  }                                                                                              \
  barrier(CLK_LOCAL_MEM_FENCE);                                                                  \
  GEMM_MMA_STEP(As[st], BK / 8, Bs, B_CH)
  GEMM_PTX_K_LOOP(steps, LOAD_STEP, DECODE_AND_MULTIPLY(st))

  const uint M = p->M;
  QMATMUL_PTX_EPILOGUE(256.0f, ROW_SCALES)
}
