// The multiply-adds of one K step (32) of the tensor-core GEMMs through
// inline PTX, shared by matmul_coopmat_f16.cl and matmul_coopmat_e4m3.cl
// (and, as GEMM_MMA_STEP_WITH(..., MMA_16832_E4M3), one step of 64 codes
// of matmul_e4m3_mma.cl: the same 16-byte chunks, twice the k):
// the subgroup's WM x WN block of acc[FM][FN][4] (m16n8 fragments) += the
// staged f16 tiles A_TILE (A_CH 16-byte chunks a row; rows m, or k with
// A_T) and B_TILE (B_CH chunks a row; rows k, or n with B_T), fragments by
// ldmatrix, .trans for the k-major layouts. Uses lane, wm, wn, FM, FN, A_T
// and B_T of the kernel's scope.
#ifndef VDRT_GEMM_PTX_STEP_CL
#define VDRT_GEMM_PTX_STEP_CL
#include "tensor_core_ptx.cl"

// Declares the work item's place (tid, lane, warp; the group's tile origin
// m0, n0; the subgroup's block wm, wn within it) and its zeroed accumulators
// acc[FM][FN][4]. Uses BM, BN, WM, WN, WARPS_N, FM and FN of the kernel.
#define GEMM_PTX_STATE()                                                         \
  const uint tid = get_local_id(0), lane = tid & 31, warp = tid >> 5;            \
  const uint m0 = get_group_id(1) * BM, n0 = get_group_id(0) * BN;              \
  const uint wm = (warp / WARPS_N) * WM, wn = (warp % WARPS_N) * WN;             \
  float acc[FM][FN][4];                                                          \
  _Pragma("unroll") for (uint i = 0; i < FM; ++i)                                \
    _Pragma("unroll") for (uint j = 0; j < FN; ++j)                              \
      _Pragma("unroll") for (uint e = 0; e < 4; ++e) acc[i][j][e] = 0.0f;

#define GEMM_MMA_STEP(A_TILE, A_CH, B_TILE, B_CH) GEMM_MMA_STEP_WITH(A_TILE, A_CH, B_TILE, B_CH, MMA_16816)
#define GEMM_MMA_STEP_WITH(A_TILE, A_CH, B_TILE, B_CH, MMA)                                                    \
  _Pragma("unroll") for (uint kk = 0; kk < 2; ++kk) { /* the step's two k16 halves */                          \
    uint fa[FM][4], fb[FN][2];                                                                                 \
    /* A blocks (m 0-7, k 0-7), (m 8-15, k 0-7), (m 0-7, k 8-15), (m 8-15, k 8-15) of each m16 tile */         \
    _Pragma("unroll") for (uint i = 0; i < FM; ++i) {                                                          \
      uint row, ch;                                                                                            \
      if (A_T) {                                                                                               \
        row = kk * 16 + ((lane >> 4) & 1) * 8 + (lane & 7);                                                    \
        ch = (wm + i * 16) / 8 + ((lane >> 3) & 1);                                                            \
        LDMATRIX_X4_TRANS(fa[i][0], fa[i][1], fa[i][2], fa[i][3], shared_addr(&(A_TILE)[swizzle(row, ch, A_CH)])); \
      } else {                                                                                                 \
        row = wm + i * 16 + (lane & 7) + ((lane >> 3) & 1) * 8;                                                \
        ch = kk * 2 + (lane >> 4);                                                                             \
        LDMATRIX_X4(fa[i][0], fa[i][1], fa[i][2], fa[i][3], shared_addr(&(A_TILE)[swizzle(row, ch, A_CH)]));   \
      }                                                                                                        \
    }                                                                                                          \
    /* B blocks (n tile j, k 0-7), (j, k 8-15), (j + 1, k 0-7), (j + 1, k 8-15) */                             \
    _Pragma("unroll") for (uint j = 0; j < FN; j += 2) {                                                       \
      uint row, ch;                                                                                            \
      if (B_T) {                                                                                               \
        row = wn + j * 8 + (lane & 7) + (lane >> 4) * 8;                                                       \
        ch = kk * 2 + ((lane >> 3) & 1);                                                                       \
        LDMATRIX_X4(fb[j][0], fb[j][1], fb[j + 1][0], fb[j + 1][1], shared_addr(&(B_TILE)[swizzle(row, ch, B_CH)])); \
      } else {                                                                                                 \
        row = kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8;                                                    \
        ch = (wn + j * 8) / 8 + (lane >> 4);                                                                   \
        LDMATRIX_X4_TRANS(fb[j][0], fb[j][1], fb[j + 1][0], fb[j + 1][1],                                      \
                          shared_addr(&(B_TILE)[swizzle(row, ch, B_CH)]));                                     \
      }                                                                                                        \
    }                                                                                                          \
    _Pragma("unroll") for (uint i = 0; i < FM; ++i)                                                            \
      _Pragma("unroll") for (uint j = 0; j < FN; ++j)                                                          \
        MMA(acc[i][j], fa[i][0], fa[i][1], fa[i][2], fa[i][3], fb[j][0], fb[j][1]);                       \
  }

