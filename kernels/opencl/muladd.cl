// y = a * (b + offset) + c with NumPy broadcasting (vdrt.MulAdd: adaLN
// modulation, gated residual), the OpenCL twin of muladd.comp: the host
// collapses the shapes to at most 6 dims and passes each operand's element
// strides (0 where it broadcasts). SPEC0 is the mode (0 strided, 1 same
// shape, 2 strided by 4: the innermost dim a multiple of 4 and each
// operand's innermost stride 1 or 0, so a work item does 4 outputs with one
// index computation), folded at build time; in mode 2, SPEC1 is the number
// of collapsed dims and SPEC2-4 whether a, b, c run along the innermost one.
#ifndef SPEC0
#define SPEC0 0
#endif
#ifndef SPEC1  // modes 0 and 1 pass only SPEC0
#define SPEC1 6
#define SPEC2 1
#define SPEC3 1
#define SPEC4 1
#endif
#define MODE SPEC0
#define ND SPEC1
#define LOAD4(x, i, along) ((along) ? vload4(0, (x) + (i)) : (float4)((x)[i]))

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
  if (MODE == 2) {
    const uint i = (flat_group() * 256u + (uint)get_local_id(0)) * 4u;
    if (i >= p->n) return;
    uint r = i, ia = 0, ib = 0, ic = 0;
    for (int d = 5; d > 6 - ND; --d) {
      const uint q = r / p->dims[d];
      const uint k = r - q * p->dims[d];
      r = q;
      ia += k * p->sa[d];
      ib += k * p->sb[d];
      ic += k * p->sc[d];
    }
    ia += r * p->sa[6 - ND];
    ib += r * p->sb[6 - ND];
    ic += r * p->sc[6 - ND];
    vstore4(LOAD4(a, ia, SPEC2) * (LOAD4(b, ib, SPEC3) + p->offset) + LOAD4(c, ic, SPEC4), 0, y + i);
    return;
  }
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
