// fuse-modulation: adaLN modulation and gated residuals become vdrt.MulAdd,
// in every operand order, with the same results; look-alikes are left alone
// and near-misses explained; on the committed tiny Wan exports every block's
// two modulations and two gates and the head's modulation fuse.
#include <gtest/gtest.h>

#include <filesystem>

#include "graph_builder.h"
#include "importer/onnx_import.h"
#include "importer/tensor_file.h"
#include "passes/pass_manager.h"
#include "passes/pass_registry.h"
#include "passes/pipeline.h"
#include "runtime/host_eval.h"
#include "test_util.h"

namespace vdrt {
namespace {

using test::GraphBuilder;

// Runs the pass, expects one vdrt.MulAdd with `offset` and the same outputs.
void check_fused(GraphBuilder& b, float offset) {
  auto before = b.graph().clone();
  PassContext ctx;
  ASSERT_TRUE(test::run_pass("fuse-modulation", b.graph(), &ctx)) << test::explained(ctx);
  ASSERT_EQ(b.graph().nodes().size(), 1u);
  const Node& n = *b.graph().nodes().front();
  EXPECT_EQ(n.qualified_op(), "vdrt.MulAdd");
  EXPECT_EQ(n.attrs().get_float("offset"), offset);
  auto inputs = test::random_inputs(*before);
  auto want = test::run_graph(*before, inputs);
  auto got = test::run_graph(b.graph(), inputs);
  for (const auto& [name, t] : want) EXPECT_LE(test::max_abs_diff(got.at(name), t), 1e-6) << name;
  EXPECT_TRUE(ctx.explanations().empty()) << test::explained(ctx);
}

TEST(FuseModulation, TorchScriptOrder) {  // Add(Mul(norm, Add(scale, 1)), shift)
  GraphBuilder b(17);
  Value* x = b.input("x", {2, 5, 8});
  Value* scale = b.input("scale", {2, 1, 8});
  Value* shift = b.input("shift", {2, 1, 8});
  b.output(b.op("Add", {b.op("Mul", {x, b.op("Add", {scale, b.scalar(1)})}), shift}));
  check_fused(b, 1.0f);
}

TEST(FuseModulation, SwappedOperandsAndAnotherConstant) {  // Add(shift, Mul(Add(0.5, scale), x))
  GraphBuilder b(18);
  Value* x = b.input("x", {3, 16});
  Value* scale = b.input("scale", {16});
  Value* shift = b.input("shift", {3, 1});
  b.output(b.op("Add", {shift, b.op("Mul", {b.op("Add", {b.scalar(0.5f), scale}), x})}));
  check_fused(b, 0.5f);
}

TEST(FuseModulation, GatedResidualEitherOrder) {
  for (bool swap : {false, true}) {
    GraphBuilder b(17);
    Value* x = b.input("x", {2, Dim::symbol("S"), 8});
    Value* y = b.input("y", {2, Dim::symbol("S"), 8});
    Value* gate = b.input("gate", {2, 1, 8});
    Value* prod = swap ? b.op("Mul", {gate, y}) : b.op("Mul", {y, gate});
    b.output(swap ? b.op("Add", {prod, x}) : b.op("Add", {x, prod}));
    auto before = b.graph().clone();
    ASSERT_TRUE(test::run_pass("fuse-modulation", b.graph()));
    ASSERT_EQ(b.graph().nodes().size(), 1u);
    const Node& n = *b.graph().nodes().front();
    EXPECT_EQ(n.qualified_op(), "vdrt.MulAdd");
    EXPECT_EQ(n.input(0)->name(), "y");
    EXPECT_EQ(n.input(1)->name(), "gate");
    EXPECT_EQ(n.input(2)->name(), "x");
    auto inputs = test::random_inputs(*before, 3, {{"S", 7}});
    auto want = test::run_graph(*before, inputs);
    auto got = test::run_graph(b.graph(), inputs);
    for (const auto& [name, t] : want) EXPECT_LE(test::max_abs_diff(got.at(name), t), 1e-6) << name;
  }
}

TEST(FuseModulation, LinearOutputTimesGateIsAGateNotAModulation) {  // x + (h W + bias) * gate
  GraphBuilder b(17);
  Value* x = b.input("x", {1, 6, 8});
  Value* h = b.input("h", {1, 6, 8});
  Value* gate = b.input("gate", {1, 1, 8});
  Value* lin = b.op("Add", {b.op("MatMul", {h, b.random({8, 8})}), b.random({8}, 2)});
  b.output(b.op("Add", {x, b.op("Mul", {lin, gate})}));
  PassContext ctx;
  ASSERT_TRUE(test::run_pass("fuse-modulation", b.graph(), &ctx));
  EXPECT_EQ(test::count_ops(b.graph(), "vdrt.MulAdd"), 1);
  EXPECT_EQ(b.graph().nodes().back()->attrs().get_float("offset"), 0.0f);
  EXPECT_TRUE(ctx.explanations().empty()) << test::explained(ctx);
}

TEST(FuseModulation, LookAlikesAreLeftAloneSilently) {
  {  // x + y * z, all full: a multiply-add, no gate
    GraphBuilder b(17);
    Value* x = b.input("x", {4, 8});
    b.output(b.op("Add", {x, b.op("Mul", {b.input("y", {4, 8}), b.input("z", {4, 8})})}));
    PassContext ctx;
    EXPECT_FALSE(test::run_pass("fuse-modulation", b.graph(), &ctx));
    EXPECT_TRUE(ctx.explanations().empty()) << test::explained(ctx);
  }
  {  // RoPE's a * cos + b * sin: a sum of products
    GraphBuilder b(17);
    Value* cos = b.input("cos", {5, 1, 4});
    Value* sin = b.input("sin", {5, 1, 4});
    Value* a = b.input("a", {2, 5, 3, 4});
    Value* c = b.input("c", {2, 5, 3, 4});
    b.output(b.op("Add", {b.op("Mul", {a, cos}), b.op("Mul", {c, sin})}));
    PassContext ctx;
    EXPECT_FALSE(test::run_pass("fuse-modulation", b.graph(), &ctx));
    EXPECT_TRUE(ctx.explanations().empty()) << test::explained(ctx);
  }
  {  // an outer product [S, 1] * [1, D] has no gate either
    GraphBuilder b(17);
    b.output(b.op("Add", {b.input("x", {6, 8}), b.op("Mul", {b.input("u", {6, 1}), b.input("v", {1, 8})})}));
    EXPECT_FALSE(test::run_pass("fuse-modulation", b.graph()));
  }
}

TEST(FuseModulation, SharedIntermediatesAreExplained) {
  {  // (1 + scale) also feeds another node
    GraphBuilder b(17);
    Value* x = b.input("x", {2, 5, 8});
    Value* one_plus = b.op("Add", {b.input("scale", {2, 1, 8}), b.scalar(1)});
    b.output(b.op("Add", {b.op("Mul", {x, one_plus}), b.input("shift", {2, 1, 8})}));
    b.output(one_plus);
    PassContext ctx;
    EXPECT_FALSE(test::run_pass("fuse-modulation", b.graph(), &ctx));
    EXPECT_NE(test::explained(ctx).find("looks like an adaLN modulation"), std::string::npos) << test::explained(ctx);
    EXPECT_NE(test::explained(ctx).find("also used outside"), std::string::npos) << test::explained(ctx);
  }
  {  // the gated product is used twice
    GraphBuilder b(17);
    Value* prod = b.op("Mul", {b.input("y", {2, 5, 8}), b.input("gate", {2, 1, 8})});
    b.output(b.op("Add", {b.input("x", {2, 5, 8}), prod}));
    b.output(b.op("Relu", {prod}));
    PassContext ctx;
    EXPECT_FALSE(test::run_pass("fuse-modulation", b.graph(), &ctx));
    EXPECT_NE(test::explained(ctx).find("looks like a gated residual"), std::string::npos) << test::explained(ctx);
  }
}

TEST(FuseModulation, OtherFloatTypesAreExplained) {
  GraphBuilder b(17);
  Value* x = b.input("x", {2, 5, 8}, DType::F16);
  Value* scale = b.input("scale", {2, 1, 8}, DType::F16);
  Value* one = b.constant("one", Tensor::scalar<float>(1).to(DType::F16));
  b.output(b.op("Add", {b.op("Mul", {x, b.op("Add", {scale, one})}), b.input("shift", {2, 1, 8}, DType::F16)}));
  PassContext ctx;
  EXPECT_FALSE(test::run_pass("fuse-modulation", b.graph(), &ctx));
  EXPECT_NE(test::explained(ctx).find("not float32"), std::string::npos) << test::explained(ctx);
}

TEST(FuseModulation, ShapesThatDoNotBroadcastAreExplained) {  // a broken model: [2, 5, 8] * [2, 1, 8] + [7]
  GraphBuilder b(17);
  Value* prod = b.op("Mul", {b.input("y", {2, 5, 8}), b.input("gate", {2, 1, 8})});
  b.output(b.op("Add", {b.input("x", {7}), prod}));
  PassContext ctx;
  EXPECT_FALSE(test::run_pass("fuse-modulation", b.graph(), &ctx));
  EXPECT_NE(test::explained(ctx).find("do not broadcast"), std::string::npos) << test::explained(ctx);
}

TEST(FuseModulation, OptionsTurnEachFormOff) {
  GraphBuilder b(17);
  Value* x = b.input("x", {2, 5, 8});
  Value* m = b.op("Add", {b.op("Mul", {x, b.op("Add", {b.input("scale", {2, 1, 8}), b.scalar(1)})}),
                          b.input("shift", {2, 1, 8})});
  b.output(b.op("Add", {x, b.op("Mul", {m, b.input("gate", {2, 1, 8})})}));
  for (const char* off : {"modulation", "gated_residual"}) {
    auto g = b.graph().clone();
    PassOptions o;
    o.set(off, false);
    auto pass = PassRegistry::instance().create("fuse-modulation");
    pass->configure(o);
    PassManager pm;
    pm.add(std::move(pass));
    PassContext ctx;
    pm.run(*g, ctx);
    EXPECT_EQ(test::count_ops(*g, "vdrt.MulAdd"), 1) << off;
    EXPECT_EQ(test::count_ops(*g, "Mul"), 1) << off;
  }
}

// The committed exports: the default pipeline with and without this pass.
class ModulationOnExports : public testing::TestWithParam<std::string> {};

std::unique_ptr<Graph> optimise(const Graph& original, bool with_modulation) {
  auto g = original.clone();
  Pipeline p = default_pipeline();
  for (PipelineStep& s : p.steps)
    if (s.pass == "fuse-modulation") s.enabled = with_modulation;
  PassContext ctx;
  ctx.evaluator = [](const Node& node, const std::vector<Tensor>& inputs, int64_t opset) {
    std::vector<const Tensor*> ptrs;
    for (const Tensor& t : inputs) ptrs.push_back(t.defined() ? &t : nullptr);
    return evaluate_on_host(node, opset, ptrs);
  };
  PassManager(p).run(*g, ctx);
  EXPECT_TRUE(ctx.explanations_of("fuse-modulation").empty()) << test::explained(ctx);
  return g;
}

TEST_P(ModulationOnExports, EveryModulationAndGateFusesWithTheSameOutputs) {
  const std::filesystem::path style = test::source_path("models/tiny_wan/" + GetParam());
  auto original = load_onnx((style / "denoiser.onnx").string());
  const int64_t layers = std::stoll(original->metadata.at("vdrt.num_layers"));
  auto unfused = optimise(*original, false);
  auto fused = optimise(*original, true);
  ASSERT_EQ(test::count_ops(*unfused, "vdrt.MulAdd"), 0);
  // Per block: norm1 and norm2 modulations, self-attention and FFN gates;
  // the head's modulation. A modulation was 3 nodes, a gate 2.
  int modulations = 0, gates = 0;
  for (const auto& n : fused->nodes())
    if (n->qualified_op() == "vdrt.MulAdd") ++(n->attrs().get_float("offset") == 1.0f ? modulations : gates);
  EXPECT_EQ(modulations, 2 * layers + 1);
  EXPECT_EQ(gates, 2 * layers);
  EXPECT_EQ(unfused->nodes().size() - fused->nodes().size(), static_cast<size_t>(2 * modulations + gates));

  SessionOptions cpu;
  cpu.device = "cpu";
  Session want_s(std::move(unfused), cpu), got_s(std::move(fused), cpu);
  for (const auto& set : test::test_data_sets(style / "denoiser")) {
    SCOPED_TRACE(set.string());
    TensorMap feed;
    for (NamedTensor& t : load_test_set(set.string(), "input")) feed[t.name] = t.tensor;
    TensorMap want = want_s.run(feed), got = got_s.run(feed);
    for (const auto& [name, t] : want) EXPECT_LE(test::max_abs_diff(got.at(name), t), 1e-5) << name;
  }
}

INSTANTIATE_TEST_SUITE_P(Styles, ModulationOnExports, testing::Values("ts17", "dyn18", "attn23"),
                         [](const testing::TestParamInfo<std::string>& i) { return i.param; });

}  // namespace
}  // namespace vdrt
