#version 450
// Reductions along a strided axis: x viewed as [outer, len, inner] with
// inner > 1; one invocation per (outer, inner) column walks the axis (loads
// stay coalesced across inner). Softmax and LogSoftmax write the whole
// column; ReduceSum/Mean/Max/Min write one value per column.
#include "common.glsl"
layout(local_size_x = 256) in;
layout(constant_id = 0) const uint OP = 2;  // 2 Softmax, 3 LogSoftmax, 4 Sum, 5 Mean, 6 Max, 7 Min
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P { uint outer; uint len; uint inner; } p;

float nmax(float a, float b) { return (b > a || isnan(b)) ? b : a; }
float nmin(float a, float b) { return (b < a || isnan(b)) ? b : a; }

void main() {
  uint i = flat_group() * 256 + gl_LocalInvocationID.x;
  if (i >= p.outer * p.inner) return;
  uint o = i / p.inner, col = i % p.inner;
  uint base = o * p.len * p.inner + col;
  if (OP >= 4) {
    float a = OP == 6 ? uintBitsToFloat(0xff800000u) : (OP == 7 ? uintBitsToFloat(0x7f800000u) : 0.0);
    for (uint l = 0; l < p.len; ++l) {
      float v = x[base + l * p.inner];
      if (OP == 6) a = nmax(a, v);
      else if (OP == 7) a = nmin(a, v);
      else a += v;
    }
    if (OP == 5) a /= float(p.len);
    y[i] = a;
    return;
  }
  float m = uintBitsToFloat(0xff800000u);
  for (uint l = 0; l < p.len; ++l) m = nmax(m, x[base + l * p.inner]);
  float s = 0.0;
  for (uint l = 0; l < p.len; ++l) s += exp(x[base + l * p.inner] - m);
  if (OP == 2) {
    float r = 1.0 / s;
    for (uint l = 0; l < p.len; ++l) y[base + l * p.inner] = exp(x[base + l * p.inner] - m) * r;
  } else {
    float ls = log(s);
    for (uint l = 0; l < p.len; ++l) y[base + l * p.inner] = (x[base + l * p.inner] - m) - ls;
  }
}
