// Cast between f32, i32, i64 and f16, the OpenCL twin of cast.comp. Both
// sides are read and written as 32-bit words (i64 as two, little-endian) so
// the kernel needs no 64-bit integer arithmetic; SPEC0/SPEC1 are the source
// and destination codes (0 f32, 1 i32, 2 i64, 3 f16). f16 goes to and from
// f32 only, through vload_half/vstore_half (core OpenCL: no cl_khr_fp16), two
// elements an invocation as cast.comp does (one dispatch for both backends).
#ifndef SPEC0
#define SPEC0 0
#endif
#ifndef SPEC1
#define SPEC1 0
#endif
#define FROM SPEC0
#define TO SPEC1

struct cast_params {
  uint n;
};

kernel __attribute__((reqd_work_group_size(256, 1, 1)))
void cast(BUF(uint, x), BUF(uint, y), constant const struct cast_params* p) {
  AT(uint, x);
  AT(uint, y);
  uint i = flat_group() * 256u + (uint)get_local_id(0);
  if (FROM == 3 || TO == 3) {
    for (uint e = 2 * i; e < min(2 * i + 2, p->n); ++e) {
      if (FROM == 3) y[e] = as_uint(vload_half(e, (global const half*)x));
      else vstore_half(as_float(x[e]), e, (global half*)y);
    }
    return;
  }
  if (i >= p->n) return;
  float f = 0.0f;
  int v = 0;
  // Clamped first: an out-of-range float to int conversion is undefined.
  if (FROM == 0) { f = as_float(x[i]); v = (int)trunc(clamp(f, -2147483648.0f, 2147483520.0f)); }
  if (FROM == 1) { v = (int)x[i]; f = (float)v; }
  // i64 values that reach the GPU are indices and positions: their high word
  // is the sign extension of the low one.
  if (FROM == 2) { v = (int)x[2 * i]; f = (float)v; }
  if (TO == 0) y[i] = as_uint(f);
  if (TO == 1) y[i] = (uint)v;
  if (TO == 2) { y[2 * i] = (uint)v; y[2 * i + 1] = v < 0 ? 0xffffffffu : 0u; }
}
