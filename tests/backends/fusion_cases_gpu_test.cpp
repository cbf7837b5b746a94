// The fusion cases of models/export_fusion_cases.py (masked SDPA, packed
// QKV, GroupNorm; TorchScript-17, dynamo-18, dynamo-23 exports) after the
// default pass pipeline on every GPU backend: ONNX Runtime's outputs within
// 1e-4 and no node on the CPU, so masked vdrt.Attention and
// vdrt.GroupNormalization run on the device.
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

struct FusionGpuCase {
  std::string backend, style, name;
};
void PrintTo(const FusionGpuCase& c, std::ostream* os) { *os << c.backend << " " << c.style << "/" << c.name; }

std::vector<FusionGpuCase> cases() {
  std::vector<FusionGpuCase> out;
  for (const std::string& backend : gpu_backends())
    for (const char* style : {"ts17", "dyn18", "attn23"})
      for (const char* name : {"sdpa_additive", "sdpa_bool", "sdpa_causal", "sdpa_chunk", "sdpa_cache_chunk", "packed_qkv",
                               "group_norm"})
        out.push_back({backend, style, name});
  return out;
}

class FusionCaseOnGpu : public testing::TestWithParam<FusionGpuCase> {};

TEST_P(FusionCaseOnGpu, MatchesOnnxRuntimeWithoutCpuNodes) {
  const FusionGpuCase& c = GetParam();
  VDRT_REQUIRE_DEVICE(c.backend);
  const fs::path dir = fs::path(source_path("models/fusion_cases")) / c.style;
  std::unique_ptr<Graph> g = load_onnx((dir / (c.name + ".onnx")).string());
  run_pass_pipeline_text(*g, default_pass_pipeline_toml(), "<default>");
  SessionOptions o;
  o.device = c.backend;
  Session session(std::move(g), o);
  const std::string set = (dir / c.name / "test_data_set_0").string();
  TensorMap feed;
  for (NamedTensor& t : load_test_set(set, "input")) feed[t.name] = t.tensor;
  TensorMap got = session.run(feed);
  for (const NamedTensor& e : load_test_set(set, "output")) {
    ASSERT_TRUE(got.count(e.name)) << e.name;
    Comparison cmp = compare_tensors(got.at(e.name), e.tensor, 0.0, 1e-4);
    EXPECT_TRUE(cmp.ok) << e.name << ": " << cmp.reason << " (max abs error " << cmp.max_abs_error << ")";
  }
  std::string cpu_nodes;
  std::vector<std::string> where = session.last_placement();
  for (size_t i = 0; i < where.size(); ++i)
    if (where[i] == "cpu") cpu_nodes += " " + session.graph().nodes()[i]->qualified_op();
  EXPECT_EQ(session.last_stats().nodes_on_fallback, 0u) << "nodes on the CPU:" << cpu_nodes;
}

INSTANTIATE_TEST_SUITE_P(Exports, FusionCaseOnGpu, testing::ValuesIn(cases()),
                         [](const testing::TestParamInfo<FusionGpuCase>& i) {
                           return i.param.backend + "_" + i.param.style + "_" + i.param.name;
                         });

}  // namespace
}  // namespace vdrt::test
