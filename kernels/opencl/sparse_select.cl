// The OpenCL C port of kernels/vulkan/sparse_select.comp (read that file for
// the selection rules and the output layout): per query block, the blocks it
// visits, ascending, with their row offsets; top-k by rank count in local
// memory up to MAXC candidates, by radix select beyond; frame stage for HSA.
#ifndef SPEC0
#define SPEC0 0
#endif
#ifndef SPEC1
#define SPEC1 0
#endif
#ifndef SPEC2
#define SPEC2 2048
#endif
#ifndef SPEC3
#define SPEC3 512
#endif
#define METHOD SPEC0  // 0 PBSA, 1 HSA
#define KEEP SPEC1    // HSA: Light Forcing's frame stage (keep_frames or compete)
#define MAXC SPEC2    // candidates ranked in local memory, <= 32 * 256
#define MAXF SPEC3    // frames per lane (HSA)
#ifndef SPEC4
#define SPEC4 0
#endif
#define STATEFUL SPEC4  // 1: the blocks come from the device cache
#define NT 256

#include "sparse_common.cl"

struct sparse_select_params {
  struct sparse_geom g;
  uint nb, nc;  // cached blocks and this chunk's blocks (compete) per lane
  uint cap;     // row stride of scores; selection capacity
  uint nqb;     // query blocks
  uint budget;  // PBSA: cached blocks kept; HSA: the most blocks kept (~0u: no limit)
  uint sink_frames, top_frames, keep_frames, keep_near;
  uint F, Hq, Hkv, group, lanes;
};

// What the block helpers need of the query block's lane.
struct sel_lane {
  constant const struct sparse_select_params* p;
  global const uint* ix;
  local const uint* fkeep;
  uint lane, nb;
};

static inline uint block_rows(const struct sel_lane* w, uint i) {
  if (STATEFUL != 0 && i < w->nb) return w->ix[ix_entry(w->ix, w->p->lanes, w->lane, i) + 1];
  return sparse_rows(&w->p->g, (i - (i < w->nb ? 0 : w->nb)) % w->p->g.tiles);
}

static inline bool persistent(const struct sel_lane* w, uint i) {
  return STATEFUL != 0 && i < w->nb && (w->ix[ix_entry(w->ix, w->p->lanes, w->lane, i)] & IX_PERSISTENT) != 0;
}

// The absolute frame of the lane's frame fi (HSA keeps whole frames in order).
static inline uint frame_of(const struct sel_lane* w, uint fi) {
  return STATEFUL != 0 ? w->ix[ix_entry(w->ix, w->p->lanes, w->lane, fi * w->p->g.tiles) + 2] : fi;
}

static inline bool candidate(const struct sel_lane* w, uint i) {
  if (METHOD == 0) return i < w->nb && !persistent(w, i);
  return i >= w->nb || w->fkeep[i / w->p->g.tiles] != 0;
}

// Exclusive prefix sums over the work group of the uints A and B (plain
// variables) into scan_a, scan_b, their totals into total_a, total_b. A
// macro: PoCL mishandles barriers inside called functions.
#define SCAN2(A, B)                                                                        \
  sa[tid] = (A);                                                                           \
  sb[tid] = (B);                                                                           \
  barrier(CLK_LOCAL_MEM_FENCE);                                                            \
  for (uint off = 1; off < NT; off <<= 1) {                                                \
    const uint xa = tid >= off ? sa[tid - off] : 0, xb = tid >= off ? sb[tid - off] : 0;   \
    barrier(CLK_LOCAL_MEM_FENCE);                                                          \
    sa[tid] += xa;                                                                         \
    sb[tid] += xb;                                                                         \
    barrier(CLK_LOCAL_MEM_FENCE);                                                          \
  }                                                                                        \
  scan_a = sa[tid] - (A);                                                                  \
  scan_b = sb[tid] - (B);                                                                  \
  total_a = sa[NT - 1];                                                                    \
  total_b = sb[NT - 1];                                                                    \
  barrier(CLK_LOCAL_MEM_FENCE);


// A score as a uint that orders as the float does (-0 as +0, as the CPU's
// comparisons treat them).
static inline uint order_key(float x) {
  if (x == 0.0f) return 0x80000000u;
  const uint b = as_uint(x);
  return (b & 0x80000000u) != 0 ? ~b : b | 0x80000000u;
}

