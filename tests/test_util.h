#pragma once
// Helpers shared by the test suites.
#include <filesystem>
#include <string>
#include <vector>

#include "graph/tensor.h"

namespace vdrt::test {

// Absolute path of a file in the source tree, e.g. source_path("models/tiny_wan").
std::string source_path(const std::string& relative);
// The test_data_set_N folders inside `folder`, sorted.
std::vector<std::filesystem::path> test_data_sets(const std::filesystem::path& folder);
// Path of the built `vdrt` binary.
std::string vdrt_binary();
// Runs the built `vdrt` binary with `args` (a shell command line) and
// captures its exit code and its stdout and stderr, interleaved.
struct CliResult {
  int code = -1;
  std::string output;
};
// `env`: "NAME=value ..." set for that process only.
CliResult run_vdrt(const std::string& args, const std::string& env = "");
// Largest absolute elementwise difference; fails the test on dtype/shape mismatch.
double max_abs_diff(const Tensor& actual, const Tensor& expected);

// Sets (or, with nullptr, clears) an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value);
  ~ScopedEnv();
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_, saved_;
  bool had_;
};

}  // namespace vdrt::test
