// The tiny Wan denoiser rewritten by the shipped sparse pipelines
// (passes/pipelines/*.toml) on every GPU backend: without a bound cache
// (past_key/past_value inputs, as `vdrt run` feeds them) the
// vdrt.PBSAttention / vdrt.HSAttention nodes are placed on the GPU, no node
// runs on the CPU fallback (the frame-offset arithmetic is computed on the
// host once per plan), and the flow equals the CPU session's.
// The rollout on a GPU session with its block caches in device memory,
// chunk for chunk equal to the CPU rollout; a host cache bound to a GPU
// session's node moves the node to the CPU.
#include <gtest/gtest.h>

#include "backends/parity.h"
#include <cmath>
#include <fstream>
#include <sstream>

#include "runtime/rollout.h"
#include "test_util.h"

namespace vdrt::test {
namespace {

// The shipped presets, and sparse_pbsa with its memory compressed to mean rows.
const std::vector<std::string> kPipelines = {"sparse_pbsa",         "sparse_pbsa_compress", "sparse_hsa",
                                             "sparse_forcing",      "lightforcing_short",   "lightforcing_hopper",
                                             "lightforcing_long"};

void set_pipeline(SessionOptions& o, const std::string& name) {
  if (name != "sparse_pbsa_compress") {
    o.pass_pipeline = source_path("passes/pipelines/" + name + ".toml");
    return;
  }
  std::ifstream f(source_path("passes/pipelines/sparse_pbsa.toml"));
  std::stringstream text;
  text << f.rdbuf();
  o.pass_pipeline_text = text.str();
  const size_t at = o.pass_pipeline_text.find("compress = false");
  ASSERT_NE(at, std::string::npos);
  o.pass_pipeline_text.replace(at, 16, "compress = true");
}

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
  set_pipeline(cpu_opts, pipeline);
  set_pipeline(gpu_opts, pipeline);
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

// The rollout on a GPU session keeps the sparse layers' block caches in
// device memory (DeviceBlockKvCache): every sparse node runs on the GPU,
// a denoiser call uploads only latents, timestep and context, and chunk for
// chunk the latents, the cache bytes and the PBSA memory (masses, admitted
// blocks) equal the CPU rollout's. Tolerance 3e-4 on the latents: the GPU
// selects the blocks the CPU selects (scores summed in the same order), the
// attention differs by float rounding, which stays below 1e-5 over 6 chunks
// of 2 layers x 5 calls on lavapipe and PoCL and reached 1.05e-4 on the H200
// (approximate exp2 and division); one block fewer per query block at one
// chunk moves the latents by 1.8e-2. Masses and pooled_refresh importances
// are float sums in another order (1e-6 relative; 1e-4 allowed).
TEST_P(SparseGpuSession, DeviceCachesRollLikeTheCpu) {
  const auto& [backend, pipeline] = GetParam();
  VDRT_REQUIRE_DEVICE(backend);
  SessionOptions cpu_opts, gpu_opts;
  cpu_opts.device = "cpu";
  gpu_opts.device = backend;
  set_pipeline(cpu_opts, pipeline);
  set_pipeline(gpu_opts, pipeline);
  auto gpu = VideoPipeline::load(source_path("models/tiny_wan/ts17"), gpu_opts);
  auto cpu = VideoPipeline::load(source_path("models/tiny_wan/ts17"), cpu_opts);
  RolloutOptions options;
  options.seed = 9;
  options.decode = false;
  const bool pbsa = pipeline.rfind("sparse_pbsa", 0) == 0 || pipeline == "sparse_forcing";
  if (pbsa) options.cache = CachePolicy::parse("pbsa");
  if (pipeline == "lightforcing_long") options.cache = CachePolicy::parse("window:7,sink:1");
  Rollout a(*gpu, gpu->default_context(), options), b(*cpu, cpu->default_context(), options);
  ASSERT_NE(a.sparse_cache(), nullptr);
  ASSERT_TRUE(a.sparse_cache()->on_device());
  ASSERT_TRUE(a.cache().on_device());
  for (int c = 0; c < 6; ++c) {
    auto ra = a.next(), rb = b.next();
    ASSERT_TRUE(ra && rb);
    EXPECT_LE(max_abs_diff(ra->latents, rb->latents), 3e-4) << pipeline << " chunk " << c;
    EXPECT_EQ(ra->cache_bytes, rb->cache_bytes) << pipeline << " chunk " << c;
    EXPECT_EQ(ra->cache_frames, rb->cache_frames) << pipeline << " chunk " << c;
    const RunStats& st = gpu->denoiser->last_stats();
    EXPECT_LE(st.host_uploads, 3u) << "a denoiser call uploads only latents, timestep and context";
    EXPECT_EQ(st.cross_copies, 0u);
    EXPECT_EQ(st.nodes_on_fallback, 0u);
    for (const auto& [layer, cache] : b.sparse_cache()->caches()) {
      if (!pbsa) continue;
      const auto& host = b.sparse_cache()->layer(layer);
      const auto& dev = dynamic_cast<const DeviceBlockKvCache&>(*a.sparse_cache()->caches().at(layer));
      for (int64_t h = 0; h < 4; ++h) {
        ASSERT_EQ(dev.memory_blocks_held(0, h), host.memory_blocks_held(0, h)) << "chunk " << c << " head " << h;
        const std::vector<double> x = dev.saliency(0, h), y = host.saliency(0, h);
        ASSERT_EQ(x.size(), y.size());
        // pooled_refresh: only the memory's saliency (its importance) is used.
        const size_t from = pipeline == "sparse_forcing" ? x.size() - host.memory_blocks_held(0, h) : 0;
        for (size_t i = from; i < x.size(); ++i)
          EXPECT_NEAR(x[i], y[i], 1e-4 * std::max(1.0, std::fabs(y[i]))) << pipeline << " chunk " << c << " block " << i;
      }
    }
  }
  EXPECT_EQ(a.peak_cache_bytes(), b.peak_cache_bytes());
  EXPECT_EQ(sparse_placement(*gpu->denoiser), std::vector<std::string>(2, backend));
}

// A host block cache bound to a node of a GPU session (profiling records
// through the CPU kernel) moves that node to the CPU fallback, and
// unbinding it moves it back.
TEST_P(SparseGpuSession, HostCacheMovesItsNodeToTheCpu) {
  const auto& [backend, pipeline] = GetParam();
  VDRT_REQUIRE_DEVICE(backend);
  SessionOptions gpu_opts;
  gpu_opts.device = backend;
  set_pipeline(gpu_opts, pipeline);
  auto gpu = Session::load(source_path("models/tiny_wan/ts17/denoiser.onnx"), gpu_opts);
  auto binding = SparseKvBinding::create(*gpu, 1, CachePolicy{});  // no chunk frames: host caches
  ASSERT_NE(binding, nullptr);
  EXPECT_FALSE(binding->on_device());
  binding->attach(*gpu);
  EXPECT_EQ(sparse_placement(*gpu), std::vector<std::string>(2, "cpu"));
  for (const Node* n : gpu->state_slots()) gpu->bind_state(*n, nullptr);
  EXPECT_EQ(sparse_placement(*gpu), std::vector<std::string>(2, backend));
}

INSTANTIATE_TEST_SUITE_P(Backends, SparseGpuSession,
                         testing::Combine(testing::ValuesIn(gpu_backends()), testing::ValuesIn(kPipelines)),
                         [](const testing::TestParamInfo<std::tuple<std::string, std::string>>& info) {
                           return std::get<0>(info.param) + "_" + std::get<1>(info.param);
                         });

}  // namespace
}  // namespace vdrt::test
