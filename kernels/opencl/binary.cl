// c = a (op) b with NumPy broadcasting, the OpenCL twin of binary.comp: the
// host collapses the shapes to at most 6 dims and passes each operand's
// element strides (0 where it broadcasts). SPEC0 is the op, SPEC1 the mode
// (0 strided, 1 same shape, 2 b is one element); both fold at build time.
// Literals carry an f suffix so nothing is promoted to double.
#ifndef SPEC0
#define SPEC0 0
#endif
#ifndef SPEC1
#define SPEC1 0
#endif
#define OP SPEC0
#define MODE SPEC1

struct binary_params {
  uint n;
  uint dims[6];  // output dims, outermost first
  uint sa[6];    // strides of a per output dim
  uint sb[6];
};

inline float apply(float x, float y) {
  switch (OP) {
    case 0: return x + y;
    case 1: return x - y;
    case 2: return x * y;
    case 3: return x / y;
    case 4: {  // Pow: exact for the integer exponents exports use (x*x for 2)
      if (y == 2.0f) return x * x;
      if (y == 1.0f) return x;
      if (y == 0.5f) return sqrt(x);
      if (y == floor(y)) {
        float r = pow(fabs(x), y);
        return (x < 0.0f && (y - 2.0f * floor(y / 2.0f)) == 1.0f) ? -r : r;  // GLSL mod(y, 2.0)
      }
      return pow(x, y);
    }
    case 5: return fmax(x, y);
    case 6: return fmin(x, y);
    case 7: return x - y * floor(x / y);   // Mod, fmod = 0 (Python's sign convention)
    case 8: return x - y * trunc(x / y);   // Mod, fmod = 1 (C's)
    case 9: return x >= 0.0f ? x : x * y;  // PRelu
    default: return x;
  }
}

kernel __attribute__((reqd_work_group_size(256, 1, 1)))
void binary(BUF(float, a), BUF(float, b), BUF(float, c), constant const struct binary_params* p) {
  AT(float, a);
  AT(float, b);
  AT(float, c);
  uint i = flat_group() * 256u + (uint)get_local_id(0);
  if (i >= p->n) return;
  if (MODE == 1) { c[i] = apply(a[i], b[i]); return; }
  if (MODE == 2) { c[i] = apply(a[i], b[0]); return; }
  uint r = i, ia = 0, ib = 0;
  for (int d = 5; d >= 0; --d) {
    uint q = r / p->dims[d];
    uint k = r - q * p->dims[d];
    r = q;
    ia += k * p->sa[d];
    ib += k * p->sb[d];
  }
  c[i] = apply(a[ia], b[ib]);
}
