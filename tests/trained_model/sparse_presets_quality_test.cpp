// Quality regression of the shipped sparse-attention and FP8 presets on the
// committed trained tiny model (issue 16 item 5): each preset's rollout
// stays within a documented PSNR of the dense rollout of the same seed and
// prompt over a short horizon (docs/sparse_attention.md, "Quality on the
// trained tiny model", says where the thresholds come from).
//
// The model folder is models/trained_tiny/pipeline, or the one named by
// VDRT_TRAINED_TINY_PIPELINE (to try a retrained model). tests/CMakeLists.txt
// builds this suite only when the committed folder exists; a folder missing
// at run time is a failure, not a skip.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>

#include "importer/tensor_file.h"
#include "passes/pipeline.h"
#include "runtime/rollout.h"
#include "test_util.h"

namespace vdrt {
namespace {

namespace fs = std::filesystem;

struct Preset {
  std::string name;   // passes/pipelines/<name>.toml
  std::string cache;  // the policy it needs (as tests/tools/sparse_cli_test.cpp gives them)
  double min_psnr_db; // of the squared error pooled over chunks 2..kHorizon of every rollout
};

// Thresholds: the PSNR measured on the committed model (2026-12-02, CPU,
// classifier-free guidance 3 from its metadata) less 3 dB, rounded down to
// 0.5 dB (docs/sparse_attention.md, "Quality on the trained tiny model": the
// measurements, and why 3 dB). For scale, over the same chunks: a dense
// rollout of another seed scores 12.9 dB, a grey screen 13.3 dB, the last
// frame of chunk 1 held still 14.7 dB, a black video 5.1 dB. On this model a
// change of attention grows faster (the model before it kept the sparse
// presets 14-15.5 dB above another seed), so these thresholds sit 2-5.5 dB
// above the floor; the Light Forcing presets sit at the other seed's level (on
// 16-token frames their budget is one frame), so theirs only catch a collapse.
const std::vector<Preset> kPresets = {
    {"fp8_w8a8", "unbounded", 15.0},                // measured 18.43
    {"sparse_pbsa", "pbsa", 18.5},                  // 21.84
    {"sparse_forcing", "pbsa", 15.0},               // 18.47
    {"sparse_hsa", "unbounded", 17.0},              // 20.01
    {"lightforcing_short", "unbounded", 10.0},      // 13.12
    {"lightforcing_hopper", "unbounded", 10.5},     // 13.67
    {"lightforcing_long", "window:13,sink:1", 10.0},  // 13.47
    {"lightforcing_short_fp8", "unbounded", 9.5},   // 12.83
};
void PrintTo(const Preset& p, std::ostream* os) { *os << p.name << " (cache " << p.cache << ")"; }

constexpr int kSeeds = 4;  // seed s with the prompt contexts/class_<s>.pb
constexpr int kHorizon = 8;  // chunks (6 s of video); chunk 1 is exact for every sparse preset

std::string model_folder() {
  const char* env = std::getenv("VDRT_TRAINED_TINY_PIPELINE");
  return env && *env ? env : test::source_path("models/trained_tiny/pipeline");
}

// Decoded frames of one rollout, [1, F', 3, H, W] per chunk.
std::vector<Tensor> rollout(const std::string& folder, const SessionOptions& so, const std::string& cache, int seed,
                            int chunks) {
  auto pipeline = VideoPipeline::load(folder, so);
  RolloutOptions ro;
  ro.seed = static_cast<uint64_t>(seed);
  ro.cache = CachePolicy::parse(cache);
  const Tensor context = load_tensor_pb(folder + "/contexts/class_" + std::to_string(seed) + ".pb").tensor;
  Rollout r(*pipeline, context, ro);
  std::vector<Tensor> frames;
  for (int c = 0; c < chunks; ++c) {
    auto chunk = r.next();
    if (!chunk) throw std::runtime_error("rollout cancelled");
    frames.push_back(chunk->frames);
  }
  return frames;
}

// Sum of squared differences on the [0, 1] scale, frames clamped to [-1, 1]
// (as the video writers and bench/quality_bench.py see them).
std::pair<double, size_t> squared_error(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.dims(), b.dims());
  const std::vector<double> x = a.as_double(), y = b.as_double();
  double sum = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double d = (std::clamp(x[i], -1.0, 1.0) - std::clamp(y[i], -1.0, 1.0)) / 2;
    sum += d * d;
  }
  return {sum, x.size()};
}

