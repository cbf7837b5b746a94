// float8 e4m3fn helpers shared by the OpenCL FP8 kernels (vdrt.QMatMul), the
// twin of kernels/vulkan/e4m3.glsl: 1 sign, 4 exponent (bias 7), 3 mantissa
// bits, no infinities, max 448.
#ifndef VDRT_E4M3_CL
#define VDRT_E4M3_CL

#define E4M3_MAX_BITS 0x43e00000u         // 448.0f
#define E4M3_MIN_NORMAL_BITS 0x3c800000u  // 2^-6, the smallest normal e4m3

// Snaps y to the nearest e4m3 value (ties to even), saturating at 448.
inline float snap_e4m3(float y) {
  const uint b = as_uint(y);
  const uint sign = b & 0x80000000u;
  const uint a = min(b & 0x7fffffffu, E4M3_MAX_BITS);  // bit order is value order for |y|
  const uint normal = (a + 0x7ffffu + ((a >> 20) & 1u)) & 0xfff00000u;
  // 2^14's float ulp is 2^-9, e4m3's subnormal quantum: adding it rounds.
  volatile float t = as_float(a) + 16384.0f;
  const float sub = t - 16384.0f;
  return as_float(sign | (a < E4M3_MIN_NORMAL_BITS ? as_uint(sub) : normal));
}

// Declares `scale`, the per-token scale of the row x[base .. base + k):
// absmax |x| (as bits, so NaN wins) / 448, 1 for a zero row, reduced by the
// work group of 256 (work item tid) through local red[256]. A macro, not a
// function: PoCL mishandles barriers in called functions.
#define E4M3_ROW_SCALE(x, base, k, red, tid)                                              \
  uint amax_ = 0u;                                                                        \
  for (uint i_ = (tid); i_ < (k); i_ += 256u) amax_ = max(amax_, as_uint((x)[(base) + i_]) & 0x7fffffffu); \
  (red)[tid] = amax_;                                                                     \
  barrier(CLK_LOCAL_MEM_FENCE);                                                           \
  for (uint h_ = 128u; h_ > 0u; h_ >>= 1) {                                               \
    if ((tid) < h_) (red)[tid] = max((red)[tid], (red)[(tid) + h_]);                     \
    barrier(CLK_LOCAL_MEM_FENCE);                                                         \
  }                                                                                       \
  amax_ = (red)[0];                                                                       \
  const float scale = amax_ == 0u ? 1.0f : as_float(amax_) / 448.0f;

// Two e4m3 codes (bits 0-7 and 16-23 of w, the rest zero) as two f16 bit
// patterns in the same places, each worth exactly 1/256 of the code's value:
// moving a code's 7 magnitude bits up by 7 lands e4m3's exponent in f16's
// field (bias 15 instead of 7) and its subnormals on f16 subnormals, so no
// code needs a branch or a table. The NaN codes 0x7f / 0xff read as
// +-480 / 256, like the CPU kernel's 480.
inline uint e4m3x2_to_f16x2_div256(uint w) { return ((w & 0x00800080u) << 8) | ((w & 0x007f007fu) << 7); }
// Four codes (one little-endian word) as four f16 patterns in order, two a word.
inline uint2 e4m3x4_to_f16x4_div256(uint w) {
  return (uint2)(e4m3x2_to_f16x2_div256((w & 0xffu) | ((w & 0xff00u) << 8)),
                 e4m3x2_to_f16x2_div256(((w >> 16) & 0xffu) | ((w >> 8) & 0xff0000u)));
}

#endif
