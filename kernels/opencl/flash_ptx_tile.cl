// One tile of 32 keys of FlashAttention-2 on tensor cores through inline
// PTX, shared by flash_attention_coopmat.cl (dense) and
// sparse_flash_coopmat.cl (block-sparse), whose kernels differ only in where
// query and key rows come from. A subgroup owns 16 query rows; lane l holds
// rows g = l / 4 and g + 8, and in each 16 x 8 fragment the columns 2t, 2t + 1
// (t = l % 4). The macros use, in the kernel's scope: lane, t, the Q
// fragments qa[D / 16][4], the staged K / V tiles Ks / Vs [2][32 * CH]
// (rows swizzled, tensor_core_ptx.cl), and the state FLASH_STATE declares:
// the output accumulators acc[D / 8][4] and the running row maxima and sums
// m_lo, m_hi, l_lo, l_hi (log2 units; rows g and g + 8).
#ifndef VDRT_FLASH_PTX_TILE_CL
#define VDRT_FLASH_PTX_TILE_CL
#include "tensor_core_ptx.cl"

// Declares the output accumulators (zero) and the running row maxima and sums.
#define FLASH_STATE()                                                                             \
  float acc[D / 8][4];                                                                            \
  _Pragma("unroll") for (uint j = 0; j < D / 8; ++j)                                              \
    _Pragma("unroll") for (uint e = 0; e < 4; ++e) acc[j][e] = 0.0f;                              \
  float m_lo = -INFINITY, m_hi = -INFINITY, l_lo = 0.0f, l_hi = 0.0f;

// Declares s[4][4] = Q K^T of stage st: 16 rows x 32 keys, 4 n8 tiles of
// keys; s[j][e] is key 8 j + 2 t + (e & 1) of row g (e < 2) or g + 8.
#define FLASH_SCORES(st)                                                                          \
  float s[4][4];                                                                                  \
  _Pragma("unroll") for (uint j = 0; j < 4; ++j)                                                  \
    _Pragma("unroll") for (uint e = 0; e < 4; ++e) s[j][e] = 0.0f;                                \
  _Pragma("unroll") for (uint c = 0; c < D / 16; ++c) {                                           \
    _Pragma("unroll") for (uint j = 0; j < 4; j += 2) {                                           \
      uint b0, b1, b2, b3; /* (keys j, d chunk 2c), (j, 2c + 1), (j + 1, 2c), (j + 1, 2c + 1) */  \
      const uint r = j * 8 + (lane & 7) + (lane >> 4) * 8, ch = 2 * c + ((lane >> 3) & 1);        \
      LDMATRIX_X4(b0, b1, b2, b3, shared_addr(&Ks[st][swizzle(r, ch, CH)]));                      \
      MMA_16816(s[j], qa[c][0], qa[c][1], qa[c][2], qa[c][3], b0, b1);                            \
      MMA_16816(s[j + 1], qa[c][0], qa[c][1], qa[c][2], qa[c][3], b2, b3);                        \
    }                                                                                             \
  }

// The online softmax of the scaled (and masked) scores s, then O += P V with
// stage st's V tile: the row maxima over the quad of lanes sharing a row (two
// butterfly shuffles), P = 2^(s - m) packed to f16 as the A fragments of
// P V, V's B fragments through ldmatrix.trans. Every tile holds a valid key,
// so the maxima are finite from the first tile on.
#define FLASH_SOFTMAX_PV(st)                                                                      \
  {                                                                                               \
    float mx_lo = m_lo, mx_hi = m_hi;                                                             \
    _Pragma("unroll") for (uint j = 0; j < 4; ++j) {                                              \
      mx_lo = fmax(mx_lo, fmax(s[j][0], s[j][1]));                                                \
      mx_hi = fmax(mx_hi, fmax(s[j][2], s[j][3]));                                                \
    }                                                                                             \
    mx_lo = fmax(mx_lo, shfl_xor_f32(mx_lo, 1));                                                  \
    mx_lo = fmax(mx_lo, shfl_xor_f32(mx_lo, 2));                                                  \
    mx_hi = fmax(mx_hi, shfl_xor_f32(mx_hi, 1));                                                  \
    mx_hi = fmax(mx_hi, shfl_xor_f32(mx_hi, 2));                                                  \
    const float a_lo = native_exp2(m_lo - mx_lo), a_hi = native_exp2(m_hi - mx_hi);               \
    m_lo = mx_lo;                                                                                 \
    m_hi = mx_hi;                                                                                 \
    float sum_lo = 0.0f, sum_hi = 0.0f;                                                           \
    uint pa[2][4]; /* P's A fragments, k16 chunk kc of the 32 keys */                             \
    _Pragma("unroll") for (uint j = 0; j < 4; ++j) {                                              \
      const float p0 = native_exp2(s[j][0] - m_lo), p1 = native_exp2(s[j][1] - m_lo);             \
      const float p2 = native_exp2(s[j][2] - m_hi), p3 = native_exp2(s[j][3] - m_hi);             \
      sum_lo += p0 + p1;                                                                          \
      sum_hi += p2 + p3;                                                                          \
      /* keys 8j + 2t of rows g / g + 8: registers 0 / 1 of chunk j / 2 (2 / 3 for odd j) */      \
      pa[j >> 1][(j & 1) * 2 + 0] = pack_f16x2(p0, p1);                                           \
      pa[j >> 1][(j & 1) * 2 + 1] = pack_f16x2(p2, p3);                                           \
    }                                                                                             \
    l_lo = l_lo * a_lo + sum_lo; /* per lane: the quad's lanes are summed at the end */           \
    l_hi = l_hi * a_hi + sum_hi;                                                                  \
    _Pragma("unroll") for (uint j = 0; j < D / 8; ++j) {                                          \
      acc[j][0] *= a_lo;                                                                          \
      acc[j][1] *= a_lo;                                                                          \
      acc[j][2] *= a_hi;                                                                          \
      acc[j][3] *= a_hi;                                                                          \
    }                                                                                             \
    _Pragma("unroll") for (uint kc = 0; kc < 2; ++kc) {                                           \
      _Pragma("unroll") for (uint dj = 0; dj < D / 8; dj += 2) {                                  \
        uint b0, b1, b2, b3; /* (keys lo, d chunk dj), (keys hi, dj), (lo, dj + 1), (hi, dj + 1) */ \
        const uint r = kc * 16 + (lane & 7) + ((lane >> 3) & 1) * 8, ch = dj + (lane >> 4);       \
        LDMATRIX_X4_TRANS(b0, b1, b2, b3, shared_addr(&Vs[st][swizzle(r, ch, CH)]));              \
        MMA_16816(acc[dj], pa[kc][0], pa[kc][1], pa[kc][2], pa[kc][3], b0, b1);                   \
        MMA_16816(acc[dj + 1], pa[kc][0], pa[kc][1], pa[kc][2], pa[kc][3], b2, b3);               \
      }                                                                                           \
    }                                                                                             \
  }

// The rows' softmax sums over their quads, as inv_lo / inv_hi (0 for a row
// that saw no key).
#define FLASH_ROW_SCALES()                                                                        \
  l_lo += shfl_xor_f32(l_lo, 1);                                                                  \
  l_lo += shfl_xor_f32(l_lo, 2);                                                                  \
  l_hi += shfl_xor_f32(l_hi, 1);                                                                  \
  l_hi += shfl_xor_f32(l_hi, 2);                                                                  \
  const float inv_lo = l_lo > 0.0f ? 1.0f / l_lo : 0.0f, inv_hi = l_hi > 0.0f ? 1.0f / l_hi : 0.0f;

#endif
