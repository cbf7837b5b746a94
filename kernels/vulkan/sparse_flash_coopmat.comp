#version 450
// Block-sparse flash attention of vdrt.PBSAttention / vdrt.HSAttention on
// tensor cores (GL_NV_cooperative_matrix), taken instead of sparse_flash
// when the session precision is fp16 and the device has NV cooperative
// matrices (kernels/gpu/sparse_attention.cpp; the same choice as the dense
// flash_attention_coopmat). Head dims D == Dv == HEAD_DIM (128, or 64 in
// the _d64 variant). Same work as sparse_flash, the same parameters and
// selection: one work group of 128 invocations (4 subgroups of 16 query
// rows) per 64 rows of a query block; its keys are this chunk's keys when
// DENSE, then the rows of the selected blocks in sparse_select's order. The
// tile loop is flash_coopmat_tile.glsl's:
//   * query rows are gathered from the block's tokens (f32, rounded to f16
//     in shared memory once per group) and output rows scattered back;
//   * key rows of each tile of BK come from a table in shared memory,
//     written two tiles ahead by the first BK invocations (block search by
//     sparse_selected_key), and every key row of a call lives in ONE buffer,
//     so that staging a tile is a plain load, not a choice between buffers
//     (a per-key choice between the chunk's copies and the pools cost a
//     third of the kernel's time on the H200):
//       - without a device cache, an f16 copy [B, Hkv, T + Sk, D] of
//         past_key then this chunk's keys (flash_attention_f16_rows);
//       - STATEFUL, the device cache's pools (kernels/sparse_kv_device.h):
//         f32 rounded to f16 as they are staged, or with HALF f16 that
//         sparse_append rounded the same way: sparse_append writes this
//         chunk's keys into the slots reserved for its blocks in every pass
//         before this dispatch, so this chunk's keys are read there too (in
//         tile order: attention does not depend on the keys' order);
//     rows past the last key point at a real row (their scores are masked),
//     so loads need no bounds test; a compressed block's one row carries
//     its log weight into the score;
//   * MASS (PBSA's saliency in the cache-filling pass): the second sweep
//     over the cached keys sums each selected block's final softmax mass
//     over the group's rows into mass[query group, selection index], as
//     sparse_flash does.
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_EXT_shader_16bit_storage : require
#include "common.glsl"
#ifndef HEAD_DIM
#define HEAD_DIM 128
#endif
layout(constant_id = 4) const uint DENSE = 1;     // 1: this chunk's keys first, all of them
layout(constant_id = 5) const uint STATEFUL = 0;  // 1: cached blocks are device cache slots
layout(constant_id = 6) const uint MASS = 0;      // 1: masses of the selected blocks when accumulating
layout(constant_id = 7) const uint HALF = 0;      // 1 (STATEFUL): the pools hold packed f16, staged as they are

layout(std430, binding = 0) readonly buffer Q { vec4 q[]; };          // [B, S, Hq, D] f32
layout(std430, binding = 1) readonly buffer K16 { uvec4 k16[]; };     // f16 [B, Hkv, T + Sk, D]: past, this chunk
layout(std430, binding = 2) readonly buffer V16 { uvec4 v16[]; };
layout(std430, binding = 3) readonly buffer Sel { uint sel[]; };
layout(std430, binding = 4) writeonly buffer O { float o[]; };        // [B, S, Hq, D] f32
layout(std430, binding = 5) readonly buffer IX { uint ix[]; };        // STATEFUL: the cache's index
layout(std430, binding = 6) writeonly buffer MS { float mass[]; };    // MASS: [query groups, stride]
layout(std430, binding = 7) readonly buffer PK32 { vec4 pk32[]; };    // STATEFUL: key pool f32 [slots * R1, D]
layout(std430, binding = 8) readonly buffer PV32 { vec4 pv32[]; };    // STATEFUL: value pool
layout(std430, binding = 7) readonly buffer PK16 { uvec4 pk16[]; };   // HALF: key pool f16 [slots * R1, D]
layout(std430, binding = 8) readonly buffer PV16 { uvec4 pv16[]; };   // HALF: value pool
#define SPARSE_INDEX
#define SPARSE_KEYS
#include "sparse_common.glsl"
#include "sparse_flash_group.glsl"

#define FA_KEY_TABLE
#define FA_Q_SHARED
#define FA_KEY_MASS
#include "flash_coopmat_tile.glsl"

const uint D4 = D / 4;
shared uint qrow[BQ];           // vec4 index of query row r in q (and o / 4), ~0u past the block
shared uint krow[3 * BK];       // three tiles' key rows, tile k0 at kbuf(k0)
shared float klw[3 * BK];       // their log weights, log2 units
shared uint ksel[3 * BK];       // their selection index (MASS)
shared float kmass[BK];         // MASS: the tile's per-key masses

