#version 450
// Resize, nearest or linear (bi-/tri-/multi-linear over any of the up to 5
// axes), one invocation per output element. Each axis samples its input at
// x = a * o + b (every supported coordinate_transformation_mode is affine in
// the output coordinate; the host computes a and b in double). Axes whose
// bit is clear in `interp` are copied straight through (o = i).
#include "common.glsl"
layout(local_size_x = 256) in;
layout(constant_id = 0) const uint LINEAR = 0;
layout(constant_id = 1) const uint NEAREST = 0;   // 0 round_prefer_floor, 1 round_prefer_ceil, 2 floor, 3 ceil, 4 simple
layout(constant_id = 2) const uint WORDS = 1;     // element size in 32-bit words (nearest)
layout(constant_id = 3) const uint EXCLUDE_OUTSIDE = 0;
layout(std430, binding = 0) readonly buffer X { uint x[]; };
layout(std430, binding = 1) writeonly buffer Y { uint y[]; };
layout(push_constant) uniform P {
  uint n;
  uint interp;        // bit d: axis d is resampled
  uint down;          // bit d: scale < 1 on axis d ("simple" nearest rounds up then)
  uint in_dims[5];
  uint out_dims[5];
  float a[5];
  float b[5];
} p;

uint nearest_index(float xs, uint d) {
  // a and b are rounded to float: snap to a multiple of 1/2 within a few
  // ulps so integral positions and rounding ties land where the CPU's
  // double arithmetic puts them.
  float h = round(xs * 2.0) * 0.5;
  if (abs(xs - h) <= 1e-6 * max(1.0, abs(xs))) xs = h;
  float r;
  float fl = floor(xs);
  if (xs == fl) r = xs;
  else if (NEAREST == 0) r = ceil(xs - 0.5);
  else if (NEAREST == 1) r = floor(xs + 0.5);
  else if (NEAREST == 2) r = fl;
  else if (NEAREST == 3) r = ceil(xs);
  else r = ((p.down >> d) & 1u) != 0u ? ceil(xs) : fl;
  return uint(clamp(r, 0.0, float(p.in_dims[d] - 1)));
}

void main() {
  uint i = flat_group() * 256 + gl_LocalInvocationID.x;
  if (i >= p.n) return;
  uint oc[5];
  uint r = i;
  [[unroll]] for (int d = 4; d >= 0; --d) {
    uint q = r / p.out_dims[d];
    oc[d] = r - q * p.out_dims[d];
    r = q;
  }
  if (LINEAR == 0) {
    uint src = 0;
    [[unroll]] for (uint d = 0; d < 5; ++d) {
      uint ix = oc[d];
      if (((p.interp >> d) & 1u) != 0u) ix = nearest_index(fma(p.a[d], float(oc[d]), p.b[d]), d);
      src = src * p.in_dims[d] + ix;
    }
    if (WORDS == 1) {
      y[i] = x[src];
    } else {
      y[2 * i] = x[2 * src];
      y[2 * i + 1] = x[2 * src + 1];
    }
    return;
  }
  // Two taps per resampled axis: i0 (weight w0) and i1 (weight w1).
  uint i0[5], i1[5];
  float w0[5], w1[5];
  // if / else, not continue: see docs/gpu_kernels.md (the arrays stay in registers).
  [[unroll]] for (uint d = 0; d < 5; ++d) {
    if (((p.interp >> d) & 1u) == 0u) {
      i0[d] = oc[d]; i1[d] = oc[d]; w0[d] = 1.0; w1[d] = 0.0;
    } else {
      float xs = fma(p.a[d], float(oc[d]), p.b[d]);
      float fl = floor(xs);
      float f = xs - fl;
      int j0 = int(fl), j1 = j0 + 1, nd = int(p.in_dims[d]);
      float u0 = 1.0 - f, u1 = f;
      if (EXCLUDE_OUTSIDE == 1) {
        if (j0 < 0 || j0 >= nd) u0 = 0.0;
        if (j1 < 0 || j1 >= nd) u1 = 0.0;
        float s = u0 + u1;
        if (s != 0.0) { u0 /= s; u1 /= s; }
      }
      i0[d] = uint(clamp(j0, 0, nd - 1));
      i1[d] = uint(clamp(j1, 0, nd - 1));
      w0[d] = u0;
      w1[d] = u1;
    }
  }
  float acc = 0.0;
  for (uint m = 0; m < 32u; ++m) {
    if ((m & ~p.interp) != 0u) continue;
    float wt = 1.0;
    uint src = 0;
    [[unroll]] for (uint d = 0; d < 5; ++d) {
      bool hi = ((m >> d) & 1u) != 0u;
      wt *= hi ? w1[d] : w0[d];
      src = src * p.in_dims[d] + (hi ? i1[d] : i0[d]);
    }
    if (wt != 0.0) acc = fma(wt, uintBitsToFloat(x[src]), acc);
  }
  y[i] = floatBitsToUint(acc);
}
