// A GPU session that runs the default pipeline at load optimises for its
// own device: fuse-gemm-epilogue writes vdrt.FusedMatMul with one output
// (bias, GELU and residual in the GEMM's epilogue), as many as a CPU session
// writes, and leaves fuse-qkv's Split to the device (the GPU kernels write
// one output). The tiny Wan exports of every style then match ONNX Runtime
// within 1e-4 with no node on the CPU, and with their view nodes (Reshape
// and kin) sharing their input's bytes give the same bits as with every
// view copied.
#include <gtest/gtest.h>

#include <filesystem>

#include "backends/parity.h"
#include "importer/onnx_import.h"
#include "importer/tensor_file.h"
#include "runtime/compare.h"
#include "runtime/pass_pipeline.h"
#include "runtime/session.h"
#include "test_util.h"

namespace vdrt::test {
namespace {
namespace fs = std::filesystem;

class GemmFusionOnGpu : public testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(GemmFusionOnGpu, SessionPipelineKeepsEveryNodeOnTheDevice) {
  const auto& [backend, style] = GetParam();
  VDRT_REQUIRE_DEVICE(backend);
  const fs::path dir = fs::path(source_path("models/tiny_wan")) / style;
  SessionOptions o;
  o.device = backend;
  o.pass_pipeline_text = default_pass_pipeline_toml();
  Session session(load_onnx((dir / "denoiser.onnx").string()), o);
  SessionOptions on_cpu = o;
  on_cpu.device = "cpu";
  Session cpu(load_onnx((dir / "denoiser.onnx").string()), on_cpu);
  auto count = [](const Session& s, const std::string& op, const char* name_part = "") {
    int k = 0;
    for (const auto& n : s.graph().nodes())
      k += n->qualified_op() == op && n->name().find(name_part) != std::string::npos;
    return k;
  };
  const int fused = count(session, "vdrt.FusedMatMul");
  // Per layer: q/k/v, cross k/v, o, cross q, cross o (+ residual), FFN in
  // (+ GELU), FFN out; the text embedding's two Linears and the head.
  EXPECT_EQ(fused, 2 * 7 + 2 + 1);
  EXPECT_EQ(fused, count(cpu, "vdrt.FusedMatMul"));
  int splits_cut = 0, with_gelu = 0, with_residual = 0;
  for (const auto& n : session.graph().nodes()) {
    if (n->qualified_op() != "vdrt.FusedMatMul") continue;
    EXPECT_FALSE(n->attrs().has("split")) << n->name();
    with_gelu += n->attrs().get_string("activation", "none") == "gelu_tanh";  // Wan's GELU
    with_residual += n->inputs().size() == 4;
  }
  for (const auto& n : cpu.graph().nodes()) splits_cut += n->attrs().has("split");
  EXPECT_EQ(with_gelu, 2 + 1);      // each FFN, the text embedding
  EXPECT_EQ(with_residual, 2);      // each cross-attention output
  EXPECT_EQ(splits_cut, 4);         // on the CPU the Splits fold into the GEMM
  EXPECT_EQ(count(session, "vdrt.Attention"), 4);
  EXPECT_EQ(count(session, "Split", "_qkv_split"), 4);  // two layers' self q/k/v and cross k/v
  EXPECT_EQ(count(cpu, "Split", "_qkv_split"), 0);
  const fs::path set = dir / "denoiser" / "test_data_set_1";
  TensorMap feed;
  for (NamedTensor& t : load_test_set(set.string(), "input")) feed[t.name] = t.tensor;
  TensorMap got = session.run(feed);
  for (const NamedTensor& e : load_test_set(set.string(), "output")) {
    Comparison cmp = compare_tensors(got.at(e.name), e.tensor, 0.0, 1e-4);
    EXPECT_TRUE(cmp.ok) << e.name << ": " << cmp.reason;
  }
  EXPECT_EQ(session.last_stats().nodes_on_fallback, 0u);
}

INSTANTIATE_TEST_SUITE_P(TinyWan, GemmFusionOnGpu,
                         testing::Combine(testing::ValuesIn(gpu_backends()),
                                          testing::Values(std::string("ts17"), std::string("dyn18"), std::string("attn23"))),
                         [](const auto& info) { return std::get<0>(info.param) + "_" + std::get<1>(info.param); });

}  // namespace
}  // namespace vdrt::test
