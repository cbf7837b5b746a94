#pragma once
// The KV cache of one layer as the sparse attention ops read it: per lane
// (batch, KV head), the cached frames cut into spatial blocks
// (BlockLayout tiles), each block's keys and values contiguous with its
// mean key. The rollout owns it and binds it to the layer's
// vdrt.PBSAttention / vdrt.HSAttention node (kernels/sparse_kv_state.h);
// kernels read it in place, no concatenated graph inputs.
//
// Policies:
//  * PBSA (the `pbsa` cache policy): the last `window_frames` frames form the
//    local window. Every block carries a saliency, the softmax mass it
//    received during cache-filling passes (saliency <- decay * saliency +
//    mass, once per chunk). When frames leave the window, their blocks and
//    the current persistent blocks compete for `memory_blocks` slots per
//    lane by saliency; blocks of the first `sink_frames` frames always stay;
//    losers are freed. Admitted blocks are optionally compressed to their
//    mean key/value (one row weighted by log(tokens)). Memory is therefore
//    bounded at any video length: window_frames * tokens_per_frame +
//    memory_blocks * tile tokens per lane.
//    With memory_rank = pooled_refresh (Sparse Forcing) the competition is
//    decided instead by the clean pass's pooled block attention over all
//    candidates (pooled_block_importance); saliency then holds that score.
//  * HSA: every frame is kept (unbounded), or the frame policy of
//    CachePolicy `window:N,sink:S` (the first S and the most recent N-S frames).
#include <memory>
#include <vector>

#include "graph/ops/sparse_attention_params.h"
#include "graph/tensor.h"
#include "kernels/sparse_kv_state.h"
#include "runtime/kv_cache.h"
#include "runtime/sparse_layer_cache.h"

namespace vdrt {

// Sparse Forcing's importance of candidate blocks: for each pooled query q
// (pooled_q holds them back to back, dk floats each),
// A[q, c] = softmax_c(scale * q . keys[c]); importance[c] = sum_q A[q, c].
std::vector<double> pooled_block_importance(const std::vector<float>& pooled_q, const std::vector<const float*>& keys,
                                            int64_t dk, float scale);

// Refuses a frame policy that does not fit the layer's method (window:N on
// PBSA layers, pbsa on HSA layers); shared by the host and device caches.
void check_frame_policy(SparseMethod method, const CachePolicy& policy);

class BlockKvCache final : public SparseKvState, public SparseLayerCache {
 public:
  // `params` are the layer's op attributes; `frame_policy` applies to HSA
  // only (PBSA layers accept unbounded or pbsa, which mean the same).
  BlockKvCache(int64_t batch, int64_t kv_heads, int64_t key_dim, int64_t value_dim, SparseAttentionParams params,
               CachePolicy frame_policy = {});
  ~BlockKvCache() override;

  // The rollout's hooks, in order per chunk: begin_chunk; runs (with
  // set_accumulate(true) around the cache-filling pass); append.
  void begin_chunk(int64_t chunk) override { chunk_ = chunk; }
  void set_accumulate(bool on) override { accumulate_ = on; }
  void set_recorder(AttentionRecorder* r) { recorder_ = r; }
  // Folds the masses accumulated since the last append into the saliencies,
  // appends one chunk's keys/values [B, frames * tokens_per_frame, H_kv, D],
  // then slides the window and admits/evicts.
  void append(const Tensor& key, const Tensor& value);

  size_t bytes() const override;      // keys, values and pooled keys held
  size_t peak_bytes() const override { return peak_bytes_; }  // the most held at once (before eviction)
  int64_t frames_seen() const { return frames_seen_; }
  int64_t window_frames_held() const override;  // frames in the local window (all frames for HSA)
  int64_t memory_blocks_held(int64_t batch, int64_t kv_head) const;
  const SparseAttentionParams& params() const override { return params_; }
  // Saliency of every block of a lane, in the order of lane(b, h).blocks.
  std::vector<double> saliency(int64_t batch, int64_t kv_head) const;

  // SparseKvState
  int64_t batch() const override { return batch_; }
  int64_t kv_heads() const override { return heads_; }
  int64_t key_dim() const override { return dk_; }
  int64_t value_dim() const override { return dv_; }
  const KvLane& lane(int64_t b, int64_t h) const override;
  int64_t chunk_index() const override { return chunk_; }
  bool accumulate_mass() const override { return accumulate_; }
  AttentionRecorder* recorder() const override { return recorder_; }

 private:
  struct Block;
  struct Lane;
  void admit_and_evict(Lane& lane, std::vector<std::unique_ptr<Block>> leaving);
  void rebuild_view(Lane& lane);

  int64_t batch_, heads_, dk_, dv_;
  SparseAttentionParams params_;
  CachePolicy frame_policy_;
  BlockLayout::TileOrder order_;
  std::vector<std::unique_ptr<Lane>> lanes_;
  int64_t chunk_ = 0, frames_seen_ = 0;
  bool accumulate_ = false;
  AttentionRecorder* recorder_ = nullptr;
  size_t peak_bytes_ = 0;
};

}  // namespace vdrt
