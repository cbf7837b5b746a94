// `vdrt profile-attention PIPELINE_DIR --chunks N`: runs a rollout of the
// dense model and reports, per layer and chunk, where its self-attention's
// softmax mass goes (runtime/attention_profile.h), then prints a suggested
// sparsify-attention configuration as TOML. The denoiser is optimised at
// load like in run/bench/generate (--pipeline, --passes, -O0), so the
// profile is of the model the suggestion will be added to.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <spdlog/spdlog.h>

#include "importer/tensor_file.h"
#include "runtime/attention_profile.h"
#include "runtime/flow_matching.h"
#include "runtime/kv_cache.h"
#include "tools/command.h"
#include "tools/json_output.h"
#include "tools/common_options.h"

namespace vdrt::cli {
namespace {

struct ProfileArgs {
  std::string pipeline, context, steps, budgets = "0.05,0.1,0.2,0.3,0.5", memory = "4,16,64", block_tile, compare,
      cache = "unbounded";
  int64_t chunks = 4, block_size = 64, window = 9;
  int64_t seed = 0;
  double target = 0.95;
  DeviceOptions dev;
  PipelineOptions pipe;
  bool json = false;
  bool block_size_given = false;
  std::string output;  // -o FILE: a complete pipeline (the passes that ran + the suggestion)
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

// The block sizes sparsify-attention tiles exactly on a grid_h x grid_w token
// grid (its rule: the most square divisor pair h x w of the size with h <=
// grid_h, w <= grid_w; other sizes are clamped), comma-separated.
std::string exact_block_sizes(int64_t grid_h, int64_t grid_w) {
  std::string out;
  for (int64_t bs = 1; bs <= grid_h * grid_w; ++bs) {
    int64_t best_h = 1;
    for (int64_t h = 1; h * h <= bs; ++h)
      if (bs % h == 0 && h <= grid_h) best_h = h;
    const bool exact = grid_h == 1 ? bs <= grid_w : bs / best_h <= grid_w;
    if (!exact) continue;
    if (!out.empty()) out += ',';
    out += std::to_string(bs);
  }
  return out;
}

// Everything the command line decides, checked before the model loads (exit code 2).
void validate_profile(const ProfileArgs& a) {
  validate(a.dev);
  validate(a.pipe);
  std::string label;
  const std::string passes = pipeline_toml(a.pipe, &label);
  usage_check("", [&] { check_profile_passes(passes, label); });
  if (a.dev.device != "auto" && a.dev.device != "cpu" && a.dev.device != "cpu:0")
    throw UsageError("--device " + a.dev.device +
                     ": profile-attention runs on the CPU for now (its recorder reads the KV cache on the host)");
  require_at_least("--chunks", static_cast<double>(a.chunks), 1);
  require_at_least("--block-size", static_cast<double>(a.block_size), 1);
  require_at_least("--window", static_cast<double>(a.window), 1);
  require_at_least("--seed", static_cast<double>(a.seed), 0);
  if (!(a.target > 0 && a.target <= 1)) throw UsageError(fmt::format("--target must be in (0, 1], got {:g}", a.target));
  usage_check("", [&] {
    for (double b : parse_list<double>(a.budgets, "budgets"))
      VDRT_CHECK(b > 0 && b <= 1, fmt::format("--budgets: {:g} is not a fraction in (0, 1]", b));
    for (int64_t m : parse_list<int64_t>(a.memory, "memory"))
      VDRT_CHECK(m >= 0, "--memory: sizes are block counts >= 0");
  });
  if (!a.steps.empty()) usage_check("--steps", [&] { parse_timesteps(a.steps); });
  usage_check("--cache", [&] { CachePolicy::parse(a.cache); });
  if (!a.context.empty() && !std::filesystem::is_regular_file(a.context))
    throw UsageError("--context " + a.context + ": no such file (a TensorProto .pb of text embeddings [1, L, D])");
  if (!a.output.empty() && std::filesystem::is_directory(a.output))
    throw UsageError("-o " + a.output + ": is a folder; give the pipeline file to write, e.g. sparse.toml");
}

int profile(const ProfileArgs& a) {
  SessionOptions so;
  so.device = "cpu";  // the profiling recorder reads the cache on the host
  so.threads = a.dev.threads;
  auto pipeline = VideoPipeline::load(a.pipeline, so);
  AttentionProfileOptions o;
  o.chunks = a.chunks;
  o.block_size = a.block_size;
  o.block_tile = a.block_tile;
  if (a.block_size_given && a.block_tile.empty()) o.check_layout = [&a](const BlockLayout& l) {
    if (l.token_blocks() || l.tile_h * l.tile_w == a.block_size) return;
    throw UsageError(fmt::format("--block-size {}: the {}x{} token grid tiles it as {}x{} = {} tokens; block sizes "
                                 "that tile it exactly: {} (or give --block-tile HxW)",
                                 a.block_size, l.grid_h, l.grid_w, l.tile_h, l.tile_w, l.tile_h * l.tile_w,
                                 exact_block_sizes(l.grid_h, l.grid_w)));
  };
  o.passes_toml = pipeline_toml(a.pipe, &o.passes_label);
  if (a.pipe.level == 0) o.passes_label = "-O0";
  o.window_frames = a.window;
  o.budgets = parse_list<double>(a.budgets, "budgets");
  o.memory_sizes = parse_list<int64_t>(a.memory, "memory");
  o.target_mass = a.target;
  o.rollout.seed = static_cast<uint64_t>(a.seed);
  if (!a.steps.empty()) o.rollout.denoising_steps = parse_timesteps(a.steps);
  Tensor context = a.context.empty() ? pipeline->default_context() : load_tensor_pb(a.context).tensor;
  AttentionProfile p = profile_attention(*pipeline, context, o, [&](int64_t c) {
    spdlog::info("profiled chunk {}/{}", c + 1, a.chunks);
  });
  if (!a.json) std::printf("%s\n%s", p.report().c_str(), p.suggestion().c_str());
  if (!a.output.empty()) {
    // A complete pipeline: the passes the profiled model ran (which fuse the
    // attention that sparsify-attention rewrites), then the suggestion.
    std::ofstream f(a.output);
    f << "# Written by vdrt profile-attention: the passes of the profiled model (" << o.passes_label
      << (p.added_passes.empty() ? "" : " + fold-constants, fuse-attention")
      << ") followed by the suggested sparse attention.\n"
         "# Use it with: vdrt generate PIPELINE_DIR --pipeline " << a.output << "\n\n"
      << p.passes_run << "\n" << p.suggestion() << "\n[[pass]]\nname = \"eliminate-dead\"\n";
    VDRT_CHECK(f.good(), "cannot write the pipeline file", {a.output});
    spdlog::info("wrote the pipeline to {}", a.output);
  }
  if (a.json) {
    std::vector<double> err;
    if (!a.compare.empty()) err = sparse_rollout_error(a.pipeline, a.compare, context, a.chunks, o.rollout, a.cache);
    print_json(attention_profile_json(p, a.compare, a.cache, err));
    return kExitOk;
  }
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
  auto* block_size = sub.add_option("--block-size", a->block_size,
                                    "Tokens per block: a tile of the frame's token grid; a size the grid cannot tile "
                                    "exactly is refused when given (the default is clamped to the grid)")
                         ->capture_default_str();
  sub.add_option("--block-tile", a->block_tile, "Block tile as HxW tokens (overrides --block-size)");
  sub.add_option("-w,--window", a->window, "Local window examined, frames")->capture_default_str();
  sub.add_option("--budgets", a->budgets, "Fractions of cached blocks kept, comma-separated")->capture_default_str();
  sub.add_option("--memory", a->memory, "Persistent memory sizes examined, blocks per KV head, comma-separated")
      ->capture_default_str();
  sub.add_option("--target", a->target, "Fraction of the softmax mass the suggested configuration must keep, in (0, 1]")
      ->capture_default_str();
  sub.add_option("--seed", a->seed, "Noise seed (>= 0)")->capture_default_str();
  sub.add_option("-o,--output", a->output,
                 "Write a complete, runnable pipeline TOML (the default passes + the suggested sparsify-attention) "
                 "for `vdrt generate --pipeline FILE`");
  sub.add_option("--context", a->context, "Text embeddings [1, L, D] as a TensorProto .pb (default: the pipeline's)");
  sub.add_option("--steps", a->steps, "Denoising timesteps (default: model metadata)");
  add_device_options(sub, a->dev, /*with_precision=*/false);
  add_pipeline_options(sub, a->pipe,
                       "the denoiser before the profiling rewrite (it may not contain sparsify-attention: use "
                       "--compare for a sparse configuration)");
  add_json_flag(sub, a->json);
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
      "sparsify-attention entry for a pipeline file (passes/pipelines/sparse_pbsa.toml).\n"
      "\nThe denoiser is first optimised as in run and generate: the default pipeline, --pipeline FILE,\n"
      "--passes a,b, or -O0 (as imported). The rewrite works on fused attention, so when those passes\n"
      "fuse none (-O0), fold-constants and fuse-attention are added; -o writes the passes that ran\n"
      "followed by the suggestion.\n");
  return [a, block_size] {
    a->block_size_given = block_size->count() > 0;
    validate_profile(*a);
    return profile(*a);
  };
}

CommandRegistrar reg("profile-attention",
                     "Profile a model's attention over its KV cache and suggest a sparse-attention configuration",
                     setup_profile);

}  // namespace
}  // namespace vdrt::cli
