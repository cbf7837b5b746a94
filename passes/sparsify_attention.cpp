// sparsify-attention: rewrites fused self-attention over a KV cache
// (vdrt.Attention with kind=self and past_key/past_value inputs, written by
// fuse-attention) into vdrt.PBSAttention or vdrt.HSAttention, configured
// from the pipeline's options. Cross-attention stays dense.
//
// The rewritten node keeps the inputs of vdrt.Attention, so the model's
// interface (MODEL_CONTRACT.md's past_key.i / past_value.i) is unchanged and
// it still runs standalone; under a rollout the runtime binds its block
// cache to the node and the past inputs are bound empty. That is only
// sound when nothing else reads the past inputs, which is checked.
//
// The frame's token grid comes from the model's metadata (vdrt.latent_height,
// vdrt.latent_width, vdrt.tokens_per_frame: a square patch is assumed) or the
// frame_grid option; blocks are tiles of that grid.
#include <cmath>
#include <set>
#include <sstream>

#include "graph/ops/sparse_attention_params.h"
#include "passes/pass_registry.h"
#include "passes/rewrite.h"

namespace vdrt {
namespace {

std::optional<int64_t> meta_int(const Graph& g, const std::string& key) {
  auto it = g.metadata.find(key);
  if (it == g.metadata.end()) return std::nullopt;
  try {
    size_t used = 0;
    int64_t v = std::stoll(it->second, &used);
    if (used == it->second.size() && v > 0) return v;
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

// "8x8" -> {8, 8}
std::optional<std::pair<int64_t, int64_t>> parse_hw(const std::string& s) {
  auto x = s.find('x');
  if (x == std::string::npos) return std::nullopt;
  try {
    size_t a = 0, b = 0;
    int64_t h = std::stoll(s.substr(0, x), &a), w = std::stoll(s.substr(x + 1), &b);
    if (a != x || b != s.size() - x - 1 || h <= 0 || w <= 0) return std::nullopt;
    return std::make_pair(h, w);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

class SparsifyAttention final : public Pass {
 public:
  std::string name() const override { return "sparsify-attention"; }
  std::string description() const override {
    return "Rewrites fused self-attention over the KV cache (vdrt.Attention, kind=self) into block-sparse "
           "vdrt.PBSAttention (local window top-k + persistent memory of salient blocks) or vdrt.HSAttention "
           "(frame top-F, block top-B), with the chunk-aware growth (CAG) schedule; cross-attention stays dense. "
           "Run after fuse-attention.";
  }
  std::vector<OptionSpec> option_specs() const override {
    return {
        OptionSpec{"method", std::string("pbsa"), "pbsa or hsa."}.one_of({"pbsa", "hsa"}),
        OptionSpec{"block_size", int64_t{64}, "Tokens per block; the tile is the most square h x w with h * w = block_size "
                                    "that fits the frame grid (block_tile overrides)."}.at_least(1),
        {"block_tile", std::string(""), "Block tile as HxW tokens, e.g. \"8x8\"."},
        OptionSpec{"block_layout", std::string("tiles"),
         "tiles (2-D tiles of the frame's token grid) or tokens (Light Forcing: 1-D runs of block_size tokens in "
         "token order aligned to frames, the last block of a frame short; a block_size above the frame's tokens "
         "is clamped to the frame: one block per frame)."}.one_of({"tiles", "tokens"}),
        {"frame_grid", std::string(""), "A frame's token grid as HxW; default from the model metadata."},
        {"layers", std::string(""), "Comma-separated cache layers to rewrite; empty = all."},
        OptionSpec{"window", int64_t{9}, "PBSA: local window, frames."}.at_least(1),
        OptionSpec{"top_k", int64_t{0}, "PBSA: window blocks kept per query block; 0 = all."}.at_least(0),
        OptionSpec{"memory_blocks", int64_t{64}, "PBSA: persistent memory budget, blocks per layer and KV head."}.at_least(0),
        {"compress", false, "PBSA: keep memory blocks as mean key/value with a log(count) weight."},
        OptionSpec{"saliency_decay", 1.0, "PBSA: saliency <- decay * saliency + mass each chunk (1 = plain accumulation)."}.in_range(0, 1),
        OptionSpec{"memory_rank", std::string("accumulated"),
         "PBSA: how memory candidates are ranked: accumulated (saliency of visited blocks, decayed) or "
         "pooled_refresh (Sparse Forcing: pooled attention of the clean pass over all candidates)."}.one_of({"accumulated", "pooled_refresh"}),
        OptionSpec{"sink_frames", int64_t{-1}, "First frames always kept (PBSA: in memory; HSA: at frame level); "
                                     "-1 = method default (PBSA 0, HSA 1)."}.at_least(-1),
        OptionSpec{"top_frames", int64_t{0}, "HSA: cached frames kept per query block besides the sinks; 0 = all."}.at_least(0),
        OptionSpec{"top_blocks", int64_t{0}, "HSA: blocks kept inside the kept frames; 0 = all."}.at_least(0),
        OptionSpec{"keep_frames", int64_t{0}, "HSA (Light Forcing's frame stage): cached frames kept, sinks and nearest "
                                    "included; one stage while the cache holds no more; 0 = off (top_frames)."}.at_least(0),
        OptionSpec{"keep_sink", int64_t{-1}, "HSA: first frames always kept (= sink_frames; -1: sink_frames decides)."}.at_least(-1),
        OptionSpec{"keep_near", int64_t{0}, "HSA: frames just before the chunk always kept (with keep_frames)."}.at_least(0),
        OptionSpec{"current_chunk", std::string("dense"),
         "HSA: dense (this chunk's keys always, all of them) or compete (Light Forcing: its blocks compete in the "
         "block top-k, whose budget int((1 - s) * K_all) counts every key block)."}.one_of({"dense", "compete"}),
        OptionSpec{"cag_s_min", 0.0, "CAG: sparsity at chunk 0 (fraction of candidate blocks skipped)."}.in_range(0, 1),
        OptionSpec{"cag_s_max", 0.0, "CAG: sparsity after the ramp; 0 with cag_s_min 0 turns CAG off."}.in_range(0, 1),
        OptionSpec{"cag_ramp", int64_t{0}, "CAG: chunks over which sparsity rises from s_min to s_max."}.at_least(0),
        OptionSpec{"cag_curve", std::string("linear"),
         "CAG: linear or cosine (s_min -> s_max over cag_ramp), or lightforcing (s_i = cag_base - beta / "
         "sqrt(frames_i), beta solved so that the KV-weighted mean sparsity is cag_target; chunk 0 dense)."}.one_of({"linear", "cosine", "lightforcing"}),
        OptionSpec{"cag_target", 0.0, "CAG lightforcing: target (work-weighted mean) sparsity, e.g. 0.88."}.in_range(0, 1),
        OptionSpec{"cag_base", 0.0, "CAG lightforcing: base sparsity the curve approaches, e.g. 0.98."}.in_range(0, 1),
        OptionSpec{"cag_chunk_frames", int64_t{3}, "CAG lightforcing: latent frames per chunk."}.at_least(1),
        OptionSpec{"cag_total_frames", int64_t{21}, "CAG lightforcing: latent frames of the video beta is solved over."}.at_least(1),
        OptionSpec{"cag_window", int64_t{0}, "CAG lightforcing: cap of the frames attended (local window + sink); 0 = none."}.at_least(0),
    };
  }

  bool run(Graph& graph, PassContext& ctx) override {
    const std::string& method_name = opt_string("method");
    VDRT_CHECK(method_name == "pbsa" || method_name == "hsa",
               "sparsify-attention: method must be pbsa or hsa, got '" + method_name + "'");
    const SparseMethod method = method_name == "pbsa" ? SparseMethod::Pbsa : SparseMethod::Hsa;
    std::set<int64_t> layers = parse_layers();

    std::vector<Node*> candidates;
    for (const auto& n : graph.nodes())
      if (n->domain() == kVdrtDomain && n->op_type() == "Attention") candidates.push_back(n.get());
    bool changed = false;
    std::optional<BlockLayout> layout;
    for (Node* node : candidates) {
      if (node->attrs().get_string("kind", "") != "self") {
        ctx.explain(*node, "cross-attention (kind=" + node->attrs().get_string("kind", "?") + ") stays dense");
        continue;
      }
      const int64_t layer = node->attrs().get_int("kv_cache_layer", -1);
      Value* pk = node->input(3);
      Value* pv = node->input(4);
      if (!pk || !pv || layer < 0) {
        ctx.explain(*node, "self-attention without a KV cache (no past_key/past_value or kv_cache_layer); left dense");
        continue;
      }
      if (!layers.empty() && !layers.count(layer)) {
        ctx.explain(*node, "layer " + std::to_string(layer) + " is not in `layers`; left dense");
        continue;
      }
      if (node->input(5)) {
        ctx.explain(*node, "self-attention with a mask (input 5); the sparse kernels take none, so it is left dense");
        continue;
      }
      if (!graph.is_graph_input(pk) || !graph.is_graph_input(pv)) {
        ctx.explain(*node, "past_key/past_value are not graph inputs, so the runtime cannot own the cache; left dense");
        continue;
      }
      if (pk->consumers().size() != 1 || pv->consumers().size() != 1) {
        ctx.explain(*node, "the cache inputs '" + pk->name() + "' / '" + pv->name() +
                               "' are read by other nodes too; the rollout binds them empty under sparse "
                               "attention, so the layer is left dense");
        continue;
      }
      if (!layout) layout = resolve_layout(graph);
      SparseAttentionParams p = params(method, *layout, *node);
      const Value* q = node->input(0);
      if (q->shape().rank_known() && q->shape().rank() == 4 && q->shape()[1].known() &&
          q->shape()[1].value() % layout->tokens_per_frame() != 0) {
        ctx.explain(*node, "the query holds " + q->shape()[1].str() + " tokens, not whole frames of " +
                               std::to_string(layout->tokens_per_frame()) + "; left dense");
        continue;
      }
      AttributeMap old = node->attrs();
      std::vector<Value*> inputs = node->inputs();
      Node* sparse = replace_producer(graph, node, sparse_method_op(method), inputs, kVdrtDomain);
      for (const char* keep : {"kind", "source"})
        if (old.has(keep)) sparse->attrs().set(keep, old.all().at(keep));
      p.to_attributes(sparse->attrs());
      infer_node_outputs(graph, *sparse);
      ctx.count(method_name);
      changed = true;
    }
    return changed;
  }

 private:
  std::set<int64_t> parse_layers() const {
    std::set<int64_t> out;
    std::stringstream ss(opt_string("layers"));
    std::string item;
    while (std::getline(ss, item, ',')) {
      if (item.empty()) continue;
      try {
        size_t used = 0;
        int64_t v = std::stoll(item, &used);
        if (used == item.size() && v >= 0) {
          out.insert(v);
          continue;
        }
      } catch (const std::exception&) {
      }
      throw Error("sparsify-attention: layers must be comma-separated layer indices, got '" + opt_string("layers") + "'");
    }
    return out;
  }

  BlockLayout resolve_layout(const Graph& graph) const {
    BlockLayout l;
    if (!opt_string("frame_grid").empty()) {
      auto hw = parse_hw(opt_string("frame_grid"));
      VDRT_CHECK(hw.has_value(), "sparsify-attention: frame_grid must be HxW, got '" + opt_string("frame_grid") + "'");
      std::tie(l.grid_h, l.grid_w) = *hw;
    } else {
      auto tokens = meta_int(graph, "vdrt.tokens_per_frame");
      VDRT_CHECK(tokens.has_value(), "sparsify-attention: the model has no vdrt.tokens_per_frame metadata; set frame_grid",
                 {graph.source_path});
      auto lh = meta_int(graph, "vdrt.latent_height"), lw = meta_int(graph, "vdrt.latent_width");
      l.grid_h = 1;
      l.grid_w = *tokens;
      if (lh && lw) {
        // A square patch p: tokens = (H / p) * (W / p).
        const int64_t area = *lh * *lw;
        const int64_t p = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(area) / *tokens)));
        if (p > 0 && *lh % p == 0 && *lw % p == 0 && (*lh / p) * (*lw / p) == *tokens) {
          l.grid_h = *lh / p;
          l.grid_w = *lw / p;
        }
      }
    }
    if (opt_string("block_layout") == "tokens") {
      const int64_t bs = opt_int("block_size");
      VDRT_CHECK(bs > 0, "sparsify-attention: block_size must be positive");
      l.block_tokens = std::min(bs, l.tokens_per_frame());  // clamped to the frame: one block per frame
      return l;
    }
    VDRT_CHECK(opt_string("block_layout") == "tiles",
               "sparsify-attention: block_layout must be tiles or tokens, got '" + opt_string("block_layout") + "'");
    if (!opt_string("block_tile").empty()) {
      auto hw = parse_hw(opt_string("block_tile"));
      VDRT_CHECK(hw.has_value(), "sparsify-attention: block_tile must be HxW, got '" + opt_string("block_tile") + "'");
      std::tie(l.tile_h, l.tile_w) = *hw;
    } else {
      const int64_t bs = opt_int("block_size");
      VDRT_CHECK(bs > 0, "sparsify-attention: block_size must be positive");
      // The most square divisor pair that fits the grid, else a clamp.
      int64_t best_h = 1;
      for (int64_t h = 1; h * h <= bs; ++h)
        if (bs % h == 0 && h <= l.grid_h) best_h = h;
      l.tile_h = std::min(best_h, l.grid_h);
      l.tile_w = std::min(bs / best_h, l.grid_w);
      if (l.grid_h == 1) {
        l.tile_h = 1;
        l.tile_w = std::min(bs, l.grid_w);
      }
    }
    l.check();
    return l;
  }

  SparseAttentionParams params(SparseMethod method, const BlockLayout& layout, const Node& node) const {
    SparseAttentionParams p;
    p.method = method;
    p.scale = node.attrs().get_float("scale");
    p.num_heads = node.attrs().get_int("num_heads", 0);
    p.kv_num_heads = node.attrs().get_int("kv_num_heads", 0);
    p.layer = node.attrs().get_int("kv_cache_layer", -1);
    p.layout = layout;
    p.sink_frames = opt_int("sink_frames") >= 0 ? opt_int("sink_frames") : (method == SparseMethod::Hsa ? 1 : 0);
    p.cag.s_min = opt_float("cag_s_min");
    p.cag.s_max = opt_float("cag_s_max");
    p.cag.ramp = opt_int("cag_ramp");
    p.cag.curve = CagSchedule::parse_curve(opt_string("cag_curve"));
    p.cag.target = opt_float("cag_target");
    p.cag.base = opt_float("cag_base");
    p.cag.chunk_frames = opt_int("cag_chunk_frames");
    p.cag.total_frames = opt_int("cag_total_frames");
    p.cag.window = opt_int("cag_window");
    if (opt_int("keep_sink") >= 0) p.sink_frames = opt_int("keep_sink");
    p.keep_frames = opt_int("keep_frames");
    p.keep_near = opt_int("keep_near");
    const std::string& cc = opt_string("current_chunk");
    VDRT_CHECK(cc == "dense" || cc == "compete",
               "sparsify-attention: current_chunk must be dense or compete, got '" + cc + "'");
    p.current_chunk = cc == "dense" ? SparseAttentionParams::CurrentChunk::Dense
                                    : SparseAttentionParams::CurrentChunk::Compete;
    VDRT_CHECK(method == SparseMethod::Hsa || (cc == "dense" && p.keep_frames == 0 && p.keep_near == 0),
               "sparsify-attention: current_chunk = compete, keep_frames and keep_near are HSA options (method hsa)");
    p.window_frames = opt_int("window");
    p.top_k = opt_int("top_k");
    p.memory_blocks = opt_int("memory_blocks");
    p.compress = opt_bool("compress");
    p.saliency_decay = static_cast<float>(opt_float("saliency_decay"));
    p.memory_rank = SparseAttentionParams::parse_memory_rank(opt_string("memory_rank"));
    p.top_frames = opt_int("top_frames");
    p.top_blocks = opt_int("top_blocks");
    // Validate through the attribute parser: one set of rules for all users.
    AttributeMap a;
    p.to_attributes(a);
    try {
      return SparseAttentionParams::from_attributes(method, a);
    } catch (const Error& e) {
      throw Error("sparsify-attention: " + e.reason());
    }
  }
};

VDRT_REGISTER_PASS(SparsifyAttention);

}  // namespace
}  // namespace vdrt
