// The scheduler flow-matching-euler (MODEL_CONTRACT.md v1.2), chosen by the
// denoiser's metadata: the tiny model's rollout under it against the PyTorch
// float64 reference of models/reference_rollout.py (rollout_reference_euler:
// 8 Euler steps), and a scheduler vdrt does not know is an error naming the
// file and the key.
#include <gtest/gtest.h>

#include <filesystem>

#include "importer/tensor_file.h"
#include "runtime/compare.h"
#include "runtime/rollout.h"
#include "test_util.h"

namespace vdrt {
namespace {

namespace fs = std::filesystem;

const std::string kEulerSteps = "1000,875,750,625,500,375,250,125";  // uniform_steps(8) of reference_rollout.py

TEST(EulerRollout, MatchesThePyTorchReferenceOverThreeChunks) {
  const fs::path dir =
      test::tiny_pipeline_with("euler_reference", {{"vdrt.scheduler", "flow-matching-euler"}, {"vdrt.denoising_steps", kEulerSteps}});
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
  const fs::path dir = test::tiny_pipeline_with("euler_unknown", {{"vdrt.scheduler", "ddim"}});
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
