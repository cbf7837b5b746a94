#version 450
// Block selection of vdrt.PBSAttention / vdrt.HSAttention
// (kernels/gpu/sparse_attention.cpp, after sparse_score): one work group per
// query block applies the method's rule to its block scores, on the device,
// and writes the blocks it visits, ascending, with the prefix sums of their
// rows (the key positions sparse_flash gathers them at):
//   sel[qb * (2 cap + 2) + 0]            count
//   sel[qb * (2 cap + 2) + 1 + k]        k-th selected block, ascending
//   sel[qb * (2 cap + 2) + 1 + cap + k]  rows of the blocks before it (count + 1 entries)
// PBSA: the top `budget` cached blocks (every one is a window block in the
// stateless path). HSA: the frame stage (KEEP = 0: sink frames + the top
// `top_frames` by frame score; KEEP = 1, Light Forcing: one stage up to
// `keep_frames` frames, else sinks + the last `keep_near` + the best middle
// frames), then the top min(candidates, budget) blocks of the kept frames
// and, with current_chunk = compete, of this chunk. Top-k is
// kernels/cpu/block_select.cpp's top_indices: rank = how many candidates
// score higher (ties: the lower index), kept when rank < k. A frame's score
// is the token-weighted mean of its blocks' scores (scale * mean(q) . the
// frame's mean key). Up to MAXC candidates are ranked in shared memory
// (MAXC^2 / 256 steps per invocation); more by a radix select: the
// budget-th best score found bit by bit (32 counting passes), then ties at
// it kept by index. STATEFUL: the lane's blocks, their rows, frames and
// persistence, the budget and the row stride come from the device cache's
// index (kernels/sparse_kv_device.h); PBSA's persistent blocks are always
// kept. The OpenCL twin is kernels/opencl/sparse_select.cl.
#include "common.glsl"
layout(local_size_x = 256) in;
layout(constant_id = 0) const uint METHOD = 0;  // 0 PBSA, 1 HSA
layout(constant_id = 1) const uint KEEP = 0;    // HSA: Light Forcing's frame stage (keep_frames or compete)
layout(constant_id = 2) const uint MAXC = 2048; // candidates ranked in shared memory, <= 32 * 256
layout(constant_id = 3) const uint MAXF = 512;  // frames per lane (HSA)
layout(constant_id = 4) const uint STATEFUL = 0;  // 1: the blocks come from the device cache
const uint NT = 256;
layout(std430, binding = 0) readonly buffer Sc { float scores[]; };  // [query blocks, stride]
layout(std430, binding = 1) writeonly buffer Sel { uint sel[]; };    // [query blocks, 2 stride + 2]
layout(std430, binding = 2) readonly buffer IX { uint ix[]; };      // STATEFUL: the cache's index
#define SPARSE_INDEX
#include "sparse_common.glsl"
layout(push_constant) uniform Pc {
  SparseGeom g;
  uint nb, nc;      // cached blocks (stateless) and this chunk's blocks (compete) per lane
  uint cap;         // row stride of scores; selection capacity (stateless)
  uint nqb;         // query blocks
  uint budget;      // PBSA: cached blocks kept; HSA: the most blocks kept (~0u: no limit); stateless
  uint sink_frames, top_frames, keep_frames, keep_near;
  uint F, Hq, Hkv, group, lanes;
} p;

shared uint sa[NT], sb[NT];  // scans
shared uint cid[MAXC];       // candidates, ascending; bit 31: selected
shared float csc[MAXC];      // their scores
shared float fs[MAXF];       // frame scores
shared uint fkeep[MAXF];     // frames kept

uint tid, sbase, lane, nb;

// Exclusive prefix sums of a and b over the work group; their totals in ta, tb.
void scan2(inout uint a, inout uint b, out uint ta, out uint tb) {
  sa[tid] = a;
  sb[tid] = b;
  barrier();
  for (uint off = 1; off < NT; off <<= 1) {
    const uint xa = tid >= off ? sa[tid - off] : 0, xb = tid >= off ? sb[tid - off] : 0;
    barrier();
    sa[tid] += xa;
    sb[tid] += xb;
    barrier();
  }
  ta = sa[NT - 1];
  tb = sb[NT - 1];
  a = sa[tid] - a;
  b = sb[tid] - b;
  barrier();
}

uint block_rows(uint i) {
  if (STATEFUL != 0 && i < nb) return ix[ix_entry(p.lanes, lane, i) + 1];
  return sparse_rows(p.g, (i - (i < nb ? 0 : nb)) % p.g.tiles);
}

bool persistent(uint i) { return STATEFUL != 0 && i < nb && (ix[ix_entry(p.lanes, lane, i)] & IX_PERSISTENT) != 0; }

// The absolute frame of the lane's frame fi (HSA keeps whole frames in order).
uint frame_of(uint fi) { return STATEFUL != 0 ? ix[ix_entry(p.lanes, lane, fi * p.g.tiles) + 2] : fi; }

bool candidate(uint i) {
  if (METHOD == 0) return i < nb && !persistent(i);
  return i >= nb || fkeep[i / p.g.tiles] != 0;
}

// A score as a uint that orders as the float does (-0 as +0, as the CPU's
// comparisons treat them).
uint order_key(float x) {
  if (x == 0.0) return 0x80000000u;
  const uint b = floatBitsToUint(x);
  return (b & 0x80000000u) != 0 ? ~b : b | 0x80000000u;
}

// How many candidates have an order key >= k (every invocation gets it).
uint count_at_least(uint k, uint nall) {
  uint n = 0;
  for (uint i = tid; i < nall; i += NT)
    if (candidate(i) && order_key(scores[sbase + i]) >= k) ++n;
  uint z = 0, total, tz;
  scan2(n, z, total, tz);
  return total;
}

