// vdrt.QMatMul's per-token activation quantisation for the tensor-core GEMM
// (matmul_coopmat_e4m3.cl), the OpenCL twin of quantize_rows_e4m3_f16.comp:
// the snapping of quantize_rows_e4m3.cl (one work group per row, s =
// absmax / 448, 1 for a zero row, e4m3(x / s) saturating, ties to even), but
// the snapped values are written unscaled as f16 (exact: every e4m3 value is
// an f16) into a dense [Mp][Kp] matrix, zero past k and past the last row,
// and s goes to s[row] for the GEMM's epilogue. Only tensor-core sessions
// plan it (DeviceCaps::ptx_mma), so halves are packed by PTX.
#include "e4m3.cl"
#include "tensor_core_ptx.cl"

struct quantize_rows_e4m3_f16_params {
  uint rows, k;
  uint rows_padded;  // Mp
  uint kp2;          // words per row of q: Kp / 2
};

kernel __attribute__((reqd_work_group_size(256, 1, 1))) void quantize_rows_e4m3_f16(
    BUF(float, x), BUF(uint, q), BUF(float, s), constant const struct quantize_rows_e4m3_f16_params* p) {
  local uint red[256];
  AT(float, x);
  AT(uint, q);
  AT(float, s);
  const uint row = flat_group();
  const uint tid = (uint)get_local_id(0);
  if (row >= p->rows) {  // the whole group: no barrier is skipped by part of it
    if (row < p->rows_padded)
      for (uint i = tid; i < p->kp2; i += 256u) q[row * p->kp2 + i] = 0u;
    return;
  }
  const uint base = row * p->k;
  E4M3_ROW_SCALE(x, base, p->k, red, tid)
  if (tid == 0u) s[row] = scale;
  for (uint i = tid; i < p->kp2; i += 256u) {
    const uint k0 = 2u * i;
    const float lo = k0 < p->k ? snap_e4m3(x[base + k0] / scale) : 0.0f;
    const float hi = k0 + 1u < p->k ? snap_e4m3(x[base + k0 + 1u] / scale) : 0.0f;
    q[row * p->kp2 + i] = pack_f16x2(lo, hi);
  }
}
