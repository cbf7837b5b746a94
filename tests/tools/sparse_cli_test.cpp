// The sparse-attention commands as a user runs them: `vdrt generate
// --pipeline sparse.toml --cache pbsa` writes the video with a bounded
// cache; `vdrt profile-attention` prints its table and a suggested
// configuration that `vdrt opt` accepts back.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "test_util.h"

namespace vdrt::test {
namespace {
namespace fs = std::filesystem;


TEST(SparseCli, GenerateWithTheShippedPipelines) {
  const std::string model = source_path("models/tiny_wan");
  // The Light Forcing presets' 64/128-token blocks exceed the tiny model's
  // 16-token frames: the pass clamps them to one block per frame.
  for (const char* pipeline : {"sparse_pbsa", "sparse_hsa", "sparse_forcing", "fp8_w8a8", "lightforcing_short",
                               "lightforcing_hopper", "lightforcing_long", "lightforcing_short_fp8"}) {
    const fs::path video = fs::temp_directory_path() / (std::string("vdrt_cli_") + pipeline + ".y4m");
    const std::string cache =
        std::string(pipeline) == "sparse_pbsa" || std::string(pipeline) == "sparse_forcing" ? "pbsa"
        : std::string(pipeline) == "lightforcing_long"                                       ? "window:13,sink:1"
                                                                                             : "unbounded";
    CliResult o = run_vdrt("generate " + model + " -o " + video.string() + " --frames 36 --no-progress --cache " + cache +
                   " --pipeline " + source_path(std::string("passes/pipelines/") + pipeline + ".toml"));
    EXPECT_EQ(o.code, 0) << o.output;
    EXPECT_NE(o.output.find("wrote 36 frames"), std::string::npos) << o.output;
    EXPECT_GT(fs::file_size(video), 0u);
    fs::remove(video);
  }
  // pbsa without PBSA layers, and a missing pipeline file, are usage errors with a reason.
  CliResult bad = run_vdrt("generate " + model + " -o /tmp/vdrt_cli_bad.y4m --frames 12 --no-progress --cache pbsa");
  EXPECT_NE(bad.code, 0);
  EXPECT_NE(bad.output.find("pbsa"), std::string::npos) << bad.output;
  CliResult missing = run_vdrt("generate " + model + " -o /tmp/vdrt_cli_bad.y4m --frames 12 --pipeline /nonexistent.toml");
  EXPECT_NE(missing.code, 0);
}

TEST(SparseCli, ProfileAttentionSuggestsAConfigurationVdrtAccepts) {
  CliResult o = run_vdrt("profile-attention " + source_path("models/tiny_wan") +
                 " --chunks 5 --block-size 4 --window 6 --memory 2,8 --compare " +
                 source_path("passes/pipelines/sparse_pbsa.toml") + " --cache pbsa");
  ASSERT_EQ(o.code, 0) << o.output;
  EXPECT_NE(o.output.find("layer chunk"), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("mem@8"), std::string::npos);
  EXPECT_NE(o.output.find("rel. L2"), std::string::npos);
  const auto at = o.output.find("[[pass]]");
  ASSERT_NE(at, std::string::npos) << o.output;
  // The suggestion, appended to the fusing passes, is a pipeline vdrt opt runs.
  std::string suggestion = o.output.substr(at);
  suggestion = suggestion.substr(0, suggestion.find("\nerror of the rollout"));
  const fs::path toml = fs::temp_directory_path() / "vdrt_cli_suggested.toml";
  std::ofstream(toml) << "[[pass]]\nname = \"fold-constants\"\n[[pass]]\nname = \"fuse-attention\"\n" << suggestion;
  const fs::path out = fs::temp_directory_path() / "vdrt_cli_suggested.onnx";
  CliResult opt = run_vdrt("opt " + source_path("models/tiny_wan/ts17/denoiser.onnx") + " -o " + out.string() +
                   " --pipeline " + toml.string());
  EXPECT_EQ(opt.code, 0) << opt.output;
  EXPECT_NE(opt.output.find("vdrt.PBSAttention"), std::string::npos) << opt.output;
  fs::remove(toml);
  fs::remove(out);
}

}  // namespace
}  // namespace vdrt::test
