// The committed tiny Wan-style models (every export style, denoiser and
// decoder, every golden set) on every GPU backend: outputs within 1e-4 of
// ONNX Runtime's, and in a steady-state call no node on the CPU and no copy
// besides the call's own inputs — both as imported and after the default
// pass pipeline (fused attention, norms, GELU).
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

struct GpuGolden {
  std::string backend, model, data_dir;
  bool fused;
};
void PrintTo(const GpuGolden& c, std::ostream* os) { *os << c.backend << " " << c.data_dir; }

std::vector<GpuGolden> cases() {
  std::vector<GpuGolden> out;
  for (const std::string& backend : gpu_backends())
    for (const char* style : {"ts17", "dyn18", "attn23"})
      for (const char* model : {"denoiser", "decoder"}) {
        fs::path dir = fs::path(source_path("models/tiny_wan")) / style;
        for (const fs::path& set : test_data_sets(dir / model))
          for (bool fused : {false, true})
            out.push_back({backend, (dir / (std::string(model) + ".onnx")).string(), set.string(), fused});
      }
  return out;
}

std::string name(const testing::TestParamInfo<GpuGolden>& info) {
  fs::path d(info.param.data_dir);
  std::string n = info.param.backend + "_" + d.parent_path().parent_path().filename().string() + "_" +
                  d.parent_path().filename().string() + "_" + d.filename().string().substr(14) +
                  (info.param.fused ? "_fused" : "_imported");
  for (char& c : n)
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  return n;
}

class GpuGoldenModel : public testing::TestWithParam<GpuGolden> {};

TEST_P(GpuGoldenModel, MatchesOnnxRuntimeWithoutCpuNodes) {
  const GpuGolden& c = GetParam();
  VDRT_REQUIRE_DEVICE(c.backend);
  std::unique_ptr<Graph> g = load_onnx(c.model);
  if (c.fused) run_pass_pipeline_text(*g, default_pass_pipeline_toml(), "<default>");
  SessionOptions o;
  o.device = c.backend;
  Session session(std::move(g), o);
  TensorMap feed;
  for (NamedTensor& t : load_test_set(c.data_dir, "input")) feed[t.name] = t.tensor;
  std::vector<NamedTensor> expected = load_test_set(c.data_dir, "output");
  for (int run = 0; run < 2; ++run) {
    TensorMap got = session.run(feed);
    for (const NamedTensor& e : expected) {
      ASSERT_TRUE(got.count(e.name)) << e.name;
      Comparison cmp = compare_tensors(got.at(e.name), e.tensor, 0.0, 1e-4);
      EXPECT_TRUE(cmp.ok) << e.name << ": " << cmp.reason << " (max abs error " << cmp.max_abs_error << "), run " << run;
    }
  }
  // The steady state: the second call of the same shapes.
  const RunStats& s = session.last_stats();
  std::string cpu_nodes;
  std::vector<std::string> where = session.last_placement();
  for (size_t i = 0; i < where.size(); ++i)
    if (where[i] == "cpu") cpu_nodes += " " + session.graph().nodes()[i]->qualified_op();
  EXPECT_EQ(s.nodes_on_fallback, 0u) << "nodes on the CPU:" << cpu_nodes;
  EXPECT_EQ(s.cross_copies, 0u);
  size_t device_inputs = 0;  // float inputs and large integer ones live on the device
  for (const auto& [n, t] : feed) device_inputs += is_float(t.dtype()) || t.numel() > 4096;
  EXPECT_LE(s.host_uploads, feed.size()) << "host->device copies beyond the call's inputs";
  EXPECT_GE(s.host_uploads, device_inputs > 0 ? 1u : 0u);
}

INSTANTIATE_TEST_SUITE_P(TinyWan, GpuGoldenModel, testing::ValuesIn(cases()), name);

}  // namespace
}  // namespace vdrt::test
