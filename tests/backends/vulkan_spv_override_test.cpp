// VDRT_VK_SPV_DIR: a shader NAME is created from DIR/NAME.spv where that file
// exists, so a benchmark can time shader builds in one process. Checked with a
// build of "unary" that computes 2x + 1 whatever the op
// (tests/backends/spv/unary_affine.comp): a Relu then gives 2x + 1, the Add
// after it (shader "binary", not in the folder) stays the embedded one,
// sessions with and without the folder never share a pipeline (in memory or
// through the on-disk pipeline cache), and a file that is not SPIR-V is an
// error naming it.
#ifdef VDRT_WITH_VULKAN
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include "backends/parity.h"
#include "backends/vulkan/vulkan_device.h"
#include "backends/vulkan/vulkan_pipelines.h"
#include "backends/vulkan/vulkan_shader_code.h"
#include "graph/shape_inference.h"
#include "runtime/session.h"
#include "test_util.h"

namespace vdrt::test {
namespace {
namespace fs = std::filesystem;

// A folder holding the test build as unary.spv (and what else a test writes).
struct SpvDir {
  fs::path path = fs::temp_directory_path() / ("vdrt_spv_dir_" + std::to_string(::getpid()));
  SpvDir() {
    fs::remove_all(path);
    fs::create_directories(path);
    fs::copy_file(VDRT_TEST_UNARY_AFFINE_SPV, path / "unary.spv");
  }
  ~SpvDir() { fs::remove_all(path); }
  void write(const std::string& name, const std::string& bytes) const {
    std::ofstream(path / name, std::ios::binary | std::ios::trunc) << bytes;
  }
};

std::unique_ptr<Graph> relu_add() {
  GraphBuilder b(18);
  Value* x = b.input("x", {3, 97});
  Value* y = b.input("y", {3, 97});
  b.output(b.op("Add", {b.op("Relu", {x}), y}));
  std::unique_ptr<Graph> g = b.take();
  infer_shapes(*g);
  return g;
}

std::unique_ptr<Session> vulkan_session() {
  SessionOptions o;
  o.device = "vulkan";
  o.cpu_fallback = false;
  return std::make_unique<Session>(relu_add(), o);
}

// relu(x) + y, or with the test build of "unary" 2x + 1 + y.
void expect_output(Session& s, const TensorMap& in, bool affine, const char* what) {
  const Tensor out = s.run(in).begin()->second;
  const float *x = in.at("x").data<float>(), *y = in.at("y").data<float>(), *got = out.data<float>();
  ASSERT_EQ(out.numel(), in.at("x").numel()) << what;
  int wrong = 0;
  for (int64_t i = 0; i < out.numel(); ++i) {
    const float want = (affine ? 2.0f * x[i] + 1.0f : std::max(x[i], 0.0f)) + y[i];
    wrong += std::fabs(got[i] - want) > 1e-5f * (1.0f + std::fabs(want));
  }
  EXPECT_EQ(wrong, 0) << what << (affine ? ": expected the build in VDRT_VK_SPV_DIR" : ": expected the embedded shader");
}

TEST(VulkanSpvOverride, SessionsWithAndWithoutTheFolderRunTheirOwnBuild) {
  VDRT_REQUIRE_DEVICE("vulkan");
  const SpvDir dir;
  // A fresh on-disk pipeline cache, filled by the first sessions and read by the later ones.
  const fs::path cache = dir.path / "cache";
  ScopedEnv cache_dir("VDRT_CACHE_DIR", cache.c_str());
  const TensorMap in = random_inputs(*relu_add(), 11);

  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(512);
  spdlog::default_logger()->sinks().push_back(sink);
  const spdlog::level::level_enum level = spdlog::default_logger()->level();
  spdlog::set_level(spdlog::level::debug);

  std::unique_ptr<Session> plain = vulkan_session();
  expect_output(*plain, in, false, "first session, no folder");
  std::unique_ptr<Session> variant;
  {
    ScopedEnv spv("VDRT_VK_SPV_DIR", dir.path.c_str());
    variant = vulkan_session();
    expect_output(*variant, in, true, "second session, with the folder");
  }
  // Each keeps the pipelines it planned with, whatever the variable says now.
  expect_output(*plain, in, false, "first session again");
  expect_output(*variant, in, true, "second session again");
  plain.reset();
  variant.reset();  // both write the on-disk cache

  spdlog::set_level(level);
  auto& sinks = spdlog::default_logger()->sinks();
  sinks.erase(std::remove(sinks.begin(), sinks.end(), sink), sinks.end());
  const std::vector<std::string> log = sink->last_formatted();
  const std::string used = "shader unary from " + (dir.path / "unary.spv").string();
  EXPECT_TRUE(std::any_of(log.begin(), log.end(), [&](const std::string& l) { return l.find(used) != std::string::npos; }))
      << "no debug line '" << used << "'";

  ASSERT_TRUE(fs::exists(cache)) << "the pipeline cache was not written";
  expect_output(*vulkan_session(), in, false, "a session reading the pipeline cache, no folder");
  {
    ScopedEnv spv("VDRT_VK_SPV_DIR", dir.path.c_str());
    expect_output(*vulkan_session(), in, true, "a session reading the pipeline cache, with the folder");
  }
}

TEST(VulkanSpvOverride, OnePipelineCacheKeysOnTheCode) {
  VDRT_REQUIRE_DEVICE("vulkan");
  const SpvDir dir;
  ScopedEnv cache_dir("VDRT_CACHE_DIR", (dir.path / "cache").c_str());
  vulkan::Device device(vulkan::physical_devices().at(0));
  vulkan::PipelineCache cache(device);
  const vulkan::Pipeline& embedded = cache.get("unary", {1}, 2);
  const VkPipeline embedded_handle = embedded.pipeline;
  VkPipeline file_handle;
  {
    ScopedEnv spv("VDRT_VK_SPV_DIR", dir.path.c_str());
    file_handle = cache.get("unary", {1}, 2).pipeline;
    EXPECT_EQ(cache.get("unary", {1}, 2).pipeline, file_handle);
    // A name the folder lacks is the embedded shader's.
    EXPECT_EQ(vulkan::shader_code("binary").origin, "embedded");
    EXPECT_EQ(vulkan::shader_code("unary").origin, (dir.path / "unary.spv").string());
  }
  EXPECT_NE(file_handle, embedded_handle);
  EXPECT_EQ(cache.get("unary", {1}, 2).pipeline, embedded_handle);
  EXPECT_EQ(cache.size(), 2u);
}

// The error names the file, whether asked directly or by a session planning a Relu.
void expect_rejected(const SpvDir& dir, const std::string& bytes, const std::string& why) {
  dir.write("unary.spv", bytes);
  ScopedEnv spv("VDRT_VK_SPV_DIR", dir.path.c_str());
  const std::string path = (dir.path / "unary.spv").string();
  try {
    vulkan::shader_code("unary");
    ADD_FAILURE() << "accepted " << why;
  } catch (const Error& e) {
    EXPECT_EQ(e.site().file, path);
    EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
  }
  try {
    const TensorMap in = random_inputs(*relu_add(), 3);
    vulkan_session()->run(in);
    ADD_FAILURE() << "a session ran with " << why;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

TEST(VulkanSpvOverride, FileThatIsNotSpirvIsAnErrorNamingIt) {
  VDRT_REQUIRE_DEVICE("vulkan");
  const SpvDir dir;
  ScopedEnv cache_dir("VDRT_CACHE_DIR", (dir.path / "cache").c_str());
  expect_rejected(dir, std::string(22, '\x03'), "22 bytes");
  expect_rejected(dir, "", "0 bytes");
  std::string wrong_magic(20, '\0');
  wrong_magic[0] = 0x03, wrong_magic[1] = 0x02, wrong_magic[2] = 0x23, wrong_magic[3] = 0x08;
  expect_rejected(dir, wrong_magic, "magic number 0x08230203");
}

}  // namespace
}  // namespace vdrt::test
#endif
