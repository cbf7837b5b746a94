// The per-layer quantisation report on a two-layer graph whose errors are
// recomputed here by hand: layer 1's isolated and cumulative errors are the
// same thing, layer 2's isolated error uses the float model's own input.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "passes/pass_manager.h"
#include "passes/pass_registry.h"
#include "runtime/host_eval.h"
#include "runtime/quant_report.h"

namespace vdrt {
namespace {

Tensor randn(std::vector<int64_t> dims, uint32_t seed) {
  Tensor t(DType::F32, std::move(dims));
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd;
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = nd(rng);
  return t;
}

std::unique_ptr<Graph> two_layers() {
  auto g = std::make_unique<Graph>();
  g->opsets.push_back({"", 17});
  Value* x = g->value("x");
  x->set_dtype(DType::F32);
  x->set_shape(Shape({5, 32}));
  g->inputs().push_back(x);
  g->add_constant("w1", randn({32, 16}, 1));
  g->add_constant("w2", randn({16, 8}, 2));
  g->add_node("MatMul", {x, g->find_value("w1")}, {g->value("h")}, "layer1");
  g->add_node("Relu", {g->find_value("h")}, {g->value("r")}, "relu");
  g->add_node("MatMul", {g->find_value("r"), g->find_value("w2")}, {g->value("y")}, "layer2");
  g->outputs().push_back(g->find_value("y"));
  return g;
}

TensorMap run(const Graph& g, const TensorMap& feed) {
  Session s(g.clone(), SessionOptions{"cpu"});
  return s.run(feed);
}

TEST(QuantReport, MatchesHandComputedErrors) {
  auto f = two_layers();
  auto q = f->clone();
  PassContext ctx;
  PassManager pm;
  pm.add(PassRegistry::instance().create("quantize-fp8"));
  pm.run(*q, ctx);
  const TensorMap feed{{"x", randn({5, 32}, 3)}};
  const QuantReport r = quantization_report(*f, *q, feed);
  ASSERT_EQ(r.layers.size(), 2u);
  EXPECT_EQ(r.layers[0].layer, "layer1");
  EXPECT_EQ(r.layers[1].layer, "layer2");
  EXPECT_EQ(r.layers[1].dims, (std::vector<int64_t>{5, 8}));

  // Float intermediates by exposing them as outputs of a copy.
  auto fx = f->clone();
  fx->outputs() = {fx->find_value("h"), fx->find_value("r"), fx->find_value("y")};
  const TensorMap fv = run(*fx, feed);
  auto qx = q->clone();
  qx->outputs() = {qx->find_value("h"), qx->find_value("y")};
  const TensorMap qv = run(*qx, feed);
  const double e1 = relative_l2_error(qv.at("h"), fv.at("h"));
  EXPECT_DOUBLE_EQ(r.layers[0].isolated, e1);
  EXPECT_DOUBLE_EQ(r.layers[0].cumulative, e1);
  // Layer 2 alone: its quantised weights on the float relu output.
  const Node* l2 = nullptr;
  for (const auto& n : q->nodes())
    if (n->name() == "layer2") l2 = n.get();
  ASSERT_NE(l2, nullptr);
  const Tensor alone = evaluate_on_host(*l2, 1, {&fv.at("r"), &l2->input(1)->constant(), &l2->input(2)->constant()})[0];
  EXPECT_DOUBLE_EQ(r.layers[1].isolated, relative_l2_error(alone, fv.at("y")));
  EXPECT_DOUBLE_EQ(r.layers[1].cumulative, relative_l2_error(qv.at("y"), fv.at("y")));
  EXPECT_GT(r.layers[1].isolated, 0.005);
  EXPECT_LT(r.layers[1].isolated, 0.1);
  ASSERT_EQ(r.outputs.size(), 1u);
  EXPECT_DOUBLE_EQ(r.outputs[0].rel_l2, r.layers[1].cumulative);

  const std::string text = format_report(r);
  for (const char* s : {"layer1", "layer2", "isolated", "cumulative", "model output y"})
    EXPECT_NE(text.find(s), std::string::npos) << s << "\n" << text;
}

TEST(QuantReport, RelativeErrorEdgeCases) {
  Tensor z(DType::F32, {3}), one = Tensor::from_vector<float>({3}, {1, 0, 0});
  EXPECT_EQ(relative_l2_error(z, z), 0.0);
  EXPECT_TRUE(std::isinf(relative_l2_error(one, z)));
  EXPECT_EQ(relative_l2_error(z, one), 1.0);
  EXPECT_THROW(relative_l2_error(z, Tensor(DType::F32, {4})), Error);
}

}  // namespace
}  // namespace vdrt
