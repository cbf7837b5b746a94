#include "kernels/cpu/block_select.h"

#include <algorithm>
#include <map>
#include <numeric>

namespace vdrt::cpu {

LaneIndex LaneIndex::build(const KvLane& lane, int64_t key_dim) {
  LaneIndex li;
  li.key_dim = key_dim;
  const size_t n = lane.blocks.size();
  li.pooled.resize(n * static_cast<size_t>(key_dim));
  std::map<int64_t, std::vector<int32_t>> by_frame;
  for (size_t i = 0; i < n; ++i) {
    const KvBlock& b = lane.blocks[i];
    std::copy(b.pooled_key, b.pooled_key + key_dim, li.pooled.begin() + static_cast<int64_t>(i) * key_dim);
    (b.persistent ? li.persistent : li.window).push_back(static_cast<int32_t>(i));
    by_frame[b.frame].push_back(static_cast<int32_t>(i));
  }
  for (auto& [frame, blocks] : by_frame) {
    std::vector<double> acc(static_cast<size_t>(key_dim), 0.0);
    double tokens = 0;
    for (int32_t i : blocks) {
      const KvBlock& b = lane.blocks[i];
      for (int64_t d = 0; d < key_dim; ++d) acc[d] += static_cast<double>(b.pooled_key[d]) * b.tokens;
      tokens += b.tokens;
    }
    for (int64_t d = 0; d < key_dim; ++d) li.frame_pooled.push_back(static_cast<float>(tokens > 0 ? acc[d] / tokens : 0));
    li.frames.push_back(frame);
    li.frame_blocks.push_back(std::move(blocks));
  }
  li.cached_blocks = static_cast<int64_t>(n);
  return li;
}

void LaneIndex::append_current(const float* pooled_keys, int64_t count) {
  const int64_t first = blocks();
  pooled.insert(pooled.end(), pooled_keys, pooled_keys + count * key_dim);
  for (int64_t i = 0; i < count; ++i) current.push_back(static_cast<int32_t>(first + i));
}

void score_rows(const float* rows, int64_t count, int64_t dim, const float* q, float scale, float* out) {
  for (int64_t i = 0; i < count; ++i) {
    const float* r = rows + i * dim;
    float s = 0;
    for (int64_t d = 0; d < dim; ++d) s += r[d] * q[d];
    out[i] = scale * s;
  }
}

std::vector<int32_t> top_indices(const float* scores, const std::vector<int32_t>& candidates, int64_t n) {
  std::vector<int32_t> c = candidates;
  if (n >= static_cast<int64_t>(c.size())) {
    std::sort(c.begin(), c.end());
    return c;
  }
  if (n <= 0) return {};
  auto better = [&](int32_t a, int32_t b) { return scores[a] > scores[b] || (scores[a] == scores[b] && a < b); };
  std::nth_element(c.begin(), c.begin() + (n - 1), c.end(), better);
  c.resize(static_cast<size_t>(n));
  std::sort(c.begin(), c.end());
  return c;
}

std::vector<int32_t> select_pbsa(const SparseAttentionParams& p, const LaneIndex& lane, const float* block_scores,
                                 int64_t chunk) {
  const int64_t n = static_cast<int64_t>(lane.window.size());
  std::vector<int32_t> out = top_indices(block_scores, lane.window, p.budget(chunk, n, p.top_k));
  out.insert(out.end(), lane.persistent.begin(), lane.persistent.end());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<int32_t> select_frames(const SparseAttentionParams& p, const LaneIndex& lane, const float* pooled_q) {
  const int64_t nf = static_cast<int64_t>(lane.frames.size());
  std::vector<int32_t> all(static_cast<size_t>(nf));
  std::iota(all.begin(), all.end(), 0);
  if (p.keep_frames <= 0 || nf <= p.keep_frames) return all;  // one stage
  const int64_t sink = std::min(p.sink_frames, nf), near = std::min(p.keep_near, nf - sink);
  std::vector<float> frame_scores(static_cast<size_t>(nf));
  score_rows(lane.frame_pooled.data(), nf, lane.key_dim, pooled_q, p.scale, frame_scores.data());
  const std::vector<int32_t> middle(all.begin() + sink, all.end() - near);
  std::vector<int32_t> kept = top_indices(frame_scores.data(), middle, p.keep_frames - sink - near);
  kept.insert(kept.end(), all.begin(), all.begin() + sink);
  kept.insert(kept.end(), all.end() - near, all.end());
  std::sort(kept.begin(), kept.end());
  return kept;
}

std::vector<int32_t> select_hsa(const SparseAttentionParams& p, const LaneIndex& lane, const float* block_scores,
                                const float* pooled_q, int64_t chunk) {
  const bool compete = p.current_chunk == SparseAttentionParams::CurrentChunk::Compete;
  if (p.keep_frames > 0 || compete) {
    std::vector<int32_t> candidates;
    for (int32_t f : select_frames(p, lane, pooled_q))
      candidates.insert(candidates.end(), lane.frame_blocks[f].begin(), lane.frame_blocks[f].end());
    if (compete) candidates.insert(candidates.end(), lane.current.begin(), lane.current.end());
    int64_t budget = static_cast<int64_t>(candidates.size());
    if (p.top_blocks > 0) budget = std::min(budget, p.top_blocks);
    if (p.cag.enabled())
      budget = std::min(budget, compete ? p.cag.keep_floor(chunk, lane.blocks()) : p.cag.keep(chunk, lane.cached_blocks));
    return top_indices(block_scores, candidates, budget);
  }
  const int64_t nf = static_cast<int64_t>(lane.frames.size());
  std::vector<float> frame_scores(static_cast<size_t>(nf));
  score_rows(lane.frame_pooled.data(), nf, lane.key_dim, pooled_q, p.scale, frame_scores.data());
  std::vector<int32_t> sinks, others;
  for (int32_t f = 0; f < nf; ++f) (lane.frames[f] < p.sink_frames ? sinks : others).push_back(f);
  std::vector<int32_t> kept = top_indices(frame_scores.data(), others, p.top_frames > 0 ? p.top_frames : nf);
  kept.insert(kept.end(), sinks.begin(), sinks.end());

  std::vector<int32_t> candidates;
  for (int32_t f : kept) candidates.insert(candidates.end(), lane.frame_blocks[f].begin(), lane.frame_blocks[f].end());
  // CAG counts skipped blocks against the whole cache, not just the kept frames.
  int64_t budget = static_cast<int64_t>(candidates.size());
  if (p.top_blocks > 0) budget = std::min(budget, p.top_blocks);
  if (p.cag.enabled()) budget = std::min(budget, p.cag.keep(chunk, lane.cached_blocks));
  return top_indices(block_scores, candidates, budget);
}

}  // namespace vdrt::cpu
