// quantize-fp8: which layers it rewrites and how (codes, scales, bias,
// alpha/beta, exclusion patterns from a TOML pipeline), the folding of
// DequantizeLinear(float8 weight) in the layouts exporters write, near-misses
// it must leave alone, and the committed QDQ model against ONNX Runtime.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "graph_builder.h"
#include "kernels/math_test_util.h"
#include "importer/onnx_import.h"
#include "importer/tensor_file.h"
#include "passes/name_glob.h"
#include "passes/pass_manager.h"
#include "passes/pipeline.h"
#include "runtime/host_eval.h"
#include "test_util.h"

namespace vdrt {
namespace {

using test::GraphBuilder;

// Runs a pipeline given as TOML text.
bool run_toml(Graph& g, const std::string& toml, PassContext& ctx) {
  ctx.evaluator = [](const Node& node, const std::vector<Tensor>& inputs, int64_t opset) {
    std::vector<const Tensor*> ptrs;
    for (const Tensor& t : inputs) ptrs.push_back(t.defined() ? &t : nullptr);
    return evaluate_on_host(node, opset, ptrs);
  };
  PassManager pm(parse_pipeline(toml, "test.toml"));
  bool changed = false;
  for (const auto& r : pm.run(g, ctx)) changed |= r.changed;
  return changed;
}

const Node* only(const Graph& g, const std::string& op) {
  const Node* found = nullptr;
  for (const auto& n : g.nodes())
    if (n->qualified_op() == op) {
      EXPECT_EQ(found, nullptr) << "more than one " << op;
      found = n.get();
    }
  return found;
}

// Expected codes and scales of a [K, N] weight, computed here: per column
// absmax / 448, then RNE e4m3 (the codec is checked against ml_dtypes).
void expect_quantized_like(const Node& q, const Tensor& w_kn) {
  const Tensor& codes = q.input(1)->constant();
  const Tensor& scale = q.input(2)->constant();
  const int64_t K = w_kn.dims()[0], N = w_kn.dims()[1];
  ASSERT_EQ(codes.dims(), (std::vector<int64_t>{K, N}));
  ASSERT_EQ(codes.dtype(), DType::F8E4M3);
  auto w = w_kn.as_double();
  for (int64_t n = 0; n < N; ++n) {
    double amax = 0;
    for (int64_t k = 0; k < K; ++k) amax = std::max(amax, std::fabs(w[k * N + n]));
    const float s = static_cast<float>(amax) / 448.0f;
    ASSERT_EQ(scale.data<float>()[n], s) << n;
    for (int64_t k = 0; k < K; ++k)
      ASSERT_EQ(static_cast<const uint8_t*>(codes.raw())[k * N + n], float_to_f8e4m3(static_cast<float>(w[k * N + n]) / s))
          << k << "," << n;
  }
}

// Y = A W' + b in float64, with W' the dequantised weight of node q.
std::vector<double> reference(const Node& q, const Tensor& a) {
  const Tensor& codes = q.input(1)->constant();
  auto s = q.input(2)->constant().as_double();
  auto w = codes.as_double();
  auto av = a.as_double();
  std::vector<double> b(s.size(), 0.0);
  if (q.input(3)) b = q.input(3)->constant().as_double();
  const int64_t K = codes.dims()[0], N = codes.dims()[1], M = a.numel() / K;
  std::vector<double> y(M * N);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double acc = 0;
      for (int64_t k = 0; k < K; ++k) acc += av[m * K + k] * w[k * N + n] * s[n];
      y[m * N + n] = acc + b[n];
    }
  return y;
}

double rel_l2(const Tensor& got, const std::vector<double>& want) {
  auto g = got.as_double();
  double e = 0, r = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    e += (g[i] - want[i]) * (g[i] - want[i]);
    r += want[i] * want[i];
  }
  return std::sqrt(e / r);
}

