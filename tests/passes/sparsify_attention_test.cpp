// sparsify-attention on the committed tiny models (every export style) and
// on hand-built graphs: one sparse node per layer with the cache inputs
// kept, cross-attention left dense, the rewritten model running standalone
// (past inputs read as the window) with every block selected equal to the
// original, the shipped pipelines loading and running, ONNX round trips,
// and the near-misses that must stay dense.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "graph_builder.h"
#include "graph/ops/sparse_attention_params.h"
#include "importer/onnx_export.h"
#include "importer/onnx_import.h"
#include "importer/tensor_file.h"
#include "passes/pass_manager.h"
#include "passes/pass_registry.h"
#include "passes/pipeline.h"
#include "runtime/host_eval.h"
#include "runtime/pass_pipeline.h"
#include "test_util.h"

namespace vdrt {
namespace {
namespace fs = std::filesystem;

const char* kFuse =
    "[[pass]]\nname = \"fold-constants\"\n[[pass]]\nname = \"eliminate-dead\"\n[[pass]]\nname = \"fuse-attention\"\n";

std::unique_ptr<Graph> rewrite(const Graph& original, const std::string& sparsify_options, PassContext& ctx) {
  auto g = original.clone();
  ctx.evaluator = host_node_evaluator();
  std::string toml = std::string(kFuse) + "[[pass]]\nname = \"sparsify-attention\"\n" + sparsify_options +
                     "\n[[pass]]\nname = \"eliminate-dead\"\n";
  PassManager(parse_pipeline(toml, "test")).run(*g, ctx);
  return g;
}

std::vector<fs::path> golden_sets(const fs::path& style) { return test::test_data_sets(style / "denoiser"); }

class SparsifyModel : public testing::TestWithParam<std::string> {
 protected:
  fs::path style() const { return test::source_path("models/tiny_wan/" + GetParam()); }
};

TEST_P(SparsifyModel, OneSparseNodePerLayerCrossStaysDense) {
  auto original = load_onnx((style() / "denoiser.onnx").string());
  const int64_t layers = std::stoll(original->metadata.at("vdrt.num_layers"));
  for (const char* method : {"pbsa", "hsa"}) {
    PassContext ctx;
    auto g = rewrite(*original, std::string("method = \"") + method + "\"\nblock_size = 4", ctx);
    const std::string op = std::string("vdrt.") + (std::string(method) == "pbsa" ? "PBSAttention" : "HSAttention");
    std::set<int64_t> seen;
    for (const auto& n : g->nodes()) {
      if (n->qualified_op() == "vdrt.Attention") {
        EXPECT_EQ(n->attrs().get_string("kind"), "cross");
        continue;
      }
      if (n->qualified_op() != op) continue;
      const int64_t layer = n->attrs().get_int("kv_cache_layer");
      seen.insert(layer);
      ASSERT_EQ(n->inputs().size(), 5u);
      EXPECT_EQ(n->input(3)->name(), "past_key." + std::to_string(layer));
      EXPECT_EQ(n->input(4)->name(), "past_value." + std::to_string(layer));
      // The tiny model: 4x4 tokens per frame from its metadata, 2x2 tiles.
      EXPECT_EQ(n->attrs().get_ints("frame_grid"), (std::vector<int64_t>{4, 4}));
      EXPECT_EQ(n->attrs().get_ints("block_tile"), (std::vector<int64_t>{2, 2}));
      EXPECT_NEAR(n->attrs().get_float("scale"), 0.25, 1e-6);
    }
    EXPECT_EQ(static_cast<int64_t>(seen.size()), layers) << method << test::explained(ctx);
    EXPECT_EQ(test::count_ops(*g, "Attention"), 0);
    auto cross = ctx.explanations_of("sparsify-attention");
    EXPECT_EQ(static_cast<int64_t>(cross.size()), layers);  // one "stays dense" per cross-attention
  }
}

TEST_P(SparsifyModel, EveryBlockSelectedMatchesTheOriginalOnGoldenSets) {
  auto original = load_onnx((style() / "denoiser.onnx").string());
  SessionOptions cpu{"cpu"};
  Session dense(original->clone(), cpu);
  const std::pair<const char*, const char*> configs[] = {
      {"pbsa", "method = \"pbsa\"\nblock_size = 4\nwindow = 100\ntop_k = 0"},
      {"hsa", "method = \"hsa\"\nblock_size = 4\ntop_frames = 0\ntop_blocks = 0"},
  };
  for (const auto& [name, options] : configs) {
    PassContext ctx;
    Session sparse(rewrite(*original, options, ctx), cpu);
    for (const fs::path& set : golden_sets(style())) {
      SCOPED_TRACE(std::string(name) + " " + set.string());
      TensorMap feed;
      for (NamedTensor& t : load_test_set(set.string(), "input")) feed[t.name] = t.tensor;
      TensorMap got = sparse.run(feed), want = dense.run(feed);
      for (const auto& [out, t] : want) EXPECT_LE(test::max_abs_diff(got.at(out), t), 1e-4) << out;
    }
  }
}

TEST_P(SparsifyModel, ShippedPipelinesRunAndRoundTrip) {
  for (const char* file : {"passes/pipelines/sparse_pbsa.toml", "passes/pipelines/sparse_hsa.toml"}) {
    SCOPED_TRACE(file);
    auto g = load_onnx((style() / "denoiser.onnx").string());
    run_pass_pipeline_file(*g, test::source_path(file));
    fs::path out = fs::temp_directory_path() / ("vdrt_sparse_roundtrip_" + GetParam() + ".onnx");
    save_onnx(*g, out.string());
    Session s(load_onnx(out.string()), SessionOptions{"cpu"});
    fs::remove(out);
    const fs::path set = golden_sets(style()).back();  // two cached chunks
    TensorMap feed;
    for (NamedTensor& t : load_test_set(set.string(), "input")) feed[t.name] = t.tensor;
    TensorMap got = s.run(feed);
    const Tensor& flow = got.at("flow");
    for (int64_t i = 0; i < flow.numel(); ++i) ASSERT_TRUE(std::isfinite(flow.data<float>()[i]));
  }
}

// Each Light Forcing preset writes the paper's setting onto every HSA node:
// token blocks, compete, keep_*, and a CAG schedule equal to the published
// list to 3 decimals (short / Hopper) or the one solved for the long setting.
TEST_P(SparsifyModel, LightForcingPresetsCarryThePublishedSchedules) {
  struct Preset {
    const char* file;
    int64_t keep_frames, keep_near;
    std::vector<double> schedule;
  };
  const std::vector<Preset> presets = {
      {"lightforcing_short", 6, 2, {0, .827, .855, .872, .883, .892, .898}},
      {"lightforcing_short_fp8", 6, 2, {0, .827, .855, .872, .883, .892, .898}},
      {"lightforcing_hopper", 6, 2, {0, .747, .775, .792, .803, .812, .818}},
      {"lightforcing_long", 3, 1, {0, .733, .773, .797, .813, .825, .834}},
  };
  for (const Preset& preset : presets) {
    SCOPED_TRACE(preset.file);
    auto g = load_onnx((style() / "denoiser.onnx").string());
    run_pass_pipeline_file(*g, test::source_path(std::string("passes/pipelines/") + preset.file + ".toml"));
    int64_t hsa = 0;
    for (const auto& n : g->nodes()) {
      if (n->op_type() != "HSAttention") continue;
      ++hsa;
      auto p = SparseAttentionParams::from_attributes(SparseMethod::Hsa, n->attrs());
      EXPECT_EQ(p.layout.block_tokens, 16);  // 64 / 128 clamped to the tiny model's frame
      EXPECT_EQ(p.current_chunk, SparseAttentionParams::CurrentChunk::Compete);
      EXPECT_EQ(p.keep_frames, preset.keep_frames);
      EXPECT_EQ(p.keep_near, preset.keep_near);
      EXPECT_EQ(p.sink_frames, 1);
      EXPECT_EQ(p.cag.curve, CagSchedule::Curve::LightForcing);
      for (size_t i = 0; i < preset.schedule.size(); ++i)
        EXPECT_NEAR(std::round(p.cag.sparsity(static_cast<int64_t>(i)) * 1000) / 1000, preset.schedule[i], 1e-9)
            << "chunk " << i;
    }
    EXPECT_EQ(hsa, 2);
  }
}

INSTANTIATE_TEST_SUITE_P(Styles, SparsifyModel, testing::Values("ts17", "dyn18", "attn23"),
                         [](const testing::TestParamInfo<std::string>& i) { return i.param; });

// A graph with one vdrt.Attention over a cache, as fuse-attention writes it.
struct OneAttention {
  test::GraphBuilder b;
  Value *q, *k, *v, *pk, *pv, *y;
  Node* node;
  explicit OneAttention(const std::string& kind = "self") {
    q = b.input("q", {1, 32, 2, 8});
    k = b.input("k", {1, 32, 2, 8});
    v = b.input("v", {1, 32, 2, 8});
    pk = b.input("past_key.0", {1, Dim::symbol("T"), 2, 8});
    pv = b.input("past_value.0", {1, Dim::symbol("T"), 2, 8});
    AttributeMap a;
    a.set("scale", 0.35f);
    a.set("kind", kind);
    a.set("kv_cache_layer", int64_t{0});
    y = b.op("Attention", {q, k, v, pk, pv}, a, "vdrt");
    node = y->producer();
    b.output(y);
    b.graph().metadata["vdrt.tokens_per_frame"] = "16";
    b.graph().metadata["vdrt.latent_height"] = "8";
    b.graph().metadata["vdrt.latent_width"] = "8";
  }
};

bool run_pass(Graph& g, PassContext& ctx, PassOptions options) {
  auto pass = PassRegistry::instance().create("sparsify-attention");
  pass->configure(options);
  ctx.set_current_pass("sparsify-attention");
  return pass->run(g, ctx);
}

TEST(SparsifyAttention, RewritesSelfAttentionWithTheOptions) {
  OneAttention m;
  PassContext ctx;
  PassOptions o;
  o.set("method", std::string("hsa"));
  o.set("block_tile", std::string("2x4"));
  o.set("top_frames", int64_t{3});
  o.set("top_blocks", int64_t{5});
  o.set("cag_s_min", 0.1);
  o.set("cag_s_max", 0.6);
  o.set("cag_ramp", int64_t{5});
  o.set("cag_curve", std::string("cosine"));
  ASSERT_TRUE(run_pass(m.b.graph(), ctx, o));
  Node* n = m.y->producer();
  ASSERT_EQ(n->qualified_op(), "vdrt.HSAttention");
  auto p = SparseAttentionParams::from_attributes(SparseMethod::Hsa, n->attrs());
  EXPECT_EQ(p.layout.grid_h, 4);  // 8x8 latents, 16 tokens: patch 2
  EXPECT_EQ(p.layout.tile_w, 4);
  EXPECT_EQ(p.top_frames, 3);
  EXPECT_EQ(p.top_blocks, 5);
  EXPECT_EQ(p.sink_frames, 1);
  EXPECT_EQ(p.cag.curve, CagSchedule::Curve::Cosine);
  EXPECT_NEAR(p.cag.s_max, 0.6, 1e-6);
  EXPECT_EQ(n->attrs().get_string("kind"), "self");
  EXPECT_EQ(m.y->shape(), Shape({1, 32, 2, 8}));
}

TEST(SparsifyAttention, LightForcingOptions) {
  // Light Forcing: token blocks (64 clamped to the 16-token frame), compete,
  // the keep_* frame stage, and CAG by target and base.
  OneAttention m;
  PassContext ctx;
  PassOptions o;
  o.set("method", std::string("hsa"));
  o.set("block_layout", std::string("tokens"));
  o.set("block_size", int64_t{64});
  o.set("current_chunk", std::string("compete"));
  o.set("keep_frames", int64_t{6});
  o.set("keep_sink", int64_t{1});
  o.set("keep_near", int64_t{2});
  o.set("cag_curve", std::string("lightforcing"));
  o.set("cag_target", 0.88);
  o.set("cag_base", 0.98);
  ASSERT_TRUE(run_pass(m.b.graph(), ctx, o));
  Node* n = m.y->producer();
  ASSERT_EQ(n->qualified_op(), "vdrt.HSAttention");
  auto p = SparseAttentionParams::from_attributes(SparseMethod::Hsa, n->attrs());
  EXPECT_EQ(p.layout.block_tokens, 16);
  EXPECT_EQ(p.layout.tiles(), 1);
  EXPECT_EQ(p.current_chunk, SparseAttentionParams::CurrentChunk::Compete);
  EXPECT_EQ(p.keep_frames, 6);
  EXPECT_EQ(p.keep_near, 2);
  EXPECT_EQ(p.sink_frames, 1);
  EXPECT_EQ(p.cag.curve, CagSchedule::Curve::LightForcing);
  EXPECT_NEAR(p.cag.sparsity(1), 0.827, 5e-4);
  EXPECT_NEAR(p.cag.sparsity(6), 0.898, 5e-4);
  OneAttention bad;
  PassOptions keep;
  keep.set("method", std::string("hsa"));
  keep.set("keep_frames", int64_t{2});
  keep.set("keep_near", int64_t{2});  // 1 sink + 2 near > 2
  EXPECT_THROW(run_pass(bad.b.graph(), ctx, keep), Error);
  PassOptions pbsa;  // Light Forcing's options belong to HSA
  pbsa.set("method", std::string("pbsa"));
  pbsa.set("current_chunk", std::string("compete"));
  EXPECT_THROW(run_pass(bad.b.graph(), ctx, pbsa), Error);
}

TEST(SparsifyAttention, NearMissesStayDense) {
  {
    OneAttention m("cross");
    PassContext ctx;
    EXPECT_FALSE(run_pass(m.b.graph(), ctx, {}));
    ASSERT_EQ(ctx.explanations().size(), 1u);
    EXPECT_NE(ctx.explanations()[0].message.find("stays dense"), std::string::npos);
  }
  {
    OneAttention m;  // the cache input is read elsewhere too
    m.b.output(m.b.op("Identity", {m.pk}));
    PassContext ctx;
    EXPECT_FALSE(run_pass(m.b.graph(), ctx, {}));
    EXPECT_NE(ctx.explanations().at(0).message.find("read by other nodes"), std::string::npos);
  }
  {
    OneAttention m;  // 32 tokens per call are not whole frames of 5x5
    PassContext ctx;
    PassOptions o;
    o.set("frame_grid", std::string("5x5"));
    EXPECT_FALSE(run_pass(m.b.graph(), ctx, o));
    EXPECT_NE(ctx.explanations().at(0).message.find("not whole frames"), std::string::npos);
  }
  {
    OneAttention m;  // layer filter
    PassContext ctx;
    PassOptions o;
    o.set("layers", std::string("1,2"));
    EXPECT_FALSE(run_pass(m.b.graph(), ctx, o));
  }
  {
    OneAttention m;
    PassContext ctx;
    PassOptions o;
    o.set("method", std::string("dense"));
    EXPECT_THROW(run_pass(m.b.graph(), ctx, o), Error);
    o.set("method", std::string("pbsa"));
    o.set("window", int64_t{0});
    EXPECT_THROW(run_pass(m.b.graph(), ctx, o), Error);
  }
}

}  // namespace
}  // namespace vdrt
