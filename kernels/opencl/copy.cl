// A strided copy of 4-byte elements, the one kernel behind Transpose, Slice,
// Expand, Concat, Split, Reshape and their kin (OpenCL twin of copy.comp).
// Offsets and strides are uint on purpose: a negative stride (Slice with a
// negative step) arrives wrapped and the wrapping sum lands on the right
// index. SPEC0 = 2 copies 8-byte elements as word pairs, which needs only
// the 4-byte alignment every tensor has.
#ifndef SPEC0
#define SPEC0 1
#endif
#define WORDS SPEC0

struct copy_params {
  uint n;
  uint in_off;
  uint out_off;
  uint dims[6];
  uint si[6];
  uint so[6];
};

kernel __attribute__((reqd_work_group_size(256, 1, 1)))
void copy(BUF(uint, x), BUF(uint, y), constant const struct copy_params* p) {
  AT(uint, x);
  AT(uint, y);
  uint i = flat_group() * 256u + (uint)get_local_id(0);
  if (i >= p->n) return;
  uint r = i, src = p->in_off, dst = p->out_off;
  for (int d = 5; d >= 0; --d) {
    uint q = r / p->dims[d];
    uint k = r - q * p->dims[d];
    r = q;
    src += k * p->si[d];
    dst += k * p->so[d];
  }
  if (WORDS == 1) {
    y[dst] = x[src];
  } else {
    y[2 * dst] = x[2 * src];
    y[2 * dst + 1] = x[2 * src + 1];
  }
}