TEST(QuantizeFp8, MatMulWithBiasBecomesOneQMatMul) {
  GraphBuilder b(17);
  Value* x = b.input("x", {2, 7, 32});
  Value* w = b.random({32, 24}, 3);
  Value* bias = b.constant("blk.fc.bias", test::random_tensor({24}, 4));
  Value* mm = b.op("MatMul", {x, w});
  Value* y = b.op("Add", {mm, bias});
  b.output(b.op("Relu", {y}));
  const std::string mm_name = mm->producer()->name();
  const Tensor w_kn = w->constant(), bias_t = bias->constant();  // the pass may drop these values
  auto before = b.graph().clone();

  PassContext ctx;
  ASSERT_TRUE(test::run_pass("quantize-fp8", b.graph(), &ctx)) << test::explained(ctx);
  const Node* q = only(b.graph(), "vdrt.QMatMul");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(test::count_ops(b.graph(), "MatMul") + test::count_ops(b.graph(), "Add"), 0);
  EXPECT_EQ(q->name(), mm_name);                 // the layer keeps its name
  EXPECT_EQ(q->output(0), y);                    // and produces the Add's value
  EXPECT_EQ(q->attrs().get_string("act_quant"), "none");
  expect_quantized_like(*q, w_kn);
  EXPECT_EQ(q->input(3)->name(), "blk.fc.bias");  // the initializer itself, not a copy
  EXPECT_EQ(q->input(3)->constant().as_double(), bias_t.as_double());
  EXPECT_GT(b.graph().opset("vdrt"), 0);

  // Runs, and equals the dequantised product; and stays near the float model.
  auto inputs = test::random_inputs(*before);
  auto got = test::run_graph(b.graph(), inputs);
  auto want_q = reference(*q, inputs.at("x"));
  for (double& v : want_q) v = std::max(v, 0.0);
  EXPECT_LT(rel_l2(got.begin()->second, want_q), 1e-6);
  auto want_f = test::run_graph(*before, inputs);
  EXPECT_LT(rel_l2(got.begin()->second, want_f.begin()->second.as_double()), 0.05);
}

TEST(QuantizeFp8, GemmTransposedWithAlphaBetaAndC) {
  GraphBuilder b(13);
  Value* x = b.input("x", {5, 16});
  Value* w_nk = b.random({12, 16}, 5);  // transB: [N, K]
  Value* c = b.constant("c", test::random_tensor({1, 12}, 6));
  AttributeMap at = test::attrs({{"transB", int64_t{1}}, {"alpha", 0.5f}, {"beta", 2.0f}});
  b.output(b.op("Gemm", {x, w_nk, c}, at));
  const Tensor w_t = w_nk->constant(), c_t = c->constant();  // the pass may drop these values
  auto before = b.graph().clone();
  PassContext ctx;
  ASSERT_TRUE(test::run_pass("quantize-fp8", b.graph(), &ctx)) << test::explained(ctx);
  const Node* q = only(b.graph(), "vdrt.QMatMul");
  ASSERT_NE(q, nullptr);
  // Scales carry alpha; the bias is beta * C.
  Tensor w_kn(DType::F32, {16, 12});
  for (int64_t k = 0; k < 16; ++k)
    for (int64_t n = 0; n < 12; ++n) w_kn.data<float>()[k * 12 + n] = w_t.data<float>()[n * 16 + k];
  auto s = q->input(2)->constant().as_double();
  for (int64_t n = 0; n < 12; ++n) {
    double amax = 0;
    for (int64_t k = 0; k < 16; ++k) amax = std::max(amax, std::fabs(static_cast<double>(w_kn.data<float>()[k * 12 + n])));
    EXPECT_EQ(s[n], static_cast<double>(static_cast<float>(amax) / 448.0f * 0.5f));
    EXPECT_EQ(q->input(3)->constant().as_double()[n], 2.0 * c_t.as_double()[n]);
  }
  auto inputs = test::random_inputs(*before);
  auto got = test::run_graph(b.graph(), inputs).begin()->second;
  EXPECT_LT(rel_l2(got, reference(*q, inputs.at("x"))), 1e-6);
  EXPECT_LT(rel_l2(got, test::run_graph(*before, inputs).begin()->second.as_double()), 0.05);
}

TEST(QuantizeFp8, LeavesActivationProductsAndNearMissesAlone) {
  GraphBuilder b(17);
  Value* q = b.input("q", {4, 8, 16});
  Value* k = b.input("k", {4, 16, 8});
  Value* att = b.op("MatMul", {q, k});  // attention scores: no weight
  Value* w3 = b.random({2, 16, 16}, 1);  // batched weight
  Value* bmm = b.op("MatMul", {q, w3});
  AttributeMap ta = test::attrs({{"transA", int64_t{1}}});
  Value* g = b.op("Gemm", {b.input("x", {16, 4}), b.random({16, 8}, 2)}, ta);
  b.output(att);
  b.output(bmm);
  b.output(g);
  PassContext ctx;
  EXPECT_FALSE(test::run_pass("quantize-fp8", b.graph(), &ctx));
  const std::string why = test::explained(ctx);
  EXPECT_NE(why.find("not a 2-D f32 matrix"), std::string::npos) << why;
  EXPECT_NE(why.find("transA"), std::string::npos) << why;
}