void main() {
  const uint qb = flat_group();
  if (qb >= p.nqb || (STATEFUL != 0 && qb >= ix[IX_QUERY_BLOCKS])) return;
  tid = gl_LocalInvocationID.x;
  {
    const uint t = qb % p.g.tiles, h = (qb / (p.g.tiles * p.F)) % p.Hq, b = qb / (p.g.tiles * p.F * p.Hq);
    lane = b * p.Hkv + h / p.group;
  }
  nb = STATEFUL != 0 ? ix_blocks(lane) : p.nb;
  const uint stride = STATEFUL != 0 ? ix[IX_STRIDE] : p.cap;
  sbase = qb * stride;
  const uint nall = nb + p.nc;

  if (METHOD == 1) {  // the frame stage
    const uint nf = STATEFUL != 0 ? ix[IX_FRAMES] : nb / p.g.tiles;
    for (uint fi = tid; fi < nf; fi += NT) {
      float acc = 0.0;
      uint tokens = 0;
      for (uint t = 0; t < p.g.tiles; ++t) {
        const uint rows = block_rows(fi * p.g.tiles + t);
        acc += float(rows) * scores[sbase + fi * p.g.tiles + t];
        tokens += rows;
      }
      fs[fi] = acc / float(tokens);
    }
    barrier();
    for (uint fi = tid; fi < nf; fi += NT) {
      bool keep = true;
      if (KEEP != 0) {
        if (p.keep_frames != 0 && nf > p.keep_frames) {
          const uint sink = min(p.sink_frames, nf), near = min(p.keep_near, nf - sink);
          if (fi >= sink && fi < nf - near) {
            uint rank = 0;
            for (uint g = sink; g < nf - near; ++g) rank += fs[g] > fs[fi] || (fs[g] == fs[fi] && g < fi) ? 1 : 0;
            keep = rank < p.keep_frames - sink - near;
          }
        }
      } else if (frame_of(fi) >= p.sink_frames && p.top_frames != 0) {  // sinks are kept
        uint rank = 0;
        for (uint g = 0; g < nf; ++g)
          if (frame_of(g) >= p.sink_frames) rank += fs[g] > fs[fi] || (fs[g] == fs[fi] && g < fi) ? 1 : 0;
        keep = rank < p.top_frames;
      }
      fkeep[fi] = keep ? 1 : 0;
    }
    barrier();
  }

  // Candidates, ascending, into shared memory as far as they fit.
  uint C = 0;
  for (uint base = 0; base < nall; base += NT) {
    const uint i = base + tid;
    const uint c = i < nall && candidate(i) ? 1 : 0;
    uint ex = c, z = 0, tc, tz;
    scan2(ex, z, tc, tz);
    if (c != 0 && C + ex < MAXC) {
      cid[C + ex] = i;
      csc[C + ex] = scores[sbase + i];
    }
    C += tc;
  }
  const uint budget0 = STATEFUL != 0 ? ix[IX_BUDGET] : p.budget;
  const uint budget = METHOD == 0 ? budget0 : min(C, budget0);
  const bool fast = C <= MAXC;
  barrier();
  // Above MAXC candidates: the order key of the budget-th best (cut), bit
  // by bit from the top; those above it are kept, and of those equal to it
  // the lowest indices (ties) until the budget is full.
  uint cut = 0, ties = 0;
  if (fast && budget < C) {
    uint mine = 0;  // bit n: candidate tid + n * NT is kept
    for (uint k = tid, n = 0; k < C; k += NT, ++n) {
      const float s = csc[k];
      uint rank = 0;
      for (uint j = 0; j < C; ++j) {
        const float x = csc[j];
        rank += x > s || (x == s && j < k) ? 1 : 0;
      }
      if (rank < budget) mine |= 1u << n;
    }
    barrier();
    for (uint k = tid, n = 0; k < C; k += NT, ++n)
      if ((mine & (1u << n)) != 0) cid[k] |= 0x80000000u;
  } else if (budget < C) {
    for (int bit = 31; bit >= 0; --bit) {
      const uint trial = cut | (1u << uint(bit));
      if (count_at_least(trial, nall) >= budget) cut = trial;
    }
    ties = budget - (cut == 0xffffffffu ? 0 : count_at_least(cut + 1, nall));
  }
  barrier();

  // The selected blocks, ascending, with their row offsets.
  const uint obase = qb * (2 * stride + 2);
  uint seen = 0, tied = 0, count = 0, rowsum = 0;
  for (uint base = 0; base < nall; base += NT) {
    const uint i = base + tid;
    const uint c = i < nall && candidate(i) ? 1 : 0;
    const uint key = c != 0 && !fast ? order_key(scores[sbase + i]) : 0;
    uint k = c, tie = c != 0 && !fast && key == cut ? 1 : 0, tc, tt;
    scan2(k, tie, tc, tt);
    uint flag = i < nall && persistent(i) ? 1 : 0;  // PBSA's memory: always
    if (c != 0) {
      if (budget >= C) flag = 1;
      else if (fast) flag = cid[seen + k] >> 31;
      else flag = key > cut || (key == cut && tied + tie < ties) ? 1 : 0;
    }
    uint at = flag, rows = flag != 0 ? block_rows(i) : 0, tf, tr;
    scan2(at, rows, tf, tr);
    if (flag != 0) {
      sel[obase + 1 + count + at] = i;
      sel[obase + 1 + stride + count + at] = rowsum + rows;
    }
    seen += tc;
    tied += tt;
    count += tf;
    rowsum += tr;
  }
  if (tid == 0) {
    sel[obase] = count;
    sel[obase + 1 + stride + count] = rowsum;
  }
}
