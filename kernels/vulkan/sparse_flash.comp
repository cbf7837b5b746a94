#version 450
// Block-sparse flash attention of vdrt.PBSAttention / vdrt.HSAttention
// (kernels/gpu/sparse_attention.cpp, after sparse_select): one work group of
// 256 invocations per 64 query rows of one query block (a block of more
// than 64 rows takes several). Its keys are one flat sequence: this chunk's
// keys in token order when DENSE (vdrt's default; not with HSA's
// current_chunk = compete), then the rows of the selected blocks in the
// order sparse_select wrote them, each block a cached one (past_key's frame
// blocks, read in place) or a block of this chunk (compete). One tile of 64
// keys ahead, 64 invocations find their key's block (sparse_selected_key,
// a forward scan of the selection's row offsets) and write the key's row to
// shared memory, between two barriers the tile loop has anyway; the rest is flash_attention_tiled.comp's register tiling (4 x 4 scores per
// invocation from Q/K chunks of DC head dims staged in shared memory,
// online softmax in log2 units, O += P V from V chunks of VK keys), with
// query rows gathered from the block's tokens and output rows scattered
// back to them. STATEFUL: cached blocks are slots of the device cache
// (kernels/sparse_kv_device.h: row r of slot s at row s * R1 + r of the
// pools, a compressed block's one row at R1 - 1), with their log weights,
// and this chunk's keys are read from the slots sparse_append wrote them to
// before this dispatch (in tile order), so every key comes from the pools.
// MASS (PBSA's saliency, the cache-filling pass only): once the softmax
// state is final, a second sweep over the cached keys recomputes their
// probabilities and writes the mass each selected block received, summed
// over the group's rows, to mass[query group, selection index]. The OpenCL
// twin is kernels/opencl/sparse_flash.cl.
#include "common.glsl"
layout(local_size_x = 256) in;
layout(constant_id = 0) const uint D = 128;   // query/key head dim, multiple of 4
layout(constant_id = 1) const uint DV = 128;  // value head dim, multiple of 4
layout(constant_id = 2) const uint DC = 32;   // head-dim chunk of the S loop (divides D, multiple of 4)
layout(constant_id = 3) const uint VK = 32;   // keys per staged V chunk (divides 64, multiple of 4)
layout(constant_id = 4) const uint DENSE = 1; // 1: this chunk's keys first, all of them
layout(constant_id = 5) const uint STATEFUL = 0;  // 1: cached blocks are device cache slots
layout(constant_id = 6) const uint MASS = 0;      // 1: masses of the selected blocks when accumulating
layout(constant_id = 7) const uint HALF = 0;      // 1 (STATEFUL): the pools hold packed f16
const uint BQ = 64, BK = 64, NT = 256;
const uint RS4 = (DC + 4) / 4;               // Q/K chunk row stride in vec4s (skewed)
const uint KOFF = BQ * RS4;                  // K chunk offset in A4
const uint QK4 = 2 * BQ * RS4;               // Q + K chunks, vec4s
const uint V4 = VK * DV / 4;                 // one V chunk, vec4s
const uint A4N = QK4 > V4 ? QK4 : V4;
const uint PS4 = (BK + 4) / 4;               // P row stride in vec4s (skewed)
const uint NC = (DV + 15) / 16;              // output columns per invocation and row
const bool VEC = (DV % 64) == 0;
const uint D4 = D / 4, DV4 = DV / 4;
const uint NQK = (BQ * (DC / 4) + NT - 1) / NT;  // Q (and K) chunk vec4s per invocation
const uint NVL = (V4 + NT - 1) / NT;              // V chunk vec4s per invocation
const uint PAST = 0x80000000u;                    // key row bit: past_key/past_value, else key/value

