#pragma once
// The rollout's side of the sparse-attention side channel: one block KV
// cache per layer whose self-attention was rewritten to vdrt.PBSAttention or
// vdrt.HSAttention, bound to that node's Session state slot. On the CPU the
// caches are host objects the CPU kernel reads (runtime/block_kv_cache.h);
// when the session's device reads device caches (a GPU backend whose kernels
// plan these nodes), they live in its memory (runtime/device_block_kv_cache.h)
// and keys and values never cross to the host.
//
// Binding happens before every denoiser run (attach), not once, because
// several rollouts may share one Session (each with its own caches).
// Layers without a sparse node keep using the dense KvCache.
#include <map>
#include <memory>

#include "runtime/block_kv_cache.h"
#include "runtime/device_block_kv_cache.h"
#include "runtime/session.h"

namespace vdrt {

class SparseKvBinding {
 public:
  // Creates a cache for every state slot of `session` (its kv_cache_layer
  // names the layer); returns nullptr when the graph has no sparse attention.
  // `chunk_frames` > 0 (the frames a denoiser call generates) lets the caches
  // live on the session's device when it can read them there.
  // Throws when the policy does not fit the layers (pbsa without PBSA
  // layers, window:N on PBSA layers) or two nodes claim one layer.
  static std::unique_ptr<SparseKvBinding> create(Session& session, int64_t batch, const CachePolicy& policy,
                                                 int64_t chunk_frames = 0);

  void attach(Session& session) const;  // binds every cache to its node
  bool on_device() const { return on_device_; }
  bool has_layer(int64_t layer) const { return caches_.count(layer) != 0; }
  // A host cache (throws for device caches).
  BlockKvCache& layer(int64_t layer);
  const BlockKvCache& layer(int64_t layer) const;
  const std::map<int64_t, std::shared_ptr<SparseLayerCache>>& caches() const { return caches_; }

  void begin_chunk(int64_t chunk);
  void set_accumulate(bool on);
  // After the cache-filling pass: device caches admit and evict (host caches
  // do that in BlockKvCache::append, which the rollout calls with the keys).
  void end_chunk();
  void set_recorder(AttentionRecorder* recorder);
  size_t bytes() const;
  size_t peak_bytes() const;  // sum of the per-layer peaks
  int64_t frames() const;     // frames in the local windows (the largest over layers)

 private:
  std::map<int64_t, std::shared_ptr<SparseLayerCache>> caches_;  // by layer
  std::map<int64_t, std::shared_ptr<OpState>> states_;           // the same objects, as bound
  std::map<int64_t, const Node*> nodes_;
  bool on_device_ = false;
};

}  // namespace vdrt
