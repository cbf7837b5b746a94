// Resize, nearest or linear (multi-linear over any of the up to 5 axes), the
// OpenCL twin of resize.comp. Each axis samples its input at x = a * o + b,
// the host's double-precision affine map rounded to float; fma keeps that
// one rounding, as the GLSL does, so both backends pick the same taps.
// Constants: SPEC0 linear, SPEC1 nearest mode (0 round_prefer_floor,
// 1 round_prefer_ceil, 2 floor, 3 ceil, 4 simple), SPEC2 element size in
// 32-bit words (nearest), SPEC3 exclude_outside.
#ifndef SPEC0
#define SPEC0 0
#endif
#ifndef SPEC1
#define SPEC1 0
#endif
#ifndef SPEC2
#define SPEC2 1
#endif
#ifndef SPEC3
#define SPEC3 0
#endif
#define LINEAR SPEC0
#define NEAREST SPEC1
#define WORDS SPEC2
#define EXCLUDE_OUTSIDE SPEC3

struct resize_params {
  uint n;
  uint interp;  // bit d: axis d is resampled
  uint down;    // bit d: scale < 1 on axis d ("simple" nearest rounds up then)
  uint in_dims[5];
  uint out_dims[5];
  float a[5];
  float b[5];
};

inline uint nearest_index(float xs, uint d, constant const struct resize_params* p) {
  // a and b are rounded to float: snap to a multiple of 1/2 within a few
  // ulps so integral positions and rounding ties land where the CPU's
  // double arithmetic puts them.
  float h = round(xs * 2.0f) * 0.5f;
  if (fabs(xs - h) <= 1e-6f * fmax(1.0f, fabs(xs))) xs = h;
  float r;
  float fl = floor(xs);
  if (xs == fl) r = xs;
  else if (NEAREST == 0) r = ceil(xs - 0.5f);
  else if (NEAREST == 1) r = floor(xs + 0.5f);
  else if (NEAREST == 2) r = fl;
  else if (NEAREST == 3) r = ceil(xs);
  else r = ((p->down >> d) & 1u) != 0u ? ceil(xs) : fl;
  return (uint)clamp(r, 0.0f, (float)(p->in_dims[d] - 1u));
}

kernel __attribute__((reqd_work_group_size(256, 1, 1)))
void resize(BUF(uint, x), BUF(uint, y), constant const struct resize_params* p) {
  AT(uint, x);
  AT(uint, y);
  uint i = flat_group() * 256u + (uint)get_local_id(0);
  if (i >= p->n) return;
  uint oc[5];
  uint r = i;
  for (int d = 4; d >= 0; --d) {
    uint q = r / p->out_dims[d];
    oc[d] = r - q * p->out_dims[d];
    r = q;
  }
  if (LINEAR == 0) {
    uint src = 0;
    for (uint d = 0; d < 5u; ++d) {
      uint ix = oc[d];
      if (((p->interp >> d) & 1u) != 0u) ix = nearest_index(fma(p->a[d], (float)oc[d], p->b[d]), d, p);
      src = src * p->in_dims[d] + ix;
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
  // Unrolled, and if / else rather than continue, so the arrays stay in
  // registers (docs/gpu_kernels.md).
#pragma unroll
  for (uint d = 0; d < 5u; ++d) {
    if (((p->interp >> d) & 1u) == 0u) {
      i0[d] = oc[d]; i1[d] = oc[d]; w0[d] = 1.0f; w1[d] = 0.0f;
    } else {
      float xs = fma(p->a[d], (float)oc[d], p->b[d]);
      float fl = floor(xs);
      float f = xs - fl;
      int j0 = (int)fl, j1 = j0 + 1, nd = (int)p->in_dims[d];
      float u0 = 1.0f - f, u1 = f;
      if (EXCLUDE_OUTSIDE == 1) {
        if (j0 < 0 || j0 >= nd) u0 = 0.0f;
        if (j1 < 0 || j1 >= nd) u1 = 0.0f;
        float s = u0 + u1;
        if (s != 0.0f) { u0 /= s; u1 /= s; }
      }
      i0[d] = (uint)clamp(j0, 0, nd - 1);
      i1[d] = (uint)clamp(j1, 0, nd - 1);
      w0[d] = u0;
      w1[d] = u1;
    }
  }
  float acc = 0.0f;
  for (uint m = 0; m < 32u; ++m) {
    if ((m & ~p->interp) == 0u) {
      float wt = 1.0f;
      uint src = 0;
#pragma unroll
      for (uint d = 0; d < 5u; ++d) {
        bool hi = ((m >> d) & 1u) != 0u;
        wt *= hi ? w1[d] : w0[d];
        src = src * p->in_dims[d] + (hi ? i1[d] : i0[d]);
      }
      if (wt != 0.0f) acc = fma(wt, as_float(x[src]), acc);
    }
  }
  y[i] = as_uint(acc);
}