uint grp, b, hk, lane, stride, nb, count, ob, nd, cursor, chunk_rows, past_rows;
uint pad_row;  // a real key row for the keys past nkeys of the last tile
uint cur_block;  // MASS: the block whose mass is being summed (~0u: none yet), by invocation 0
float cur_mass;

bool begin_group() {
  grp = flat_group();
  SparseGroup s;
  if (!sparse_group(grp, BQ, s)) return false;
  b = s.b, hk = s.hk, lane = s.lane, stride = s.stride, nb = s.nb, ob = s.ob, count = s.count, nd = s.nd;
  nkeys = s.keys;
  scale_log2 = p.scale * 1.4426950408889634;
  past_rows = lane * (p.T + p.Sk);  // this lane's first row in k16 / v16
  chunk_rows = past_rows + p.T;
  pad_row = STATEFUL != 0 ? ix_appended_row(p.lanes, lane, p.R1, 0, 0) : past_rows;
  cursor = 0;
  const uint tid = gl_LocalInvocationID.x;
  if (tid < BQ) qrow[tid] = sparse_query_row(s, tid, D4);
  return true;
}

uvec4 pack8(vec4 x, vec4 y) {
  return uvec4(packHalf2x16(x.xy), packHalf2x16(x.zw), packHalf2x16(y.xy), packHalf2x16(y.zw));
}

uvec4 q8(uint r, uint c) {
  const uint at = qrow[r];
  return at == ~0u ? uvec4(0) : pack8(q[at + 2 * c], q[at + 2 * c + 1]);
}

uint out_row(uint r) { return qrow[r] == ~0u ? ~0u : qrow[r] * 4; }

uint kbuf(uint k0) { return ((k0 / BK) % 3) * BK; }

// Tile k0's key rows, by invocations 0 .. BK - 1.
void key_rows(uint k0) {
  const uint tid = gl_LocalInvocationID.x;
  if (tid >= BK) return;
  const uint j = k0 + tid, at = kbuf(k0) + tid;
  uint kr = pad_row, k = 0;
  float lw = 0.0;
  if (j < nd) {
    kr = STATEFUL != 0 ? ix_chunk_key_row(p.g, p.lanes, lane, p.R1, j) : chunk_rows + j;
  } else if (j < nkeys) {
    const SparseKey key =
        sparse_selected_key(p.g, j - nd, ob, stride, count, nb, STATEFUL != 0, p.lanes, lane, p.R1, cursor);
    k = key.k;
    lw = key.lw2;
    if (key.where == SK_CHUNK) kr = chunk_rows + key.row;
    else if (key.where == SK_SLOT) kr = key.row;
    else kr = past_rows + key.row;
  }
  krow[at] = kr;
  klw[at] = lw;
  ksel[at] = k;
}

float key_bias(uint k0, uint j) { return klw[kbuf(k0) + j]; }

uvec4 key8(uint k0, uint j, uint c) {
  const uint r = krow[kbuf(k0) + j];
  if (STATEFUL != 0 && HALF != 0) return pk16[r * D8 + c];
  if (STATEFUL != 0) return pack8(pk32[r * D4 + 2 * c], pk32[r * D4 + 2 * c + 1]);
  return k16[r * D8 + c];
}

uvec4 value8(uint k0, uint j, uint c) {
  const uint r = krow[kbuf(k0) + j];
  if (STATEFUL != 0 && HALF != 0) return pv16[r * D8 + c];
  if (STATEFUL != 0) return pack8(pv32[r * D4 + 2 * c], pv32[r * D4 + 2 * c + 1]);
  return v16[r * D8 + c];
}

bool mass_sweep() {
  if (MASS == 0 || ix[IX_ACCUMULATE] == 0 || grp >= ix[IX_QUERY_GROUPS]) return false;
  mass_from = nd;
  cursor = 0;
  cur_block = ~0u;
  cur_mass = 0.0;
  return true;
}

void key_mass(uint k0, uint j, float m) { kmass[j] = m; }

// The keys of a block are consecutive: invocation 0 adds the tile's key
// masses up block by block.
void mass_tile(uint k0) {
  if (gl_LocalInvocationID.x != 0) return;
  const uint half_ = kbuf(k0);
  for (uint kk = 0; kk < BK && k0 + kk < nkeys; ++kk) {
    if (ksel[half_ + kk] != cur_block) {
      if (cur_block != ~0u) mass[grp * stride + cur_block] = cur_mass;
      cur_block = ksel[half_ + kk];
      cur_mass = 0.0;
    }
    cur_mass += kmass[kk];
  }
}

void mass_done() {
  if (gl_LocalInvocationID.x == 0 && cur_block != ~0u) mass[grp * stride + cur_block] = cur_mass;
}
