#include "runtime/attention_profile.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <sstream>

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include "importer/onnx_import.h"
#include "passes/pipeline.h"
#include "runtime/pass_pipeline.h"

namespace vdrt {
namespace {

// Mass-weighted sums of one (layer, chunk), turned into a LayerChunkProfile at the end.
struct Accumulator {
  int64_t records = 0;
  double rows = 0, local = 0, window = 0, outside = 0;
  double cache_mass = 0, window_mass = 0, outside_mass = 0;
  std::vector<double> oracle, score, window_score, memory;
  int64_t cached_frames = 0, cached_blocks = 0, window_blocks = 0;
};

int64_t budget_blocks(double fraction, size_t n) {
  return std::min<int64_t>(static_cast<int64_t>(n), static_cast<int64_t>(std::ceil(fraction * n - 1e-9)));
}

// Sum of `mass` over the best `k` of `candidates` by `rank` (descending).
double top_sum(const std::vector<int32_t>& candidates, int64_t k, const std::function<double(int32_t)>& rank,
               const std::vector<float>& mass) {
  std::vector<int32_t> c = candidates;
  k = std::min<int64_t>(k, static_cast<int64_t>(c.size()));
  std::partial_sort(c.begin(), c.begin() + k, c.end(), [&](int32_t a, int32_t b) { return rank(a) > rank(b); });
  double s = 0;
  for (int64_t i = 0; i < k; ++i) s += mass[c[i]];
  return s;
}

class ProfileRecorder final : public AttentionRecorder {
 public:
  ProfileRecorder(const AttentionProfileOptions& o, SparseKvBinding& binding) : o_(o), binding_(binding) {}

  void begin_chunk(int64_t chunk) {
    chunk_ = chunk;
    acc_.clear();
    pending_.clear();
  }

  void record(int64_t layer, std::vector<QueryBlockRecord> records) override {
    const BlockKvCache& cache = binding_.layer(layer);
    int64_t heads = 1;
    for (const QueryBlockRecord& r : records) heads = std::max(heads, r.head + 1);
    const int64_t group = std::max<int64_t>(heads / cache.kv_heads(), 1);
    const int64_t first_window_frame = cache.frames_seen() - o_.window_frames;
    Accumulator& a = acc_[layer];
    const size_t nb = o_.budgets.size(), nm = o_.memory_sizes.size();
    a.oracle.resize(nb), a.score.resize(nb), a.window_score.resize(nb), a.memory.resize(nm);
    for (const QueryBlockRecord& r : records) {
      const int64_t kvh = r.head / group;
      const KvLane& lane = cache.lane(r.batch, kvh);
      const size_t n = lane.blocks.size();
      std::vector<int32_t> all(n), window, outside;
      std::iota(all.begin(), all.end(), 0);
      double cache_mass = 0, window_mass = 0, outside_mass = 0;
      for (size_t i = 0; i < n; ++i) {
        const bool in_window = lane.blocks[i].frame >= first_window_frame;
        (in_window ? window : outside).push_back(static_cast<int32_t>(i));
        cache_mass += r.block_mass[i];
        (in_window ? window_mass : outside_mass) += r.block_mass[i];
      }
      a.records += 1;
      a.rows += r.rows;
      a.local += r.local_mass;
      a.window += window_mass;
      a.outside += outside_mass;
      a.cache_mass += cache_mass;
      a.window_mass += window_mass;
      a.outside_mass += outside_mass;
      a.cached_frames = cache.frames_seen();
      a.cached_blocks = static_cast<int64_t>(n);
      a.window_blocks = static_cast<int64_t>(window.size());
      auto by_mass = [&](int32_t i) { return static_cast<double>(r.block_mass[i]); };
      auto by_score = [&](int32_t i) { return static_cast<double>(r.block_score[i]); };
      for (size_t b = 0; b < nb; ++b) {
        a.oracle[b] += top_sum(all, budget_blocks(o_.budgets[b], n), by_mass, r.block_mass);
        a.score[b] += top_sum(all, budget_blocks(o_.budgets[b], n), by_score, r.block_mass);
        a.window_score[b] += top_sum(window, budget_blocks(o_.budgets[b], window.size()), by_score, r.block_mass);
      }
      // PBSA's memory: the blocks that collected the most mass in earlier chunks.
      const auto& saliency = saliency_[{layer, r.batch, kvh}];
      auto by_saliency = [&](int32_t i) {
        auto it = saliency.find({lane.blocks[i].frame, lane.blocks[i].tile});
        return it == saliency.end() ? 0.0 : it->second;
      };
      for (size_t m = 0; m < nm; ++m) a.memory[m] += top_sum(outside, o_.memory_sizes[m], by_saliency, r.block_mass);
      auto& pend = pending_[{layer, r.batch, kvh}];
      for (size_t i = 0; i < n; ++i) pend[{lane.blocks[i].frame, lane.blocks[i].tile}] += r.block_mass[i];
    }
  }

