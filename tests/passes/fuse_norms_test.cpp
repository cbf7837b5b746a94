// fuse-norms on the spellings the exporters produce, and near-misses.
#include <gtest/gtest.h>

#include "graph_builder.h"
#include "test_util.h"

namespace vdrt {
namespace {

using test::attrs;
using test::GraphBuilder;

constexpr int64_t kD = 8;

// x * 1/sqrt(mean(x^2) + eps) * w, TorchScript style (Div(1, Sqrt)).
Value* rms_torchscript(GraphBuilder& b, Value* x, int64_t axis = -1) {
  Value* ms = b.op("ReduceMean", {b.op("Pow", {x, b.scalar(2)})},
                   attrs({{"axes", std::vector<int64_t>{axis}}, {"keepdims", int64_t{1}}}));
  Value* inv = b.op("Div", {b.scalar(1), b.op("Sqrt", {b.op("Add", {ms, b.scalar(1e-6f)})})});
  return b.op("Mul", {b.op("Mul", {x, inv}), b.random({kD}, 3)});
}

void expect_same_outputs(GraphBuilder& b, const Graph& before, double tol = 1e-5) {
  auto inputs = test::random_inputs(before);
  auto want = test::run_graph(before, inputs);
  auto got = test::run_graph(b.graph(), inputs);
  for (const auto& [name, t] : want) EXPECT_LE(test::max_abs_diff(got.at(name), t), tol) << name;
}

TEST(FuseNorms, RmsNormTorchScriptStyleBelowOpset23GivesVdrtTwin) {
  GraphBuilder b(17);
  Value* x = b.input("x", {2, 5, kD});
  b.output(rms_torchscript(b, x));
  auto before = b.graph().clone();
  PassContext ctx;
  ASSERT_TRUE(test::run_pass("fuse-norms", b.graph(), &ctx)) << test::explained(ctx);
  EXPECT_EQ(b.graph().nodes().size(), 1u);
  EXPECT_EQ(test::count_ops(b.graph(), "vdrt.RMSNormalization"), 1);
  EXPECT_EQ(b.graph().opset("vdrt"), 1);
  const Node& n = *b.graph().nodes().front();
  EXPECT_NEAR(n.attrs().get_float("epsilon"), 1e-6f, 1e-12);
  EXPECT_EQ(n.attrs().get_int("axis"), -1);
  expect_same_outputs(b, *before);
}

TEST(FuseNorms, RmsNormDynamoStyleAtOpset23GivesOnnxOp) {
  // rsqrt as Reciprocal(Sqrt), ReduceMean axes as an input (opset 18+), factors swapped.
  GraphBuilder b(23);
  Value* x = b.input("x", {3, kD});
  Value* ms = b.op("ReduceMean", {b.op("Mul", {x, x}), b.ints({-1})}, attrs({{"keepdims", int64_t{1}}}));
  Value* r = b.op("Reciprocal", {b.op("Sqrt", {b.op("Add", {b.scalar(1e-5f), ms})})});
  Value* y = b.op("Mul", {b.random({kD}, 4), b.op("Mul", {r, x})});
  b.output(y);
  auto before = b.graph().clone();
  ASSERT_TRUE(test::run_pass("fuse-norms", b.graph()));
  EXPECT_EQ(test::count_ops(b.graph(), "RMSNormalization"), 1);
  EXPECT_EQ(b.graph().nodes().size(), 1u);
  expect_same_outputs(b, *before);
}

TEST(FuseNorms, RmsNormWithoutWeightGetsOnes) {
  GraphBuilder b(23);
  Value* x = b.input("x", {3, kD});
  Value* ms = b.op("ReduceMean", {b.op("Pow", {x, b.scalar(2)}), b.ints({1})}, attrs({{"keepdims", int64_t{1}}}));
  b.output(b.op("Div", {x, b.op("Sqrt", {b.op("Add", {ms, b.scalar(1e-6f)})})}));
  auto before = b.graph().clone();
  ASSERT_TRUE(test::run_pass("fuse-norms", b.graph()));
  EXPECT_EQ(test::count_ops(b.graph(), "RMSNormalization"), 1);
  expect_same_outputs(b, *before);
}

TEST(FuseNorms, DecomposedLayerNormWithAffine) {
  GraphBuilder b(17);
  Value* x = b.input("x", {2, 4, kD});
  auto last = attrs({{"axes", std::vector<int64_t>{-1}}, {"keepdims", int64_t{1}}});
  Value* d = b.op("Sub", {x, b.op("ReduceMean", {x}, last)});
  Value* var = b.op("ReduceMean", {b.op("Pow", {d, b.scalar(2)})}, last);
  Value* norm = b.op("Div", {d, b.op("Sqrt", {b.op("Add", {var, b.scalar(1e-5f)})})});
  Value* y = b.op("Add", {b.op("Mul", {norm, b.random({kD}, 5)}), b.random({kD}, 6)});
  b.output(y);
  auto before = b.graph().clone();
  ASSERT_TRUE(test::run_pass("fuse-norms", b.graph()));
  EXPECT_EQ(test::count_ops(b.graph(), "LayerNormalization"), 1);
  EXPECT_EQ(b.graph().nodes().size(), 1u);
  EXPECT_EQ(b.graph().nodes().front()->inputs().size(), 3u);  // scale and bias folded in
  expect_same_outputs(b, *before);
}

TEST(FuseNorms, ModulationAfterTheNormIsNotSwallowed) {
  // adaLN: LN(x) * (1 + scale) + shift with activations scale/shift: only the LN fuses.
  GraphBuilder b(17);
  Value* x = b.input("x", {2, 4, kD});
  Value* scale = b.input("scale", {2, 1, kD});
  Value* shift = b.input("shift", {2, 1, kD});
  auto last = attrs({{"axes", std::vector<int64_t>{-1}}, {"keepdims", int64_t{1}}});
  Value* d = b.op("Sub", {x, b.op("ReduceMean", {x}, last)});
  Value* var = b.op("ReduceMean", {b.op("Mul", {d, d})}, last);
  Value* norm = b.op("Mul", {d, b.op("Reciprocal", {b.op("Sqrt", {b.op("Add", {var, b.scalar(1e-6f)})})})});
  b.output(b.op("Add", {b.op("Mul", {norm, b.op("Add", {scale, b.scalar(1)})}), shift}));
  auto before = b.graph().clone();
  ASSERT_TRUE(test::run_pass("fuse-norms", b.graph()));
  EXPECT_EQ(test::count_ops(b.graph(), "LayerNormalization"), 1);
  EXPECT_EQ(test::count_ops(b.graph(), "Mul"), 1);
  expect_same_outputs(b, *before);
}

TEST(FuseNorms, NearMissesAreLeftAloneAndExplained) {
  {  // mean over the wrong axis
    GraphBuilder b(17);
    Value* x = b.input("x", {kD, kD});
    b.output(rms_torchscript(b, x, 0));
    PassContext ctx;
    EXPECT_FALSE(test::run_pass("fuse-norms", b.graph(), &ctx));
    EXPECT_NE(test::explained(ctx).find("not over the last axis"), std::string::npos) << test::explained(ctx);
  }
  {  // the rsqrt is used elsewhere too
    GraphBuilder b(17);
    Value* x = b.input("x", {2, kD});
    Value* y = rms_torchscript(b, x);
    b.output(y);
    Node* inner_mul = y->producer()->input(0)->producer();
    b.output(inner_mul->input(1));
    PassContext ctx;
    EXPECT_FALSE(test::run_pass("fuse-norms", b.graph(), &ctx));
    EXPECT_NE(test::explained(ctx).find("also used outside"), std::string::npos) << test::explained(ctx);
  }
  {  // a weight shaped [D, 1] is not a vector over the last axis: only the norm inside fuses
    GraphBuilder b(17);
    Value* x = b.input("x", {kD, kD});
    Value* ms = b.op("ReduceMean", {b.op("Pow", {x, b.scalar(2)})},
                     attrs({{"axes", std::vector<int64_t>{-1}}, {"keepdims", int64_t{1}}}));
    Value* inv = b.op("Div", {b.scalar(1), b.op("Sqrt", {b.op("Add", {ms, b.scalar(1e-6f)})})});
    b.output(b.op("Mul", {b.op("Mul", {x, inv}), b.random({kD, 1})}));
    auto before = b.graph().clone();
    PassContext ctx;
    EXPECT_TRUE(test::run_pass("fuse-norms", b.graph(), &ctx));
    EXPECT_NE(test::explained(ctx).find("not a vector over the last axis"), std::string::npos) << test::explained(ctx);
    EXPECT_EQ(test::count_ops(b.graph(), "vdrt.RMSNormalization"), 1);
    EXPECT_EQ(test::count_ops(b.graph(), "Mul"), 1);
    expect_same_outputs(b, *before);
  }
  {  // cube instead of square: not a norm at all, nothing to explain
    GraphBuilder b(17);
    Value* x = b.input("x", {2, kD});
    Value* ms = b.op("ReduceMean", {b.op("Pow", {x, b.scalar(3)})},
                     attrs({{"axes", std::vector<int64_t>{-1}}, {"keepdims", int64_t{1}}}));
    b.output(b.op("Div", {x, b.op("Sqrt", {b.op("Add", {ms, b.scalar(1e-6f)})})}));
    PassContext ctx;
    EXPECT_FALSE(test::run_pass("fuse-norms", b.graph(), &ctx));
    EXPECT_TRUE(ctx.explanations().empty()) << test::explained(ctx);
  }
  {  // normalizing a different tensor than the one squared
    GraphBuilder b(17);
    Value* x = b.input("x", {2, kD});
    Value* z = b.input("z", {2, kD});
    Value* ms = b.op("ReduceMean", {b.op("Pow", {x, b.scalar(2)})},
                     attrs({{"axes", std::vector<int64_t>{-1}}, {"keepdims", int64_t{1}}}));
    b.output(b.op("Div", {z, b.op("Sqrt", {b.op("Add", {ms, b.scalar(1e-6f)})})}));
    EXPECT_FALSE(test::run_pass("fuse-norms", b.graph()));
  }
}

}  // namespace
}  // namespace vdrt
