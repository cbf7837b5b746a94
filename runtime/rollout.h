#pragma once
// The Self-Forcing inference loop of MODEL_CONTRACT.md, one chunk at a time:
// seeded noise -> denoising steps of the flow-matching scheduler (re-noising
// or Euler, per the model's vdrt.scheduler) -> a cache-filling pass at t = 0
// -> KV cache update -> decode. Chunks stream out one by one so callers can
// write them and forget them. With classifier-free guidance the denoiser runs
// twice a step, on the prompt and on the negative (or null) prompt, each with
// its own KV cache: both caches are filled from the same guided x0.
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
  // Classifier-free guidance: flow = negative + guidance * (prompt - negative).
  // 1 runs the prompt alone; unset: the model's vdrt.guidance_scale (1 if none).
  std::optional<double> guidance;
  Tensor negative_context;  // empty: the pipeline's negative_context (needed when guided)
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
  // The prompt's caches (a guided rollout keeps a second pair for the
  // negative prompt; the byte counts below include it).
  const KvCache& cache() const { return *branches_[0].cache; }
  // The block caches of layers rewritten to sparse attention (PBSA/HSA);
  // nullptr for a dense denoiser. Those layers bypass cache().
  SparseKvBinding* sparse_cache() const { return branches_[0].sparse.get(); }
  size_t peak_cache_bytes() const;
  const FlowMatching& scheduler() const { return scheduler_; }
  double guidance() const { return guidance_; }
  bool guided() const { return branches_.size() > 1; }
  std::vector<int64_t> latent_dims() const;

 private:
  // One text context and the caches its denoiser calls read and fill.
  struct Branch {
    Tensor context;
    std::unique_ptr<KvCache> cache;
    std::unique_ptr<SparseKvBinding> sparse;
  };
  Branch make_branch(Tensor context) const;
  TensorMap denoiser_inputs(const Branch& b, const Tensor& x, double t) const;
  // One denoiser call; on a GPU the KV cache stays on the device and the new
  // keys/values come back as device arrays (in `present`), else as tensors.
  TensorMap run_denoiser(Branch& b, const Tensor& x, double t, DeviceMap* present);
  // The flow at (x, t): the prompt's, or the guided mix of both branches'.
  Tensor flow(const Tensor& x, double t);
  // The cache-filling pass of the clean chunk x0 at t = 0, appended to b's caches.
  void fill_cache(Branch& b, const Tensor& x0);
  size_t cache_bytes() const;
  int64_t cache_frames() const;
  VideoPipeline& pipeline_;
  RolloutOptions options_;
  FlowMatching scheduler_;
  double guidance_ = 1.0;
  std::vector<Branch> branches_;  // [0] the prompt, [1] the negative prompt when guided
  int64_t chunk_ = 0;
};

}  // namespace vdrt
