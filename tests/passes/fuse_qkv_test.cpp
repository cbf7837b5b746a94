// fuse-qkv on hand-built attention blocks: the projections feeding one
// vdrt.Attention from one input become one MatMul + bias Add + Split with
// the same outputs (self-attention's q/k/v, cross-attention's k/v, a
// missing bias as zeros, the opset-11 Split attribute); projections of
// another input stay apart; near misses are explained.
#include <gtest/gtest.h>

#include "graph_builder.h"
#include "passes/pass_registry.h"
#include "test_util.h"

namespace vdrt {
namespace {

using test::attrs;
using test::GraphBuilder;

constexpr int64_t kS = 6, kDim = 16, kHeads = 2;

// x [1, S, dim] -> Linear -> [1, S, H, D] view.
Value* projection(GraphBuilder& b, Value* x, Value* w, bool bias, uint32_t seed) {
  Value* y = b.op("MatMul", {x, w});
  if (bias) y = b.op("Add", {b.random({kDim}, seed + 100), y});  // TorchScript's order: bias first
  return b.op("Reshape", {y, b.ints({1, -1, kHeads, kDim / kHeads})});
}

Value* attention(GraphBuilder& b, Value* q, Value* k, Value* v, const char* kind) {
  return b.op("Attention", {q, k, v}, attrs({{"scale", 0.5f}, {"kind", std::string(kind)}}), "vdrt");
}

// Runs fuse-qkv and checks that outputs did not change.
PassContext fuse_and_compare(GraphBuilder& b, bool expect_change) {
  auto before = b.graph().clone();
  PassContext ctx;
  EXPECT_EQ(test::run_pass("fuse-qkv", b.graph(), &ctx), expect_change) << test::explained(ctx);
  auto inputs = test::random_inputs(*before);
  auto want = test::run_graph(*before, inputs);
  auto got = test::run_graph(b.graph(), inputs);
  for (const auto& [name, t] : want) EXPECT_LE(test::max_abs_diff(got.at(name), t), 1e-5) << name;
  return ctx;
}

TEST(FuseQkv, SelfAndCrossAttentionProjectionsFuse) {
  GraphBuilder b(17);
  Value* x = b.input("x", {1, kS, kDim});
  Value* ctx_in = b.input("context", {1, 4, kDim});
  Value* q = projection(b, x, b.random({kDim, kDim}, 1), true, 1);
  Value* k = projection(b, x, b.random({kDim, kDim}, 2), true, 2);
  Value* v = projection(b, x, b.random({kDim, kDim}, 3), false, 3);  // no bias: zeros in the concatenation
  Value* h = b.op("Reshape", {attention(b, q, k, v, "self"), b.ints({1, kS, kDim})});
  Value* cq = projection(b, h, b.random({kDim, kDim}, 4), true, 4);
  Value* ck = projection(b, ctx_in, b.random({kDim, kDim}, 5), true, 5);
  Value* cv = projection(b, ctx_in, b.random({kDim, kDim}, 6), true, 6);
  b.output(attention(b, cq, ck, cv, "cross"));
  b.output(v);  // a projection's view that is also a graph output keeps its name
  PassContext ctx = fuse_and_compare(b, true);
  EXPECT_TRUE(ctx.explanations().empty()) << test::explained(ctx);
  // q/k/v -> 1, cross k/v -> 1, cross q alone: 3 MatMuls by weights.
  int weight_matmuls = 0;
  std::vector<size_t> split_outputs;
  for (const auto& n : b.graph().nodes()) {
    if (n->qualified_op() == "MatMul" && n->input(1)->is_constant()) {
      ++weight_matmuls;
      const int64_t width = n->input(1)->shape()[1].value();
      EXPECT_TRUE(width == kDim || width == 2 * kDim || width == 3 * kDim) << width;
    }
    if (n->qualified_op() == "Split") {
      split_outputs.push_back(n->outputs().size());
      ASSERT_EQ(n->inputs().size(), 2u);  // opset >= 13: sizes as an input
      EXPECT_EQ(n->input(1)->constant().as_int64(), std::vector<int64_t>(n->outputs().size(), kDim));
    }
  }
  EXPECT_EQ(weight_matmuls, 3);
  EXPECT_EQ(split_outputs, (std::vector<size_t>{3, 2}));
}

TEST(FuseQkv, Opset11WritesTheSplitAttribute) {
  GraphBuilder b(11);
  Value* x = b.input("x", {1, kS, kDim});
  Value* q = projection(b, x, b.random({kDim, kDim}, 1), true, 1);
  Value* k = projection(b, x, b.random({kDim, kDim}, 2), true, 2);
  Value* v = projection(b, x, b.random({kDim, kDim}, 3), true, 3);
  b.output(attention(b, q, k, v, "self"));
  fuse_and_compare(b, true);
  ASSERT_EQ(test::count_ops(b.graph(), "Split"), 1);
  for (const auto& n : b.graph().nodes())
    if (n->op_type() == "Split") {
      EXPECT_EQ(n->inputs().size(), 1u);
      EXPECT_EQ(n->attrs().get_ints("split"), (std::vector<int64_t>{kDim, kDim, kDim}));
    }
}

TEST(FuseQkv, OptionsChooseSelfOrCross) {
  GraphBuilder b(17);
  Value* x = b.input("x", {1, kS, kDim});
  Value* q = projection(b, x, b.random({kDim, kDim}, 1), true, 1);
  Value* k = projection(b, x, b.random({kDim, kDim}, 2), true, 2);
  b.output(attention(b, q, k, projection(b, x, b.random({kDim, kDim}, 3), true, 3), "cross"));
  auto pass = PassRegistry::instance().create("fuse-qkv");
  PassOptions o;
  o.set("cross_attention", false);
  pass->configure(o);
  PassContext ctx;
  EXPECT_FALSE(pass->run(b.graph(), ctx));
}

TEST(FuseQkv, NearMissesAreExplained) {
  GraphBuilder b(17);
  Value* x = b.input("x", {1, kS, kDim});
  Value* wk = b.input("wk", {kDim, kDim});  // a weight fed at run time
  Value* q = projection(b, x, b.random({kDim, kDim}, 1), true, 1);
  Value* k = projection(b, x, wk, true, 2);
  Value* v = projection(b, x, b.random({kDim, kDim}, 3), true, 3);
  b.output(attention(b, q, k, v, "self"));
  PassContext ctx = fuse_and_compare(b, false);
  const std::string why = test::explained(ctx);
  EXPECT_NE(why.find("weight 'wk' is not a constant"), std::string::npos) << why;
  EXPECT_NE(why.find("not fused"), std::string::npos) << why;
  EXPECT_EQ(test::count_ops(b.graph(), "Split"), 0);
}

TEST(FuseQkv, WithoutFusedAttentionNothingChanges) {
  // Three Linears of one input that feed no vdrt.Attention (an MLP's
  // siblings) are not this pass's business.
  GraphBuilder b(17);
  Value* x = b.input("x", {1, kS, kDim});
  for (uint32_t s = 1; s <= 3; ++s) b.output(projection(b, x, b.random({kDim, kDim}, s), true, s));
  fuse_and_compare(b, false);
}

}  // namespace
}  // namespace vdrt
