// vdrt.QMatMul's per-token activation quantisation for the float8 GEMM
// (matmul_e4m3_mma.cl): quantize_rows_e4m3_f16.cl's scale (one work group
// per row, s = absmax / 448, 1 for a zero row) and rounding (e4m3(x / s),
// nearest even, saturating), but the codes themselves are written, one byte
// each, into a dense [Mp][Kp] matrix (zero past k and past the last row),
// by PTX's cvt.rn.satfinite.e4m3x2 (sm_89 and later). s goes to s[row] for
// the GEMM's epilogue.
#include "e4m3.cl"
#include "tensor_core_ptx.cl"

struct quantize_rows_e4m3_codes_params {
  uint rows, k;
  uint rows_padded;  // Mp
  uint kp4;          // words (4 codes) per row of q: Kp / 4
};

kernel __attribute__((reqd_work_group_size(256, 1, 1))) void quantize_rows_e4m3_codes(
    BUF(float, x), BUF(uint, q), BUF(float, s), constant const struct quantize_rows_e4m3_codes_params* p) {
  local uint red[256];
  AT(float, x);
  AT(uint, q);
  AT(float, s);
  const uint row = flat_group();
  const uint tid = (uint)get_local_id(0);
  if (row >= p->rows) {  // the whole group: no barrier is skipped by part of it
    if (row < p->rows_padded)
      for (uint i = tid; i < p->kp4; i += 256u) q[row * p->kp4 + i] = 0u;
    return;
  }
  const uint base = row * p->k, k = p->k;
  E4M3_ROW_SCALE(x, base, k, red, tid)
  if (tid == 0u) s[row] = scale;
  for (uint i = tid; i < p->kp4; i += 256u) {
    const uint k0 = 4u * i;
    float4 v;
    v.s0 = k0 < k ? x[base + k0] / scale : 0.0f;
    v.s1 = k0 + 1u < k ? x[base + k0 + 1u] / scale : 0.0f;
    v.s2 = k0 + 2u < k ? x[base + k0 + 2u] / scale : 0.0f;
    v.s3 = k0 + 3u < k ? x[base + k0 + 3u] / scale : 0.0f;
    q[row * p->kp4 + i] = pack_e4m3x4(v);
  }
}
