// vdrt.QMatMul's per-token activation quantisation (act_quant =
// per_token_e4m3), the OpenCL twin of quantize_rows_e4m3.comp and of
// kernels/cpu/fp8_activation_quant.cpp: one work group per row finds absmax
// |x| (as bits, so NaN wins), takes s = absmax / 448 (1 for a zero row) and
// writes q = s * e4m3(x / s), saturating, round to nearest even.

struct quantize_rows_e4m3_params {
  uint rows, k;
};

#include "e4m3.cl"

kernel __attribute__((reqd_work_group_size(256, 1, 1))) void quantize_rows_e4m3(
    BUF(float, x), BUF(float, q), constant const struct quantize_rows_e4m3_params* p) {
  local uint red[256];
  AT(float, x);
  AT(float, q);
  const uint row = flat_group();
  if (row >= p->rows) return;
  const uint tid = (uint)get_local_id(0);
  const uint base = row * p->k;
  E4M3_ROW_SCALE(x, base, p->k, red, tid)
  for (uint i = tid; i < p->k; i += 256u) q[base + i] = scale * snap_e4m3(x[base + i] / scale);
}