TEST(QuantizeFp8, ExcludePatternsAndOptionsFromToml) {
  auto build = [] {
    GraphBuilder b(17);
    Value* x = b.input("x", {3, 32});
    Value* h = b.op("Add", {b.op("MatMul", {x, b.random({32, 32}, 1)}), b.constant("blocks.0.ffn.bias", test::random_tensor({32}, 2))});
    Value* y = b.op("MatMul", {h, b.random({32, 8}, 3)});
    y->producer()->set_name("/head/head/MatMul");
    b.output(y);
    return b.take();
  };
  {  // by node name
    auto g = build();
    PassContext ctx;
    ASSERT_TRUE(run_toml(*g, "[[pass]]\nname = \"quantize-fp8\"\nexclude = [\"*head*\", \"*patch_embedding*\"]\n"
                                 "act_quant = \"per_token_e4m3\"\n", ctx));
    EXPECT_EQ(test::count_ops(*g, "vdrt.QMatMul"), 1);
    EXPECT_EQ(test::count_ops(*g, "MatMul"), 1);
    EXPECT_EQ(only(*g, "vdrt.QMatMul")->attrs().get_string("act_quant"), "per_token_e4m3");
    EXPECT_NE(test::explained(ctx).find("excluded by pattern \"*head*\""), std::string::npos) << test::explained(ctx);
  }
  {  // by the bias's name (what dynamo exports keep), one string instead of a list
    auto g = build();
    PassContext ctx;
    ASSERT_TRUE(run_toml(*g, "[[pass]]\nname = \"quantize-fp8\"\nexclude = \"blocks.?.ffn*\"\n", ctx));
    EXPECT_EQ(test::count_ops(*g, "vdrt.QMatMul"), 1);
    EXPECT_EQ(only(*g, "vdrt.QMatMul")->name(), "/head/head/MatMul");
  }
  {  // small weights stay
    auto g = build();
    PassContext ctx;
    ASSERT_TRUE(run_toml(*g, "[[pass]]\nname = \"quantize-fp8\"\nmin_elements = 1000\n", ctx));
    EXPECT_EQ(test::count_ops(*g, "vdrt.QMatMul"), 1);
  }
  auto g = build();
  PassContext ctx;
  EXPECT_THROW(run_toml(*g, "[[pass]]\nname = \"quantize-fp8\"\nexclude = [1, 2]\n", ctx), Error);
  EXPECT_THROW(run_toml(*g, "[[pass]]\nname = \"quantize-fp8\"\nact_quant = \"int8\"\n", ctx), Error);
}

TEST(QuantizeFp8, GlobMatching) {
  EXPECT_TRUE(glob_match("*head*", "/head/head/MatMul"));
  EXPECT_TRUE(glob_match("blocks.?.ffn*", "blocks.1.ffn.2.bias"));
  EXPECT_FALSE(glob_match("blocks.?.ffn*", "blocks.12.ffn.2.bias"));
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_TRUE(glob_match("a*b*c", "aXXbYYbZc"));
  EXPECT_FALSE(glob_match("a*b*c", "aXXbYYbZ"));
  EXPECT_FALSE(glob_match("head", "/head/"));
}

// DequantizeLinear(codes, scale) feeding the weight, built by hand.
struct QdqWeight {
  Tensor codes, scale;
};
QdqWeight qdq_weight(int64_t rows, int64_t cols, int channel_axis, uint32_t seed) {
  Tensor w = test::random_tensor({rows, cols}, seed);
  const int64_t n = channel_axis == 0 ? rows : cols;
  Tensor s = test::random_tensor({n}, seed + 1, 0.001f, 0.01f);
  Tensor c(DType::F8E4M3, {rows, cols});
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j)
      static_cast<uint8_t*>(c.raw())[i * cols + j] = float_to_f8e4m3(w.data<float>()[i * cols + j] * 400.0f);
  return {c, s};
}

