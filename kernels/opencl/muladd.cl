// y = a * (b + offset) + c with NumPy broadcasting (vdrt.MulAdd: adaLN
// modulation, gated residual), the OpenCL twin of muladd.comp: the host
// collapses the shapes to at most 6 dims and passes each operand's element
// strides (0 where it broadcasts). SPEC0 is the mode (0 strided, 1 same
// shape), folded at build time.
#ifndef SPEC0
#define SPEC0 0
#endif
#define MODE SPEC0

struct muladd_params {
  uint n;
  uint dims[6];  // output dims, outermost first
  uint sa[6];    // strides of a per output dim
  uint sb[6];
  uint sc[6];
  float offset;
};

kernel __attribute__((reqd_work_group_size(256, 1, 1)))
void muladd(BUF(float, a), BUF(float, b), BUF(float, c), BUF(float, y), constant const struct muladd_params* p) {
  AT(float, a);
  AT(float, b);
  AT(float, c);
  AT(float, y);
  uint i = flat_group() * 256u + (uint)get_local_id(0);
  if (i >= p->n) return;
  if (MODE == 1) { y[i] = a[i] * (b[i] + p->offset) + c[i]; return; }
  uint r = i, ia = 0, ib = 0, ic = 0;
  for (int d = 5; d >= 0; --d) {
    uint q = r / p->dims[d];
    uint k = r - q * p->dims[d];
    r = q;
    ia += k * p->sa[d];
    ib += k * p->sb[d];
    ic += k * p->sc[d];
  }
  y[i] = a[ia] * (b[ib] + p->offset) + c[ic];
}
