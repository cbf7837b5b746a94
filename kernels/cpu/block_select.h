#pragma once
// Which cached blocks a query block visits: block scores from mean-pooled
// queries and keys (score = scale * mean(q) . mean(k), per head), top-k
// selection, and the two methods' rules (docs/vdrt_ops.md):
//   PBSA: the top-k window blocks by score, plus every persistent block;
//   HSA:  the top-F frames by pooled q . pooled frame key (sink frames
//         always), then the top-B blocks inside them.
// Budgets shrink with the CAG schedule. All of it costs O(blocks * head_dim)
// per query block, nothing per token.
#include <cstdint>
#include <vector>

#include "graph/ops/sparse_attention_params.h"
#include "kernels/sparse_kv_state.h"

namespace vdrt::cpu {

// What selection needs of one lane, gathered once per kernel run.
struct LaneIndex {
  int64_t key_dim = 0;
  std::vector<float> pooled;            // [blocks, key_dim]
  std::vector<int32_t> window;          // indices of local-window blocks
  std::vector<int32_t> persistent;      // indices of persistent-memory blocks
  std::vector<int64_t> frames;          // distinct frames of the lane's blocks, ascending
  std::vector<float> frame_pooled;      // [frames, key_dim]: token-weighted mean key
  std::vector<std::vector<int32_t>> frame_blocks;
  // current_chunk = compete: this chunk's blocks, appended after the lane's
  // (indices cached_blocks .. blocks()-1); they are not in `frames`.
  std::vector<int32_t> current;
  int64_t cached_blocks = 0;

  static LaneIndex build(const KvLane& lane, int64_t key_dim);
  // Appends `count` blocks of this chunk with their mean keys ([count, key_dim]).
  void append_current(const float* pooled_keys, int64_t count);
  int64_t blocks() const { return key_dim ? static_cast<int64_t>(pooled.size()) / key_dim : 0; }
};

// out[i] = scale * q . rows[i] for `count` rows of `dim`.
void score_rows(const float* rows, int64_t count, int64_t dim, const float* q, float scale, float* out);

// The `n` best candidates by score (ties: the lower index), returned in
// ascending index order.
std::vector<int32_t> top_indices(const float* scores, const std::vector<int32_t>& candidates, int64_t n);

// Block indices (ascending) one query block visits. `block_scores` holds
// the score of every block of the lane; `pooled_q` the block's mean query.
std::vector<int32_t> select_pbsa(const SparseAttentionParams& p, const LaneIndex& lane, const float* block_scores,
                                 int64_t chunk);
//
// HSA with keep_frames (Light Forcing's frame stage) and/or current_chunk =
// compete: the frame stage keeps sinks + nearest + the best middle frames
// (one stage while the cache holds <= keep_frames frames); with compete,
// this chunk's blocks (lane.current) join the candidates and the budget is
// int((1 - s) * K_all), K_all = every block of the lane (cached + current).
std::vector<int32_t> select_hsa(const SparseAttentionParams& p, const LaneIndex& lane, const float* block_scores,
                                const float* pooled_q, int64_t chunk);
// The frames (indices into lane.frames, ascending) the frame stage keeps.
std::vector<int32_t> select_frames(const SparseAttentionParams& p, const LaneIndex& lane, const float* pooled_q);

}  // namespace vdrt::cpu
