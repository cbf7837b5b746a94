#include "tools/rollout_report.h"

#include <spdlog/fmt/fmt.h>

namespace vdrt::cli {

void RolloutReport::add(const ChunkResult& chunk, int64_t video_frames) {
  chunks_.push_back({chunk.index, chunk.seconds, chunk.cache_bytes, chunk.cache_frames, video_frames});
}

double RolloutReport::seconds() const {
  double s = 0;
  for (const Chunk& c : chunks_) s += c.seconds;
  return s;
}

Json RolloutReport::json(const VideoPipeline& pipeline, const Rollout& rollout, bool interrupted) const {
  const DenoiserContract& c = pipeline.contract;
  const double total = seconds();
  const int64_t latent_frames = static_cast<int64_t>(chunks_.size()) * c.frames_per_chunk;
  int64_t video_frames = 0;
  for (const Chunk& ch : chunks_) video_frames += ch.video_frames;
  // Rates are null rather than infinite when nothing ran.
  auto rate = [](double frames, double seconds) { return seconds > 0 ? Json(frames / seconds) : Json(); };

  Json doc = Json::object();
  doc["pipeline"] = settings_.pipeline_dir;
  doc["device"] = session_device_json(*pipeline.denoiser);
  doc["precision"] = settings_.precision;
  doc["pass_pipeline"] = settings_.pass_pipeline;
  doc["cache"] = settings_.cache;
  doc["cache_description"] = describe_cache(rollout, c, CachePolicy::parse(settings_.cache));
  doc["kv_cache_dtype"] = describe_kv_dtype(rollout, c);
  doc["seed"] = settings_.seed;
  doc["steps"] = Json::array_of(rollout.scheduler().timesteps);
  doc["shift"] = rollout.scheduler().shift;
  doc["scheduler"] = sampler_name(rollout.scheduler().sampler);
  doc["frames_per_chunk"] = c.frames_per_chunk;
  doc["tokens_per_frame"] = c.tokens_per_frame;
  doc["num_layers"] = c.num_layers;
  doc["guidance"] = rollout.guidance();
  // Guided: every step and the cache-filling pass run once per context.
  doc["denoiser_calls_per_chunk"] =
      (static_cast<int64_t>(rollout.scheduler().timesteps.size()) + 1) * (rollout.guided() ? 2 : 1);
  doc["decoded"] = settings_.decode;
  doc["output"] = settings_.output.empty() ? Json() : Json(settings_.output);
  doc["load_ms"] = load_seconds_ * 1e3;
  doc["chunks_requested"] = settings_.chunks_requested;
  doc["chunks_done"] = static_cast<int64_t>(chunks_.size());
  doc["interrupted"] = interrupted;
  doc["latent_frames"] = latent_frames;
  doc["video_frames"] = video_frames;
  doc["total_ms"] = total * 1e3;
  doc["latent_fps"] = rate(static_cast<double>(latent_frames), total);
  doc["video_fps"] = settings_.decode ? rate(static_cast<double>(video_frames), total) : Json();
  // The first chunk also pays for plans, shader compilation and first uploads.
  doc["steady_latent_fps"] =
      chunks_.size() > 1 ? rate(static_cast<double>(latent_frames - c.frames_per_chunk), total - chunks_.front().seconds)
                         : Json();
  doc["peak_kv_cache_bytes"] = rollout.peak_cache_bytes();
  doc["placement"] = placement_json(*pipeline.denoiser);
  Json& list = doc["chunks"] = Json::array();
  for (const Chunk& ch : chunks_) {
    Json j = Json::object();
    j["index"] = ch.index;
    j["ms"] = ch.seconds * 1e3;
    j["cache_bytes"] = ch.cache_bytes;
    j["cache_frames"] = ch.cache_frames;
    j["video_frames"] = ch.video_frames;
    list.push(std::move(j));
  }
  return doc;
}

std::string describe_kv_dtype(const Rollout& rollout, const DenoiserContract& contract) {
  const SparseKvBinding* sparse = rollout.sparse_cache();
  const size_t sparse_layers = sparse ? sparse->caches().size() : 0;
  const std::string dense = dtype_name(rollout.cache().dtype());
  if (sparse_layers == 0) return dense;
  const std::string rows = dtype_name(sparse->caches().begin()->second->row_dtype());
  if (static_cast<int64_t>(sparse_layers) == contract.num_layers || rows == dense) return rows;
  return "dense " + dense + ", sparse " + rows;
}

std::string describe_cache(const Rollout& rollout, const DenoiserContract& contract, const CachePolicy& policy) {
  const SparseKvBinding* sparse = rollout.sparse_cache();
  if (!sparse) return policy.str();
  int64_t pbsa = 0, window = 0, memory = 0;
  for (const auto& [layer, cache] : sparse->caches())
    if (cache->params().method == SparseMethod::Pbsa) {
      ++pbsa;
      window = cache->params().window_frames;
      memory = cache->params().memory_blocks;
    }
  const int64_t dense = contract.num_layers - static_cast<int64_t>(sparse->caches().size());
  const int64_t hsa = static_cast<int64_t>(sparse->caches().size()) - pbsa;
  std::string desc = pbsa > 0 ? fmt::format("pbsa-bounded ({} PBSA layers: window {} frames + {} memory blocks per KV head)",
                                            pbsa, window, memory)
                              : std::string();
  if (hsa > 0) desc += fmt::format("{}{} HSA layers {}", desc.empty() ? "" : ", ", hsa, policy.str());
  if (dense > 0) desc += fmt::format(", {} dense layers {}", dense, policy.str());
  return desc;
}

}  // namespace vdrt::cli