// GEMM_MMA_STEP_WITH for A_T 0, B_T 1 with the step's products summed apart:
// each 16 x 8 block starts from zero over the step's two k halves and is
// then added to acc in f32 (float8's short tensor-core accumulator, see
// matmul_e4m3_mma.cl). B's fragments of both halves are held, A's one m16
// tile at a time.
#define GEMM_MMA_STEP_PROMOTED(A_TILE, A_CH, B_TILE, B_CH, MMA)                                                \
  {                                                                                                            \
    uint fb[2][FN][2];                                                                                         \
    _Pragma("unroll") for (uint kk = 0; kk < 2; ++kk)                                                          \
      _Pragma("unroll") for (uint j = 0; j < FN; j += 2) {                                                     \
        const uint row = wn + j * 8 + (lane & 7) + (lane >> 4) * 8, ch = kk * 2 + ((lane >> 3) & 1);          \
        LDMATRIX_X4(fb[kk][j][0], fb[kk][j][1], fb[kk][j + 1][0], fb[kk][j + 1][1],                            \
                    shared_addr(&(B_TILE)[swizzle(row, ch, B_CH)]));                                           \
      }                                                                                                        \
    _Pragma("unroll") for (uint i = 0; i < FM; ++i) {                                                          \
      uint fa[2][4];                                                                                           \
      _Pragma("unroll") for (uint kk = 0; kk < 2; ++kk) {                                                      \
        const uint row = wm + i * 16 + (lane & 7) + ((lane >> 3) & 1) * 8, ch = kk * 2 + (lane >> 4);          \
        LDMATRIX_X4(fa[kk][0], fa[kk][1], fa[kk][2], fa[kk][3], shared_addr(&(A_TILE)[swizzle(row, ch, A_CH)])); \
      }                                                                                                        \
      _Pragma("unroll") for (uint j = 0; j < FN; ++j) {                                                        \
        float part[4] = {0.0f, 0.0f, 0.0f, 0.0f};                                                              \
        MMA(part, fa[0][0], fa[0][1], fa[0][2], fa[0][3], fb[0][j][0], fb[0][j][1]);                           \
        MMA(part, fa[1][0], fa[1][1], fa[1][2], fa[1][3], fb[1][j][0], fb[1][j][1]);                           \
        _Pragma("unroll") for (uint e = 0; e < 4; ++e) acc[i][j][e] += part[e];                                \
      }                                                                                                        \
    }                                                                                                          \
  }

// vdrt.QMatMul's epilogue from the accumulators (lane: rows g, g + 8 and
// columns 2t, 2t + 1 of each 16 x 8 tile): y = acc * COL_FACTOR sc[n] (* rs[m]
// with ROW_SCALED) (+ bias[n]), the folded activation, (+ res). Uses the
// kernel's acc, FM, FN, lane, m0, n0, wm, wn, M, N, sc, rs, bias, res, y,
// HAS_BIAS, ACT and HAS_RES.
#define QMATMUL_PTX_EPILOGUE(COL_FACTOR, ROW_SCALED)                       \
  _Pragma("unroll") for (uint j = 0; j < FN; ++j) {                        \
    _Pragma("unroll") for (uint e = 0; e < 2; ++e) {                       \
      const uint gn = n0 + wn + j * 8 + 2 * (lane & 3) + e;                \
      if (gn >= N) continue;                                               \
      const float cs = (COL_FACTOR) * sc[gn], cb = HAS_BIAS ? bias[gn] : 0.0f; \
      _Pragma("unroll") for (uint i = 0; i < FM; ++i)                      \
        _Pragma("unroll") for (uint h = 0; h < 2; ++h) {                   \
          const uint gm = m0 + wm + i * 16 + (lane >> 2) + 8 * h;          \
          if (gm >= M) continue;                                           \
          float o = acc[i][j][2 * h + e] * cs;                             \
          if (ROW_SCALED) o *= rs[gm];                                     \
          if (HAS_BIAS) o += cb;                                           \
          if (ACT != 0) o = epilogue_act(o, ACT);                          \
          if (HAS_RES) o += res[gm * N + gn];                              \
          y[gm * N + gn] = o;                                              \
        }                                                                  \
    }                                                                      \
  }

// The K loop of the cp.async GEMMs: steps 0 .. STAGES - 2 in flight before
// the first multiply, then per step s: wait until it has landed (one later
// step may still be in flight with 3 stages), a barrier (every subgroup is
// also done with step s - 1, whose stage LOAD(stage, step) now refills with
// step s + STAGES - 1), and the body on stage st = s % STAGES. Uses STAGES
// of the kernel's scope; LOAD is a macro of (stage, step). Not variadic:
// OpenCL C forbids that (NVIDIA's compiler refuses it); BODY's own commas sit
// inside its parentheses.
#define GEMM_PTX_K_LOOP(steps, LOAD, BODY)                    \
  for (uint s_ = 0; s_ < STAGES - 1; ++s_) {                  \
    if (s_ < (steps)) LOAD(s_, s_)                            \
    CP_ASYNC_COMMIT();                                        \
  }                                                           \
  for (uint s = 0; s < (steps); ++s) {                        \
    if (STAGES == 3) CP_ASYNC_WAIT(1);                        \
    else CP_ASYNC_WAIT(0);                                    \
    barrier(CLK_LOCAL_MEM_FENCE);                             \
    const uint next_ = s + STAGES - 1;                        \
    if (next_ < (steps)) LOAD(next_ % STAGES, next_)          \
    CP_ASYNC_COMMIT();                                        \
    const uint st = s % STAGES;                               \
    BODY                                                      \
  }                                                           \
  CP_ASYNC_WAIT(0);

#endif
