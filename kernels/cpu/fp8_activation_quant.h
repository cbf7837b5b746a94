#pragma once
// Dynamic per-row (per-token) e4m3 quantisation of activations, for the
// quantised matmul: each row gets scale = absmax / 448 and its values become
// the e4m3 codes' values (in [-448, 448], held as floats) that the matmul
// multiplies before applying the row scale in its epilogue.
#include <cstdint>

namespace vdrt::cpu {

// Rounds y to the nearest e4m3 value, ties to even, saturating at +-448:
// decode(encode(y, saturate)) without the byte in between. Branch-free so
// that row loops vectorise. NaN input gives an unspecified finite value.
float snap_to_e4m3(float y);

// rows x k matrix a (row stride lda) -> q (row stride k) and row_scale[rows].
// A row of zeros gets scale 1 (all codes 0); a row holding inf or NaN gets a
// non-finite scale, so its outputs become NaN rather than silently finite.
void quantize_rows_e4m3(const float* a, int64_t rows, int64_t k, int64_t lda, float* q, float* row_scale,
                        bool parallel = true);

}  // namespace vdrt::cpu
