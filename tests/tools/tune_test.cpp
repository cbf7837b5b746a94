// `vdrt tune` (issue 11, item 5) on the CI software devices (PoCL OpenCL,
// lavapipe Vulkan): it writes the device's tuning file with a tile the device
// can run; later sessions on that device use the file's tile (seen in the
// profile, where each GEMM dispatch is labelled with its tile) and still
// match the expected outputs; a tile the device cannot run is ignored with
// a warning; VDRT_MATMUL_TILE overrides the file; the CPU is refused (exit 2).
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>
#include <unistd.h>

#include "test_util.h"

namespace vdrt::test {
namespace {
namespace fs = std::filesystem;

bool gpu_required() {
  const char* v = std::getenv("VDRT_REQUIRE_GPU");
  return v && std::string(v) == "1";
}

// Skips (fails under VDRT_REQUIRE_GPU=1) when `vdrt devices` lists no device of the backend.
#define REQUIRE_LISTED(backend)                                                          \
  do {                                                                                   \
    if (run_vdrt("devices").output.find(std::string(backend) + ":0") == std::string::npos) { \
      if (gpu_required()) FAIL() << backend << " lists no device (VDRT_REQUIRE_GPU=1)";  \
      GTEST_SKIP() << backend << " lists no device";                                     \
    }                                                                                    \
  } while (0)

// A fresh cache folder per test, and an environment that ignores the caller's overrides.
struct Cache {
  fs::path dir;
  explicit Cache(const std::string& name) : dir(fs::temp_directory_path() / (name + std::to_string(::getpid()))) {
    fs::remove_all(dir);
  }
  ~Cache() { fs::remove_all(dir); }
  std::string env(const std::string& more = "") const {
    return "-u VDRT_MATMUL_TILE -u VDRT_VULKAN_MATMUL_TILE VDRT_CACHE_DIR=" + dir.string() + (more.empty() ? "" : " " + more);
  }
  // The one tuning file of `backend`, or "" when there is none.
  std::string file(const std::string& backend) const {
    if (!fs::exists(dir / "tuning")) return {};
    for (const auto& e : fs::directory_iterator(dir / "tuning"))
      if (e.path().filename().string().rfind(backend + "-", 0) == 0 && e.path().extension() == ".toml") return e.path();
    return {};
  }
};

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// [matmul_f32] tile = [BM, BN, BK, TM, TN] of a tuning file.
std::vector<unsigned> tile_in(const std::string& text) {
  std::smatch m;
  std::regex re(R"(\[matmul_f32\]\s*tile = \[(\d+), (\d+), (\d+), (\d+), (\d+)\])");
  if (!std::regex_search(text, m, re)) return {};
  std::vector<unsigned> t;
  for (int i = 1; i <= 5; ++i) t.push_back(static_cast<unsigned>(std::stoul(m[i])));
  return t;
}

std::string label(const std::vector<unsigned>& t) {
  return std::to_string(t[0]) + "x" + std::to_string(t[1]) + "x" + std::to_string(t[2]) + "/" + std::to_string(t[3]) +
         "x" + std::to_string(t[4]);
}

void write_tile(const std::string& path, const std::string& tile) {
  std::ofstream(path) << "backend = \"test\"\n\n[matmul_f32]\ntile = " << tile << "\n";
}

// The tiny denoiser on `device` with its GPU profile on; checked against the expected outputs.
CliResult run_profiled(const std::string& device, const std::string& env) {
  const std::string model = source_path("models/tiny_wan/ts17/denoiser.onnx");
  const std::string data = source_path("models/tiny_wan/ts17/denoiser/test_data_set_1");
  return run_vdrt("-v run " + model + " -i " + data + " -d " + device,
                  env + " VDRT_OPENCL_PROFILE=1 VDRT_VULKAN_PROFILE=1");
}

TEST(TuneCli, RefusesTheCpuAndBadValues) {
  EXPECT_EQ(run_vdrt("tune -d cpu").code, 2);
  CliResult r = run_vdrt("tune -d cpu:0 --shapes 8x8x8");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("GPU"), std::string::npos) << r.output;
  EXPECT_EQ(run_vdrt("tune --shapes 64x48").code, 2);
  EXPECT_EQ(run_vdrt("tune --shapes 64x0x80").code, 2);
  EXPECT_EQ(run_vdrt("tune --shapes 64x48x80,").code, 2);
  EXPECT_EQ(run_vdrt("tune --runs 0").code, 2);
}

TEST(TuneCli, OpenCLWritesAFileThatLaterSessionsUse) {
  REQUIRE_LISTED("opencl");
  Cache cache("vdrt_tune_ocl_");
  CliResult r = run_vdrt("tune -d opencl --shapes 64x48x80 --runs 1", cache.env());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("fastest: "), std::string::npos) << r.output;
  const std::string file = cache.file("opencl");
  ASSERT_FALSE(file.empty()) << r.output;
  EXPECT_NE(r.output.find("wrote " + file), std::string::npos) << r.output;
  const std::string text = read_text(file);
  const std::vector<unsigned> tuned = tile_in(text);
  ASSERT_EQ(tuned.size(), 5u) << text;
  EXPECT_TRUE(tuned[0] % tuned[3] == 0 && tuned[1] % tuned[4] == 0 && tuned[3] * tuned[4] <= 64) << text;
  EXPECT_NE(text.find("shapes = [\"64x48x80\"]"), std::string::npos) << text;
  EXPECT_NE(text.find("[[matmul_f32.measured]]"), std::string::npos) << text;
  // The table lists the chosen tile; `vdrt devices` says the device is tuned.
  EXPECT_NE(r.output.find(label(tuned) + " "), std::string::npos) << r.output;
  r = run_vdrt("devices", cache.env());
  EXPECT_NE(r.output.find("tuned: fp32 matmul " + label(tuned)), std::string::npos) << r.output;

