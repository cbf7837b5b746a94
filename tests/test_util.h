#pragma once
// Helpers shared by the test suites.
#include <filesystem>
#include <map>
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

// The tiny ts17 pipeline in a temporary folder of its own ("vdrt_<name>_<pid>"):
// its denoiser with `metadata` overriding the model's, and a pipeline.toml
// naming the ts17 decoder, the tiny context and the lines `extra_toml`.
std::filesystem::path tiny_pipeline_with(const std::string& name, const std::map<std::string, std::string>& metadata,
                                         const std::string& extra_toml = "");
// A pass pipeline file in the temporary folder: fold, fuse attention, then
// sparsify-attention with `sparsify_options` (TOML lines of its table).
std::string sparsify_pipeline_file(const std::string& name, const std::string& sparsify_options);

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
