// The matching helpers passes build on: the declarative Pattern matcher,
// flattened products/sums, and symbolic shape reasoning.
#include <gtest/gtest.h>

#include "graph/shape_inference.h"
#include "graph_builder.h"
#include "passes/algebra.h"
#include "passes/attention_trace.h"
#include "passes/pattern.h"
#include "passes/symbolic_shapes.h"

namespace vdrt {
namespace {

using test::attrs;
using test::GraphBuilder;

TEST(Pattern, MatchesCommutativeOpsAndCaptures) {
  GraphBuilder b;
  Value* x = b.input("x", {4});
  Value* s = b.op("Sigmoid", {x});
  Value* y = b.op("Mul", {s, x});  // operands in the "wrong" order
  b.output(y);
  auto p = Pattern::op("Mul", {Pattern::any("x"), Pattern::op("Sigmoid", {Pattern::any("x")}).as("sig")})
               .commutative()
               .as("mul");
  std::string why;
  auto m = match(p, b.graph(), y, &why);
  ASSERT_TRUE(m) << why;
  EXPECT_EQ(m->value("x"), x);
  EXPECT_EQ(m->node("sig"), s->producer());
  EXPECT_EQ(m->root_node, y->producer());
  EXPECT_EQ(m->matched.front(), y->producer());
  EXPECT_EQ(m->matched.size(), 2u);
}

TEST(Pattern, CaptureMustBindOneValue) {
  GraphBuilder b;
  Value* x = b.input("x", {4});
  Value* z = b.input("z", {4});
  Value* y = b.op("Mul", {x, b.op("Sigmoid", {z})});
  b.output(y);
  auto p = Pattern::op("Mul", {Pattern::any("x"), Pattern::op("Sigmoid", {Pattern::any("x")})}).commutative();
  std::string why;
  EXPECT_FALSE(match(p, b.graph(), y, &why));
  EXPECT_NE(why.find("two different values"), std::string::npos) << why;
}

TEST(Pattern, InteriorNodeUsedOutsideDoesNotMatchUnlessShared) {
  GraphBuilder b;
  Value* x = b.input("x", {4});
  Value* s = b.op("Sigmoid", {x});
  Value* y = b.op("Mul", {x, s});
  b.output(y);
  b.output(b.op("Relu", {s}));  // the sigmoid is used elsewhere too
  std::string why;
  auto strict = Pattern::op("Mul", {Pattern::any("x"), Pattern::op("Sigmoid", {Pattern::any("x")})});
  EXPECT_FALSE(match(strict, b.graph(), y, &why));
  EXPECT_NE(why.find("also used outside"), std::string::npos) << why;
  auto relaxed = Pattern::op("Mul", {Pattern::any("x"), Pattern::op("Sigmoid", {Pattern::any("x")}).shared()});
  EXPECT_TRUE(match(relaxed, b.graph(), y, &why)) << why;
}

TEST(Pattern, ScalarAndWhereChecks) {
  GraphBuilder b;
  Value* x = b.input("x", {4});
  Value* y = b.op("Mul", {x, b.scalar(0.5f)});
  Value* sm = b.op("Softmax", {y}, attrs({{"axis", int64_t{0}}}));
  b.output(sm);
  std::string why;
  EXPECT_TRUE(match(Pattern::op("Mul", {Pattern::any(), Pattern::scalar(0.5)}), b.graph(), y, &why)) << why;
  EXPECT_FALSE(match(Pattern::op("Mul", {Pattern::any(), Pattern::scalar(2.0)}), b.graph(), y, &why));
  auto last_axis = Pattern::op("Softmax").where(
      [](const Node& n) { return n.attrs().get_int("axis", -1) == -1; }, "axis is not -1");
  EXPECT_FALSE(match(last_axis, b.graph(), sm, &why));
  EXPECT_NE(why.find("axis is not -1"), std::string::npos) << why;
  EXPECT_FALSE(match(Pattern::op("Relu"), b.graph(), x, &why));  // a graph input has no producer
}

TEST(Algebra, FlattensProductsWhateverTheGrouping) {
  GraphBuilder b;
  Value* x = b.input("x", {4});
  Value* w = b.random({4});
  // ((x * 2) / s) * (w * 0.25), with s = Sqrt(x)
  Value* s = b.op("Sqrt", {x});
  Value* y = b.op("Mul", {b.op("Div", {b.op("Mul", {x, b.scalar(2)}), s}), b.op("Mul", {w, b.scalar(0.25f)})});
  b.output(y);
  Product p = flatten_product(b.graph(), y);
  EXPECT_DOUBLE_EQ(p.coefficient, 0.5);
  ASSERT_EQ(p.factors.size(), 3u);
  int inverse = 0;
  for (const Factor& f : p.factors) inverse += f.power < 0 && f.value == s;
  EXPECT_EQ(inverse, 1);
  EXPECT_EQ(p.nodes.size(), 4u);
}

TEST(Algebra, DoesNotExpandSharedNodes) {
  GraphBuilder b;
  Value* x = b.input("x", {4});
  Value* inner = b.op("Mul", {x, x});
  Value* y = b.op("Mul", {inner, b.scalar(3)});
  b.output(y);
  b.output(inner);  // inner is a graph output: it must stay a factor
  Product p = flatten_product(b.graph(), y);
  ASSERT_EQ(p.factors.size(), 1u);
  EXPECT_EQ(p.factors[0].value, inner);
  Sum s = flatten_sum(b.graph(), b.op("Sub", {b.op("Add", {x, b.scalar(1)}), b.op("Neg", {x})}));
  EXPECT_DOUBLE_EQ(s.constant, 1.0);
  ASSERT_EQ(s.terms.size(), 2u);
  EXPECT_EQ(s.terms[0].sign, 1);
  EXPECT_EQ(s.terms[1].sign, 1);  // minus a negation
}

TEST(SymbolicShapes, EvaluatesShapeTensorsWithSymbolicDims) {
  GraphBuilder b;
  Value* x = b.input("x", {1, Dim::symbol("T"), 4, 16});
  Value* shape = b.op("Shape", {x});
  Value* last = b.op("Slice", {shape, b.ints({-1}), b.ints({INT64_MAX})});
  Value* t = b.op("Gather", {shape, b.ints({1})}, attrs({{"axis", int64_t{0}}}));
  Value* cat = b.op("Concat", {b.ints({-1}), t, last}, attrs({{"axis", int64_t{0}}}));
  b.output(cat);
  infer_shapes(b.graph());
  auto d = shape_tensor_dims(cat);
  ASSERT_TRUE(d);
  ASSERT_EQ(d->size(), 3u);
  EXPECT_TRUE(is_infer_dim((*d)[0]));
  EXPECT_EQ((*d)[1].name(), "T");
  EXPECT_EQ((*d)[2].value(), 16);
  auto r = reshape_dims({Dim(1), Dim::symbol("T"), Dim(4), Dim(16)}, *d, false);
  ASSERT_TRUE(r);
  EXPECT_TRUE(same_dim((*r)[0], Dim(4)));
  EXPECT_TRUE(same_dims(*r, {Dim(4), Dim::symbol("T"), Dim(16)}));
  EXPECT_FALSE(same_dim(Dim(), Dim()));  // unknown dims are never equal
  EXPECT_TRUE(same_dim(product_dim({Dim::symbol("B"), Dim(4), Dim::symbol("A")}),
                       product_dim({Dim(2), Dim::symbol("A"), Dim(2), Dim::symbol("B")})));
}

TEST(SymbolicShapes, RecognisesDynamoLastAxesSwap) {
  GraphBuilder b(18);
  Value* k = b.input("k", {1, 4, Dim::symbol("T"), 16});
  Value* shape = b.op("Shape", {k});
  Value* d = b.op("Slice", {shape, b.ints({-1}), b.ints({INT64_MAX})});
  Value* t = b.op("Slice", {shape, b.ints({-2}), b.ints({-1})});
  Value* lead = b.op("Slice", {shape, b.ints({INT64_MIN}), b.ints({-2})});
  Value* r1 = b.op("Reshape", {k, b.op("Concat", {b.ints({-1}), t, d}, attrs({{"axis", int64_t{0}}}))});
  Value* tr = b.op("Transpose", {r1}, attrs({{"perm", std::vector<int64_t>{0, 2, 1}}}));
  Value* r2 = b.op("Reshape", {tr, b.op("Concat", {lead, d, t}, attrs({{"axis", int64_t{0}}}))});
  b.output(r2);
  infer_shapes(b.graph());
  auto swap = last_two_axes_swap(r2);
  ASSERT_TRUE(swap);
  EXPECT_EQ(swap->first, k);
  EXPECT_EQ(swap->second.size(), 3u);

  // Near-miss: swapping with the wrong final shape is not a transpose.
  GraphBuilder c(18);
  Value* k2 = c.input("k", {1, 4, 8, 16});
  Value* r1b = c.op("Reshape", {k2, c.ints({-1, 8, 16})});
  Value* trb = c.op("Transpose", {r1b}, attrs({{"perm", std::vector<int64_t>{0, 2, 1}}}));
  Value* r2b = c.op("Reshape", {trb, c.ints({1, 4, 8, 16})});
  c.output(r2b);
  infer_shapes(c.graph());
  EXPECT_FALSE(last_two_axes_swap(r2b));
}

TEST(AttentionTrace, CacheLayerIndexFromInputNames) {
  EXPECT_EQ(cache_layer_index("past_key.3"), 3);
  EXPECT_EQ(cache_layer_index("past_value_12"), 12);
  EXPECT_EQ(cache_layer_index("cache"), -1);
}

}  // namespace
}  // namespace vdrt
