// reduce_cols.comp in OpenCL C 1.2: one work item per (outer, inner) column
// walks the strided axis, so loads stay coalesced across inner and the
// accumulation order is the column's own, as in the GLSL (no reductions
// across work items, hence no barriers).

#define OP SPEC0  // 2 Softmax, 3 LogSoftmax, 4 Sum, 5 Mean, 6 Max, 7 Min

struct reduce_cols_params {
  uint outer;
  uint len;
  uint inner;
};

inline float nmax(float a, float b) { return (b > a || isnan(b)) ? b : a; }
inline float nmin(float a, float b) { return (b < a || isnan(b)) ? b : a; }

kernel __attribute__((reqd_work_group_size(256, 1, 1))) void reduce_cols(
    BUF(float, x), BUF(float, y), constant const struct reduce_cols_params* p) {
  AT(float, x);
  AT(float, y);
  const uint i = flat_group() * 256u + (uint)get_local_id(0);
  const uint inner = p->inner, len = p->len;
  if (i >= p->outer * inner) return;
  const uint o = i / inner, col = i % inner;
  const uint base = o * len * inner + col;
#if OP >= 4
#if OP == 6
  float a = as_float(0xff800000u);
#elif OP == 7
  float a = as_float(0x7f800000u);
#else
  float a = 0.0f;
#endif
  for (uint l = 0; l < len; ++l) {
    float v = x[base + l * inner];
#if OP == 6
    a = nmax(a, v);
#elif OP == 7
    a = nmin(a, v);
#else
    a += v;
#endif
  }
#if OP == 5
  a /= (float)len;
#endif
  y[i] = a;
#else
  float m = as_float(0xff800000u);
  for (uint l = 0; l < len; ++l) m = nmax(m, x[base + l * inner]);
  float s = 0.0f;
  for (uint l = 0; l < len; ++l) s += exp(x[base + l * inner] - m);
#if OP == 2
  float r = 1.0f / s;
  for (uint l = 0; l < len; ++l) y[base + l * inner] = exp(x[base + l * inner] - m) * r;
#else
  float ls = log(s);
  for (uint l = 0; l < len; ++l) y[base + l * inner] = (x[base + l * inner] - m) - ls;
#endif
#endif
}
