#include "test_util.h"

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

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

}  // namespace vdrt::test
