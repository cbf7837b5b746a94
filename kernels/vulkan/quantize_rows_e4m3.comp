#version 450
// vdrt.QMatMul's per-token activation quantisation (act_quant =
// per_token_e4m3), the GPU twin of kernels/cpu/fp8_activation_quant.cpp:
// one work group per row finds absmax |x| (as bits, so NaN wins), takes
// s = absmax / 448 (1 for a zero row) and writes q = s * e4m3(x / s),
// saturating, round to nearest even, as f32 for the GEMM that follows.
#include "common.glsl"
layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer Q { float q[]; };
layout(push_constant) uniform P {
  uint rows, k;
} p;

shared uint red[256];

const uint kMaxBits = 0x43e00000u;        // 448.0
const uint kMinNormalBits = 0x3c800000u;  // 2^-6, the smallest normal e4m3

// Snaps y to the nearest e4m3 value (ties to even), saturating at 448.
float snap(float y) {
  uint b = floatBitsToUint(y);
  uint sign = b & 0x80000000u;
  uint a = min(b & 0x7fffffffu, kMaxBits);  // bit order is value order for |y|
  uint normal = (a + 0x7ffffu + ((a >> 20) & 1u)) & 0xfff00000u;
  // 2^14's float ulp is 2^-9, e4m3's subnormal quantum: adding it rounds.
  precise float t = uintBitsToFloat(a) + 16384.0;
  precise float sub = t - 16384.0;
  return uintBitsToFloat(sign | (a < kMinNormalBits ? floatBitsToUint(sub) : normal));
}

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
  for (uint i = tid; i < p.k; i += 256u) q[base + i] = scale * snap(x[base + i] / scale);
}
