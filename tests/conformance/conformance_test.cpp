// The ONNX backend node tests: every test whose ops the CPU backend claims
// (has a kernel for and accepts) must pass. Prints a per-op table of
// passed / failed / unsupported for each test root.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>

#include "conformance/node_test_runner.h"

namespace vdrt::test {
namespace {

struct Tally { int passed = 0, failed = 0, unsupported = 0; };

void run_root(const std::string& root) {
  std::vector<std::string> tests = list_node_tests(root);
  ASSERT_FALSE(tests.empty()) << "no node tests under " << root;
  std::map<std::string, Tally> per_op;
  Tally total;
  std::vector<NodeTestResult> failures;
  for (const std::string& t : tests) {
    NodeTestResult r = run_node_test(t);
    Tally& row = per_op[r.op.empty() ? "(not imported)" : r.op];
    switch (r.verdict) {
      case Verdict::Passed: ++row.passed; ++total.passed; break;
      case Verdict::Failed: ++row.failed; ++total.failed; failures.push_back(r); break;
      case Verdict::Unsupported: ++row.unsupported; ++total.unsupported; break;
    }
  }
  std::printf("\nONNX node tests in %s\n  %-28s %6s %6s %6s\n", root.c_str(), "op", "pass", "fail", "unsup");
  for (const auto& [op, t] : per_op)
    if (t.passed || t.failed) std::printf("  %-28s %6d %6d %6d\n", op.c_str(), t.passed, t.failed, t.unsupported);
  int unsupported_ops = 0;
  for (const auto& [op, t] : per_op) unsupported_ops += (!t.passed && !t.failed);
  std::printf("  (%d further ops with unsupported tests only)\n", unsupported_ops);
  std::printf("  total: %d passed, %d failed, %d unsupported\n", total.passed, total.failed, total.unsupported);
  for (const NodeTestResult& f : failures) ADD_FAILURE() << f.name << " [" << f.op << "]: " << f.detail;
  EXPECT_GT(total.passed, 0);
}

TEST(OnnxNodeTests, EveryClaimedOpPasses) {
  std::vector<std::string> roots = node_test_roots();
  ASSERT_FALSE(roots.empty()) << "libonnx-testdata is not installed (apt-get install libonnx-testdata)";
  for (const std::string& root : roots) run_root(root);
}

}  // namespace
}  // namespace vdrt::test