layout(std430, binding = 0) readonly buffer Q { vec4 q[]; };
layout(std430, binding = 1) readonly buffer K { vec4 k[]; };
layout(std430, binding = 2) readonly buffer V { vec4 v[]; };
layout(std430, binding = 3) readonly buffer PK { vec4 pk[]; };
layout(std430, binding = 4) readonly buffer PV { vec4 pv[]; };
layout(std430, binding = 3) readonly buffer PKH { uvec2 pkh[]; };  // HALF: 4 halves per vec4 of pk
layout(std430, binding = 4) readonly buffer PVH { uvec2 pvh[]; };
layout(std430, binding = 5) readonly buffer Sel { uint sel[]; };
layout(std430, binding = 6) writeonly buffer O { vec4 o[]; };
layout(std430, binding = 7) readonly buffer IX { uint ix[]; };     // STATEFUL: the cache's index
layout(std430, binding = 8) writeonly buffer MS { float mass[]; };  // MASS: [query groups, stride]
#define SPARSE_INDEX
#define SPARSE_KEYS
#include "sparse_common.glsl"
#include "sparse_flash_group.glsl"

shared vec4 A4[A4N];        // Q and K chunks, or a V chunk
shared vec4 P4[BQ * PS4];   // probabilities of the current tile
shared float red[BQ * 16];  // per-row partial maxima / sums
shared uint qrow[BQ];       // query rows (vec4 index of the row), ~0u past the block
shared uint krow[2 * BK];   // key rows of two tiles ([rows, D] index, PAST bit), tile k0 in half (k0 / BK) & 1
shared float klw[2 * BK];   // their log weights, log2 units
shared uint ksel[2 * BK];   // their selection index (MASS)
shared float kmass[BK];     // MASS: the tile's per-key masses

vec4 rq[NQK], rk[NQK], rv[NVL];
// The tile's scores, s[i * 4 + j]: row ty + 16 i, key tx + 16 j. Module
// scope like rq/rk: an array passed to a function ends up in local memory.
float s[16];
uint tid, nkeys, nd, nb, count, ob, stride, lane, b, hk;
uint cursor;  // fill_keys: a selection index at or before this invocation's next key's block
uint kh;      // the half of krow / klw / ksel holding the current tile's rows

vec4 unpack4(uvec2 w) { return vec4(unpackHalf2x16(w.x), unpackHalf2x16(w.y)); }
vec4 pool_key4(uint i) { return HALF != 0 ? unpack4(pkh[i]) : pk[i]; }
vec4 pool_value4(uint i) { return HALF != 0 ? unpack4(pvh[i]) : pv[i]; }

void load_qk(uint d0) {
  [[unroll]] for (uint n = 0; n < NQK; ++n) {
    const uint e = tid + n * NT;
    const uint r = e / (DC / 4), c = e - r * (DC / 4);
    const uint dq = d0 / 4 + c;
    vec4 x = vec4(0.0), y = vec4(0.0);
    if (e < BQ * (DC / 4)) {
      if (qrow[r] != ~0u) x = q[qrow[r] + dq];
      const uint kr = krow[kh + r];  // past the end: the last key's row (fill_keys)
      y = STATEFUL != 0 || (kr & PAST) != 0 ? pool_key4((kr & ~PAST) * D4 + dq) : k[kr * D4 + dq];
    }
    rq[n] = x;
    rk[n] = y;
  }
}

void store_qk() {
  [[unroll]] for (uint n = 0; n < NQK; ++n) {
    const uint e = tid + n * NT;
    const uint r = e / (DC / 4), c = e - r * (DC / 4);
    if (e < BQ * (DC / 4)) {
      A4[r * RS4 + c] = rq[n];
      A4[KOFF + r * RS4 + c] = rk[n];
    }
  }
}

// Values of tile keys v0 .. v0 + VK - 1 into rv.
void load_v(uint v0) {
  [[unroll]] for (uint n = 0; n < NVL; ++n) {
    const uint e = tid + n * NT;
    const uint r = e / DV4, c = e - r * DV4;
    vec4 x = vec4(0.0);
    if (e < V4) {
      const uint kr = krow[kh + v0 + r];
      x = STATEFUL != 0 || (kr & PAST) != 0 ? pool_value4((kr & ~PAST) * DV4 + c) : v[kr * DV4 + c];
    }
    rv[n] = x;
  }
}

