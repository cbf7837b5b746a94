#pragma once
// The end-of-chunk decisions of a block KV cache, shared by the host cache
// (BlockKvCache, which holds the keys) and the device cache
// (DeviceBlockKvCache, which holds slot numbers): which frames leave the
// window, and which blocks PBSA's persistent memory keeps and in what order.
// One copy, so that the two caches cannot drift apart (their rollouts are
// compared chunk for chunk).
#include <algorithm>
#include <cstdint>
#include <vector>

#include "graph/ops/sparse_attention_params.h"
#include "runtime/kv_cache.h"

namespace vdrt::admission {

// Frames the window keeps when it holds `held`: PBSA its window, a
// window:N policy N, otherwise all of them.
inline int64_t window_limit(const SparseAttentionParams& p, const CachePolicy& policy, int64_t held) {
  if (p.method == SparseMethod::Pbsa) return p.window_frames;
  if (policy.kind == CachePolicy::Kind::Window) return policy.window_frames;
  return held;
}

// window:N,sink:S over frames: the first S frames and the newest N-S stay;
// blocks [keep_front, keep_front + drop) of the window leave.
struct FrameEviction {
  size_t keep_front = 0, drop = 0;
};
inline FrameEviction frame_eviction(const CachePolicy& policy, int64_t held, int64_t limit, int64_t tiles) {
  return {static_cast<size_t>(std::min(policy.sink_frames, held) * tiles), static_cast<size_t>((held - limit) * tiles)};
}

// PBSA's memory from its candidates (the old memory and the blocks leaving
// the window): sinks first, then by saliency, ties to the newer frame (it
// has had less time to collect mass); the first `memory_blocks` stay and
// `evicted` sees each one that does not. `at(x)` gives a candidate's block.
template <class T, class At, class Evicted>
void keep_memory(std::vector<T>& pool, const SparseAttentionParams& p, At at, Evicted evicted) {
  std::stable_sort(pool.begin(), pool.end(), [&](const T& x, const T& y) {
    const auto &a = at(x), &b = at(y);
    const bool sa = a.frame < p.sink_frames, sb = b.frame < p.sink_frames;
    if (sa != sb) return sa;
    if (a.saliency != b.saliency) return a.saliency > b.saliency;
    return a.frame > b.frame;
  });
  if (pool.size() > static_cast<size_t>(p.memory_blocks)) {
    for (size_t i = static_cast<size_t>(p.memory_blocks); i < pool.size(); ++i) evicted(pool[i]);
    pool.resize(static_cast<size_t>(p.memory_blocks));
  }
}

// The kept memory in frame order, then tile, so that views are stable.
template <class T, class At>
void frame_order(std::vector<T>& pool, At at) {
  std::stable_sort(pool.begin(), pool.end(), [&](const T& x, const T& y) {
    const auto &a = at(x), &b = at(y);
    return a.frame != b.frame ? a.frame < b.frame : a.tile < b.tile;
  });
}

}  // namespace vdrt::admission