TEST(QuantizeFp8, FoldsDequantizeLinearWeightsAsTheyAre) {
  GraphBuilder b(21);
  Value* x = b.input("x", {4, 24});
  QdqWeight w1 = qdq_weight(24, 16, 1, 1);  // [K, N], scales along N
  Value* d1 = b.op("DequantizeLinear", {b.constant("w1_f8", w1.codes), b.constant("s1", w1.scale)},
                   test::attrs({{"axis", int64_t{1}}}));
  Value* h = b.op("MatMul", {x, d1});
  QdqWeight w2 = qdq_weight(8, 16, 0, 3);  // [N, K] behind a Transpose
  Value* d2 = b.op("DequantizeLinear", {b.constant("w2_f8", w2.codes), b.constant("s2", w2.scale)},
                   test::attrs({{"axis", int64_t{0}}}));
  Value* y = b.op("MatMul", {h, b.op("Transpose", {d2}, test::attrs({{"perm", std::vector<int64_t>{1, 0}}}))});
  b.output(y);
  auto before = b.graph().clone();
  PassContext ctx;
  ASSERT_TRUE(test::run_pass("quantize-fp8", b.graph(), &ctx)) << test::explained(ctx);
  EXPECT_EQ(test::count_ops(b.graph(), "vdrt.QMatMul"), 2);
  EXPECT_EQ(test::count_ops(b.graph(), "DequantizeLinear") + test::count_ops(b.graph(), "Transpose"), 0);
  for (const auto& n : b.graph().nodes()) {  // codes copied bit for bit, scales as given
    const Tensor& codes = n->input(1)->constant();
    const bool first = codes.dims()[0] == 24;
    const QdqWeight& src = first ? w1 : w2;
    for (int64_t k = 0; k < codes.dims()[0]; ++k)
      for (int64_t j = 0; j < codes.dims()[1]; ++j)
        ASSERT_EQ(static_cast<const uint8_t*>(codes.raw())[k * codes.dims()[1] + j],
                  static_cast<const uint8_t*>(src.codes.raw())[first ? k * 16 + j : j * 16 + k]);
    EXPECT_EQ(n->input(2)->constant().as_double(), src.scale.as_double());
  }
  auto inputs = test::random_inputs(*before);
  auto want = test::run_graph(*before, inputs).begin()->second;
  auto got = test::run_graph(b.graph(), inputs).begin()->second;
  EXPECT_LT(rel_l2(got, want.as_double()), 1e-5);  // the same product, in another order
}

TEST(QuantizeFp8, QdqNearMisses) {
  GraphBuilder b(21);
  Value* x = b.input("x", {4, 24});
  QdqWeight w = qdq_weight(24, 16, 0, 1);
  Tensor s_in = test::random_tensor({24}, 9, 0.001f, 0.01f);  // scales along K: no per-output form
  Value* d1 = b.op("DequantizeLinear", {b.constant("w_in", w.codes), b.constant("s_in", s_in)},
                   test::attrs({{"axis", int64_t{0}}}));
  b.output(b.op("MatMul", {x, d1}));
  Tensor zp(DType::F8E4M3, {16});
  static_cast<uint8_t*>(zp.raw())[3] = 0x38;
  Value* d2 = b.op("DequantizeLinear", {b.constant("w_zp", w.codes), b.constant("s_zp", test::random_tensor({16}, 2, 0.01f, 0.1f)),
                                        b.constant("zp", zp)});
  b.output(b.op("MatMul", {x, d2}));
  PassContext ctx;
  EXPECT_FALSE(test::run_pass("quantize-fp8", b.graph(), &ctx));
  const std::string why = test::explained(ctx);
  EXPECT_NE(why.find("input channels"), std::string::npos) << why;
  EXPECT_NE(why.find("non-zero float8 zero point"), std::string::npos) << why;
}

