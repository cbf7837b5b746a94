// Flash attention on NVIDIA tensor cores through inline PTX
// (tensor_core_ptx.cl), the OpenCL twin of kernels/vulkan/flash_attention_coopmat.comp
// (same constants, bindings and parameters; HEAD_DIM 128, or 64 through
// flash_attention_coopmat_d64.cl) over the f16 scratch rows that
// flash_attention_f16_rows wrote: the work group (x, head, batch) takes
// query rows x * BQ .. of that head and key rows kv_row0 .. + nkeys - 1 of
// its KV head.
//
// FlashAttention-2's structure: NT / 32 subgroups of 16 query rows each
// keep their Q fragments and the 16 x D output accumulators in registers.
// Tiles of 32 keys arrive by cp.async, the next tile's copies in flight
// while this one is multiplied (rows swizzled, tensor_core_ptx.cl). S = Q K^T
// by mma with K's fragments from ldmatrix; the online softmax (log2 domain)
// runs on S's accumulator fragments, a row spread over a quad of lanes
// (two butterfly shuffles); P's fragments are the A fragments of P V as
// they are, and V's come from ldmatrix.trans. Nothing goes through local
// memory but K and V. BK (keys per tile in the GLSL), GLOBAL_KV and PREFETCH
// tune only the GLSL: this kernel always takes 32 keys a tile (key rows are
// padded to whole tiles of BK, a multiple of 32). H200, Wan hot case: 211
// TFLOP/s (bench/ptx_probe.cpp, bench/RESULTS.md).
#include "flash_ptx_tile.cl"

#ifndef HEAD_DIM
#define HEAD_DIM 128
#endif
#ifndef FLASH_KERNEL
#define FLASH_KERNEL flash_attention_coopmat
#endif
#ifndef SPEC1
#define SPEC1 128
#endif
#define NT SPEC1
#define WARPS (NT / 32)
#define D HEAD_DIM
#define CH (D / 8)  // 16-byte chunks a row
#define KEYS 32     // keys a tile

struct flash_attention_coopmat_params {
  uint Sq, nkeys, qpad, kpad, group, H;
  float scale_log2;
  uint ob, oh, os;
};

kernel __attribute__((reqd_work_group_size(NT, 1, 1)))
void FLASH_KERNEL(BUF(uint, q16), BUF(uint4, k16), BUF(uint4, v16), BUF(float, o),
                  constant const struct flash_attention_coopmat_params* p) {
  AT(uint, q16);
  AT(uint4, k16);
  AT(uint4, v16);
  AT(float, o);
  local uint4 Ks[2][KEYS * CH], Vs[2][KEYS * CH];
  const uint tid = get_local_id(0), lane = tid & 31, warp = tid >> 5, g = lane >> 2, t = lane & 3;
  const uint h = get_group_id(1), bt = get_group_id(2);
  const uint q0 = get_group_id(0) * 16 * WARPS + warp * 16;  // the subgroup's first query row
  const uint nkeys = p->nkeys;
  const float scale_log2 = p->scale_log2;
  global const uint* qh = q16 + ((bt * p->H + h) * p->qpad + q0) * (D / 2);
  const uint kv_row0 = (bt * (p->H / p->group) + h / p->group) * p->kpad;
  global const uint4* kh = k16 + kv_row0 * CH;
  global const uint4* vh = v16 + kv_row0 * CH;

  // Q's A fragments, k16 chunk c of D: rows g (+ 8), halves 16 c + 2 t (+ 8).
  uint qa[D / 16][4];
#pragma unroll
  for (uint c = 0; c < D / 16; ++c)
#pragma unroll
    for (uint i = 0; i < 4; ++i) qa[c][i] = qh[(g + (i & 1) * 8) * (D / 2) + c * 8 + t + (i >> 1) * 4];
  FLASH_STATE()

  // The group copies a tile's KEYS x CH chunks of K and of V.
#define LOAD_KV(stage, tile)                                                     \
  for (uint e = tid; e < KEYS * CH; e += NT) {                                   \
    const uint r = e / CH, ch = e % CH;                                          \
    const uint src = ((tile) * KEYS + r) * CH + ch;                              \
    CP_ASYNC16(shared_addr(&Ks[stage][swizzle(r, ch, CH)]), kh + src);           \
    CP_ASYNC16(shared_addr(&Vs[stage][swizzle(r, ch, CH)]), vh + src);           \
  }

  const uint tiles = (nkeys + KEYS - 1) / KEYS;
  if (tiles > 0) LOAD_KV(0, 0)
  CP_ASYNC_COMMIT();
  for (uint tile = 0; tile < tiles; ++tile) {
    const uint st = tile & 1;
    CP_ASYNC_WAIT(0);
    barrier(CLK_LOCAL_MEM_FENCE);  // this tile landed; every subgroup is done with the other stage
    if (tile + 1 < tiles) LOAD_KV(st ^ 1, tile + 1)
    CP_ASYNC_COMMIT();

    FLASH_SCORES(st)
    // Scaled to log2 units; keys past nkeys (the padded rows of the last tile) drop out.
    const bool partial = (tile + 1) * KEYS > nkeys;
#pragma unroll
    for (uint j = 0; j < 4; ++j)
#pragma unroll
      for (uint e = 0; e < 4; ++e) {
        s[j][e] *= scale_log2;
        if (partial && tile * KEYS + j * 8 + 2 * t + (e & 1) >= nkeys) s[j][e] = -INFINITY;
      }
    FLASH_SOFTMAX_PV(st)
  }
  CP_ASYNC_WAIT(0);
  FLASH_ROW_SCALES()
  const uint qi = q0 + g, base = bt * p->ob + h * p->oh;
#pragma unroll
  for (uint j = 0; j < D / 8; ++j) {
    if (qi < p->Sq) vstore2((float2)(acc[j][0], acc[j][1]) * inv_lo, 0, o + base + qi * p->os + j * 8 + 2 * t);
    if (qi + 8 < p->Sq) vstore2((float2)(acc[j][2], acc[j][3]) * inv_hi, 0, o + base + (qi + 8) * p->os + j * 8 + 2 * t);
  }
}
