// The committed tiny Wan-style models against ONNX Runtime's outputs: every
// export style, every golden set, max abs error <= 1e-4.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "importer/tensor_file.h"
#include "runtime/compare.h"
#include "runtime/session.h"
#include "test_util.h"

namespace vdrt::test {
namespace {
namespace fs = std::filesystem;

constexpr double kMaxAbsError = 1e-4;

struct GoldenCase {
  std::string model;     // .../ts17/denoiser.onnx
  std::string data_dir;  // .../ts17/denoiser/test_data_set_1
};

// Keeps gtest from printing the struct's bytes in test listings.
void PrintTo(const GoldenCase& c, std::ostream* os) { *os << c.data_dir; }

std::vector<GoldenCase> golden_cases() {
  std::vector<GoldenCase> cases;
  fs::path root = source_path("models/tiny_wan");
  if (!fs::is_directory(root)) return cases;
  for (const auto& style : fs::directory_iterator(root)) {
    if (!style.is_directory()) continue;
    for (const char* model : {"denoiser", "decoder"}) {
      fs::path onnx = style.path() / (std::string(model) + ".onnx");
      fs::path sets = style.path() / model;
      if (!fs::exists(onnx) || !fs::is_directory(sets)) continue;
      for (const fs::path& set : test_data_sets(sets)) cases.push_back({onnx.string(), set.string()});
    }
  }
  std::sort(cases.begin(), cases.end(), [](const auto& a, const auto& b) { return a.data_dir < b.data_dir; });
  return cases;
}

std::string case_name(const testing::TestParamInfo<GoldenCase>& info) {
  fs::path d(info.param.data_dir);
  std::string n = d.parent_path().parent_path().filename().string() + "_" + d.parent_path().filename().string() + "_" +
                  d.filename().string().substr(std::string("test_data_set_").size());
  for (char& c : n)
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  return n;
}

class GoldenModel : public testing::TestWithParam<GoldenCase> {};

TEST_P(GoldenModel, MatchesOnnxRuntime) {
  const GoldenCase& c = GetParam();
  auto session = Session::load(c.model, SessionOptions{"cpu"});
  const Graph& g = session->graph();
  TensorMap feed;
  for (NamedTensor& t : load_test_set(c.data_dir, "input")) {
    ASSERT_NE(g.find_value(t.name), nullptr) << "golden input " << t.name << " is not a model input";
    feed[t.name] = t.tensor;
  }
  TensorMap got = session->run(feed);
  std::vector<NamedTensor> expected = load_test_set(c.data_dir, "output");
  ASSERT_EQ(expected.size(), g.outputs().size());
  for (const NamedTensor& e : expected) {
    ASSERT_TRUE(got.count(e.name)) << "no output named " << e.name;
    Comparison cmp = compare_tensors(got.at(e.name), e.tensor, 0.0, kMaxAbsError);
    EXPECT_TRUE(cmp.ok) << e.name << ": " << cmp.reason << " (max abs error " << cmp.max_abs_error << ")";
    EXPECT_GT(e.tensor.numel() == 0 ? 1.0 : [&] { double m = 0; for (double x : e.tensor.as_double()) m = std::max(m, std::fabs(x)); return m; }(), 0.0)
        << e.name << " golden output is all zeros: the test could not fail";
  }
}

INSTANTIATE_TEST_SUITE_P(TinyWan, GoldenModel, testing::ValuesIn(golden_cases()), case_name);

TEST(GoldenModels, AllThreeExportStylesArePresent) {
  for (const char* style : {"ts17", "dyn18", "attn23"})
    for (const char* model : {"denoiser", "decoder"})
      EXPECT_TRUE(fs::exists(source_path(std::string("models/tiny_wan/") + style + "/" + model + ".onnx")))
          << style << "/" << model;
  EXPECT_GE(golden_cases().size(), 12u);
}

}  // namespace
}  // namespace vdrt::test
