// View nodes (Reshape, Squeeze, Unsqueeze, Flatten, Identity) on a GPU share
// their input's bytes in the device arena, as on the CPU
// (SessionOptions::alias_views): the tiny Wan denoiser and decoder, as
// imported and after the default pass pipeline, give the same bits as a
// session that copies every view, in no larger an arena, with no node on
// the CPU; and a second call (the plan and arena reused) gives them again.
// The denoiser has views left after fusion (the decoder's fold away).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "backends/parity.h"
#include "importer/onnx_import.h"
#include "importer/tensor_file.h"
#include "runtime/pass_pipeline.h"
#include "runtime/session.h"
#include "test_util.h"

namespace vdrt::test {
namespace {
namespace fs = std::filesystem;

class ViewsOnGpu : public testing::TestWithParam<std::tuple<std::string, std::string, bool>> {};

TEST_P(ViewsOnGpu, SameBitsAsCopyingEveryView) {
  const auto& [backend, model, fused] = GetParam();
  VDRT_REQUIRE_DEVICE(backend);
  const fs::path dir = fs::path(source_path("models/tiny_wan")) / "ts17";
  const fs::path onnx = dir / (model + ".onnx");
  std::vector<fs::path> sets = test_data_sets(dir / model);
  ASSERT_FALSE(sets.empty()) << onnx;
  TensorMap feed;
  for (NamedTensor& t : load_test_set(sets.front().string(), "input")) feed[t.name] = std::move(t.tensor);
  SessionOptions on;
  on.device = backend;
  if (fused) on.pass_pipeline_text = default_pass_pipeline_toml();
  SessionOptions off = on;
  off.alias_views = false;
  Session with(load_onnx(onnx.string()), on), without(load_onnx(onnx.string()), off);
  TensorMap b = without.run(feed);
  for (int call = 0; call < 2; ++call) {
    TensorMap a = with.run(feed);
    ASSERT_EQ(a.size(), b.size());
    for (const auto& [name, t] : b) {
      ASSERT_TRUE(a.count(name)) << name;
      ASSERT_EQ(a.at(name).dims(), t.dims()) << name;
      EXPECT_EQ(std::memcmp(a.at(name).raw(), t.raw(), t.nbytes()), 0) << name << " differs in bits, call " << call;
    }
  }
  EXPECT_EQ(with.last_stats().nodes_on_fallback, 0u);
  if (model == "denoiser") EXPECT_GT(with.last_stats().aliased_views, 0u);
  EXPECT_EQ(without.last_stats().aliased_views, 0u);
  EXPECT_LE(with.last_stats().arena_bytes, without.last_stats().arena_bytes);
}

INSTANTIATE_TEST_SUITE_P(TinyWan, ViewsOnGpu,
                         testing::Combine(testing::ValuesIn(gpu_backends()),
                                          testing::Values(std::string("denoiser"), std::string("decoder")),
                                          testing::Bool()),
                         [](const auto& info) {
                           return std::get<0>(info.param) + "_" + std::get<1>(info.param) +
                                  (std::get<2>(info.param) ? "_fused" : "_imported");
                         });

}  // namespace
}  // namespace vdrt::test
