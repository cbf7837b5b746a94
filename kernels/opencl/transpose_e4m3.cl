// vdrt.QMatMul's weight codes for the float8 GEMM (matmul_e4m3_mma.cl),
// whose mma wants both operands k-contiguous: W [K][N] (one byte a code,
// as stored) into a dense, zero-padded Wt [Np][Kp]. A work group moves a
// 64 x 64 block through local memory, reading W's rows a word (4 codes) at
// a time where N % 4 == 0 (W_VEC4), byte by byte otherwise, and writing
// 16 codes of a Wt row per work item. The NaN codes 0x7f / 0xff become
// +-448 (0x7e / 0xfe): the tensor cores would multiply them as NaN, where
// vdrt's decoders read +-480; vdrt's quantiser never writes them.
#ifndef SPEC0
#define SPEC0 1
#endif
#define W_VEC4 SPEC0

struct transpose_e4m3_params {
  uint K, N;
  uint kp16;  // 16-byte vectors per row of Wt (Kp / 16)
};

inline uint no_nan_codes(uint w) {
  // A byte whose low 7 bits are all ones is a NaN code: clear its bit 0.
  const uint low7 = w & 0x7f7f7f7fu;
  const uint nan = ((low7 + 0x01010101u) & 0x80808080u) >> 7;  // 1 in each NaN byte's bit 0
  return w & ~nan;
}

kernel __attribute__((reqd_work_group_size(256, 1, 1)))
void transpose_e4m3(BUF(uchar, w), BUF(uint4, wt), constant const struct transpose_e4m3_params* p) {
  AT(uchar, w);
  AT(uint4, wt);
  local uint tile[64][17];  // [k][n / 4], codes n .. n + 3 of a row in a word
  const uint tid = get_local_id(0), K = p->K, N = p->N;
  const uint k0 = get_group_id(0) * 64, n0 = get_group_id(1) * 64;
  for (uint q = 0; q < 4; ++q) {
    const uint e = tid + q * 256, row = e / 16, v = e % 16, kk = k0 + row, nn = n0 + 4 * v;
    uint word = 0;
    if (kk < K) {
      if (W_VEC4) {
        if (nn < N) word = *(global const uint*)(w + kk * N + nn);
      } else {
        for (uint j = 0; j < 4; ++j)
          if (nn + j < N) word |= (uint)w[kk * N + nn + j] << (8 * j);
      }
    }
    tile[row][v] = no_nan_codes(word);
  }
  barrier(CLK_LOCAL_MEM_FENCE);
  // Work item: row n (of 64) and 16 of its k.
  const uint n = tid / 4, c = tid % 4, shift = 8 * (n % 4);
  uint out[4];
  for (uint j = 0; j < 4; ++j) {
    uint word = 0;
    for (uint b = 0; b < 4; ++b) word |= ((tile[16 * c + 4 * j + b][n / 4] >> shift) & 0xffu) << (8 * b);
    out[j] = word;
  }
  wt[(n0 + n) * p->kp16 + k0 / 16 + c] = (uint4)(out[0], out[1], out[2], out[3]);
}
