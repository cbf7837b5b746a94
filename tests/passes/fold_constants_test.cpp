// fold-constants: constant subgraphs and static shape arithmetic become
// constants; big results, graph outputs and random ops stay computed.
#include <gtest/gtest.h>

#include "graph_builder.h"
#include "passes/pass_manager.h"
#include "passes/pass_registry.h"
#include "test_util.h"

namespace vdrt {
namespace {

using test::attrs;
using test::GraphBuilder;

TEST(FoldConstants, EvaluatesConstantSubgraphs) {
  GraphBuilder b;
  Value* x = b.input("x", {3});
  Value* c = b.op("Add", {b.constant("a", Tensor::from_vector<float>({3}, {1, 2, 3})), b.scalar(1)});
  Value* c2 = b.op("Mul", {c, b.scalar(2)});
  Value* y = b.op("Add", {x, c2});
  b.output(y);
  auto inputs = test::random_inputs(b.graph());
  auto before = test::run_graph(b.graph(), inputs);
  PassContext ctx;
  EXPECT_TRUE(test::run_pass("fold-constants", b.graph(), &ctx));
  EXPECT_EQ(b.graph().nodes().size(), 1u);
  ASSERT_TRUE(c2->is_constant());
  EXPECT_EQ(c2->constant().as_double(), (std::vector<double>{4, 6, 8}));
  auto after = test::run_graph(b.graph(), inputs);
  EXPECT_EQ(test::max_abs_diff(after.at(y->name()), before.at(y->name())), 0.0);
}

TEST(FoldConstants, FoldsStaticDimsOfDynamicShapes) {
  // TorchScript's attention scale: 1/sqrt(D) from Shape(q)[-1:], with a dynamic sequence length.
  GraphBuilder b;
  Value* q = b.input("q", {1, 4, Dim::symbol("S"), 16});
  Value* last = b.op("Slice", {b.op("Shape", {q}), b.ints({-1}), b.ints({INT64_MAX})});
  Value* f = b.op("Cast", {last}, attrs({{"to", int64_t{1}}}));
  Value* scale = b.op("Div", {b.constant("one", Tensor::from_vector<float>({1}, {1})), b.op("Sqrt", {f})});
  Value* y = b.op("Mul", {q, scale});
  Value* whole = b.op("Shape", {q});  // contains S: must stay
  b.output(y);
  b.output(b.op("Identity", {whole}));
  EXPECT_TRUE(test::run_pass("fold-constants", b.graph()));
  ASSERT_TRUE(scale->is_constant());
  EXPECT_FLOAT_EQ(static_cast<float>(scale->constant().as_double()[0]), 0.25f);
  EXPECT_FALSE(whole->is_constant());
  EXPECT_EQ(test::count_ops(b.graph(), "Shape"), 1);
}

TEST(FoldConstants, ShapeStartEndSizeGatherAndArithmeticOverStaticDims) {
  // Issue 12: only the dims read must be static; the symbolic S is never read.
  GraphBuilder b(17);
  Value* q = b.input("q", {1, 4, Dim::symbol("S"), 16});
  Value* k = b.input("k", {2, 3, 5});
  Value* tail = b.op("Shape", {q}, attrs({{"start", int64_t{-1}}}));                      // [16]
  Value* head = b.op("Shape", {q}, attrs({{"start", int64_t{0}}, {"end", int64_t{2}}}));  // [1, 4]
  Value* h = b.op("Gather", {head, b.ints({1})}, attrs({{"axis", int64_t{0}}}));            // [4]
  Value* hd = b.op("Mul", {h, tail});                                                      // [64]
  Value* f = b.op("Cast", {b.op("Unsqueeze", {b.op("Size", {k}), b.ints({0})})}, attrs({{"to", int64_t{1}}}));
  Value* r = b.op("Reciprocal", {b.op("Sqrt", {b.op("Cast", {tail}, attrs({{"to", int64_t{1}}}))})});  // 0.25
  Value* ratio = b.op("Div", {f, r});                                                       // 120
  b.output(b.op("Mul", {q, r}));
  b.output(b.op("Add", {b.op("Reshape", {k, b.ints({-1})}), ratio}));
  b.output(b.op("Identity", {hd}));
  Value* s_dim = b.op("Gather", {b.op("Shape", {q}), b.ints({2})}, attrs({{"axis", int64_t{0}}}));
  b.output(b.op("Identity", {s_dim}));
  Value* size_q = b.op("Size", {q});
  b.output(b.op("Identity", {size_q}));
  EXPECT_TRUE(test::run_pass("fold-constants", b.graph()));
  ASSERT_TRUE(r->is_constant());
  EXPECT_FLOAT_EQ(static_cast<float>(r->constant().as_double()[0]), 0.25f);
  ASSERT_TRUE(ratio->is_constant());
  EXPECT_FLOAT_EQ(static_cast<float>(ratio->constant().as_double()[0]), 120.0f);
  ASSERT_TRUE(hd->is_constant());
  EXPECT_EQ(hd->constant().as_int64(), (std::vector<int64_t>{64}));
  EXPECT_FALSE(s_dim->is_constant());   // reads S
  EXPECT_FALSE(size_q->is_constant());  // q is not fully known
}

TEST(FoldConstants, LeavesLargeResultsGraphOutputsAndRandomOps) {
  GraphBuilder b;
  Value* x = b.input("x", {2});
  Value* big = b.op("Expand", {b.scalar(1), b.ints({1024, 1024})});  // 4 MiB from a scalar
  Value* out_const = b.op("Add", {b.scalar(1), b.scalar(2)});       // a graph output
  Value* rnd = b.op("RandomNormal", {}, attrs({{"shape", std::vector<int64_t>{2}}}));
  b.output(b.op("Add", {b.op("ReduceSum", {big}, attrs({{"keepdims", int64_t{0}}})), x}));
  b.output(out_const);
  b.output(b.op("Add", {rnd, x}));
  PassContext ctx;
  auto pass = PassRegistry::instance().create("fold-constants");
  PassOptions o;
  o.set("max_bytes", int64_t{1} << 20);
  pass->configure(o);
  ctx.evaluator = [](const Node& n, const std::vector<Tensor>& in, int64_t opset) -> std::vector<Tensor> {
    if (n.op_type() == "Expand") return {Tensor(DType::F32, {1024, 1024})};
    throw Error("not needed here");
  };
  pass->run(b.graph(), ctx);
  EXPECT_FALSE(big->is_constant());
  EXPECT_FALSE(out_const->is_constant());
  EXPECT_FALSE(rnd->is_constant());
  EXPECT_NE(test::explained(ctx).find("max_bytes"), std::string::npos) << test::explained(ctx);
}

TEST(FoldConstants, WithoutEvaluatorFoldsShapesOnly) {
  GraphBuilder b;
  Value* x = b.input("x", {2, 3});
  Value* n = b.op("Gather", {b.op("Shape", {x}), b.ints({1})}, attrs({{"axis", int64_t{0}}}));
  Value* c = b.op("Add", {b.scalar(1), b.scalar(2)});
  b.output(b.op("Reshape", {x, b.op("Concat", {b.ints({-1}), n}, attrs({{"axis", int64_t{0}}}))}));
  b.output(b.op("Add", {c, b.scalar(0)}));
  PassContext ctx;
  auto pass = PassRegistry::instance().create("fold-constants");
  try_infer_shapes(b.graph());
  EXPECT_TRUE(pass->run(b.graph(), ctx));
  EXPECT_EQ(test::count_ops(b.graph(), "Shape"), 0);
  EXPECT_EQ(test::count_ops(b.graph(), "Concat"), 0);  // [-1, 3] is known without evaluating
  EXPECT_FALSE(c->is_constant());
  EXPECT_NE(test::explained(ctx).find("no evaluator"), std::string::npos);
}

}  // namespace
}  // namespace vdrt
