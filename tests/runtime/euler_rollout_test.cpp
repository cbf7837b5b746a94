// The scheduler flow-matching-euler (MODEL_CONTRACT.md v1.2), chosen by the
// denoiser's metadata: the tiny model's rollout under it against the PyTorch
// float64 reference of models/reference_rollout.py (rollout_reference_euler:
// 8 Euler steps), and a scheduler vdrt does not know is an error naming the
// file and the key.
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "importer/onnx_export.h"
#include "importer/onnx_import.h"
#include "importer/tensor_file.h"
#include "runtime/compare.h"
#include "runtime/rollout.h"
#include "test_util.h"

namespace vdrt {
namespace {

namespace fs = std::filesystem;

const std::string kEulerSteps = "1000,875,750,625,500,375,250,125";  // uniform_steps(8) of reference_rollout.py

// The tiny ts17 pipeline in a folder of its own, its denoiser's metadata
// overridden by `metadata`.
fs::path tiny_pipeline_with(const std::string& name, const std::map<std::string, std::string>& metadata) {
  const fs::path dir = fs::temp_directory_path() / ("vdrt_euler_" + name + "_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto g = load_onnx(test::source_path("models/tiny_wan/ts17/denoiser.onnx"));
  for (const auto& [key, value] : metadata) g->metadata[key] = value;
  save_onnx(*g, (dir / "denoiser.onnx").string());
  std::ofstream(dir / "pipeline.toml") << "decoder = \"" << test::source_path("models/tiny_wan/ts17/decoder.onnx")
                                       << "\"\ncontext = \"" << test::source_path("models/tiny_wan/context.pb")
                                       << "\"\n";
  return dir;
}

TEST(EulerRollout, MatchesThePyTorchReferenceOverThreeChunks) {
  const fs::path dir =
      tiny_pipeline_with("reference", {{"vdrt.scheduler", "flow-matching-euler"}, {"vdrt.denoising_steps", kEulerSteps}});
  auto pipeline = VideoPipeline::load(dir.string(), SessionOptions{"cpu"});
  EXPECT_EQ(pipeline->contract.sampler, Sampler::kEuler);
  EXPECT_EQ(pipeline->contract.denoising_steps, parse_timesteps(kEulerSteps));
  RolloutOptions options;
  options.seed = 42;
  options.decode = false;
  Rollout euler(*pipeline, pipeline->default_context(), options);
  // The same steps re-noising between them: another video, so the
  // comparison below tells the samplers apart.
  pipeline->contract.sampler = Sampler::kReNoise;
  Rollout renoise(*pipeline, pipeline->default_context(), options);
  const std::string ref = test::source_path("models/tiny_wan/rollout_reference_euler/");
  for (int c = 0; c < 3; ++c) {
    auto r = euler.next();
    ASSERT_TRUE(r.has_value());
    Tensor want = load_tensor_pb(ref + "chunk_" + std::to_string(c) + "_latents.pb").tensor;
    Comparison lat = compare_tensors(r->latents, want, 0, 1e-3);
    EXPECT_TRUE(lat.ok) << "chunk " << c << ": " << lat.reason << " max " << lat.max_abs_error;
    EXPECT_GT(test::max_abs_diff(renoise.next()->latents, want), 0.1) << "chunk " << c;
  }
  fs::remove_all(dir);
}

TEST(EulerRollout, UnknownSchedulerNamesTheFileAndTheKey) {
  const fs::path dir = tiny_pipeline_with("unknown", {{"vdrt.scheduler", "ddim"}});
  const std::string model = (dir / "denoiser.onnx").string();
  try {
    VideoPipeline::load(dir.string(), SessionOptions{"cpu"});
    FAIL() << "the scheduler 'ddim' was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), model + ": metadata 'vdrt.scheduler': unknown scheduler 'ddim' (schedulers: "
                                             "flow-matching, flow-matching-euler)");
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace vdrt
