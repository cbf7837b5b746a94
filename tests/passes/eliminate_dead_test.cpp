// eliminate-dead and common-subexpressions on small graphs.
#include <gtest/gtest.h>

#include "graph_builder.h"
#include "test_util.h"

namespace vdrt {
namespace {

using test::attrs;
using test::GraphBuilder;

TEST(EliminateDead, RemovesUnusedChainsAndConstants) {
  GraphBuilder b;
  Value* x = b.input("x", {4});
  Value* unused_in = b.input("unused", {4});
  Value* w = b.random({4});
  Value* dead = b.op("Relu", {b.op("Mul", {x, w})});  // nobody reads it
  Value* y = b.op("Sigmoid", {x});
  b.output(y);
  std::string dead_name = dead->name(), w_name = w->name();
  EXPECT_TRUE(test::run_pass("eliminate-dead", b.graph()));
  EXPECT_EQ(b.graph().nodes().size(), 1u);
  EXPECT_EQ(b.graph().find_value(dead_name), nullptr);
  EXPECT_EQ(b.graph().find_value(w_name), nullptr);
  EXPECT_EQ(b.graph().inputs().size(), 2u);  // the interface stays, used or not
  EXPECT_TRUE(b.graph().is_graph_input(unused_in));
  EXPECT_FALSE(test::run_pass("eliminate-dead", b.graph()));
}

TEST(CommonSubexpressions, MergesIdenticalNodesAndConstants) {
  GraphBuilder b;
  Value* x = b.input("x", {2, 3});
  Value* a1 = b.op("Softmax", {x}, attrs({{"axis", int64_t{1}}}));
  Value* a2 = b.op("Softmax", {x}, attrs({{"axis", int64_t{1}}}));
  Value* other = b.op("Softmax", {x}, attrs({{"axis", int64_t{0}}}));  // different attribute
  Value* c1 = b.constant("c1", Tensor::from_vector<float>({3}, {1, 2, 3}));
  Value* c2 = b.constant("c2", Tensor::from_vector<float>({3}, {1, 2, 3}));
  Value* y = b.op("Add", {b.op("Mul", {a1, c1}), b.op("Mul", {a2, c2})});
  b.output(y);
  b.output(other);
  auto inputs = test::random_inputs(b.graph());
  auto before = test::run_graph(b.graph(), inputs);
  PassContext ctx;
  EXPECT_TRUE(test::run_pass("common-subexpressions", b.graph(), &ctx));
  test::run_pass("eliminate-dead", b.graph());
  EXPECT_EQ(test::count_ops(b.graph(), "Softmax"), 2);
  EXPECT_EQ(test::count_ops(b.graph(), "Mul"), 1);  // after the constants merged, the Muls did too
  auto after = test::run_graph(b.graph(), inputs);
  EXPECT_EQ(test::max_abs_diff(after.at(y->name()), before.at(y->name())), 0.0);
}

TEST(CommonSubexpressions, KeepsRandomOpsAndGraphOutputs) {
  GraphBuilder b;
  Value* x = b.input("x", {2});
  Value* r1 = b.op("RandomUniformLike", {x});
  Value* r2 = b.op("RandomUniformLike", {x});
  Value* n1 = b.op("Neg", {x});
  Value* n2 = b.op("Neg", {x});
  b.output(b.op("Add", {r1, r2}));
  b.output(n1);
  b.output(n2);  // both are graph outputs: their names are part of the interface
  test::run_pass("common-subexpressions", b.graph());
  EXPECT_EQ(test::count_ops(b.graph(), "RandomUniformLike"), 2);
  EXPECT_EQ(test::count_ops(b.graph(), "Neg"), 2);
}

}  // namespace
}  // namespace vdrt
