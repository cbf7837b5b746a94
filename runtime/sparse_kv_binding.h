#pragma once
// The rollout's side of the sparse-attention side channel: one BlockKvCache
// per layer whose self-attention was rewritten to vdrt.PBSAttention or
// vdrt.HSAttention, bound to that node's Session state slot.
//
// Binding happens before every denoiser run (attach), not once, because
// several rollouts may share one Session (each with its own caches).
// Layers without a sparse node keep using the dense KvCache.
#include <map>
#include <memory>

#include "runtime/block_kv_cache.h"
#include "runtime/session.h"

namespace vdrt {

class SparseKvBinding {
 public:
  // Creates a cache for every state slot of `session` (its kv_cache_layer
  // names the layer); returns nullptr when the graph has no sparse attention.
  // Throws when the policy does not fit the layers (pbsa without PBSA
  // layers, window:N on PBSA layers) or two nodes claim one layer.
  static std::unique_ptr<SparseKvBinding> create(Session& session, int64_t batch, const CachePolicy& policy);

  void attach(Session& session) const;  // binds every cache to its node
  bool has_layer(int64_t layer) const { return caches_.count(layer) != 0; }
  BlockKvCache& layer(int64_t layer) { return *caches_.at(layer); }
  const BlockKvCache& layer(int64_t layer) const { return *caches_.at(layer); }
  const std::map<int64_t, std::shared_ptr<BlockKvCache>>& caches() const { return caches_; }

  void begin_chunk(int64_t chunk);
  void set_accumulate(bool on);
  void set_recorder(AttentionRecorder* recorder);
  size_t bytes() const;
  size_t peak_bytes() const;  // sum of the per-layer peaks
  int64_t frames() const;     // frames in the local windows (the largest over layers)

 private:
  std::map<int64_t, std::shared_ptr<BlockKvCache>> caches_;  // by layer
  std::map<int64_t, const Node*> nodes_;
};

}  // namespace vdrt
