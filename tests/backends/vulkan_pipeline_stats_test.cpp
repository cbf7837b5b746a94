// VDRT_VULKAN_PIPELINE_STATS=1: every compute pipeline a session creates is
// logged with the driver's compiler statistics, and the results do not
// change.
// NVIDIA's driver reports registers, shared memory and spills; Mesa 22's
// lavapipe (CI) reports nothing, and the user is told so.
#ifdef VDRT_WITH_VULKAN
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <regex>

#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include "backends/parity.h"
#include "backends/vulkan/vulkan_device.h"
#include "backends/vulkan/vulkan_pipeline_stats.h"
#include "graph/shape_inference.h"
#include "runtime/session.h"
#include "test_util.h"

namespace vdrt::test {
namespace {

std::unique_ptr<Graph> small_graph() {
  GraphBuilder b(18);
  Value* x = b.input("x", {8, 33});
  Value* w = b.input("w", {33, 6});
  b.output(b.op("Relu", {b.op("MatMul", {b.op("Tanh", {x}), w})}));
  std::unique_ptr<Graph> g = b.take();
  infer_shapes(*g);
  return g;
}

Tensor run_small(const std::string& device, const TensorMap& in) {
  SessionOptions o;
  o.device = device;
  o.cpu_fallback = false;
  Session s(small_graph(), o);
  return s.run(in).begin()->second;
}

TEST(VulkanPipelineStats, FormatsOneLinePerExecutable) {
  EXPECT_EQ(vulkan::format_statistics({{"Compute", "Registers", "40"}, {"Compute", "Spills", "0"}, {"Other", "Ok", "true"}}),
            "Compute: Registers=40, Spills=0; Other: Ok=true");
  EXPECT_EQ(vulkan::format_statistics({}), "");
}

TEST(VulkanPipelineStats, LoggedForEveryPipelineWhenAsked) {
  VDRT_REQUIRE_DEVICE("vulkan");
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(256);
  spdlog::default_logger()->sinks().push_back(sink);
  const spdlog::level::level_enum level = spdlog::default_logger()->level();
  spdlog::set_level(spdlog::level::info);

  const TensorMap in = random_inputs(*small_graph(), 5);
  const Tensor want = run_small("cpu", in);
  Tensor plain = run_small("vulkan", in);
  Tensor with_stats;
  {
    ScopedEnv stats("VDRT_VULKAN_PIPELINE_STATS", "1");
    with_stats = run_small("vulkan", in);
  }
  spdlog::set_level(level);
  auto& sinks = spdlog::default_logger()->sinks();
  sinks.erase(std::remove(sinks.begin(), sinks.end(), sink), sinks.end());

  const std::vector<std::string> all = sink->last_formatted();
  std::vector<std::string> lines;
  for (const std::string& l : all)
    if (l.find("vulkan pipeline ") != std::string::npos) lines.push_back(l);
  if (vulkan::physical_devices().at(0).pipeline_statistics) {
    // The unary, the matmul and the relu each compile at least one pipeline.
    ASSERT_GE(lines.size(), 2u);
    const std::regex stat(R"(: [^:;]+=-?[0-9][0-9.e+]*)");
    for (const std::string& l : lines) EXPECT_TRUE(std::regex_search(l, stat)) << l;
  } else {
    // Mesa 22's lavapipe (CI): the user is told, once per device, and nothing else changes.
    EXPECT_TRUE(lines.empty());
    const auto said = std::count_if(all.begin(), all.end(), [](const std::string& l) {
      return l.find("cannot report pipeline statistics") != std::string::npos;
    });
    EXPECT_EQ(said, 1);
  }
  ASSERT_EQ(plain.dims(), with_stats.dims());
  ASSERT_EQ(want.dims(), plain.dims());
  const float *a = plain.data<float>(), *c = with_stats.data<float>(), *r = want.data<float>();
  for (int64_t i = 0; i < plain.numel(); ++i) {
    EXPECT_EQ(a[i], c[i]) << i;
    EXPECT_NEAR(a[i], r[i], 1e-4f * (1.0f + std::fabs(r[i]))) << i;
  }
}

}  // namespace
}  // namespace vdrt::test
#endif
