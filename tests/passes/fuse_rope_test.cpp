// fuse-rope: Wan's interleaved RoPE in the three real tiny_wan exports (two
// per layer, q and k, outputs as before within 1e-5 on the golden inputs,
// every attention still fused), the rotate-half form and the interleaved one
// with unbind-ed pairs in real TorchScript and dynamo exports
// (models/export_rope.py; one with a symbolic sequence length),
// built graphs for the opset, layout and symbolic-dim choices, and the
// near-misses explain reports.
#include <gtest/gtest.h>

#include <filesystem>

#include "graph_builder.h"
#include "importer/onnx_import.h"
#include "importer/tensor_file.h"
#include "passes/pass_manager.h"
#include "passes/pipeline.h"
#include "runtime/host_eval.h"
#include "test_util.h"

namespace vdrt {
namespace {
namespace fs = std::filesystem;
using test::GraphBuilder;

PassContext host_context() {
  PassContext ctx;
  ctx.evaluator = [](const Node& node, const std::vector<Tensor>& inputs, int64_t opset) {
    std::vector<const Tensor*> ptrs;
    for (const Tensor& t : inputs) ptrs.push_back(t.defined() ? &t : nullptr);
    return evaluate_on_host(node, opset, ptrs);
  };
  return ctx;
}

// The default pipeline, with fuse-rope on or off.
std::unique_ptr<Graph> optimise(const Graph& original, bool rope, PassContext& ctx) {
  auto g = original.clone();
  Pipeline p = default_pipeline();
  bool found = false;
  for (PipelineStep& s : p.steps)
    if (s.pass == "fuse-rope") {
      s.enabled = rope;
      found = true;
    }
  EXPECT_TRUE(found) << "fuse-rope is not in the default pipeline";
  PassManager(p).run(*g, ctx);
  return g;
}

int ropes(const Graph& g) { return test::count_ops(g, "RotaryEmbedding") + test::count_ops(g, "vdrt.RotaryEmbedding"); }

TensorMap feed_of(const fs::path& set) {
  TensorMap feed;
  for (NamedTensor& t : load_test_set(set.string(), "input")) feed[t.name] = t.tensor;
  return feed;
}

class TinyWanRope : public testing::TestWithParam<std::string> {};

TEST_P(TinyWanRope, QAndKOfEveryLayerFusedSameOutputs) {
  const fs::path style = test::source_path("models/tiny_wan/" + GetParam());
  auto original = load_onnx((style / "denoiser.onnx").string());
  const int64_t layers = std::stoll(original->metadata.at("vdrt.num_layers"));
  PassContext ctx = host_context(), ctx_off = host_context();
  auto fused = optimise(*original, true, ctx);
  auto unfused = optimise(*original, false, ctx_off);
  EXPECT_EQ(ropes(*fused), 2 * layers) << test::explained(ctx);
  EXPECT_EQ(ropes(*unfused), 0);
  for (const auto& n : fused->nodes()) {
    if (n->op_type() != "RotaryEmbedding") continue;
    EXPECT_EQ(n->qualified_op(), GetParam() == "attn23" ? "RotaryEmbedding" : "vdrt.RotaryEmbedding");
    EXPECT_EQ(n->attrs().get_int("interleaved"), 1);
    EXPECT_EQ(n->attrs().get_int("num_heads"), 4);
  }
  // Nothing of the written-out rotation is left, and attention is as fused as before.
  EXPECT_EQ(test::count_ops(*fused, "Gather"), 0);
  EXPECT_EQ(test::count_ops(*fused, "Sub"), 0);
  EXPECT_EQ(test::count_ops(*fused, "vdrt.Attention"), 2 * layers);
  EXPECT_EQ(test::count_ops(*unfused, "vdrt.Attention"), 2 * layers);
  EXPECT_LT(fused->nodes().size(), unfused->nodes().size());
  EXPECT_TRUE(ctx.explanations_of("fuse-rope").empty()) << test::explained(ctx);

  SessionOptions cpu;
  cpu.device = "cpu";
  Session with(fused->clone(), cpu), without(unfused->clone(), cpu);
  for (const fs::path& set : test::test_data_sets(style / "denoiser")) {
    SCOPED_TRACE(set.string());
    TensorMap feed = feed_of(set);
    TensorMap got = with.run(feed), want = without.run(feed);
    for (const auto& [name, t] : want) EXPECT_LE(test::max_abs_diff(got.at(name), t), 1e-5) << name;
  }
}

INSTANTIATE_TEST_SUITE_P(Styles, TinyWanRope, testing::Values("ts17", "dyn18", "attn23"),
                         [](const testing::TestParamInfo<std::string>& i) { return i.param; });

struct ExportCase {
  std::string model;  // models/rope/<model>.onnx, made by models/export_rope.py
  int ropes;
  int64_t interleaved;
};

void PrintTo(const ExportCase& c, std::ostream* os) { *os << c.model; }

class ExportedRope : public testing::TestWithParam<ExportCase> {};

TEST_P(ExportedRope, FusedSameAsOnnxRuntime) {
  const ExportCase& c = GetParam();
  auto g = load_onnx(test::source_path("models/rope/" + c.model + ".onnx"));
  PassContext ctx = host_context();
  PassManager(default_pipeline()).run(*g, ctx);
  EXPECT_EQ(test::count_ops(*g, "vdrt.RotaryEmbedding"), c.ropes) << test::explained(ctx);
  EXPECT_TRUE(ctx.explanations_of("fuse-rope").empty()) << test::explained(ctx);
  for (const char* op : {"Neg", "Squeeze", "Sub"}) EXPECT_EQ(test::count_ops(*g, op), 0) << op;
  for (const auto& n : g->nodes())
    if (n->op_type() == "RotaryEmbedding") {
      EXPECT_EQ(n->attrs().get_int("interleaved"), c.interleaved);
      // Rotate-half's [B, N, S, D] goes in 4-D; the interleaved [B, S, N, D] as [B, S, N*D].
      EXPECT_EQ(n->attrs().has("num_heads"), c.interleaved == 1);
    }
  SessionOptions cpu;
  cpu.device = "cpu";
  Session s(std::move(g), cpu);
  const fs::path set = test::source_path("models/rope/" + c.model) + "/test_data_set_0";
  TensorMap got = s.run(feed_of(set));
  for (NamedTensor& want : load_test_set(set.string(), "output"))
    EXPECT_LE(test::max_abs_diff(got.at(want.name), want.tensor), 1e-5) << want.name;
}

INSTANTIATE_TEST_SUITE_P(Exporters, ExportedRope,
                         testing::Values(ExportCase{"rotate_half_ts17", 2, 0}, ExportCase{"rotate_half_dyn18", 2, 0},
                                         ExportCase{"rotate_half_ts17_dynamic", 2, 0},
                                         ExportCase{"interleaved_unbind_ts17", 1, 1},
                                         ExportCase{"interleaved_unbind_dyn18", 1, 1}),
                         [](const testing::TestParamInfo<ExportCase>& i) { return i.param.model; });

// Wan's pairs on x = [B, S, N, D] from a [B, S, N*D] projection; cos/sin [S, 1, D/2] graph inputs.
struct Interleaved {
  bool swap_imag = false;     // re*cos + im*sin: a rotation the other way
  bool heads_vary = false;    // cos/sin [S, N, D/2]
  bool share_pairs = false;   // the pairs tensor also goes elsewhere
  bool symbolic = false;      // S is a symbol; views copy B and S with Reshape's 0
  int unbind = 0;             // re, im by Gather (0), Squeeze(Slice) (1) or Squeeze(Split) (2)
};

void build_interleaved(GraphBuilder& b, const Interleaved& o = {}) {
  const int64_t s = 6, n = 2, d = 8;
  const Dim seq = o.symbolic ? Dim::symbol("S") : Dim(s);
  const int64_t lead = o.symbolic ? 0 : s;
  Value* x3 = b.input("x", {1, seq, n * d});
  Value* cos = b.input("cos", {seq, o.heads_vary ? n : 1, d / 2});
  Value* sin = b.input("sin", {seq, o.heads_vary ? n : 1, d / 2});
  Value* x4 = b.op("Reshape", {x3, b.ints({1, lead, n, d})});
  Value* pairs = b.op("Reshape", {x4, b.ints({1, lead, n, d / 2, 2})});
  Value *re, *im;
  if (o.unbind == 1) {
    re = b.op("Squeeze", {b.op("Slice", {pairs, b.ints({0}), b.ints({1}), b.ints({-1})}), b.ints({-1})});
    im = b.op("Squeeze", {b.op("Slice", {pairs, b.ints({1}), b.ints({2}), b.ints({4})}), b.ints({4})});
  } else if (o.unbind == 2) {
    Graph& g = b.graph();
    Value* h0 = g.value(g.unique_name("half0"));
    Value* h1 = g.value(g.unique_name("half1"));
    g.add_node("Split", {pairs}, {h0, h1}, g.unique_name("Split"))->attrs().set("axis", int64_t{-1});
    re = b.op("Squeeze", {h0, b.ints({-1})});
    im = b.op("Squeeze", {h1, b.ints({-1})});
  } else {
    re = b.op("Gather", {pairs, b.constant("i0", Tensor::scalar<int64_t>(0))}, test::attrs({{"axis", Attribute(int64_t{4})}}));
    im = b.op("Gather", {pairs, b.constant("i1", Tensor::scalar<int64_t>(1))}, test::attrs({{"axis", Attribute(int64_t{-1})}}));
  }
  Value* real = b.op("Sub", {b.op("Mul", {re, cos}), b.op("Mul", {sin, im})});
  Value* imag = o.swap_imag ? b.op("Add", {b.op("Mul", {cos, re}), b.op("Mul", {im, sin})})
                            : b.op("Add", {b.op("Mul", {im, cos}), b.op("Mul", {sin, re})});
  Value* last = b.ints({-1});
  Value* stacked = b.op("Concat", {b.op("Unsqueeze", {real, last}), b.op("Unsqueeze", {imag, last})},
                        test::attrs({{"axis", Attribute(int64_t{-1})}}));
  b.output(b.op("Reshape", {stacked, b.ints({1, lead, n, d})}));
  if (o.share_pairs) b.output(b.op("Relu", {pairs}));
}

void expect_same(const Graph& before, const Graph& after) {
  auto inputs = test::random_inputs(before, 7, {{"S", 6}});
  auto want = test::run_graph(before, inputs);
  auto got = test::run_graph(after, inputs);
  for (const auto& [name, t] : want) EXPECT_LE(test::max_abs_diff(got.at(name), t), 1e-5) << name;
}

TEST(FuseRope, InterleavedBelowOpset23IsTheVdrtTwin) {
  GraphBuilder b(17);
  build_interleaved(b);
  auto before = b.graph().clone();
  PassContext ctx;
  ASSERT_TRUE(test::run_pass("fuse-rope", b.graph(), &ctx)) << test::explained(ctx);
  EXPECT_EQ(test::count_ops(b.graph(), "vdrt.RotaryEmbedding"), 1);
  EXPECT_EQ(test::count_ops(b.graph(), "Gather"), 0);
  EXPECT_EQ(b.graph().opset("vdrt"), 1);
  EXPECT_EQ(b.graph().opset(""), 17);
  expect_same(*before, b.graph());
}

TEST(FuseRope, InterleavedAtOpset23IsOnnxRotaryEmbedding) {
  GraphBuilder b(23);
  build_interleaved(b);
  auto before = b.graph().clone();
  ASSERT_TRUE(test::run_pass("fuse-rope", b.graph()));
  EXPECT_EQ(test::count_ops(b.graph(), "RotaryEmbedding"), 1);
  EXPECT_EQ(b.graph().opset("vdrt"), 0);
  expect_same(*before, b.graph());
}

TEST(FuseRope, PairsUnboundBySliceOrSplit) {  // torch's x.unflatten(-1, (-1, 2)).unbind(-1)
  for (int unbind : {1, 2}) {
    GraphBuilder b(17);
    build_interleaved(b, {false, false, false, false, unbind});
    auto before = b.graph().clone();
    PassContext ctx;
    ASSERT_TRUE(test::run_pass("fuse-rope", b.graph(), &ctx)) << unbind << test::explained(ctx);
    EXPECT_EQ(test::count_ops(b.graph(), "vdrt.RotaryEmbedding"), 1);
    EXPECT_EQ(test::count_ops(b.graph(), "Squeeze"), 0);
    expect_same(*before, b.graph());
  }
}

TEST(FuseRope, SymbolicSequenceLength) {
  GraphBuilder b(18);
  build_interleaved(b, {false, false, false, true});
  auto before = b.graph().clone();
  PassContext ctx;
  ASSERT_TRUE(test::run_pass("fuse-rope", b.graph(), &ctx)) << test::explained(ctx);
  EXPECT_EQ(test::count_ops(b.graph(), "vdrt.RotaryEmbedding"), 1);
  expect_same(*before, b.graph());
}

TEST(FuseRope, NearMissesAreExplained) {
  struct Case {
    Interleaved o;
    std::string why;
  };
  for (const Case& c : {Case{{true, false, false}, "not rotated as (re*cos - im*sin, re*sin + im*cos)"},
                        Case{{false, true, false}, "vary across heads"},
                        Case{{false, false, true}, "used outside"}}) {
    GraphBuilder b(17);
    build_interleaved(b, c.o);
    PassContext ctx;
    EXPECT_FALSE(test::run_pass("fuse-rope", b.graph(), &ctx));
    EXPECT_NE(test::explained(ctx).find(c.why), std::string::npos) << test::explained(ctx);
    EXPECT_NE(test::explained(ctx).find("looks like an interleaved RoPE"), std::string::npos);
  }
}

TEST(FuseRope, RotateHalfTablesIndexedByPositionIds) {
  // Llama's cos_cached[position_ids]: Gather rows of [P, D] tables with equal halves, then
  // Unsqueeze(1) for the heads; x is [B, N, S, D] and the ids a graph input.
  GraphBuilder b(18);
  const int64_t p = 12, s = 5, d = 8;
  Value* x = b.input("x", {1, 2, s, d});
  Value* ids = b.input("position_ids", {1, s}, DType::I64);
  auto table = [&](const char* name, float phase) {
    Tensor t(DType::F32, {p, d});
    for (int64_t r = 0; r < p; ++r)
      for (int64_t i = 0; i < d / 2; ++i)
        t.data<float>()[r * d + i] = t.data<float>()[r * d + d / 2 + i] = std::cos(0.3f * r * (i + 1) + phase);
    Value* rows = b.op("Gather", {b.constant(name, t), ids}, test::attrs({{"axis", Attribute(int64_t{0})}}));
    return b.op("Unsqueeze", {rows, b.ints({1})});  // [1, 1, S, D]
  };
  Value* cos = table("cos_cached", 0.0f);
  Value* sin = table("sin_cached", -1.5707963f);
  Value* x1 = b.op("Slice", {x, b.ints({0}), b.ints({d / 2}), b.ints({-1})});
  Value* x2 = b.op("Slice", {x, b.ints({d / 2}), b.ints({d}), b.ints({-1})});
  Value* rot = b.op("Concat", {b.op("Neg", {x2}), x1}, test::attrs({{"axis", Attribute(int64_t{-1})}}));
  b.output(b.op("Add", {b.op("Mul", {cos, x}), b.op("Mul", {sin, rot})}));
  auto before = b.graph().clone();
  PassContext ctx;
  ASSERT_TRUE(test::run_pass("fuse-rope", b.graph(), &ctx)) << test::explained(ctx);
  EXPECT_EQ(test::count_ops(b.graph(), "vdrt.RotaryEmbedding"), 1);
  EXPECT_EQ(test::count_ops(b.graph(), "Neg"), 0);
  expect_same(*before, b.graph());
}

TEST(FuseRope, RotateHalfNeedsEqualHalves) {
  // x [B, N, S, D] * cos + rotate_half(x) * sin with cos/sin [1, 1, S, D] graph inputs:
  // nothing shows their halves are equal, so it is not a RotaryEmbedding.
  GraphBuilder b(18);
  Value* x = b.input("x", {1, 2, 5, 8});
  Value* cos = b.input("cos", {1, 1, 5, 8});
  Value* sin = b.input("sin", {1, 1, 5, 8});
  Value* x1 = b.op("Slice", {x, b.ints({0}), b.ints({4}), b.ints({-1})});
  Value* x2 = b.op("Slice", {x, b.ints({4}), b.ints({INT64_MAX}), b.ints({-1})});
  Value* rot = b.op("Concat", {b.op("Neg", {x2}), x1}, test::attrs({{"axis", Attribute(int64_t{-1})}}));
  b.output(b.op("Add", {b.op("Mul", {x, cos}), b.op("Mul", {rot, sin})}));
  PassContext ctx;
  EXPECT_FALSE(test::run_pass("fuse-rope", b.graph(), &ctx));
  EXPECT_NE(test::explained(ctx).find("halves cannot be shown equal"), std::string::npos) << test::explained(ctx);
}

}  // namespace
}  // namespace vdrt
