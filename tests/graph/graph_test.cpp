#include "graph/graph.h"

#include <gtest/gtest.h>

#include "graph/error.h"
#include "graph/shape.h"

namespace vdrt {
namespace {

TEST(Shape, SymbolicArithmeticAndBroadcast) {
  Dim t = Dim::symbol("past");
  EXPECT_EQ((t + Dim(48)).str(), "past+48");
  EXPECT_EQ((t + Dim(0)).str(), "past");
  EXPECT_EQ((Dim(3) * Dim(16)).value(), 48);
  Shape a({Dim(1), t, Dim(4)});
  Shape b({Dim(4)});
  EXPECT_EQ(broadcast_shapes(a, b).str(), "[1, past, 4]");
  EXPECT_THROW(broadcast_shapes(Shape{2, 3}, Shape{4}), Error);
  EXPECT_EQ(broadcast_dims({2, 1, 5}, {3, 1}), (std::vector<int64_t>{2, 3, 5}));
}

TEST(Shape, NormalizeAxisRejectsOutOfRange) {
  EXPECT_EQ(normalize_axis(-1, 4), 3);
  EXPECT_THROW(normalize_axis(4, 4), Error);
  EXPECT_THROW(normalize_axis(-5, 4), Error);
}

TEST(Graph, EditsKeepUsesAndOrder) {
  Graph g;
  Value* x = g.value("x");
  g.inputs().push_back(x);
  Value* y = g.value("y");
  Value* z = g.value("z");
  // Added out of order on purpose: sort() must fix it.
  Node* second = g.add_node("Relu", {y}, {z}, "second");
  Node* first = g.add_node("Neg", {x}, {y}, "first");
  g.outputs().push_back(z);
  g.sort();
  EXPECT_EQ(g.nodes()[0].get(), first);
  EXPECT_EQ(g.nodes()[1].get(), second);
  EXPECT_EQ(y->producer(), first);
  ASSERT_EQ(y->consumers().size(), 1u);
  g.validate();

  g.replace_all_uses(y, x);  // bypass the Neg
  EXPECT_TRUE(y->consumers().empty());
  EXPECT_EQ(second->input(0), x);
  g.remove_node(first);
  g.prune_values();
  EXPECT_EQ(g.find_value("y"), nullptr);
  g.validate();
  auto copy = g.clone();
  EXPECT_EQ(copy->nodes().size(), 1u);
  EXPECT_EQ(copy->nodes()[0]->input(0)->name(), "x");
}

TEST(Graph, CycleAndDanglingInputAreReported) {
  Graph g;
  Value* a = g.value("a");
  Value* b = g.value("b");
  g.add_node("Relu", {a}, {b}, "n1");
  g.add_node("Relu", {b}, {a}, "n2");
  try {
    g.sort();
    FAIL() << "cycle not detected";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cycle"), std::string::npos);
  }
  Graph h;
  h.add_node("Relu", {h.value("nowhere")}, {h.value("out")}, "lonely");
  try {
    h.validate();
    FAIL() << "dangling input not detected";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("lonely"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("nowhere"), std::string::npos);
  }
}

TEST(DType, HalfAndBfloat16RoundTrip) {
  // Reference values from numpy: np.float16(x).view(np.uint16).
  EXPECT_EQ(float_to_half(1.0f), 0x3c00);
  EXPECT_EQ(float_to_half(-2.5f), 0xc100);
  EXPECT_EQ(float_to_half(65504.0f), 0x7bff);
  EXPECT_EQ(float_to_half(1e6f), 0x7c00);
  EXPECT_EQ(float_to_half(5.960464477539063e-08f), 0x0001);  // smallest subnormal
  EXPECT_EQ(float_to_half(0.1f), 0x2e66);
  EXPECT_FLOAT_EQ(half_to_float(0x2e66), 0.0999755859375f);
  EXPECT_FLOAT_EQ(half_to_float(0x0001), 5.960464477539063e-08f);
  for (uint32_t h = 0; h < 0x7c00; ++h) EXPECT_EQ(float_to_half(half_to_float(h)), h);
  EXPECT_EQ(float_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(float_to_bf16(3.14159265f), 0x4049);  // torch.tensor(pi).bfloat16()
  EXPECT_FLOAT_EQ(bf16_to_float(0x4049), 3.140625f);
}

}  // namespace
}  // namespace vdrt
