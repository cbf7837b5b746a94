#pragma once
// What the flash attention tasks of attention_core.cpp share, whichever way
// they multiply: the keys each query may see, the adjustments of one row of
// scores (softcap, biases, masks), the online-softmax step of one row, and
// the walk over the key blocks of the segments.
#include <algorithm>
#include <cstdint>
#include <limits>

#include "kernels/cpu/attention_core.h"

namespace vdrt::cpu::attention_rows {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// The keys query i may see through the structural masks: [lo, hi).
struct KeyRange {
  int64_t lo, hi;
};
KeyRange visible_keys(const AttentionParams& p, int64_t b, int64_t i, int64_t kv_len);

// Keys [0, before) and [from, kv_len) are hidden from every query of
// [i0, i1) and add nothing (masked to -inf), so whole blocks there are
// skipped; otherwise before = 0 and from = kv_len.
KeyRange keys_to_visit(const AttentionParams& p, int64_t b, int64_t i0, int64_t i1, int64_t kv_len);

// Applies softcap, biases and masks to scores s[0..n) of query i for keys
// [j0, j0 + n).
void adjust_scores(const AttentionParams& p, int64_t b, int64_t h, int64_t i, int64_t j0, int64_t n, float* s,
                   int64_t kv_len);

// One online-softmax step of a query row: the n scores s become
// exp(s - m') with m' = max(m, max s), the running max m and normaliser l
// move to m', and the row's accumulated output o[0..dv) is rescaled to m'.
// A row with nothing visible yet (m' = -inf) gets zeros and keeps its state.
void softmax_step(float* s, int64_t n, float& m, float& l, float* o, int64_t dv);

// Calls fn(j0, block) for each block of at most `size` keys, in key order;
// blocks never straddle two segments.
struct KeyBlock {
  const AttentionKV* seg;
  int64_t local, len;  // the block's first key within the segment, and its size
};
template <typename Fn>
void for_each_key_block(const AttentionParams& p, int64_t size, Fn&& fn) {
  int64_t base = 0;
  for (const AttentionKV& seg : p.kv) {
    for (int64_t j = 0; j < seg.len; j += size) fn(base + j, KeyBlock{&seg, j, std::min(size, seg.len - j)});
    base += seg.len;
  }
}

// The block for_each_key_block visits after `blk`; seg == nullptr after the last.
inline KeyBlock key_block_after(const AttentionParams& p, const KeyBlock& blk, int64_t size) {
  if (blk.local + blk.len < blk.seg->len)
    return {blk.seg, blk.local + blk.len, std::min(size, blk.seg->len - blk.local - blk.len)};
  for (const AttentionKV* seg = blk.seg + 1; seg < p.kv.data() + p.kv.size(); ++seg)
    if (seg->len > 0) return {seg, 0, std::min(size, seg->len)};
  return {nullptr, 0, 0};
}

}  // namespace vdrt::cpu::attention_rows
