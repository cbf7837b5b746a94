// float8 e4m3fn helpers shared by the FP8 shaders (vdrt.QMatMul): 1 sign,
// 4 exponent (bias 7), 3 mantissa bits, no infinities, max 448.

const uint kE4m3MaxBits = 0x43e00000u;        // 448.0
const uint kE4m3MinNormalBits = 0x3c800000u;  // 2^-6, the smallest normal e4m3

// Snaps y to the nearest e4m3 value (ties to even), saturating at 448.
float e4m3_snap(float y) {
  uint b = floatBitsToUint(y);
  uint sign = b & 0x80000000u;
  uint a = min(b & 0x7fffffffu, kE4m3MaxBits);  // bit order is value order for |y|
  uint normal = (a + 0x7ffffu + ((a >> 20) & 1u)) & 0xfff00000u;
  // 2^14's float ulp is 2^-9, e4m3's subnormal quantum: adding it rounds.
  precise float t = uintBitsToFloat(a) + 16384.0;
  precise float sub = t - 16384.0;
  return uintBitsToFloat(sign | (a < kE4m3MinNormalBits ? floatBitsToUint(sub) : normal));
}

// Four e4m3 codes (one little-endian word, bytes b0 b1 b2 b3) as four f16
// bit patterns, each worth exactly 1/256 of the code's value, in the order
// (b0, b2) in .x and (b1, b3) in .y (two halves a word, low half first):
// moving a code's 7 magnitude bits up by 7 lands e4m3's exponent in f16's
// field (bias 15 instead of 7) and its subnormals on f16 subnormals, so no
// code needs a branch or a table, and pairing every other byte keeps it to a
// few shifts and masks. The NaN codes 0x7f / 0xff read as +-480 / 256, like
// the CPU kernel's 480.
uvec2 e4m3x4_to_f16x4_div256_b0b2_b1b3(uint w) {
  return uvec2(((w << 8) & 0x80008000u) | ((w << 7) & 0x3f803f80u),
               (w & 0x80008000u) | ((w >> 1) & 0x3f803f80u));
}
