// `vdrt profile-attention PIPELINE_DIR --chunks N`: runs a rollout of the
// dense model and reports, per layer and chunk, where its self-attention's
// softmax mass goes (runtime/attention_profile.h), then prints a suggested
// sparsify-attention configuration as TOML.
#include <cstdio>
#include <sstream>

#include <spdlog/spdlog.h>

#include "importer/tensor_file.h"
#include "runtime/attention_profile.h"
#include "runtime/flow_matching.h"
#include "tools/command.h"

namespace vdrt::cli {
namespace {

struct ProfileArgs {
  std::string pipeline, context, steps, budgets = "0.05,0.1,0.2,0.3,0.5", memory = "4,16,64", block_tile, compare,
      cache = "unbounded";
  int64_t chunks = 4, block_size = 64, window = 9;
  uint64_t seed = 0;
  double target = 0.95;
  int threads = 0;
};

template <typename T>
std::vector<T> parse_list(const std::string& text, const char* what) {
  std::vector<T> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      size_t used = 0;
      T v;
      if constexpr (std::is_same_v<T, double>) v = std::stod(item, &used);
      else v = std::stoll(item, &used);
      if (used != item.size()) throw std::invalid_argument(item);
      out.push_back(v);
    } catch (const std::exception&) {
      throw Error(std::string("--") + what + ": '" + item + "' is not a number");
    }
  }
  VDRT_CHECK(!out.empty(), std::string("--") + what + " is empty");
  return out;
}

int profile(const ProfileArgs& a) {
  SessionOptions so;
  so.device = "cpu";  // the profiling recorder reads the cache on the host
  so.threads = a.threads;
  auto pipeline = VideoPipeline::load(a.pipeline, so);
  AttentionProfileOptions o;
  o.chunks = a.chunks;
  o.block_size = a.block_size;
  o.block_tile = a.block_tile;
  o.window_frames = a.window;
  o.budgets = parse_list<double>(a.budgets, "budgets");
  o.memory_sizes = parse_list<int64_t>(a.memory, "memory");
  o.target_mass = a.target;
  o.rollout.seed = a.seed;
  if (!a.steps.empty()) o.rollout.denoising_steps = parse_timesteps(a.steps);
  Tensor context = a.context.empty() ? pipeline->default_context() : load_tensor_pb(a.context).tensor;
  AttentionProfile p = profile_attention(*pipeline, context, o, [&](int64_t c) {
    spdlog::info("profiled chunk {}/{}", c + 1, a.chunks);
  });
  std::printf("%s\n%s", p.report().c_str(), p.suggestion().c_str());
  if (!a.compare.empty()) {
    std::vector<double> err = sparse_rollout_error(a.pipeline, a.compare, context, a.chunks, o.rollout, a.cache);
    std::printf("\nerror of the rollout with %s (cache %s) against the dense rollout, per chunk:\n%6s %12s\n",
                a.compare.c_str(), a.cache.c_str(), "chunk", "rel. L2");
    for (size_t c = 0; c < err.size(); ++c) std::printf("%6zu %12.3e\n", c, err[c]);
  }
  return kExitOk;
}

Action setup_profile(CLI::App& sub) {
  auto a = std::make_shared<ProfileArgs>();
  sub.add_option("pipeline", a->pipeline, "Pipeline folder (denoiser.onnx, pipeline.toml)")
      ->required()
      ->check(CLI::ExistingDirectory);
  sub.add_option("-c,--chunks", a->chunks, "Chunks to generate and profile")->capture_default_str();
  sub.add_option("--block-size", a->block_size, "Tokens per block (a tile of the frame's token grid)")
      ->capture_default_str();
  sub.add_option("--block-tile", a->block_tile, "Block tile as HxW tokens (overrides --block-size)");
  sub.add_option("-w,--window", a->window, "Local window examined, frames")->capture_default_str();
  sub.add_option("--budgets", a->budgets, "Fractions of cached blocks kept, comma-separated")->capture_default_str();
  sub.add_option("--memory", a->memory, "Persistent memory sizes examined, blocks per KV head, comma-separated")
      ->capture_default_str();
  sub.add_option("--target", a->target, "Mass the suggested configuration must keep")->capture_default_str();
  sub.add_option("--seed", a->seed, "Noise seed")->capture_default_str();
  sub.add_option("--context", a->context, "Text embeddings [1, L, D] as a TensorProto .pb (default: the pipeline's)");
  sub.add_option("--steps", a->steps, "Denoising timesteps (default: model metadata)");
  sub.add_option("-t,--threads", a->threads, "CPU threads (0 = all cores)")->capture_default_str();
  sub.add_option("--compare", a->compare,
                 "A pass pipeline TOML (e.g. a sparse configuration): also run its rollout and report its error "
                 "against the dense rollout per chunk")
      ->check(CLI::ExistingFile);
  sub.add_option("--cache", a->cache, "Cache policy of the --compare rollout (unbounded, pbsa, window:N[,sink:S])")
      ->capture_default_str();
  sub.footer(
      "\nRewrites the denoiser's self-attention to vdrt.PBSAttention with every block selected (dense, exactly)\n"
      "and records every query block's softmax mass per cached block while a rollout runs. The table shows,\n"
      "per layer and chunk, the mass on this chunk's keys, the local window and older frames; how much of\n"
      "the older frames' mass the most salient blocks hold (PBSA's persistent memory); and how much of the\n"
      "cache's mass the top blocks keep, ranked by true mass and by pooled q.k score. The suggestion is a\n"
      "sparsify-attention entry for a pipeline file (passes/pipelines/sparse_pbsa.toml).\n");
  return [a] { return profile(*a); };
}

CommandRegistrar reg("profile-attention",
                     "Profile a model's attention over its KV cache and suggest a sparse-attention configuration",
                     setup_profile);

}  // namespace
}  // namespace vdrt::cli