void store_v() {
  [[unroll]] for (uint n = 0; n < NVL; ++n) {
    const uint e = tid + n * NT;
    if (e < V4) A4[e] = rv[n];
  }
}

// The rows of tile keys k0 .. k0 + 63 into half (k0 / BK) & 1 of krow / klw
// / ksel: this chunk's keys in order, then the selected blocks' rows. Keys
// past the end take the last key's row, so the loads need no bounds test
// (docs/gpu_kernels.md); the softmax and MASS drop them by index.
void fill_keys(uint k0) {
  if (tid >= BK) return;
  const uint j = min(k0 + tid, nkeys - 1), at = ((k0 / BK) & 1) * BK + tid;
  uint kr = 0, k = 0;
  float lw = 0.0;
  if (j < nd) {
    kr = STATEFUL != 0 ? ix_chunk_key_row(p.g, p.lanes, lane, p.R1, j) | PAST : (b * p.Sk + j) * p.Hkv + hk;
  } else if (j < nkeys) {
    const SparseKey key =
        sparse_selected_key(p.g, j - nd, ob, stride, count, nb, STATEFUL != 0, p.lanes, lane, p.R1, cursor);
    k = key.k;
    lw = key.lw2;
    if (key.where == SK_CHUNK) kr = (b * p.Sk + key.row) * p.Hkv + hk;
    else if (key.where == SK_SLOT) kr = key.row | PAST;
    else kr = ((b * p.T + key.row) * p.Hkv + hk) | PAST;
  }
  krow[at] = kr;
  klw[at] = lw;
  ksel[at] = k;
}

// s = Q K^T of the tile at k0 (its rows filled and visible), over the head
// dim in chunks of DC. As in flash_attention_tiled, a chunk's global loads
// are issued before the barrier, so they overlap other warps' math. With
// `ahead`, the next tile's rows are found between the first two barriers,
// into the half of krow the previous tile used (its last reads, the V
// chunk loads, came before the first), so the tile loop needs no barriers
// of its own for them.
void tile_scores(uint k0, bool ahead) {
  const uint tx = tid % 16, ty = tid / 16;
  [[unroll]] for (uint x = 0; x < 16; ++x) s[x] = 0.0;
  for (uint d0 = 0; d0 < D; d0 += DC) {
    load_qk(d0);
    barrier();  // previous chunk (or the previous tile's V chunk) consumed
    store_qk();
    if (ahead && d0 == 0 && k0 + BK < nkeys) fill_keys(k0 + BK);
    barrier();
    [[unroll]] for (uint dd = 0; dd < DC / 4; ++dd) {
      vec4 qv[4], kv[4];
      [[unroll]] for (uint i = 0; i < 4; ++i) qv[i] = A4[(ty + 16 * i) * RS4 + dd];
      [[unroll]] for (uint j = 0; j < 4; ++j) kv[j] = A4[KOFF + (tx + 16 * j) * RS4 + dd];
      [[unroll]] for (uint i = 0; i < 4; ++i) {
        [[unroll]] for (uint j = 0; j < 4; ++j) {
          float x = s[i * 4 + j];
          x = fma(qv[i].x, kv[j].x, x);
          x = fma(qv[i].y, kv[j].y, x);
          x = fma(qv[i].z, kv[j].z, x);
          x = fma(qv[i].w, kv[j].w, x);
          s[i * 4 + j] = x;
        }
      }
    }
  }
}

