#pragma once
// The Self-Forcing inference loop of MODEL_CONTRACT.md, one chunk at a time:
// seeded noise -> denoising steps of the flow-matching scheduler (re-noising
// or Euler, per the model's vdrt.scheduler) -> a cache-filling pass at t = 0
// -> KV cache update -> decode. Chunks stream out one by one so callers can
// write them and forget them.
#include <atomic>
#include <functional>
#include <memory>
#include <optional>

#include "runtime/flow_matching.h"
#include "runtime/kv_cache.h"
#include "runtime/pipeline.h"
#include "runtime/sparse_kv_binding.h"

namespace vdrt {

struct RolloutOptions {
  uint64_t seed = 0;
  std::vector<double> denoising_steps;  // empty: the model's metadata
  std::optional<double> shift;          // unset: the model's metadata
  CachePolicy cache;
  bool decode = true;
};

struct ChunkResult {
  int64_t index = 0;
  Tensor latents;  // x0 of the chunk, [B, F, C, H, W]
  Tensor frames;   // decoded [B, F', 3, H', W'] in [-1, 1], if a decoder ran
  double seconds = 0;
  size_t cache_bytes = 0;
  int64_t cache_frames = 0;
};

class Rollout {
 public:
  Rollout(VideoPipeline& pipeline, Tensor context, RolloutOptions options);

  // Generates the next chunk. Returns nullopt when `cancel` became true
  // before the chunk finished (the cache is then left as it was).
  // `given`: the chunk's clean latents [B, F, C, H, W] (a known start of the
  // video, e.g. an encoded clip to continue): the denoising steps are
  // skipped and the cache-filling pass and the decoder run on them, so the
  // next chunks attend to them as to generated ones (teacher forcing).
  std::optional<ChunkResult> next(const std::atomic<bool>* cancel = nullptr, const Tensor* given = nullptr);
  int64_t chunks_done() const { return chunk_; }
  const KvCache& cache() const { return *cache_; }
  // The block caches of layers rewritten to sparse attention (PBSA/HSA);
  // nullptr for a dense denoiser. Those layers bypass cache().
  SparseKvBinding* sparse_cache() const { return sparse_.get(); }
  size_t peak_cache_bytes() const { return cache_->peak_bytes() + (sparse_ ? sparse_->peak_bytes() : 0); }
  const FlowMatching& scheduler() const { return scheduler_; }
  std::vector<int64_t> latent_dims() const;

 private:
  TensorMap denoiser_inputs(const Tensor& x, double t) const;
  // One denoiser call; on a GPU the KV cache stays on the device and the new
  // keys/values come back as device arrays (in `present`), else as tensors.
  TensorMap run_denoiser(const Tensor& x, double t, DeviceMap* present);
  VideoPipeline& pipeline_;
  Tensor context_;
  RolloutOptions options_;
  FlowMatching scheduler_;
  std::unique_ptr<KvCache> cache_;
  std::unique_ptr<SparseKvBinding> sparse_;
  int64_t chunk_ = 0;
};

}  // namespace vdrt
