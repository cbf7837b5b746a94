#pragma once
// The innermost step of a cache-blocked transpose: one tile where
// dst[r * dst_row + c] = src[c * src_col + r]. Four-byte elements (the
// common f32 case) go through SIMD register transposes (8x8 with AVX where
// the CPU has it, else 4x4 with SSE2); other sizes use a plain loop.
#include <cstddef>
#include <cstdint>

namespace vdrt::cpu {

void transpose_tile(size_t elem_size, const uint8_t* src, int64_t src_col, uint8_t* dst, int64_t dst_row,
                    int64_t rows, int64_t cols);

}  // namespace vdrt::cpu