kernel __attribute__((reqd_work_group_size(NT, 1, 1))) void sparse_select(
    BUF(const float, scores), BUF(uint, sel), BUF(const uint, ix), constant const struct sparse_select_params* p) {
  AT(const float, scores);
  AT(uint, sel);
  AT(const uint, ix);
  local uint sa[NT], sb[NT];  // scans
  local uint cid[MAXC];       // candidates, ascending; bit 31: selected
  local float csc[MAXC];      // their scores
  local float fs[MAXF];       // frame scores
  local uint fkeep[MAXF];     // frames kept
  // No early return past the end: PoCL mishandles a return before barriers.
  const bool live = flat_group() < p->nqb && (STATEFUL == 0 || flat_group() < ix[IX_QUERY_BLOCKS]);
  const uint qb = live ? flat_group() : 0;
  const uint tid = get_local_id(0);
  struct sel_lane w;
  w.p = p, w.ix = ix, w.fkeep = fkeep;
  {
    const uint h = (qb / (p->g.tiles * p->F)) % p->Hq, b = qb / (p->g.tiles * p->F * p->Hq);
    w.lane = b * p->Hkv + h / p->group;
  }
  w.nb = STATEFUL != 0 ? ix_blocks(ix, w.lane) : p->nb;
  const uint stride = STATEFUL != 0 ? ix[IX_STRIDE] : p->cap;
  global const float* sc = scores + (size_t)qb * stride;
  const uint nall = w.nb + p->nc;
  uint scan_a, scan_b, total_a, total_b;  // SCAN2's results

  if (METHOD == 1) {  // the frame stage
    const uint nf = STATEFUL != 0 ? ix[IX_FRAMES] : w.nb / p->g.tiles;
    for (uint fi = tid; fi < nf; fi += NT) {
      float acc = 0.0f;
      uint tokens = 0;
      for (uint t = 0; t < p->g.tiles; ++t) {
        const uint rows = block_rows(&w, fi * p->g.tiles + t);
        acc += (float)rows * sc[fi * p->g.tiles + t];
        tokens += rows;
      }
      fs[fi] = acc / (float)tokens;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint fi = tid; fi < nf; fi += NT) {
      bool keep = true;
      if (KEEP != 0) {
        if (p->keep_frames != 0 && nf > p->keep_frames) {
          const uint sink = min(p->sink_frames, nf), near = min(p->keep_near, nf - sink);
          if (fi >= sink && fi < nf - near) {
            uint rank = 0;
            for (uint g = sink; g < nf - near; ++g) rank += fs[g] > fs[fi] || (fs[g] == fs[fi] && g < fi) ? 1 : 0;
            keep = rank < p->keep_frames - sink - near;
          }
        }
      } else if (frame_of(&w, fi) >= p->sink_frames && p->top_frames != 0) {  // sinks are kept
        uint rank = 0;
        for (uint g = 0; g < nf; ++g)
          if (frame_of(&w, g) >= p->sink_frames) rank += fs[g] > fs[fi] || (fs[g] == fs[fi] && g < fi) ? 1 : 0;
        keep = rank < p->top_frames;
      }
      fkeep[fi] = keep ? 1 : 0;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
  }

  // Candidates, ascending, into local memory as far as they fit.
  uint C = 0;
  for (uint base = 0; base < nall; base += NT) {
    const uint i = base + tid;
    const uint c = i < nall && candidate(&w, i) ? 1 : 0;
    const uint zero = 0;
    SCAN2(c, zero);
    if (c != 0 && C + scan_a < MAXC) {
      cid[C + scan_a] = i;
      csc[C + scan_a] = sc[i];
    }
    C += total_a;
  }
  const uint budget0 = STATEFUL != 0 ? ix[IX_BUDGET] : p->budget;
  const uint budget = METHOD == 0 ? budget0 : min(C, budget0);
  const bool fast = C <= MAXC;
  barrier(CLK_LOCAL_MEM_FENCE);
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
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint k = tid, n = 0; k < C; k += NT, ++n)
      if ((mine & (1u << n)) != 0) cid[k] |= 0x80000000u;
  } else if (budget < C) {
    for (int bit = 31; bit >= -1; --bit) {  // bit -1: how many are above the cut
      const uint trial = bit >= 0 ? cut | (1u << bit) : cut + 1;
      uint n = 0;
      if (bit >= 0 || cut != 0xffffffffu)
        for (uint i = tid; i < nall; i += NT)
          if (candidate(&w, i) && order_key(sc[i]) >= trial) ++n;
      const uint zero = 0;
      SCAN2(n, zero);
      if (bit >= 0) {
        if (total_a >= budget) cut = trial;
      } else {
        ties = budget - total_a;
      }
    }
  }
  barrier(CLK_LOCAL_MEM_FENCE);

  // The selected blocks, ascending, with their row offsets.
  global uint* out = sel + (size_t)qb * (2 * stride + 2);
  uint seen = 0, tied = 0, count = 0, rowsum = 0;
  for (uint base = 0; base < nall; base += NT) {
    const uint i = base + tid;
    const uint c = i < nall && candidate(&w, i) ? 1 : 0;
    const uint key = c != 0 && !fast ? order_key(sc[i]) : 0;
    const uint tie = c != 0 && !fast && key == cut ? 1 : 0;
    SCAN2(c, tie);
    const uint k = seen + scan_a, tie_before = tied + scan_b;
    seen += total_a;
    tied += total_b;
    uint flag = i < nall && persistent(&w, i) ? 1 : 0;  // PBSA's memory: always
    if (c != 0) {
      if (budget >= C) flag = 1;
      else if (fast) flag = cid[k] >> 31;
      else flag = key > cut || (key == cut && tie_before < ties) ? 1 : 0;
    }
    const uint rows = flag != 0 ? block_rows(&w, i) : 0;
    SCAN2(flag, rows);
    if (flag != 0 && live) {
      out[1 + count + scan_a] = i;
      out[1 + stride + count + scan_a] = rowsum + scan_b;
    }
    count += total_a;
    rowsum += total_b;
  }
  if (tid == 0 && live) {
    out[0] = count;
    out[1 + stride + count] = rowsum;
  }
}
