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

  static LaneIndex build(const KvLane& lane, int64_t key_dim);
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
std::vector<int32_t> select_hsa(const SparseAttentionParams& p, const LaneIndex& lane, const float* block_scores,
                                const float* pooled_q, int64_t chunk);

}  // namespace vdrt::cpu
