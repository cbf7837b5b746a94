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


TEST(OptReport, TinyWanDenoiserWithItsTestData) {
  CliResult o = run_vdrt("opt " + source_path("models/tiny_wan/ts17/denoiser.onnx") + " --passes quantize-fp8 --report");
  ASSERT_EQ(o.code, 0) << o.output;
  for (const char* s : {"26 layers", "/blocks.0/ffn/ffn.0/MatMul", "/head/head/MatMul", "isolated", "cumulative",
                        "model output flow: relative error"})
    EXPECT_NE(o.output.find(s), std::string::npos) << s << "\n" << o.output;
}

TEST(OptReport, GivenInputsAndOutputFile) {
  const fs::path out = fs::temp_directory_path() / "vdrt_opt_report_test.onnx";
  CliResult o = run_vdrt("opt " + source_path("tests/data/fp8/qdq_linear.onnx") + " --passes quantize-fp8 --report -o " +
                      out.string() + " --inputs " + source_path("tests/data/fp8/qdq_linear/test_data_set_0"));
  ASSERT_EQ(o.code, 0) << o.output;
  EXPECT_TRUE(fs::exists(out));
  EXPECT_NE(o.output.find("/layer2/Gemm"), std::string::npos) << o.output;
  fs::remove(out);
}

TEST(OptReport, NoSampleInputsIsAUsageError) {
  const fs::path dir = fs::temp_directory_path() / "vdrt_opt_report_no_inputs";
  fs::create_directories(dir);
  fs::copy_file(source_path("tests/data/fp8/qdq_linear.onnx"), dir / "m.onnx", fs::copy_options::overwrite_existing);
  CliResult o = run_vdrt("opt " + (dir / "m.onnx").string() + " --passes quantize-fp8 --report");
  EXPECT_EQ(o.code, 2) << o.output;
  EXPECT_NE(o.output.find("--inputs DIR"), std::string::npos) << o.output;
  o = run_vdrt("opt " + (dir / "m.onnx").string() + " --passes fold-constants --report");
  EXPECT_EQ(o.code, 0) << o.output;
  EXPECT_NE(o.output.find("no quantised layers"), std::string::npos) << o.output;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace vdrt::test
