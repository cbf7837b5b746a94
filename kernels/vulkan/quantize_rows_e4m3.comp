#version 450
// vdrt.QMatMul's per-token activation quantisation (act_quant =
// per_token_e4m3), the GPU twin of kernels/cpu/fp8_activation_quant.cpp:
// one work group per row finds absmax |x| (as bits, so NaN wins), takes
// s = absmax / 448 (1 for a zero row) and writes q = s * e4m3(x / s),
// saturating, round to nearest even, as f32 for the GEMM that follows.
#include "common.glsl"
#include "e4m3.glsl"
layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer Q { float q[]; };
layout(push_constant) uniform P {
  uint rows, k;
} p;

shared uint red[256];

void main() {
  uint row = flat_group();
  if (row >= p.rows) return;
  uint tid = gl_LocalInvocationID.x;
  uint base = row * p.k;
  uint amax = 0u;
  for (uint i = tid; i < p.k; i += 256u) amax = max(amax, floatBitsToUint(x[base + i]) & 0x7fffffffu);
  red[tid] = amax;
  barrier();
  for (uint s = 128u; s > 0u; s >>= 1) {
    if (tid < s) red[tid] = max(red[tid], red[tid + s]);
    barrier();
  }
  amax = red[0];
  float scale = amax == 0u ? 1.0 : uintBitsToFloat(amax) / 448.0;
  for (uint i = tid; i < p.k; i += 256u) q[base + i] = scale * e4m3_snap(x[base + i] / scale);
}
