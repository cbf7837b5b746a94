// Issue 12, item 1: the TorchScript exporter (opset 17) writes
// F.scaled_dot_product_attention without an explicit scale as a scale
// computed at run time from the query's shape:
//   Shape(q) -> Slice(-1:) -> Cast -> Sqrt -> Div(1, .) -> Cast -> Sqrt
// and multiplies that square root into both q and the transposed k before
// the score MatMul. With a symbolic sequence length the query's shape is
// not fully known, but its head dim is: fold-constants must turn the chain
// into a constant so that fuse-attention fuses the attention with scale
// 1/sqrt(D). No torch is needed: the graphs reproduce the exporter's nodes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>

#include "graph_builder.h"
#include "passes/pass_manager.h"
#include "passes/pipeline.h"
#include "runtime/host_eval.h"
#include "test_util.h"

namespace vdrt {
namespace {

using test::attrs;
using test::GraphBuilder;

constexpr int64_t H = 2, D = 8, HD = H * D;
constexpr int64_t kFloat = 1;  // ONNX FLOAT

AttributeMap perm(std::vector<int64_t> p) { return attrs({{"perm", p}}); }
AttributeMap axis(int64_t a) { return attrs({{"axis", a}}); }

// Runs the pipeline `vdrt opt` runs by default, with the host evaluator.
void run_default_pipeline(Graph& g, PassContext& ctx) {
  ctx.evaluator = [](const Node& node, const std::vector<Tensor>& inputs, int64_t opset) {
    std::vector<const Tensor*> ptrs;
    for (const Tensor& t : inputs) ptrs.push_back(t.defined() ? &t : nullptr);
    return evaluate_on_host(node, opset, ptrs);
  };
  PassManager(default_pipeline()).run(g, ctx);
}

// torch.onnx symbolic_opset14._attention_scale, then sqrt(scale) twice.
Value* exporter_sqrt_scale(GraphBuilder& b, Value* q) {
  Value* shape = b.op("Shape", {q});
  Value* last = b.op("Slice", {shape, b.ints({-1}), b.ints({INT64_MAX})});
  Value* emb = b.op("Cast", {last}, attrs({{"to", kFloat}}));
  Value* one = b.constant(b.graph().unique_name("one"), Tensor::from_vector<float>({1}, {1.0f}));
  Value* scale = b.op("Div", {one, b.op("Sqrt", {emb})});
  return b.op("Cast", {scale}, attrs({{"to", kFloat}}));
}

// SDPA on q, k, v of [1, H, n, D] as the TorchScript exporter writes it
// without `scale`: sqrt(scale) on q and on Transpose(k, [0, 1, 3, 2]).
Value* sdpa_default_scale(GraphBuilder& b, Value* q, Value* k, Value* v) {
  Value* scale = exporter_sqrt_scale(b, q);
  Value* kt = b.op("Transpose", {k}, perm({0, 1, 3, 2}));
  Value* qs = b.op("Mul", {q, b.op("Sqrt", {scale})});
  Value* ks = b.op("Mul", {kt, b.op("Sqrt", {scale})});
  Value* p = b.op("Softmax", {b.op("MatMul", {qs, ks})}, axis(-1));
  return b.op("MatMul", {p, v});
}

// [1, S, HD] -> Linear -> [1, S, H, D]. With `shape_view` the Reshape target
// is built as TorchScript writes x.view(b, s, n, d): Shape(x) gathers for b
// and s, constants for n and d, so shape inference alone cannot tell D.
Value* heads(GraphBuilder& b, Value* x, uint32_t seed, bool shape_view) {
  Value* proj = b.op("MatMul", {x, b.random({HD, HD}, seed)});
  if (!shape_view) return b.op("Reshape", {proj, b.ints({1, -1, H, D})});
  Value* shape = b.op("Shape", {x});
  Value* bsz = b.op("Unsqueeze", {b.op("Gather", {shape, b.constant(b.graph().unique_name("i0"),
                                                                     Tensor::scalar<int64_t>(0))},
                                        axis(0)),
                                  b.ints({0})});
  Value* seq = b.op("Unsqueeze", {b.op("Gather", {shape, b.constant(b.graph().unique_name("i1"),
                                                                     Tensor::scalar<int64_t>(1))},
                                        axis(0)),
                                  b.ints({0})});
  Value* target = b.op("Concat", {bsz, seq, b.ints({H}), b.ints({D})}, axis(0));
  return b.op("Reshape", {proj, target});
}

// Rotate-half RoPE: x * cos + cat(-x2, x1) * sin over the last axis.
Value* rope(GraphBuilder& b, Value* x, Value* cos, Value* sin) {
  Value* x1 = b.op("Slice", {x, b.ints({0}), b.ints({D / 2}), b.ints({3})});
  Value* x2 = b.op("Slice", {x, b.ints({D / 2}), b.ints({INT64_MAX}), b.ints({3})});
  Value* rot = b.op("Concat", {b.op("Neg", {x2}), x1}, axis(-1));
  return b.op("Add", {b.op("Mul", {x, cos}), b.op("Mul", {rot, sin})});
}

struct Style {
  bool shape_view = false;  // Reshape targets from Shape(x)
  bool with_rope = false;   // q and k through rotate-half RoPE
  bool cache = true;        // keys and values concatenated after past_key.3 / past_value.3
  bool cross = false;       // keys and values from a context of L tokens
};

// A causal-Wan-style block: x [1, S, HD] with a symbolic S; returns the
// output and builds the whole graph in `b`.
void build_attention(GraphBuilder& b, const Style& st) {
  Value* x = b.input("x", {1, Dim::symbol("S"), HD});
  Value* src = st.cross ? b.input("ctx", {1, Dim::symbol("L"), HD}) : x;
  Value* q = heads(b, x, 11, st.shape_view);
  Value* k = heads(b, src, 12, st.shape_view);
  Value* v = heads(b, src, 13, st.shape_view);
  if (st.with_rope) {
    Value* cos = b.input("cos", {1, Dim::symbol("S"), 1, D});
    Value* sin = b.input("sin", {1, Dim::symbol("S"), 1, D});
    q = rope(b, q, cos, sin);
    k = rope(b, k, cos, sin);
  }
  if (st.cache) {
    Value* pk = b.input("past_key.3", {1, Dim::symbol("T"), H, D});
    Value* pv = b.input("past_value.3", {1, Dim::symbol("T"), H, D});
    Value* present_k = b.op("Concat", {pk, k}, axis(1));
    Value* present_v = b.op("Concat", {pv, v}, axis(1));
    k = present_k;
    v = present_v;
  }
  // q.transpose(1, 2) and friends: [1, n, H, D] -> [1, H, n, D]
  Value* o = sdpa_default_scale(b, b.op("Transpose", {q}, perm({0, 2, 1, 3})),
                                b.op("Transpose", {k}, perm({0, 2, 1, 3})),
                                b.op("Transpose", {v}, perm({0, 2, 1, 3})));
  Value* y = b.op("Transpose", {o}, perm({0, 2, 1, 3}));
  if (st.shape_view) {
    Value* shape = b.op("Shape", {x});
    Value* lead = b.op("Slice", {shape, b.ints({0}), b.ints({2})});
    y = b.op("Reshape", {y, b.op("Concat", {lead, b.ints({HD})}, axis(0))});
  } else {
    y = b.op("Reshape", {y, b.ints({1, -1, HD})});
  }
  b.output(b.op("MatMul", {y, b.random({HD, HD}, 14)}));
}

void expect_fused_by_default_pipeline(GraphBuilder& b, const Style& st) {
  auto before = b.graph().clone();
  PassContext ctx;
  run_default_pipeline(b.graph(), ctx);
  ASSERT_EQ(test::count_ops(b.graph(), "vdrt.Attention"), 1) << test::explained(ctx);
  EXPECT_EQ(test::count_ops(b.graph(), "Softmax"), 0);
  EXPECT_EQ(test::count_ops(b.graph(), "Sqrt"), 0);  // the whole scale chain folded
  EXPECT_EQ(test::count_ops(b.graph(), "Div"), 0);
  // The rotate-half RoPE here takes cos/sin as graph inputs, which nothing
  // shows to be two equal halves: fuse-rope leaves it and says so.
  for (const Explanation& e : ctx.explanations())
    EXPECT_TRUE(st.with_rope && e.pass == "fuse-rope" &&
                e.message.find("halves cannot be shown equal") != std::string::npos)
        << e.str();
  const Node* fused = nullptr;
  for (const auto& n : b.graph().nodes())
    if (n->qualified_op() == "vdrt.Attention") fused = n.get();
  EXPECT_NEAR(fused->attrs().get_float("scale"), 1.0 / std::sqrt(double(D)), 1e-6);
  EXPECT_EQ(fused->attrs().get_int("num_heads"), H);
  EXPECT_EQ(fused->attrs().get_string("kind"), st.cross ? "cross" : "self");
  EXPECT_EQ(fused->attrs().get_int("kv_cache_layer"), st.cache ? 3 : -1);
  for (int64_t s : {1, 6}) {  // the sequence length is free: the folded scale must not depend on it
    SCOPED_TRACE("S = " + std::to_string(s));
    auto inputs = test::random_inputs(*before, 7, {{"S", s}, {"T", 4}, {"L", 5}});
    auto want = test::run_graph(*before, inputs);
    auto got = test::run_graph(b.graph(), inputs);
    for (const auto& [name, t] : want) EXPECT_LE(test::max_abs_diff(got.at(name), t), 1e-5) << name;
  }
}

TEST(RuntimeScaleAttention, ScaleChainFoldsWithASymbolicSequence) {
  // Only the chain: q [1, H, S, D] with S symbolic, D static.
  GraphBuilder b(17);
  Value* q = b.input("q", {1, H, Dim::symbol("S"), D});
  Value* scale = exporter_sqrt_scale(b, q);
  Value* root = b.op("Sqrt", {scale});
  b.output(b.op("Mul", {q, root}));
  EXPECT_TRUE(test::run_pass("fold-constants", b.graph()));
  ASSERT_TRUE(root->is_constant());
  EXPECT_NEAR(root->constant().as_double()[0], std::sqrt(1.0 / std::sqrt(double(D))), 1e-7);
  EXPECT_EQ(test::count_ops(b.graph(), "Shape"), 0);
  EXPECT_EQ(test::count_ops(b.graph(), "Mul"), 1);
}

TEST(RuntimeScaleAttention, SelfAttentionWithCache) {
  GraphBuilder b(17);
  build_attention(b, {});
  expect_fused_by_default_pipeline(b, {});
}

TEST(RuntimeScaleAttention, SelfAttentionWithoutCache) {
  GraphBuilder b(17);
  Style st;
  st.cache = false;
  build_attention(b, st);
  expect_fused_by_default_pipeline(b, st);
}

TEST(RuntimeScaleAttention, CrossAttention) {
  GraphBuilder b(17);
  Style st;
  st.cache = false;
  st.cross = true;
  build_attention(b, st);
  expect_fused_by_default_pipeline(b, st);
}

TEST(RuntimeScaleAttention, ViewsFromShapesAndRope) {
  // x.view(b, s, n, d) with b, s read from Shape(x), then RoPE: the head dim
  // is known only through the Reshape target and the elementwise ops.
  GraphBuilder b(17);
  Style st;
  st.shape_view = true;
  st.with_rope = true;
  build_attention(b, st);
  expect_fused_by_default_pipeline(b, st);
}

TEST(RuntimeScaleAttention, CrossAttentionWithViewsFromShapes) {
  GraphBuilder b(17);
  Style st;
  st.shape_view = true;
  st.cache = false;
  st.cross = true;
  build_attention(b, st);
  expect_fused_by_default_pipeline(b, st);
}

}  // namespace
}  // namespace vdrt