  void end_chunk(std::vector<LayerChunkProfile>& out) {
    for (auto& [layer, a] : acc_) {
      LayerChunkProfile p;
      p.layer = layer;
      p.chunk = chunk_;
      p.cached_frames = a.cached_frames;
      p.cached_blocks = a.cached_blocks;
      p.window_blocks = a.window_blocks;
      const double rows = std::max(a.rows, 1.0);
      p.local_mass = a.local / rows;
      p.window_mass = a.window / rows;
      p.outside_mass = a.outside / rows;
      auto ratio = [](double x, double total) { return total > 0 ? x / total : 1.0; };
      for (size_t b = 0; b < a.oracle.size(); ++b) {
        p.oracle_kept.push_back(ratio(a.oracle[b], a.cache_mass));
        p.score_kept.push_back(ratio(a.score[b], a.cache_mass));
        p.window_score_kept.push_back(ratio(a.window_score[b], a.window_mass));
      }
      for (double m : a.memory) p.memory_kept.push_back(ratio(m, a.outside_mass));
      out.push_back(std::move(p));
    }
    for (auto& [lane, masses] : pending_)
      for (auto& [block, m] : masses) saliency_[lane][block] += m;
  }

 private:
  using LaneKey = std::tuple<int64_t, int64_t, int64_t>;  // layer, batch, kv head
  using BlockKey = std::pair<int64_t, int32_t>;           // frame, tile
  const AttentionProfileOptions& o_;
  SparseKvBinding& binding_;
  int64_t chunk_ = 0;
  std::map<int64_t, Accumulator> acc_;
  std::map<LaneKey, std::map<BlockKey, double>> saliency_, pending_;
};

std::string pct(double x) { return fmt::format("{:5.1f}", 100.0 * x); }

std::string budget_label(double b) { return fmt::format("{:g}%", 100.0 * b); }

}  // namespace

AttentionProfile profile_attention(VideoPipeline& pipeline, const Tensor& context, const AttentionProfileOptions& options,
                                   const std::function<void(int64_t)>& progress) {
  VDRT_CHECK(options.chunks > 0, "profile at least one chunk");
  VDRT_CHECK(options.window_frames > 0, "the window must be at least one frame");
  VDRT_CHECK(!options.budgets.empty() && !options.memory_sizes.empty(), "give at least one budget and memory size");
  for (double b : options.budgets) VDRT_CHECK(b > 0 && b <= 1, "budgets are fractions in (0, 1]");
  const std::string& passes = options.passes_toml ? *options.passes_toml : default_pass_pipeline_toml();
  check_profile_passes(passes, options.passes_label);
  auto graph = load_onnx(pipeline.denoiser_path);
  AttentionProfile profile;
  profile.passes_run = passes;
  // The rewrite below replaces vdrt.Attention: a pipeline that fuses none
  // (-O0, a --passes list without fuse-attention) would leave nothing to
  // profile, so the two passes that fuse it are added, and said to be.
  bool fuses = false;
  for (const auto& n : graph->nodes()) fuses = fuses || n->qualified_op() == "vdrt.Attention";
  for (const PipelineStep& step : parse_pipeline(passes, options.passes_label).steps)
    fuses = fuses || (step.enabled && step.pass == "fuse-attention");
  if (!fuses) {
    profile.added_passes = {"fold-constants", "fuse-attention"};
    for (const std::string& name : profile.added_passes)
      profile.passes_run += (profile.passes_run.empty() ? "" : "\n") + ("[[pass]]\nname = \"" + name + "\"\n");
    spdlog::info("{} fuses no attention; added fold-constants, fuse-attention before the profiling rewrite",
                 options.passes_label);
  }
  if (!profile.passes_run.empty()) {
    const std::string label = options.passes_label + (fuses ? "" : " + fold-constants,fuse-attention");
    run_pass_pipeline_text(*graph, profile.passes_run, label);
  }
  // Dense attention through the sparse op: every frame in the window,
  // every block selected, so the recorder sees the model's own attention.
  std::string toml = "[[pass]]\nname = \"sparsify-attention\"\nmethod = \"pbsa\"\nwindow = 1000000000\n"
                     "top_k = 0\nmemory_blocks = 0\nblock_size = " +
                     std::to_string(options.block_size) + "\n";
  if (!options.block_tile.empty()) toml += "block_tile = \"" + options.block_tile + "\"\n";
  run_pass_pipeline_text(*graph, toml, "<profile-attention>");
  pipeline.denoiser = std::make_unique<Session>(std::move(graph), SessionOptions{"cpu"});

  RolloutOptions ro = options.rollout;
  ro.decode = false;
  ro.cache = CachePolicy{};
  Rollout rollout(pipeline, context, ro);
  SparseKvBinding* binding = rollout.sparse_cache();
  VDRT_CHECK(binding != nullptr,
             "found no self-attention over the KV cache to profile (fuse-attention fused none; see vdrt opt --explain)",
             {pipeline.denoiser_path});
  ProfileRecorder recorder(options, *binding);
  binding->set_recorder(&recorder);

  profile.options = options;
  profile.layout = binding->caches().begin()->second->params().layout;
  if (options.check_layout) options.check_layout(profile.layout);
  // What was used, not what was asked: a block_size the grid cannot tile
  // exactly is clamped by sparsify-attention, so report the tile itself.
  const BlockLayout& used = profile.layout;
  if (!used.token_blocks() && profile.options.block_tile.empty() && used.tile_h * used.tile_w != options.block_size) {
    profile.options.block_size = used.tile_h * used.tile_w;
    profile.options.block_tile = fmt::format("{}x{}", used.tile_h, used.tile_w);
  }
  for (int64_t c = 0; c < options.chunks; ++c) {
    recorder.begin_chunk(c);
    auto r = rollout.next();
    VDRT_CHECK(r.has_value(), "the rollout stopped");
    recorder.end_chunk(profile.rows);
    if (progress) progress(c);
  }
  binding->set_recorder(nullptr);
  return profile;
}

void check_profile_passes(const std::string& toml, const std::string& label) {
  const std::vector<PipelineStep> steps = parse_pipeline(toml, label).steps;
  for (size_t i = 0; i < steps.size(); ++i)
    VDRT_CHECK(!steps[i].enabled || steps[i].pass != "sparsify-attention",
               fmt::format("sparsify-attention (pipeline entry #{}): profile-attention profiles dense attention and "
                           "adds its own sparsify-attention that keeps every block; profile without that entry, and "
                           "measure the sparse configuration with --compare FILE",
                           i + 1),
               {label});
}

std::vector<double> sparse_rollout_error(const std::string& pipeline_dir, const std::string& pass_pipeline,
                                         const Tensor& context, int64_t chunks, RolloutOptions options,
                                         const std::string& cache) {
  SessionOptions dense_options{"cpu"}, sparse_options{"cpu"};
  sparse_options.pass_pipeline = pass_pipeline;
  auto dense = VideoPipeline::load(pipeline_dir, dense_options);
  auto sparse = VideoPipeline::load(pipeline_dir, sparse_options);
  options.decode = false;
  RolloutOptions sparse_ro = options;
  sparse_ro.cache = CachePolicy::parse(cache);
  Rollout rd(*dense, context, options), rs(*sparse, context, sparse_ro);
  VDRT_CHECK(rs.sparse_cache() != nullptr, "the pipeline " + pass_pipeline + " rewrote no attention to sparse attention");
  std::vector<double> errors;
  for (int64_t c = 0; c < chunks; ++c) {
    auto a = rd.next(), b = rs.next();
    VDRT_CHECK(a && b, "the rollout stopped");
    double num = 0, den = 0;
    const float* x = a->latents.data<float>();
    const float* y = b->latents.data<float>();
    for (int64_t i = 0; i < a->latents.numel(); ++i) {
      num += (static_cast<double>(y[i]) - x[i]) * (static_cast<double>(y[i]) - x[i]);
      den += static_cast<double>(x[i]) * x[i];
    }
    errors.push_back(den > 0 ? std::sqrt(num / den) : std::sqrt(num));
  }
  return errors;
}

std::string AttentionProfile::report() const {
  std::ostringstream out;
  const AttentionProfileOptions& o = options;
  out << fmt::format("blocks: {}x{} tiles of a {}x{} token grid ({} per frame); window {} frames\n", layout.tile_h,
                     layout.tile_w, layout.grid_h, layout.grid_w, layout.tiles(), o.window_frames);
  out << "mass: % of all softmax mass on this chunk's keys (local), the window, older frames;\n"
         "mem@M: % of the older frames' mass on the M blocks with the most mass in earlier chunks (PBSA memory);\n"
         "top b: % of the cache's mass kept by the top fraction b of cached blocks, by true mass / by pooled score\n\n";
  std::string head = fmt::format("{:>5} {:>5} {:>6} {:>6} | {:>5} {:>6} {:>5} |", "layer", "chunk", "frames", "blocks",
                                 "local", "window", "older");
  for (int64_t m : o.memory_sizes) head += fmt::format(" {:>6}", "mem@" + std::to_string(m));
  head += " |";
  for (double b : o.budgets) head += fmt::format(" {:>11}", "top " + budget_label(b));
  out << head << "\n" << std::string(head.size(), '-') << "\n";
  for (const LayerChunkProfile& r : rows) {
    std::string line = fmt::format("{:>5} {:>5} {:>6} {:>6} | {} {:>6} {} |", r.layer, r.chunk, r.cached_frames,
                                   r.cached_blocks, pct(r.local_mass), pct(r.window_mass), pct(r.outside_mass));
    for (double m : r.memory_kept) line += " " + (r.outside_mass > 0 ? fmt::format("{:>6}", pct(m)) : fmt::format("{:>6}", "-"));
    line += " |";
    for (size_t b = 0; b < r.oracle_kept.size(); ++b)
      line += r.cached_blocks ? fmt::format(" {}/{}", pct(r.oracle_kept[b]), pct(r.score_kept[b])) : fmt::format(" {:>11}", "-");
    out << line << "\n";
  }
  return out.str();
}

std::string AttentionProfile::suggestion() const {
  const AttentionProfileOptions& o = options;
  // Averages over the chunks that have a cache (or older frames).
  std::vector<double> score(o.budgets.size(), 0), window(o.budgets.size(), 0), memory(o.memory_sizes.size(), 0);
  int64_t with_cache = 0, with_older = 0;
  double older_mass = 0;
  for (const LayerChunkProfile& r : rows) {
    if (r.cached_blocks == 0) continue;
    ++with_cache;
    for (size_t b = 0; b < score.size(); ++b) {
      score[b] += r.score_kept[b];
      window[b] += r.window_score_kept[b];
    }
    if (r.outside_mass > 0) {
      ++with_older;
      older_mass += r.outside_mass;
      for (size_t m = 0; m < memory.size(); ++m) memory[m] += r.memory_kept[m];
    }
  }
  auto first_reaching = [&](const std::vector<double>& kept, int64_t count) -> int64_t {
    for (size_t i = 0; i < kept.size(); ++i)
      if (count > 0 && kept[i] / count >= o.target_mass) return static_cast<int64_t>(i);
    return -1;
  };
  const int64_t wb = first_reaching(window, with_cache), cb = first_reaching(score, with_cache);
  const int64_t mb = first_reaching(memory, with_older);
  const int64_t window_blocks = o.window_frames * layout.tiles();
  const int64_t top_k = wb < 0 ? 0 : std::max<int64_t>(1, budget_blocks(o.budgets[wb], window_blocks));
  const int64_t memory_blocks = mb < 0 ? o.memory_sizes.back() : o.memory_sizes[mb];
  const double s_max = cb < 0 ? 0.0 : 1.0 - o.budgets[cb];

  std::ostringstream out;
  out << fmt::format("# Suggested by vdrt profile-attention over {} chunks: keeps >= {:g}% of the softmax mass\n",
                     o.chunks, 100 * o.target_mass);
  if (wb < 0) out << "# (no window budget kept enough mass: the window stays dense, top_k = 0)\n";
  if (with_older == 0)
    out << "# (no frame left the window during profiling: profile more chunks to size the memory)\n";
  else if (mb < 0)
    out << "# (no memory size examined kept enough of the older frames' mass; the largest is given)\n";
  else
    out << fmt::format("# older frames draw {:.1f}% of the mass; {} salient blocks hold {:.1f}% of it\n",
                       100 * older_mass / with_older, memory_blocks, 100 * memory[mb] / with_older);
  out << "[[pass]]\nname = \"sparsify-attention\"\nmethod = \"pbsa\"\n";
  if (!o.block_tile.empty()) out << "block_tile = \"" << o.block_tile << "\"\n";
  else out << "block_size = " << o.block_size << "\n";
  out << "window = " << o.window_frames << "\n";
  out << "top_k = " << top_k << fmt::format("                # of {} window blocks\n", window_blocks);
  out << "memory_blocks = " << memory_blocks << "\n";
  out << "sink_frames = 0\n";
  if (s_max > 0) {
    out << fmt::format("cag_s_min = {:g}\ncag_s_max = {:g}\ncag_ramp = {}\ncag_curve = \"cosine\"\n", s_max / 2, s_max,
                       std::max<int64_t>(1, o.chunks / 2));
  }
  out << "# For HSA instead: method = \"hsa\", top_frames = " << o.window_frames << ", top_blocks = " << top_k
      << " (0 = all)\n";
  return out.str();
}

}  // namespace vdrt