// tests/data/fp8/qdq_linear.onnx (make_qdq_model.py): exporter-style float8
// weights in three layouts plus a static activation QDQ, checked against
// ONNX Runtime's output before and after the pass.
// scope = "dit_linear" (Light Forcing's W8A8 set) on the bundled tiny Wan in
// all three export styles, unfused (quantize-fp8 alone: Softmax attention,
// Tanh GELU) and after the default pipeline (vdrt.Attention, vdrt.Gelu):
// exactly 2 blocks x (4 self + 4 cross + 2 FFN) = 20 layers; the time
// embedding and projection (3 Gemm), the text embedding (2 MatMul, around
// a GELU of its own) and the head (1 MatMul) stay float32.
TEST(QuantizeFp8, ScopeDitLinearQuantizesOnlyTheBlocksLinearLayers) {
  for (const char* style : {"ts17", "dyn18", "attn23"}) {
    for (bool fused : {false, true}) {
      SCOPED_TRACE(std::string(style) + (fused ? " fused" : " unfused"));
      auto g = load_onnx(test::source_path(std::string("models/tiny_wan/") + style + "/denoiser.onnx"));
      PassContext ctx;
      const std::string q = "[[pass]]\nname = \"quantize-fp8\"\nscope = \"dit_linear\"\nact_quant = \"per_token_e4m3\"\n";
      ASSERT_TRUE(run_toml(*g, (fused ? default_pipeline_toml() + "\n" : std::string()) + q, ctx)) << test::explained(ctx);
      // The default pipeline's fuse-qkv makes each layer's q/k/v and cross k/v
      // one projection each, quantised as one: the same 20 weights in 14 nodes.
      EXPECT_EQ(test::count_ops(*g, "vdrt.QMatMul"), fused ? 14 : 20);
      int float_linear = 0;
      std::vector<std::string> float_weights;
      for (const auto& n : g->nodes()) {
        if (n->qualified_op() == "vdrt.QMatMul") {
          EXPECT_EQ(n->attrs().get_string("act_quant"), "per_token_e4m3");
          if (std::string(style) == "ts17") {  // this export keeps module paths in node names
            const std::string& name = n->name();
            EXPECT_TRUE(name.find("/blocks.") == 0 &&
                        (name.find("_attn/") != std::string::npos || name.find("/ffn/") != std::string::npos))
                << name;
          }
        }
        if ((n->qualified_op() == "MatMul" || n->qualified_op() == "Gemm") && n->input(1) &&
            n->input(1)->is_constant()) {
          ++float_linear;
          float_weights.push_back(n->input(1)->name());
        }
      }
      EXPECT_EQ(float_linear, 6);
      EXPECT_EQ(test::count_ops(*g, "Gemm"), 3);  // time_embedding.0/.2, time_projection.1
      if (std::string(style) != "ts17") {
        for (const char* w : {"time_embedding.0.weight", "time_embedding.2.weight", "time_projection.1.weight"}) {
          EXPECT_NE(std::find(float_weights.begin(), float_weights.end(), w), float_weights.end()) << w;
        }
      } else {
        for (const auto& n : g->nodes()) {
          if (n->qualified_op() == "MatMul" && n->input(1) && n->input(1)->is_constant()) {
            EXPECT_TRUE(n->name().find("/text_embedding/") == 0 || n->name() == "/head/head/MatMul") << n->name();
          }
        }
      }
      // The float32 layers are explained.
      EXPECT_NE(test::explained(ctx).find("outside scope dit_linear"), std::string::npos);
    }
  }
  auto g = load_onnx(test::source_path("models/tiny_wan/ts17/denoiser.onnx"));
  PassContext ctx;
  EXPECT_THROW(run_toml(*g, "[[pass]]\nname = \"quantize-fp8\"\nscope = \"blocks\"\n", ctx), Error);
}

TEST(QuantizeFp8, CommittedQdqModelFoldsAndMatchesOnnxRuntime) {
  const std::string dir = test::source_path("tests/data/fp8");
  auto g = load_onnx(dir + "/qdq_linear.onnx");
  auto inputs = load_test_set(dir + "/qdq_linear/test_data_set_0", "input");
  auto expected = load_test_set(dir + "/qdq_linear/test_data_set_0", "output");
  TensorMap feed{{inputs[0].name, inputs[0].tensor}};
  EXPECT_LT(test::max_abs_diff(test::run_graph(*g, feed).at("y"), expected[0].tensor), 1e-5);  // unfolded, Q/DQ kernels

  PassContext ctx;
  ASSERT_TRUE(run_toml(*g, "[[pass]]\nname = \"quantize-fp8\"\nfloat_weights = false\n", ctx)) << test::explained(ctx);
  EXPECT_EQ(test::count_ops(*g, "vdrt.QMatMul"), 4);
  EXPECT_EQ(test::count_ops(*g, "MatMul") + test::count_ops(*g, "Gemm") + test::count_ops(*g, "Transpose"), 0);
  EXPECT_EQ(test::count_ops(*g, "DequantizeLinear"), 1);  // the activation's, which stays
  EXPECT_EQ(test::count_ops(*g, "QuantizeLinear"), 1);
  EXPECT_EQ(test::count_ops(*g, "Add"), 0);  // layer 0's bias went into the op
  const Tensor got = test::run_graph(*g, feed).at("y");
  EXPECT_LT(test::max_abs_diff(got, expected[0].tensor), 1e-5);
}

}  // namespace
}  // namespace vdrt
