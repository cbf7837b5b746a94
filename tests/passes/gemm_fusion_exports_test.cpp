// fuse-qkv and fuse-gemm-epilogue on the committed tiny Wan exports (every
// exporter style), in the default pipeline: optimised for the CPU, each
// layer's q/k/v and cross-attention k/v are one vdrt.FusedMatMul with split
// outputs, every Linear (bias, GELU, the cross-attention residual) is one,
// every attention is still fused, and the outputs equal ONNX Runtime's on
// every golden set. Optimised for no device, the epilogues are left to the
// session (the Q/K/V Split stays an ONNX op any backend runs), and a CPU
// session fuses them itself at load.
#include <gtest/gtest.h>

#include <filesystem>

#include "backends/cpu/cpu_backend.h"
#include "graph_builder.h"
#include "importer/onnx_import.h"
#include "importer/tensor_file.h"
#include "passes/pass_manager.h"
#include "passes/pipeline.h"
#include "runtime/pass_pipeline.h"
#include "test_util.h"

namespace vdrt {
namespace {
namespace fs = std::filesystem;

constexpr double kTolerance = 1e-4;

std::vector<PassRecord> optimise(Graph& g, PassContext& ctx, const Backend* device) {
  ctx.evaluator = host_node_evaluator();
  if (device) ctx.device_runs = [device](const Node& n) { return device->supports(n); };
  return PassManager(default_pipeline()).run(g, ctx);
}

const PassRecord& record_of(const std::vector<PassRecord>& records, const std::string& pass) {
  for (const PassRecord& r : records)
    if (r.pass == pass) return r;
  throw Error("no record of pass " + pass);
}

class GemmFusionExport : public testing::TestWithParam<std::string> {
 protected:
  fs::path style() const { return test::source_path("models/tiny_wan/" + GetParam()); }
  std::unique_ptr<Graph> load() const { return load_onnx((style() / "denoiser.onnx").string()); }

