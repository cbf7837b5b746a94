#pragma once
// What a rollout did, chunk by chunk: the JSON document of `vdrt generate
// --json` (docs/cli_json.md), which bench/rollout_bench.py tabulates.
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/rollout.h"
#include "tools/json_output.h"

namespace vdrt::cli {

// What the command line chose, echoed in the document.
struct RolloutSettings {
  std::string pipeline_dir, precision, pass_pipeline, cache;
  std::string output;  // the file written; empty when nothing is written
  uint64_t seed = 0;
  int64_t chunks_requested = 0;
  bool decode = true;
};

class RolloutReport {
 public:
  explicit RolloutReport(RolloutSettings settings) : settings_(std::move(settings)) {}
  // Loading the models: import, passes, weights to the device.
  void set_load_seconds(double s) { load_seconds_ = s; }
  // A finished chunk and the video frames of it that were decoded (0 when not decoded).
  void add(const ChunkResult& chunk, int64_t video_frames);
  // Wall time of the chunks so far (denoising, cache pass, decoding; not writing).
  double seconds() const;
  Json json(const VideoPipeline& pipeline, const Rollout& rollout, bool interrupted) const;

 private:
  struct Chunk {
    int64_t index = 0;
    double seconds = 0;
    size_t cache_bytes = 0;
    int64_t cache_frames = 0, video_frames = 0;
  };
  RolloutSettings settings_;
  double load_seconds_ = 0;
  std::vector<Chunk> chunks_;
};

// What bounds the KV cache, in words: dense layers follow `policy`; layers
// rewritten to sparse attention keep block caches (PBSA: bounded by the op's
// window and persistent memory whatever the policy says; HSA: the policy).
std::string describe_cache(const Rollout& rollout, const DenoiserContract& contract, const CachePolicy& policy);
// The element type of the cached keys and values: "f32", "f16" (Vulkan at
// fp16), or "dense f32, sparse f16" where they differ (--f32-kv-cache with
// sparse layers, whose block pools follow the device).
std::string describe_kv_dtype(const Rollout& rollout, const DenoiserContract& contract);

}  // namespace vdrt::cli
