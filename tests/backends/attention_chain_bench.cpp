#include "backends/attention_chain_bench.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <memory>

#include "graph/shape_inference.h"
#include "passes/graph_builder.h"

namespace vdrt::test {

double seconds_per_op(const AttentionChain& c, int n, const SessionOptions& options) {
  double best[2] = {1e30, 1e30};
  for (int which = 0; which < 2; ++which) {
    GraphBuilder b(18);
    Value* x = b.input("q", {1, c.queries, c.heads, c.head_dim});
    Value* k = b.input("k", {1, c.keys, c.heads, c.head_dim});
    Value* v = b.input("v", {1, c.keys, c.heads, c.head_dim});
    Value* pk = b.input("past_k", {1, c.past, c.heads, c.head_dim});
    Value* pv = b.input("past_v", {1, c.past, c.heads, c.head_dim});
    for (int i = 0; i < (which ? n : 1); ++i) x = b.op(c.op, {x, k, v, pk, pv}, c.attrs, "vdrt");
    b.output(x);
    std::unique_ptr<Graph> g = b.take();
    infer_shapes(*g);
    const TensorMap inputs = random_inputs(*g, 3);
    Session s(std::move(g), options);
    for (int r = 0; r < 4; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      s.run(inputs);
      best[which] = std::min(best[which], std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
  }
  return (best[1] - best[0]) / (n - 1);
}

std::vector<std::string> env_list(const char* env, const std::string& fallback) {
  const char* e = std::getenv(env);
  const std::string all = e && *e ? e : fallback;
  std::vector<std::string> out;
  for (size_t at = 0; at <= all.size();) {
    size_t end = all.find(';', at);
    if (end == std::string::npos) end = all.size();
    if (end > at) out.push_back(all.substr(at, end - at));
    at = end + 1;
  }
  return out;
}

std::vector<ShaderBuildRun> shader_build_runs() {
  const std::vector<std::string> builds = env_list("VDRT_BENCH_SPV_DIRS", "embedded");
  const char* r = std::getenv("VDRT_BENCH_ROUNDS");
  const int rounds = r && *r ? std::max(1, std::atoi(r)) : 1;
  std::vector<ShaderBuildRun> runs;
  for (int round = 1; round <= rounds; ++round)
    for (const std::string& b : builds) {
      ShaderBuildRun run;
      run.dir = b == "embedded" ? "" : b;
      // A folder that is not there would time the embedded build twice under two names.
      if (!run.dir.empty() && !std::filesystem::is_directory(run.dir))
        throw std::runtime_error("VDRT_BENCH_SPV_DIRS: no folder " + run.dir + " (make one with bench/build_spv.sh)");
      if (builds.size() * rounds > 1)
        run.label = " [build " + b + ", round " + std::to_string(round) + "/" + std::to_string(rounds) + "]";
      runs.push_back(run);
    }
  return runs;
}

}  // namespace vdrt::test
