// Gather along one axis, the OpenCL twin of gather.comp: out[o, j, i] =
// data[o, idx[j], i] with the data viewed as [outer, axis, inner]. Negative
// indices count from the end and out-of-range ones are clamped rather than
// read out of bounds. SPEC0 = 2 gathers 8-byte elements; SPEC1 = 1 reads
// int64 indices by their low word (GPU indices fit in 32 bits).
#ifndef SPEC0
#define SPEC0 1
#endif
#ifndef SPEC1
#define SPEC1 1
#endif
#define WORDS SPEC0
#define IDX64 SPEC1

struct gather_params {
  uint n;
  uint axis;
  uint inner;
  uint count;
};

kernel __attribute__((reqd_work_group_size(256, 1, 1)))
void gather(BUF(uint, x), BUF(uint, idx), BUF(uint, y), constant const struct gather_params* p) {
  AT(uint, x);
  AT(uint, idx);
  AT(uint, y);
  uint i = flat_group() * 256u + (uint)get_local_id(0);
  if (i >= p->n) return;
  uint in_i = i % p->inner;
  uint rest = i / p->inner;
  uint j = rest % p->count;
  uint o = rest / p->count;
  int k = IDX64 == 1 ? (int)idx[2 * j] : (int)idx[j];
  if (k < 0) k += (int)p->axis;
  k = clamp(k, 0, (int)p->axis - 1);
  uint src = (o * p->axis + (uint)k) * p->inner + in_i;
  if (WORDS == 1) {
    y[i] = x[src];
  } else {
    y[2 * i] = x[2 * src];
    y[2 * i + 1] = x[2 * src + 1];
  }
}
