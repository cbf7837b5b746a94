// out = cond ? x : y with NumPy broadcasting of all three, the OpenCL twin
// of where.comp: the host collapses the shapes to at most 4 dims and passes
// per-operand element strides (0 where an operand repeats). The Bool
// condition is read as bytes (the GLSL reads words for want of 8-bit
// storage), so the last element never reads past the tensor.
struct where_params {
  uint n;
  uint dims[4];
  uint sc[4];
  uint sx[4];
  uint sy[4];
};

kernel __attribute__((reqd_work_group_size(256, 1, 1)))
void where(BUF(uchar, c), BUF(float, x), BUF(float, y), BUF(float, o), constant const struct where_params* p) {
  AT(uchar, c);
  AT(float, x);
  AT(float, y);
  AT(float, o);
  uint i = flat_group() * 256u + (uint)get_local_id(0);
  if (i >= p->n) return;
  uint r = i, ic = 0, ix = 0, iy = 0;
  for (int d = 3; d >= 0; --d) {
    uint q = r / p->dims[d];
    uint k = r - q * p->dims[d];
    r = q;
    ic += k * p->sc[d];
    ix += k * p->sx[d];
    iy += k * p->sy[d];
  }
  o[i] = c[ic] != 0 ? x[ix] : y[iy];
}