void main() {
  const uint grp = flat_group();
  SparseGroup sg;
  if (!sparse_group(grp, BQ, sg)) return;
  b = sg.b, hk = sg.hk, lane = sg.lane, stride = sg.stride, nb = sg.nb, ob = sg.ob, count = sg.count, nd = sg.nd;
  nkeys = sg.keys;
  tid = gl_LocalInvocationID.x;
  const uint tx = tid % 16, ty = tid / 16;
  const float sl2 = p.scale * 1.4426950408889634;  // scores in log2 units
  if (tid < BQ) qrow[tid] = sparse_query_row(sg, tid, D4);

  cursor = 0;
  fill_keys(0);
  barrier();  // the first tile's rows written
  float acc[4 * NC];  // acc[i * NC + c]: row ty + 16 i, column col(c)
  [[unroll]] for (uint x = 0; x < 4 * NC; ++x) acc[x] = 0.0;
  float m[4], l[4];
  [[unroll]] for (uint i = 0; i < 4; ++i) {
    m[i] = -1.0 / 0.0;
    l[i] = 0.0;
  }

  for (uint k0 = 0; k0 < nkeys; k0 += BK) {
    kh = ((k0 / BK) & 1) * BK;
    tile_scores(k0, true);

    // Online softmax: scaled scores, keys past the end masked, row maxima.
    [[unroll]] for (uint i = 0; i < 4; ++i) {
      float mt = -1.0 / 0.0;
      [[unroll]] for (uint j = 0; j < 4; ++j) {
        const uint kk = tx + 16 * j;
        const float x = k0 + kk < nkeys ? s[i * 4 + j] * sl2 + klw[kh + kk] : -1.0 / 0.0;
        s[i * 4 + j] = x;
        mt = max(mt, x);
      }
      red[(ty + 16 * i) * 16 + tx] = mt;
    }
    barrier();  // partial maxima written; Q/K chunks consumed
    [[unroll]] for (uint i = 0; i < 4; ++i) {
      const uint row = ty + 16 * i;
      float mt = m[i];
      [[unroll]] for (uint u = 0; u < 16; ++u) mt = max(mt, red[row * 16 + u]);
      // The tile's first key exists, so mt is finite.
      const float alpha = exp2(m[i] - mt);
      m[i] = mt;
      float ls = 0.0;
      [[unroll]] for (uint j = 0; j < 4; ++j) {
        const float pj = exp2(s[i * 4 + j] - mt);
        ls += pj;
        const uint kk = tx + 16 * j;
        P4[row * PS4 + kk / 4][kk % 4] = pj;
      }
      l[i] = l[i] * alpha + ls;
      [[unroll]] for (uint c = 0; c < NC; ++c) acc[i * NC + c] *= alpha;
    }

    // O += P V, V staged VK keys at a time in the Q/K chunk area.
    for (uint v0 = 0; v0 < BK; v0 += VK) {
      load_v(v0);
      // The first V chunk overwrites the Q/K chunks, last read before the
      // softmax's barrier; P is visible after the next one.
      if (v0 > 0) barrier();  // previous V chunk consumed
      store_v();
      barrier();
      for (uint kk = 0; kk < VK; kk += 4) {
        vec4 pr[4];
        [[unroll]] for (uint i = 0; i < 4; ++i) pr[i] = P4[(ty + 16 * i) * PS4 + (v0 + kk) / 4];
        [[unroll]] for (uint u = 0; u < 4; ++u) {
          if (VEC) {
            [[unroll]] for (uint w = 0; w < NC / 4; ++w) {
              const vec4 x = A4[(kk + u) * DV4 + tx + 16 * w];
              [[unroll]] for (uint i = 0; i < 4; ++i) {
                const float pi = pr[i][u];
                acc[i * NC + 4 * w + 0] = fma(pi, x.x, acc[i * NC + 4 * w + 0]);
                acc[i * NC + 4 * w + 1] = fma(pi, x.y, acc[i * NC + 4 * w + 1]);
                acc[i * NC + 4 * w + 2] = fma(pi, x.z, acc[i * NC + 4 * w + 2]);
                acc[i * NC + 4 * w + 3] = fma(pi, x.w, acc[i * NC + 4 * w + 3]);
              }
            }
          } else {
            [[unroll]] for (uint c = 0; c < NC; ++c) {
              const uint col = tx + 16 * c;
              const float x = col < DV ? A4[(kk + u) * DV4 + col / 4][col % 4] : 0.0;
              [[unroll]] for (uint i = 0; i < 4; ++i) acc[i * NC + c] = fma(pr[i][u], x, acc[i * NC + c]);
            }
          }
        }
      }
    }
  }

  // Row sums: reduce the 16 partial sums of each row.
  barrier();
  [[unroll]] for (uint i = 0; i < 4; ++i) red[(ty + 16 * i) * 16 + tx] = l[i];
  barrier();
  float linv[4];
  [[unroll]] for (uint i = 0; i < 4; ++i) {
    float ls = 0.0;
    [[unroll]] for (uint u = 0; u < 16; ++u) ls += red[(ty + 16 * i) * 16 + u];
    linv[i] = ls > 0.0 ? 1.0 / ls : 0.0;
  }

  if (MASS != 0 && ix[IX_ACCUMULATE] != 0 && grp < ix[IX_QUERY_GROUPS]) {
    // Each selected block's mass: the final softmax of its keys, summed
    // over the group's rows. The keys of a block are consecutive, so one
    // invocation adds the tile's key masses up block by block.
    const uint mbase = grp * stride;
    uint cur = ~0u;
    float acc_mass = 0.0;
    cursor = 0;
    for (uint k0 = nd; k0 < nkeys; k0 += BK) {
      kh = ((k0 / BK) & 1) * BK;
      barrier();  // the previous tile's rows and masses consumed
      fill_keys(k0);
      barrier();  // the tile's rows written
      tile_scores(k0, false);
      [[unroll]] for (uint j = 0; j < 4; ++j) {
        const uint kk = tx + 16 * j;
        float cm = 0.0;
        [[unroll]] for (uint i = 0; i < 4; ++i)
          if (qrow[ty + 16 * i] != ~0u && k0 + kk < nkeys) cm += exp2(s[i * 4 + j] * sl2 + klw[kh + kk] - m[i]) * linv[i];
        red[kk * 16 + ty] = cm;
      }
      barrier();
      if (tid < BK) {
        float cm = 0.0;
        [[unroll]] for (uint u = 0; u < 16; ++u) cm += red[tid * 16 + u];
        kmass[tid] = cm;
      }
      barrier();
      if (tid == 0)
        for (uint kk = 0; kk < BK && k0 + kk < nkeys; ++kk) {
          if (ksel[kh + kk] != cur) {
            if (cur != ~0u) mass[mbase + cur] = acc_mass;
            cur = ksel[kh + kk];
            acc_mass = 0.0;
          }
          acc_mass += kmass[kk];
        }
    }
    if (tid == 0 && cur != ~0u) mass[mbase + cur] = acc_mass;
  }

  // No `continue` in this loop (docs/gpu_kernels.md): with one, the H200's
  // driver left it rolled and put acc[] and linv[], the arrays it indexes by
  // i, in local memory (144 bytes an invocation), and every FMA of O += P V
  // with them: the kernel ran 5.2x slower.
  [[unroll]] for (uint i = 0; i < 4; ++i) {
    const uint row = ty + 16 * i;
    if (qrow[row] != ~0u) {
      const float inv = linv[i];
      const uint ob4 = sparse_query_row(sg, row, DV4);
      if (VEC) {
        [[unroll]] for (uint w = 0; w < NC / 4; ++w)
          o[ob4 + tx + 16 * w] = vec4(acc[i * NC + 4 * w + 0], acc[i * NC + 4 * w + 1], acc[i * NC + 4 * w + 2],
                                      acc[i * NC + 4 * w + 3]) * inv;
      } else {
        [[unroll]] for (uint c = 0; c < NC; ++c) {
          const uint col = tx + 16 * c;
          if (col < DV) o[ob4 + col / 4][col % 4] = acc[i * NC + c] * inv;
        }
      }
    }
  }
}