  // A deliberately different valid tile: every fp32 GEMM of the next
  // session runs with it (neither shape-chosen tile is 32x64 or 64x32).
  const std::vector<unsigned> other = tuned == std::vector<unsigned>{32, 64, 16, 4, 4} ? std::vector<unsigned>{64, 32, 16, 4, 4}
                                                                                        : std::vector<unsigned>{32, 64, 16, 4, 4};
  write_tile(file, "[" + std::to_string(other[0]) + ", " + std::to_string(other[1]) + ", 16, 4, 4]");
  r = run_profiled("opencl", cache.env());
  ASSERT_EQ(r.code, 0) << r.output;  // exit 3 would mean outputs differ from the expected ones
  EXPECT_NE(r.output.find("fp32 matmul tile " + label(other) + " from " + file), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("MatMul matmul " + label(other)), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("matmul 64x64x16/4x4"), std::string::npos) << r.output;

  // VDRT_MATMUL_TILE overrides the file (and its Vulkan-era alias too).
  r = run_profiled("opencl", cache.env("VDRT_MATMUL_TILE=32,32,16,4,4"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("MatMul matmul 32x32x16/4x4"), std::string::npos) << r.output;
  r = run_profiled("opencl", cache.env("VDRT_VULKAN_MATMUL_TILE=32,32,16,4,4"));
  EXPECT_NE(r.output.find("MatMul matmul 32x32x16/4x4"), std::string::npos) << r.output;
}

TEST(TuneCli, ATileTheDeviceCannotRunIsIgnoredWithAWarning) {
  REQUIRE_LISTED("opencl");
  Cache cache("vdrt_tune_bad_");
  CliResult r = run_vdrt("tune -d opencl --shapes 16x16x16 --runs 1 --dry-run --json", cache.env());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("\"written\": false"), std::string::npos) << r.output;
  EXPECT_TRUE(cache.file("opencl").empty());
  // --dry-run wrote nothing; the path it names gets a tile with 16 x 8 outputs per invocation (the shader allows 64).
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.output, m, std::regex("\"tuning_file\": \"([^\"]+)\""))) << r.output;
  const std::string file = m[1];
  fs::create_directories(fs::path(file).parent_path());
  write_tile(file, "[128, 128, 32, 16, 8]");
  r = run_profiled("opencl", cache.env());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("ignoring the tuning file " + file + ": the device cannot run its tile 128x128x32/16x8"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("MatMul matmul 64x64x16/4x4"), std::string::npos) << r.output;  // chosen by shape
  // Text that is not a tuning file: ignored the same way.
  std::ofstream(file) << "tile = [1, 2";
  r = run_profiled("opencl", cache.env());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("ignoring the tuning file: " + file), std::string::npos) << r.output;
  r = run_vdrt("devices", cache.env());
  EXPECT_NE(r.output.find("tuning file ignored"), std::string::npos) << r.output;
}

TEST(TuneCli, VulkanTunesAndLaterSessionsUseTheTile) {
  REQUIRE_LISTED("vulkan");
  Cache cache("vdrt_tune_vk_");
  CliResult r = run_vdrt("tune -d vulkan --shapes 40x24x72 --runs 1", cache.env());
  ASSERT_EQ(r.code, 0) << r.output;
  const std::string file = cache.file("vulkan");
  ASSERT_FALSE(file.empty()) << r.output;
  write_tile(file, "[64, 32, 16, 4, 4]");
  r = run_profiled("vulkan", cache.env());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("MatMul matmul 64x32x16/4x4"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace vdrt::test
