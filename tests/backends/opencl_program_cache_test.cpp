// Issue 11: a second start compiles nothing. Every OpenCL program is built
// once per device and driver; later backends (a new session, a new process)
// create it from the binary kept on disk, and a damaged binary (truncated,
// or one flipped byte) is rebuilt from source, never handed to the driver
// (PoCL aborts the process on some).
#ifdef VDRT_WITH_OPENCL
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "backends/opencl/opencl_programs.h"
#include "backends/parity.h"
#include "graph/shape_inference.h"
#include "runtime/session.h"
#include "test_util.h"

namespace vdrt::test {
namespace {
namespace fs = std::filesystem;

std::unique_ptr<Graph> small_graph() {
  GraphBuilder b(18);
  Value* x = b.input("x", {4, 37});
  Value* w = b.input("w", {37, 5});
  b.output(b.op("Softmax", {b.op("MatMul", {b.op("Tanh", {x}), w})}, attrs({{"axis", Attribute(int64_t(-1))}})));
  std::unique_ptr<Graph> g = b.take();
  infer_shapes(*g);
  return g;
}

Tensor run_on(const std::string& device, const Graph& g, const TensorMap& in) {
  SessionOptions o;
  o.device = device;
  o.cpu_fallback = false;
  Session s(g.clone(), o);
  return s.run(in).begin()->second;
}

size_t count_binaries(const fs::path& dir) {
  size_t n = 0;
  if (fs::exists(dir))
    for (const auto& e : fs::directory_iterator(dir)) n += e.path().extension() == ".bin";
  return n;
}

double max_diff(const Tensor& a, const Tensor& b) {
  std::vector<double> x = a.as_double(), y = b.as_double();
  double worst = x.size() == y.size() ? 0 : INFINITY;
  for (size_t i = 0; i < x.size() && i < y.size(); ++i) worst = std::max(worst, std::fabs(x[i] - y[i]));
  return worst;
}

TEST(OpenCLProgramCache, SecondStartCompilesNothing) {
  VDRT_REQUIRE_DEVICE("opencl");
  fs::path dir = fs::temp_directory_path() / ("vdrt_ocl_cache_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  ScopedEnv cache("VDRT_CACHE_DIR", dir.c_str());

  std::unique_ptr<Graph> g = small_graph();
  TensorMap in = random_inputs(*g, 3);
  Tensor want = run_on("cpu", *g, in);

  opencl::ProgramStats s0 = opencl::program_stats();
  Tensor first = run_on("opencl", *g, in);
  opencl::ProgramStats s1 = opencl::program_stats();
  EXPECT_GE(s1.built - s0.built, 3u);  // tanh, matmul, softmax rows at least
  EXPECT_EQ(s1.loaded, s0.loaded);
  size_t files = count_binaries(dir / "opencl");
  EXPECT_EQ(files, s1.built - s0.built);

  Tensor second = run_on("opencl", *g, in);
  opencl::ProgramStats s2 = opencl::program_stats();
  EXPECT_EQ(s2.built, s1.built);
  EXPECT_EQ(s2.loaded - s1.loaded, files);
  EXPECT_EQ(max_diff(first, second), 0.0);
  EXPECT_LE(max_diff(second, want), 1e-5);

  bool truncate = true;
  for (const auto& e : fs::directory_iterator(dir / "opencl")) {
    if (truncate) {
      fs::resize_file(e.path(), fs::file_size(e.path()) / 2);
    } else {
      std::fstream f(e.path(), std::ios::in | std::ios::out | std::ios::binary);
      const auto last = static_cast<std::streamoff>(fs::file_size(e.path()) - 1);
      f.seekg(last);
      const char c = static_cast<char>(f.get());
      f.seekp(last);
      f.put(static_cast<char>(c ^ 0xff));
    }
    truncate = !truncate;
  }
  Tensor third = run_on("opencl", *g, in);
  opencl::ProgramStats s3 = opencl::program_stats();
  EXPECT_EQ(s3.built - s2.built, files);
  EXPECT_EQ(s3.loaded, s2.loaded);
  EXPECT_EQ(max_diff(third, want), max_diff(first, want));

  fs::remove_all(dir);
}

}  // namespace
}  // namespace vdrt::test
#endif
