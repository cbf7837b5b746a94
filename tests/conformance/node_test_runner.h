#pragma once
// Runs ONNX backend node tests (folders with model.onnx and
// test_data_set_N/{input,output}_K.pb) through a vdrt Session on the CPU and
// classifies each as passed, failed, or unsupported.
#include <map>
#include <string>
#include <vector>

namespace vdrt::test {

enum class Verdict { Passed, Failed, Unsupported };

struct NodeTestResult {
  std::string name;     // folder name, e.g. test_conv_with_strides_padding
  std::string op;       // op type of a single-node model, "(composite)" otherwise
  Verdict verdict = Verdict::Unsupported;
  std::string detail;   // why it failed or is unsupported
};

// Every folder under `root` holding a model.onnx, sorted by name.
std::vector<std::string> list_node_tests(const std::string& root);
NodeTestResult run_node_test(const std::string& folder, const std::string& device = "cpu");

// Roots of the node tests: Debian's libonnx-testdata, the newer-op subset
// committed in tests/data/onnx_node_1.23, and any folders named in
// VDRT_ONNX_NODE_TESTS (colon-separated), e.g. the whole set of the onnx
// wheel written by tests/conformance/generate_onnx_node_tests.py.
std::vector<std::string> node_test_roots();

}  // namespace vdrt::test
