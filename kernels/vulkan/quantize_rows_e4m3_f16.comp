#version 450
// vdrt.QMatMul's per-token activation quantisation for the cooperative-matrix
// GEMM (matmul_coopmat_e4m3.comp): the same snapping as
// quantize_rows_e4m3.comp (one work group per row, s = absmax / 448, 1 for a
// zero row, e4m3(x / s) saturating, ties to even), but the snapped values
// are written unscaled as f16 (every e4m3 value is an f16, so exactly) into
// a dense [Mp][Kp] matrix zero-padded past k and past the last row (work
// groups rows .. Mp - 1 write zeros), and s goes to S[row]: the GEMM
// multiplies e4m3 values exactly and applies s in its epilogue.
#include "common.glsl"
#include "e4m3.glsl"
layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer Q { uint q[]; };  // two halves a word
layout(std430, binding = 2) writeonly buffer S { float s[]; };
layout(push_constant) uniform P {
  uint rows, k;
  uint rows_padded;  // Mp
  uint kp2;          // words per row of Q: Kp / 2
} p;

shared uint red[256];

void main() {
  uint row = flat_group();
  uint tid = gl_LocalInvocationID.x;
  if (row >= p.rows) {
    if (row < p.rows_padded)
      for (uint i = tid; i < p.kp2; i += 256u) q[row * p.kp2 + i] = 0u;
    return;
  }
  uint base = row * p.k;
  uint amax = 0u;
  for (uint i = tid; i < p.k; i += 256u) amax = max(amax, floatBitsToUint(x[base + i]) & 0x7fffffffu);
  red[tid] = amax;
  barrier();
  for (uint h = 128u; h > 0u; h >>= 1) {
    if (tid < h) red[tid] = max(red[tid], red[tid + h]);
    barrier();
  }
  amax = red[0];
  float scale = amax == 0u ? 1.0 : uintBitsToFloat(amax) / 448.0;
  if (tid == 0u) s[row] = scale;
  for (uint i = tid; i < p.kp2; i += 256u) {
    uint k0 = 2u * i;
    vec2 v = vec2(k0 < p.k ? e4m3_snap(x[base + k0] / scale) : 0.0,
                  k0 + 1u < p.k ? e4m3_snap(x[base + k0 + 1u] / scale) : 0.0);
    q[row * p.kp2 + i] = packHalf2x16(v);
  }
}
