#include "test_util.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>

#include "importer/onnx_export.h"
#include "importer/onnx_import.h"

namespace vdrt::test {

CliResult run_vdrt(const std::string& args, const std::string& env) {
  CliResult r;
  FILE* p = popen(((env.empty() ? "" : "env " + env + " ") + vdrt_binary() + " " + args + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string source_path(const std::string& relative) { return std::string(VDRT_SOURCE_ROOT) + "/" + relative; }
std::vector<std::filesystem::path> test_data_sets(const std::filesystem::path& folder) {
  std::vector<std::filesystem::path> sets;
  for (const auto& e : std::filesystem::directory_iterator(folder))
    if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) sets.push_back(e.path());
  std::sort(sets.begin(), sets.end());
  return sets;
}

std::string vdrt_binary() { return std::string(VDRT_BINARY_ROOT) + "/tools/vdrt"; }

double max_abs_diff(const Tensor& actual, const Tensor& expected) {
  EXPECT_EQ(actual.dims(), expected.dims()) << "shape mismatch";
  if (actual.dims() != expected.dims()) return INFINITY;
  auto a = actual.as_double(), e = expected.as_double();
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) != std::isnan(e[i])) return INFINITY;
    if (!std::isnan(a[i]) && a[i] != e[i]) m = std::max(m, std::fabs(a[i] - e[i]));
  }
  return m;
}

ScopedEnv::ScopedEnv(const char* name, const char* value) : name_(name), had_(std::getenv(name) != nullptr) {
  if (had_) saved_ = std::getenv(name);
  if (value) setenv(name, value, 1);
  else unsetenv(name);
}

ScopedEnv::~ScopedEnv() {
  if (had_) setenv(name_.c_str(), saved_.c_str(), 1);
  else unsetenv(name_.c_str());
}

std::filesystem::path tiny_pipeline_with(const std::string& name, const std::map<std::string, std::string>& metadata,
                                         const std::string& extra_toml) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("vdrt_" + name + "_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto g = load_onnx(source_path("models/tiny_wan/ts17/denoiser.onnx"));
  for (const auto& [key, value] : metadata) g->metadata[key] = value;
  save_onnx(*g, (dir / "denoiser.onnx").string());
  std::ofstream(dir / "pipeline.toml") << "decoder = \"" << source_path("models/tiny_wan/ts17/decoder.onnx")
                                       << "\"\ncontext = \"" << source_path("models/tiny_wan/context.pb") << "\"\n"
                                       << extra_toml;
  return dir;
}

std::string sparsify_pipeline_file(const std::string& name, const std::string& sparsify_options) {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("vdrt_" + name + "_" + std::to_string(getpid()) + ".toml")).string();
  std::ofstream(path) << "[[pass]]\nname = \"fold-constants\"\n[[pass]]\nname = \"eliminate-dead\"\n"
                         "[[pass]]\nname = \"fuse-attention\"\n[[pass]]\nname = \"sparsify-attention\"\n"
                      << sparsify_options << "\n[[pass]]\nname = \"eliminate-dead\"\n";
  return path;
}

}  // namespace vdrt::test