const std::vector<Tensor>& dense_frames(int seed) {
  static std::map<int, std::vector<Tensor>> cache;
  auto it = cache.find(seed);
  if (it == cache.end()) {
    SessionOptions so{"cpu"};
    so.pass_pipeline_text = default_pipeline_toml();
    so.pass_pipeline_label = "<default>";
    it = cache.emplace(seed, rollout(model_folder(), so, "unbounded", seed, kHorizon)).first;
  }
  return it->second;
}

TEST(TrainedTinyPresets, TheModelIsThere) {
  ASSERT_TRUE(fs::exists(model_folder() + "/pipeline.toml"))
      << model_folder() << " is missing: the trained tiny model (models/trained_tiny/README.md) is committed "
      << "there; re-run cmake if it was removed, or set VDRT_TRAINED_TINY_PIPELINE to a pipeline folder";
}

// A preset added to passes/pipelines/ must get a threshold here.
TEST(TrainedTinyPresets, EveryShippedPresetHasAThreshold) {
  for (const auto& e : fs::directory_iterator(test::source_path("passes/pipelines"))) {
    if (e.path().extension() != ".toml") continue;
    const std::string name = e.path().stem().string();
    EXPECT_TRUE(std::any_of(kPresets.begin(), kPresets.end(), [&](const Preset& p) { return p.name == name; }))
        << "passes/pipelines/" << name << ".toml has no quality threshold in " << __FILE__;
  }
}

class TrainedTinyPreset : public testing::TestWithParam<Preset> {};

TEST_P(TrainedTinyPreset, StaysNearTheDenseRollout) {
  const Preset& p = GetParam();
  ASSERT_TRUE(fs::exists(model_folder() + "/pipeline.toml")) << model_folder() << " is missing (see TheModelIsThere)";
  SessionOptions so{"cpu"};
  so.pass_pipeline = test::source_path("passes/pipelines/" + p.name + ".toml");
  double sum = 0;
  size_t count = 0;
  std::string per_chunk;
  for (int seed = 0; seed < kSeeds; ++seed) {
    const std::vector<Tensor> got = rollout(model_folder(), so, p.cache, seed, kHorizon);
    const std::vector<Tensor>& want = dense_frames(seed);
    for (int c = 1; c < kHorizon; ++c) {
      const auto [s, n] = squared_error(got[c], want[c]);
      sum += s;
      count += n;
      per_chunk += " " + std::to_string(10 * std::log10(static_cast<double>(n) / std::max(s, 1e-12 * n)));
    }
  }
  const double psnr = 10 * std::log10(1 / std::max(sum / static_cast<double>(count), 1e-12));
  std::cout << p.name << ": PSNR " << psnr << " dB over chunks 2.." << kHorizon << " of " << kSeeds
            << " rollouts (per chunk:" << per_chunk << ")\n";
  EXPECT_GE(psnr, p.min_psnr_db) << p.name << " has drifted from the dense rollout";
  // The preset must change the rollout, or this test measures nothing.
  EXPECT_LT(psnr, 60) << p.name << " equals the dense rollout: is it still sparse/quantised?";
}

INSTANTIATE_TEST_SUITE_P(Shipped, TrainedTinyPreset, testing::ValuesIn(kPresets),
                         [](const testing::TestParamInfo<Preset>& info) { return info.param.name; });

}  // namespace
}  // namespace vdrt
