// The tiny Wan denoiser rewritten by the shipped sparse pipelines
// (passes/pipelines/*.toml) on every GPU backend: without a bound cache
// (past_key/past_value inputs, as `vdrt run` feeds them) the
// vdrt.PBSAttention / vdrt.HSAttention nodes are placed on the GPU, no node
// runs on the CPU fallback (the frame-offset arithmetic is computed on the
// host once per plan), and the flow equals the CPU session's.
// A rollout on a GPU session whose block caches are host objects (a state
// the GPU kernels cannot read) runs those nodes on the CPU, chunk for chunk
// equal to the CPU rollout.
#include <gtest/gtest.h>

#include "backends/parity.h"
#include "runtime/rollout.h"
#include "test_util.h"

namespace vdrt::test {
namespace {

const std::vector<std::string> kPipelines = {"sparse_pbsa", "sparse_hsa", "sparse_forcing", "lightforcing_short",
                                             "lightforcing_hopper"};

double max_rel(const Tensor& a, const Tensor& b) {
  std::vector<double> x = a.as_double(), y = b.as_double();
  double scale = 1, worst = 0;
  for (double w : y) scale = std::max(scale, std::fabs(w));
  for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::fabs(x[i] - y[i]));
  return worst / scale;
}

// Where the session placed its vdrt.PBSAttention / vdrt.HSAttention nodes.
std::vector<std::string> sparse_placement(const Session& s) {
  const std::vector<std::string> where = s.placement();
  std::vector<std::string> out;
  for (size_t i = 0; i < s.graph().nodes().size(); ++i) {
    const Node& n = *s.graph().nodes()[i];
    if (n.domain() == "vdrt" && (n.op_type() == "PBSAttention" || n.op_type() == "HSAttention")) out.push_back(where[i]);
  }
  return out;
}

class SparseGpuSession : public testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(SparseGpuSession, EveryNodeOnTheGpuWithoutACache) {
  const auto& [backend, pipeline] = GetParam();
  VDRT_REQUIRE_DEVICE(backend);
  SessionOptions cpu_opts, gpu_opts;
  cpu_opts.device = "cpu";
  cpu_opts.pass_pipeline = gpu_opts.pass_pipeline = source_path("passes/pipelines/" + pipeline + ".toml");
  gpu_opts.device = backend;
  const std::string model = source_path("models/tiny_wan/ts17/denoiser.onnx");
  auto cpu = Session::load(model, cpu_opts);
  auto gpu = Session::load(model, gpu_opts);
  EXPECT_EQ(sparse_placement(*gpu), std::vector<std::string>(2, backend)) << "both layers rewritten, on the GPU";
  // Six cached frames of 16 tokens: the selection has something to drop.
  TensorMap in = random_inputs(cpu->graph(), 5, {{"past_len", 96}});
  in["timestep"] = Tensor::from_vector<float>({1}, {500.0f});
  const TensorMap want = cpu->run(in), got = gpu->run(in);
  for (const auto& [name, t] : want) EXPECT_LE(max_rel(got.at(name), t), 1e-4) << pipeline << " " << name;
  EXPECT_EQ(gpu->last_stats().nodes_on_fallback, 0u);
}

TEST_P(SparseGpuSession, HostCachesRunOnTheCpuFallback) {
  const auto& [backend, pipeline] = GetParam();
  VDRT_REQUIRE_DEVICE(backend);
  SessionOptions cpu_opts, gpu_opts;
  cpu_opts.device = "cpu";
  gpu_opts.device = backend;
  cpu_opts.pass_pipeline = gpu_opts.pass_pipeline = source_path("passes/pipelines/" + pipeline + ".toml");
  auto gpu = VideoPipeline::load(source_path("models/tiny_wan/ts17"), gpu_opts);
  auto cpu = VideoPipeline::load(source_path("models/tiny_wan/ts17"), cpu_opts);
  RolloutOptions options;
  options.seed = 9;
  options.decode = false;
  if (pipeline.find("pbsa") != std::string::npos || pipeline == "sparse_forcing") options.cache = CachePolicy::parse("pbsa");
  Rollout a(*gpu, gpu->default_context(), options), b(*cpu, cpu->default_context(), options);
  for (int c = 0; c < 3; ++c) {
    auto ra = a.next(), rb = b.next();
    ASSERT_TRUE(ra && rb);
    EXPECT_LE(max_abs_diff(ra->latents, rb->latents), 1e-4) << pipeline << " chunk " << c;
  }
  EXPECT_EQ(sparse_placement(*gpu->denoiser), std::vector<std::string>(2, "cpu"))
      << "the GPU kernels cannot read host caches";
}

INSTANTIATE_TEST_SUITE_P(Backends, SparseGpuSession,
                         testing::Combine(testing::ValuesIn(gpu_backends()), testing::ValuesIn(kPipelines)),
                         [](const testing::TestParamInfo<std::tuple<std::string, std::string>>& info) {
                           return std::get<0>(info.param) + "_" + std::get<1>(info.param);
                         });

}  // namespace
}  // namespace vdrt::test
