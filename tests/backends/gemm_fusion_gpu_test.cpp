// A GPU session that runs the default pipeline at load optimises for its
// own device: fuse-qkv's MatMul + Split stay ONNX ops the device runs, and
// fuse-gemm-epilogue writes no vdrt.FusedMatMul (a CPU-only op that would
// fall back to the CPU). The tiny Wan exports of every style then match
// ONNX Runtime within 1e-4 with no node on the CPU.
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
  int fused = 0, attention = 0, qkv_splits = 0;
  for (const auto& n : session.graph().nodes()) {
    fused += n->qualified_op() == "vdrt.FusedMatMul";
    attention += n->qualified_op() == "vdrt.Attention";
    qkv_splits += n->qualified_op() == "Split" && n->name().find("_qkv_split") != std::string::npos;
  }
  EXPECT_EQ(fused, 0);
  EXPECT_EQ(attention, 4);
  EXPECT_EQ(qkv_splits, 4);  // two layers' self q/k/v and cross k/v
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
