// `vdrt opt --report` as a user runs it: on a committed model with its
// test_data_set beside it, on given --inputs, and without sample inputs.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>

#include "test_util.h"

namespace vdrt::test {
namespace {
namespace fs = std::filesystem;

struct Output {
  int code = -1;
  std::string text;  // stdout and stderr
};

Output run_vdrt(const std::string& args) {
  Output o;
  FILE* p = popen((vdrt_binary() + " " + args + " 2>&1").c_str(), "r");
  if (!p) return o;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) o.text.append(buf, n);
  const int status = pclose(p);
  o.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return o;
}

TEST(OptReport, TinyWanDenoiserWithItsTestData) {
  Output o = run_vdrt("opt " + source_path("models/tiny_wan/ts17/denoiser.onnx") + " --passes quantize-fp8 --report");
  ASSERT_EQ(o.code, 0) << o.text;
  for (const char* s : {"26 layers", "/blocks.0/ffn/ffn.0/MatMul", "/head/head/MatMul", "isolated", "cumulative",
                        "model output flow: relative error"})
    EXPECT_NE(o.text.find(s), std::string::npos) << s << "\n" << o.text;
}

TEST(OptReport, GivenInputsAndOutputFile) {
  const fs::path out = fs::temp_directory_path() / "vdrt_opt_report_test.onnx";
  Output o = run_vdrt("opt " + source_path("tests/data/fp8/qdq_linear.onnx") + " --passes quantize-fp8 --report -o " +
                      out.string() + " --inputs " + source_path("tests/data/fp8/qdq_linear/test_data_set_0"));
  ASSERT_EQ(o.code, 0) << o.text;
  EXPECT_TRUE(fs::exists(out));
  EXPECT_NE(o.text.find("/layer2/Gemm"), std::string::npos) << o.text;
  fs::remove(out);
}

TEST(OptReport, NoSampleInputsIsAUsageError) {
  const fs::path dir = fs::temp_directory_path() / "vdrt_opt_report_no_inputs";
  fs::create_directories(dir);
  fs::copy_file(source_path("tests/data/fp8/qdq_linear.onnx"), dir / "m.onnx", fs::copy_options::overwrite_existing);
  Output o = run_vdrt("opt " + (dir / "m.onnx").string() + " --passes quantize-fp8 --report");
  EXPECT_EQ(o.code, 2) << o.text;
  EXPECT_NE(o.text.find("--inputs DIR"), std::string::npos) << o.text;
  o = run_vdrt("opt " + (dir / "m.onnx").string() + " --passes fold-constants --report");
  EXPECT_EQ(o.code, 0) << o.text;
  EXPECT_NE(o.text.find("no quantised layers"), std::string::npos) << o.text;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace vdrt::test