  // Every golden set through a CPU session on `g` as it is (no pipeline).
  void expect_goldens(const Graph& g) const {
    SessionOptions cpu;
    cpu.device = "cpu";
    Session s(g.clone(), cpu);
    for (const fs::path& set : test::test_data_sets(style() / "denoiser")) {
      SCOPED_TRACE(set.string());
      TensorMap feed;
      for (NamedTensor& t : load_test_set(set.string(), "input")) feed[t.name] = t.tensor;
      TensorMap got = s.run(feed);
      for (NamedTensor& want : load_test_set(set.string(), "output"))
        EXPECT_LE(test::max_abs_diff(got.at(want.name), want.tensor), kTolerance) << want.name << " vs ONNX Runtime";
    }
  }
};

// Splits that cut a projection's product (fuse-qkv's), not the exports' own
// (dynamo writes the adaLN chunk(6) as a Split).
int projection_splits(const Graph& g) {
  int n = 0;
  for (const auto& node : g.nodes()) {
    if (node->qualified_op() != "Split") continue;
    const Node* p = node->input(0)->producer();
    if (p && p->op_type() == "Add") p = p->input(0)->producer() ? p->input(0)->producer() : p->input(1)->producer();
    n += p && (p->qualified_op() == "MatMul" || p->qualified_op() == "vdrt.FusedMatMul");
  }
  return n;
}

void expect_attention_fused(const Graph& g, int64_t layers) {
  int self = 0, cross = 0;
  for (const auto& n : g.nodes())
    if (n->qualified_op() == "vdrt.Attention") (n->attrs().get_string("kind") == "self" ? self : cross)++;
  EXPECT_EQ(self, layers);
  EXPECT_EQ(cross, layers);
  EXPECT_EQ(test::count_ops(g, "Softmax"), 0);
}

TEST_P(GemmFusionExport, ForTheCpuEveryLinearIsOneFusedMatMul) {
  auto g = load();
  const int64_t layers = std::stoll(g->metadata.at("vdrt.num_layers"));
  auto cpu = make_cpu_backend(1);
  PassContext ctx;
  const auto records = optimise(*g, ctx, cpu.get());
  expect_attention_fused(*g, layers);

  // Per layer: q/k/v, o, cross q, cross k/v, cross o, two FFN layers; then
  // the text embedding's two layers and the head.
  EXPECT_EQ(test::count_ops(*g, "vdrt.FusedMatMul"), 7 * layers + 3) << test::explained(ctx);
  int qkv = 0, kv = 0, gelus = 0, residuals = 0, biased = 0;
  for (const auto& n : g->nodes()) {
    if (n->qualified_op() == "MatMul") {
      const Value* w = n->input(1);
      EXPECT_FALSE(w->is_constant() && w->shape().rank() == 2) << "a Linear left unfused: " << n->name();
    }
    if (n->qualified_op() != "vdrt.FusedMatMul") continue;
    qkv += n->outputs().size() == 3;
    kv += n->outputs().size() == 2;
    gelus += n->attrs().get_string("activation", "none") == "gelu_tanh";
    biased += n->input(2) != nullptr;
    residuals += n->input(3) != nullptr;
    if (n->outputs().size() > 1)
      EXPECT_EQ(n->attrs().get_ints("split"), std::vector<int64_t>(n->outputs().size(), 64)) << n->name();
  }
  EXPECT_EQ(qkv, layers);          // self-attention q, k, v
  EXPECT_EQ(kv, layers);           // cross-attention k, v of the text
  EXPECT_EQ(gelus, layers + 1);    // each FFN and the text embedding
  EXPECT_EQ(residuals, layers);    // x + cross_attn(...): the only ungated residual
  EXPECT_EQ(biased, 7 * layers + 3);
  EXPECT_EQ(projection_splits(*g), 0);
  EXPECT_EQ(record_of(records, "fuse-qkv").counters.at("self-attention projections"), 3 * layers);
  EXPECT_EQ(record_of(records, "fuse-qkv").counters.at("cross-attention projections"), 2 * layers);
  EXPECT_TRUE(ctx.explanations().empty()) << test::explained(ctx);
  expect_goldens(*g);
}

TEST_P(GemmFusionExport, WithoutADeviceTheEpiloguesAreLeftToTheSession) {
  auto g = load();
  const int64_t layers = std::stoll(g->metadata.at("vdrt.num_layers"));
  PassContext ctx;
  const auto records = optimise(*g, ctx, nullptr);
  expect_attention_fused(*g, layers);
  EXPECT_EQ(test::count_ops(*g, "vdrt.FusedMatMul"), 0);
  EXPECT_EQ(projection_splits(*g), 2 * layers);  // fuse-qkv's, an ONNX op every backend runs
  const PassRecord& epilogue = record_of(records, "fuse-gemm-epilogue");
  EXPECT_FALSE(epilogue.changed);
  EXPECT_EQ(epilogue.counters.at("unfused, no device given"), 7 * layers + 3);
  EXPECT_TRUE(ctx.explanations().empty()) << test::explained(ctx);
  expect_goldens(*g);

  // A device without the kernel is told apart from no device.
  PassContext gpu_like;
  gpu_like.device_runs = [](const Node& n) { return n.domain() != "vdrt" || n.op_type() != "FusedMatMul"; };
  auto h = load();
  const auto gpu_records = optimise(*h, gpu_like, nullptr);
  EXPECT_EQ(test::count_ops(*h, "vdrt.FusedMatMul"), 0);
  EXPECT_EQ(record_of(gpu_records, "fuse-gemm-epilogue").counters.at("unfused, device lacks vdrt.FusedMatMul"),
            7 * layers + 3);
}

TEST_P(GemmFusionExport, ACpuSessionFusesAtLoad) {
  SessionOptions o;
  o.device = "cpu";
  o.pass_pipeline_text = default_pass_pipeline_toml();
  Session s(load(), o);
  const int64_t layers = std::stoll(s.graph().metadata.at("vdrt.num_layers"));
  EXPECT_EQ(test::count_ops(s.graph(), "vdrt.FusedMatMul"), 7 * layers + 3);
  expect_attention_fused(s.graph(), layers);
  expect_goldens(s.graph());
}

INSTANTIATE_TEST_SUITE_P(Styles, GemmFusionExport, testing::Values("ts17", "dyn18", "attn23"),
                         [](const testing::TestParamInfo<std::string>& i) { return i.param; });

}  // namespace
}  // namespace vdrt
