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

#endif
