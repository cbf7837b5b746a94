#version 450
// GEMM operand pre-pass of the fp16 cooperative-matrix GEMM: converts a
// strided f32 matrix src[off + r * sr + c * sc] (R x C) into a dense,
// zero-padded f16 matrix dst[Rp][Cp] (Cp a multiple of 8), so the GEMM's main
// loop reads whole 16-byte vectors without bounds checks. Each invocation
// writes 8 halves (one uvec4) of a destination row; with VEC4 (sc == 1 and
// every row start 16-byte aligned) it reads them as two vec4. Needs no 16-bit
// storage: halves are packed with packHalf2x16.
#include "common.glsl"
layout(local_size_x = 256) in;
layout(constant_id = 0) const bool VEC4 = false;

layout(std430, binding = 0) readonly buffer S { float src[]; };
layout(std430, binding = 0) readonly buffer S4 { vec4 src4[]; };
layout(std430, binding = 1) writeonly buffer D { uvec4 dst[]; };
layout(push_constant) uniform P {
  uint R, C;      // valid rows and columns
  uint Rp, Cv;    // padded rows, destination uvec4 per row (Cp / 8)
  uint sr, sc;    // source element strides of a row and a column
  uint off;       // source element offset
} p;

void main() {
  const uint i = flat_group() * 256 + gl_LocalInvocationID.x;
  if (i >= p.Rp * p.Cv) return;
  const uint r = i / p.Cv, c = (i - r * p.Cv) * 8;
  vec4 lo = vec4(0.0), hi = vec4(0.0);
  if (r < p.R) {
    const uint base = p.off + r * p.sr;
    if (VEC4) {
      // C % 4 == 0: each vec4 lies wholly inside or outside the row.
      if (c < p.C) lo = src4[(base + c) / 4];
      if (c + 4 < p.C) hi = src4[(base + c + 4) / 4];
    } else {
      [[unroll]] for (uint j = 0; j < 4; ++j) {
        if (c + j < p.C) lo[j] = src[base + (c + j) * p.sc];
        if (c + 4 + j < p.C) hi[j] = src[base + (c + 4 + j) * p.sc];
      }
    }
  }
  dst[i] = uvec4(packHalf2x16(lo.xy), packHalf2x16(lo.zw), packHalf2x16(hi.xy), packHalf2x16(hi.zw));
}
