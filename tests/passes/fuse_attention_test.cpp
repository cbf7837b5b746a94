// fuse-attention on hand-built graphs in each exporter's style, with and
// without the KV cache, self and cross; near-misses must stay and be explained.
#include <gtest/gtest.h>

#include <cmath>

#include "graph_builder.h"
#include "test_util.h"

namespace vdrt {
namespace {

using test::attrs;
using test::GraphBuilder;

constexpr int64_t S = 6, T = 4, L = 5, H = 2, D = 8, HD = H * D;
const float kSqrtScale = static_cast<float>(std::sqrt(1.0 / std::sqrt(double(D))));

AttributeMap perm(std::vector<int64_t> p) { return attrs({{"perm", p}}); }
AttributeMap axis(int64_t a) { return attrs({{"axis", a}}); }

// [1, n, HD] -> Linear -> [1, n, H, D]
Value* heads(GraphBuilder& b, Value* src, uint32_t seed) {
  Value* proj = b.op("MatMul", {src, b.random({HD, HD}, seed)});
  return b.op("Reshape", {proj, b.ints({1, -1, H, D})});
}

struct Qkv {
  Value *q, *k, *v;  // [1, n, H, D]; k/v include the past when `cache`
  Value *k_new, *v_new;
};

// Self-attention of x over [past ; new] (cache) or cross-attention to ctx.
Qkv make_qkv(GraphBuilder& b, bool cross, bool cache) {
  Value* x = b.input("x", {1, S, HD});
  Value* src = cross ? b.input("ctx", {1, L, HD}) : x;
  Qkv r;
  r.q = heads(b, x, 11);
  r.k_new = r.k = heads(b, src, 12);
  r.v_new = r.v = heads(b, src, 13);
  if (cache) {
    Value* pk = b.input("past_key.3", {1, Dim::symbol("T"), H, D});
    Value* pv = b.input("past_value.3", {1, Dim::symbol("T"), H, D});
    r.k = b.op("Concat", {pk, r.k_new}, axis(1));
    r.v = b.op("Concat", {pv, r.v_new}, axis(1));
  }
  return r;
}

Value* finish(GraphBuilder& b, Value* o_bhsd) {
  Value* y = b.op("Reshape", {b.op("Transpose", {o_bhsd}, perm({0, 2, 1, 3})), b.ints({1, -1, HD})});
  b.output(y);
  return y;
}

// TorchScript opset 17: sqrt(scale) on Q and on K^T = Transpose(k, [0,2,3,1]).
Value* torchscript_attention(GraphBuilder& b, const Qkv& a, int64_t softmax_axis = -1) {
  Value* qs = b.op("Mul", {b.op("Transpose", {a.q}, perm({0, 2, 1, 3})), b.scalar(kSqrtScale)});
  Value* ks = b.op("Mul", {b.op("Transpose", {a.k}, perm({0, 2, 3, 1})), b.scalar(kSqrtScale)});
  Value* p = b.op("Softmax", {b.op("MatMul", {qs, ks})}, axis(softmax_axis));
  return b.op("MatMul", {p, b.op("Transpose", {a.v}, perm({0, 2, 1, 3}))});
}

// dynamo opset 18: K^T through Reshape -> Transpose(0,2,1) -> Reshape with shapes from Shape().
Value* dynamo_attention(GraphBuilder& b, const Qkv& a) {
  Value* kt = b.op("Transpose", {a.k}, perm({0, 2, 1, 3}));
  Value* shape = b.op("Shape", {kt});
  Value* d = b.op("Slice", {shape, b.ints({-1}), b.ints({INT64_MAX})});
  Value* t = b.op("Slice", {shape, b.ints({-2}), b.ints({-1})});
  Value* lead = b.op("Slice", {shape, b.ints({INT64_MIN}), b.ints({-2})});
  Value* r1 = b.op("Reshape", {kt, b.op("Concat", {b.ints({-1}), t, d}, axis(0))});
  Value* k_t = b.op("Reshape", {b.op("Transpose", {r1}, perm({0, 2, 1})), b.op("Concat", {lead, d, t}, axis(0))});
  Value* qs = b.op("Mul", {b.op("Transpose", {a.q}, perm({0, 2, 1, 3})), b.scalar(kSqrtScale)});
  Value* ks = b.op("Mul", {k_t, b.scalar(kSqrtScale)});
  Value* p = b.op("Softmax", {b.op("MatMul", {qs, ks})}, axis(-1));
  return b.op("MatMul", {p, b.op("Transpose", {a.v}, perm({0, 2, 1, 3}))});
}

// ONNX Attention-23 with 4-D [B, H, S, D] inputs, the cache concat outside.
Value* onnx_attention(GraphBuilder& b, const Qkv& a, AttributeMap extra = {}) {
  Value* q = b.op("Transpose", {a.q}, perm({0, 2, 1, 3}));
  Value* k = b.op("Transpose", {a.k}, perm({0, 2, 1, 3}));
  Value* v = b.op("Transpose", {a.v}, perm({0, 2, 1, 3}));
  return b.op("Attention", {q, k, v}, extra);
}

struct Expect {
  std::string kind = "self";
  int64_t layer = 3;
  bool past = true;
  int concats_left = 0;  // present outputs of ONNX/MS ops are rebuilt with a Concat
};

void expect_fused(GraphBuilder& b, const Expect& e, const std::map<std::string, int64_t>& syms = {{"T", T}}) {
  auto before = b.graph().clone();
  PassContext ctx;
  ASSERT_TRUE(test::run_pass("fuse-attention", b.graph(), &ctx)) << test::explained(ctx);
  test::run_pass("eliminate-dead", b.graph());
  ASSERT_EQ(test::count_ops(b.graph(), "vdrt.Attention"), 1) << test::explained(ctx);
  EXPECT_EQ(test::count_ops(b.graph(), "Softmax"), 0);
  EXPECT_EQ(test::count_ops(b.graph(), "Attention"), 0);
  EXPECT_EQ(test::count_ops(b.graph(), "com.microsoft.MultiHeadAttention"), 0);
  EXPECT_EQ(b.graph().opset("vdrt"), 1);
  const Node* fused = nullptr;
  for (const auto& n : b.graph().nodes())
    if (n->qualified_op() == "vdrt.Attention") fused = n.get();
  EXPECT_NEAR(fused->attrs().get_float("scale"), 1.0 / std::sqrt(double(D)), 1e-6);
  EXPECT_EQ(fused->attrs().get_string("kind"), e.kind);
  EXPECT_EQ(fused->attrs().get_int("kv_cache_layer"), e.past ? e.layer : -1);
  EXPECT_EQ(fused->attrs().get_int("num_heads"), H);
  EXPECT_EQ(fused->inputs().size(), e.past ? 5u : 3u);
  if (e.past) {
    EXPECT_EQ(fused->input(3)->name(), "past_key.3");
    EXPECT_EQ(fused->input(4)->name(), "past_value.3");
  }
  EXPECT_EQ(test::count_ops(b.graph(), "Concat"), e.concats_left);  // the cache concat is gone
  auto inputs = test::random_inputs(*before, 7, syms);
  auto want = test::run_graph(*before, inputs);
  auto got = test::run_graph(b.graph(), inputs);
  for (const auto& [name, t] : want) EXPECT_LE(test::max_abs_diff(got.at(name), t), 1e-5) << name;
}

TEST(FuseAttention, TorchScriptSelfAttentionWithCache) {
  GraphBuilder b(17);
  finish(b, torchscript_attention(b, make_qkv(b, false, true)));
  expect_fused(b, {});
}

TEST(FuseAttention, TorchScriptCrossAttention) {
  GraphBuilder b(17);
  finish(b, torchscript_attention(b, make_qkv(b, true, false)));
  expect_fused(b, {"cross", -1, false});
}

TEST(FuseAttention, DynamoSelfAttentionWithCache) {
  GraphBuilder b(18);
  finish(b, dynamo_attention(b, make_qkv(b, false, true)));
  expect_fused(b, {});
}

TEST(FuseAttention, ScaleAppliedToTheScores) {  // MatMul(q, k^T) / sqrt(D)
  GraphBuilder b(17);
  Qkv a = make_qkv(b, true, false);
  Value* s = b.op("MatMul", {b.op("Transpose", {a.q}, perm({0, 2, 1, 3})), b.op("Transpose", {a.k}, perm({0, 2, 3, 1}))});
  Value* p = b.op("Softmax", {b.op("Div", {s, b.scalar(std::sqrt(float(D)))})}, axis(3));
  finish(b, b.op("MatMul", {p, b.op("Transpose", {a.v}, perm({0, 2, 1, 3}))}));
  expect_fused(b, {"cross", -1, false});
}

TEST(FuseAttention, OnnxAttention23WithCacheConcat) {
  GraphBuilder b(23);
  finish(b, onnx_attention(b, make_qkv(b, false, true)));
  expect_fused(b, {});
}

TEST(FuseAttention, OnnxAttention23ThreeDWithPastInputsAndPresentOutputs) {
  GraphBuilder b(23);
  Value* x = b.input("x", {1, S, HD});
  Value* pk = b.input("past_key.3", {1, T, H, D});
  Value* pv = b.input("past_value.3", {1, T, H, D});
  Value* q = b.op("MatMul", {x, b.random({HD, HD}, 1)});
  Value* k = b.op("MatMul", {x, b.random({HD, HD}, 2)});
  Value* v = b.op("MatMul", {x, b.random({HD, HD}, 3)});
  Value* y = b.graph().value("y");
  Value* present_k = b.graph().value("present_all_k");
  Value* present_v = b.graph().value("present_all_v");
  Node* a = b.graph().add_node("Attention",
                               {q, k, v, nullptr, b.op("Transpose", {pk}, perm({0, 2, 1, 3})),
                                b.op("Transpose", {pv}, perm({0, 2, 1, 3}))},
                               {y, present_k, present_v}, "attn");
  a->attrs().set("q_num_heads", H);
  a->attrs().set("kv_num_heads", H);
  b.output(y);
  b.output(present_k);
  b.output(present_v);
  expect_fused(b, {"self", 3, true, 2}, {});
}

TEST(FuseAttention, MicrosoftMultiHeadAttentionWithPast) {
  GraphBuilder b(17);
  b.graph().opsets.push_back({kMicrosoftDomain, 1});
  Value* x = b.input("x", {1, S, HD});
  Value* pk = b.input("past_key.3", {1, T, H, D});
  Value* pv = b.input("past_value.3", {1, T, H, D});
  Value* q = b.op("MatMul", {x, b.random({HD, HD}, 1)});
  Value* k = b.op("MatMul", {x, b.random({HD, HD}, 2)});
  Value* v = b.op("MatMul", {x, b.random({HD, HD}, 3)});
  Value* y = b.graph().value("y");
  Value* present_k = b.graph().value("present_all_k");
  Node* m = b.graph().add_node("MultiHeadAttention",
                               {q, k, v, nullptr, nullptr, nullptr, b.op("Transpose", {pk}, perm({0, 2, 1, 3})),
                                b.op("Transpose", {pv}, perm({0, 2, 1, 3}))},
                               {y, present_k, nullptr}, "mha", kMicrosoftDomain);
  m->attrs().set("num_heads", H);
  b.output(y);
  b.output(present_k);
  expect_fused(b, {"self", 3, true, 1}, {});
}

// ---- near-misses ------------------------------------------------------------------------

void expect_not_fused(GraphBuilder& b, const std::string& why) {
  PassContext ctx;
  test::run_pass("fuse-attention", b.graph(), &ctx);
  EXPECT_EQ(test::count_ops(b.graph(), "vdrt.Attention"), 0);
  if (!why.empty()) EXPECT_NE(test::explained(ctx).find(why), std::string::npos) << test::explained(ctx);
  else EXPECT_TRUE(ctx.explanations().empty()) << test::explained(ctx);
}

TEST(FuseAttention, SoftmaxOverTheWrongAxis) {
  GraphBuilder b(17);
  finish(b, torchscript_attention(b, make_qkv(b, false, true), 2));
  expect_not_fused(b, "Softmax axis is 2");
}

// A masked attention fuses with the mask as vdrt.Attention's input 5 and
// gives the decomposed graph's outputs.
void expect_masked_fusion(GraphBuilder& b, Value* mask, size_t past_inputs) {
  auto before = b.graph().clone();
  PassContext ctx;
  ASSERT_TRUE(test::run_pass("fuse-attention", b.graph(), &ctx)) << test::explained(ctx);
  test::run_pass("eliminate-dead", b.graph());
  ASSERT_EQ(test::count_ops(b.graph(), "vdrt.Attention"), 1) << test::explained(ctx);
  EXPECT_EQ(test::count_ops(b.graph(), "Softmax"), 0);
  for (const auto& n : b.graph().nodes()) {
    if (n->qualified_op() != "vdrt.Attention") continue;
    ASSERT_EQ(n->inputs().size(), 6u);
    EXPECT_EQ(n->input(5), mask);
    EXPECT_EQ(n->input(3) != nullptr, past_inputs == 2);
    EXPECT_NEAR(n->attrs().get_float("scale"), 0.35, 1e-6);
  }
  auto inputs = test::random_inputs(*before, 7, {{"T", T}});
  auto want = test::run_graph(*before, inputs);
  auto got = test::run_graph(b.graph(), inputs);
  for (const auto& [name, t] : want) EXPECT_LE(test::max_abs_diff(got.at(name), t), 1e-5) << name;
}

TEST(FuseAttention, AdditiveMask) {
  GraphBuilder b(17);
  Qkv a = make_qkv(b, true, false);
  Value* mask = b.input("mask", {1, 1, S, L});
  Value* s = b.op("MatMul", {b.op("Transpose", {a.q}, perm({0, 2, 1, 3})), b.op("Transpose", {a.k}, perm({0, 2, 3, 1}))});
  Value* p = b.op("Softmax", {b.op("Add", {b.op("Mul", {s, b.scalar(0.35f)}), mask})}, axis(-1));
  finish(b, b.op("MatMul", {p, b.op("Transpose", {a.v}, perm({0, 2, 1, 3}))}));
  expect_masked_fusion(b, mask, 0);
}

TEST(FuseAttention, MaskBroadcastOverKeysWithCache) {
  // One value per (head, query) for every key, past and new: [1, H, S, 1].
  GraphBuilder b(17);
  Qkv a = make_qkv(b, false, true);
  Value* mask = b.input("mask", {1, H, S, 1});
  Value* s = b.op("MatMul", {b.op("Transpose", {a.q}, perm({0, 2, 1, 3})), b.op("Transpose", {a.k}, perm({0, 2, 3, 1}))});
  Value* p = b.op("Softmax", {b.op("Add", {mask, b.op("Mul", {s, b.scalar(0.35f)})})}, axis(-1));
  finish(b, b.op("MatMul", {p, b.op("Transpose", {a.v}, perm({0, 2, 1, 3}))}));
  expect_masked_fusion(b, mask, 2);
}

TEST(FuseAttention, ProbabilitiesUsedElsewhere) {
  GraphBuilder b(17);
  Value* o = torchscript_attention(b, make_qkv(b, true, false));
  finish(b, o);
  b.output(o->producer()->input(0));  // the softmax output is also a model output
  expect_not_fused(b, "also used outside");
}

TEST(FuseAttention, ScaleThatIsNotConstant) {
  GraphBuilder b(17);
  Qkv a = make_qkv(b, true, false);
  Value* c = b.input("c", {1});
  Value* qs = b.op("Mul", {b.op("Transpose", {a.q}, perm({0, 2, 1, 3})), c});
  Value* p = b.op("Softmax", {b.op("MatMul", {qs, b.op("Transpose", {a.k}, perm({0, 2, 3, 1}))})}, axis(-1));
  finish(b, b.op("MatMul", {p, b.op("Transpose", {a.v}, perm({0, 2, 1, 3}))}));
  expect_not_fused(b, "not a constant");
}

TEST(FuseAttention, OnnxAttentionCausalOrMasked) {
  {
    // is_causal over a cache of symbolic length: the mask cannot be built.
    GraphBuilder b(23);
    finish(b, onnx_attention(b, make_qkv(b, false, true), attrs({{"is_causal", int64_t{1}}})));
    expect_not_fused(b, "is_causal=1 with sequence lengths that are not static");
  }
  for (bool causal : {false, true}) {
    // Static lengths: an attn_mask [S, S] or is_causal become input 5.
    GraphBuilder b(23);
    Qkv a = make_qkv(b, false, false);
    Value* q = b.op("Transpose", {a.q}, perm({0, 2, 1, 3}));
    Value* k = b.op("Transpose", {a.k}, perm({0, 2, 1, 3}));
    Value* v = b.op("Transpose", {a.v}, perm({0, 2, 1, 3}));
    if (causal) finish(b, b.op("Attention", {q, k, v}, attrs({{"is_causal", int64_t{1}}})));
    else finish(b, b.op("Attention", {q, k, v, b.input("mask", {S, S})}));
    auto before = b.graph().clone();
    PassContext ctx;
    ASSERT_TRUE(test::run_pass("fuse-attention", b.graph(), &ctx)) << test::explained(ctx);
    ASSERT_EQ(test::count_ops(b.graph(), "vdrt.Attention"), 1);
    auto inputs = test::random_inputs(*before, 7);
    auto want = test::run_graph(*before, inputs);
    auto got = test::run_graph(b.graph(), inputs);
    for (const auto& [name, t] : want) EXPECT_LE(test::max_abs_diff(got.at(name), t), 1e-5) << name;
  }
}

TEST(FuseAttention, MultiHeadAttentionWithPaddingMask) {
  GraphBuilder b(17);
  b.graph().opsets.push_back({kMicrosoftDomain, 1});
  Value* x = b.input("x", {1, S, HD});
  Value* mask = b.input("mask", {1, S}, DType::I32);
  Value* y = b.op("MultiHeadAttention", {x, x, x, nullptr, mask}, attrs({{"num_heads", H}}), kMicrosoftDomain);
  b.output(y);
  expect_not_fused(b, "key_padding_mask");
}

TEST(FuseAttention, SoftmaxOutsideAttentionIsIgnoredQuietly) {
  GraphBuilder b(17);
  Value* x = b.input("x", {2, 10});
  b.output(b.op("Softmax", {b.op("Relu", {x})}, axis(-1)));
  expect_not_fused(b, "");
}

TEST(FuseAttention, OnlyValuesConcatenatedKeepsTheCacheJoined) {
  GraphBuilder b(17);
  Qkv a = make_qkv(b, false, true);
  a.k = a.k_new;  // keys without the past: a model bug or a different design, not a KV cache
  Value* qs = b.op("Transpose", {a.q}, perm({0, 2, 1, 3}));
  Value* p = b.op("Softmax", {b.op("MatMul", {qs, b.op("Transpose", {a.k}, perm({0, 2, 3, 1}))})}, axis(-1));
  finish(b, b.op("MatMul", {p, b.op("Transpose", {a.v}, perm({0, 2, 1, 3}))}));
  PassContext ctx;
  ASSERT_TRUE(test::run_pass("fuse-attention", b.graph(), &ctx));
  EXPECT_NE(test::explained(ctx).find("only the values"), std::string::npos) << test::explained(ctx);
  EXPECT_EQ(test::count_ops(b.graph(), "Concat"), 1);
}

}  // namespace
}  // namespace vdrt
