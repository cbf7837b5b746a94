#pragma once
// A Session owns an imported graph and runs it: it picks the backend,
// assigns every node to it or falls back to the CPU, infers concrete shapes
// for the bound inputs (computing small integer shape tensors on the host),
// plans memory by liveness into one arena per backend, and runs the nodes.
#include <list>
#include <map>
#include <unordered_map>
#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "graph/graph.h"

namespace vdrt {

struct SessionOptions {
  std::string device = "auto";  // see BackendRegistry: auto, cpu, opencl:0, vulkan:1, ...
  int threads = 0;              // CPU threads; 0 = all cores
  // GPU arithmetic: "fp32", or "fp16" (matmul, conv and attention multiply in
  // fp16 with fp32 accumulation; storage and every other op stay fp32).
  std::string precision = "fp32";
  bool cpu_fallback = true;     // run nodes the device lacks on the CPU
  // A pass pipeline (TOML, passes/pipeline.h) run over the graph after
  // import, e.g. passes/pipelines/sparse_pbsa.toml; empty: the graph runs as imported.
  std::string pass_pipeline;
};

struct RunStats {
  size_t arena_bytes = 0;        // planned activation memory of the last run
  size_t naive_bytes = 0;        // what one buffer per value would have taken
  size_t constant_bytes = 0;     // weights resident on the device(s)
  double seconds = 0;
};

using TensorMap = std::map<std::string, Tensor>;
struct ValueState;  // a value's shape and host contents within a run plan

class Session {
 public:
  Session(std::unique_ptr<Graph> graph, const SessionOptions& options = {});
  ~Session();
  static std::unique_ptr<Session> load(const std::string& model_path, const SessionOptions& options = {});

  // Runs the graph. Inputs are matched by name; every graph input must be
  // bound and have a dtype and shape that fit its declaration.
  TensorMap run(const TensorMap& inputs);

  const Graph& graph() const { return *graph_; }
  Graph& mutable_graph() { return *graph_; }
  Backend& backend() { return *backend_; }
  // Backend name each node runs on, by node index.
  std::vector<std::string> placement() const;
  const RunStats& last_stats() const { return stats_; }

  // Runtime state slots: the nodes whose op reads runtime state
  // (OpSchema::runtime_state), in graph order, and binding a state object
  // to one of them (nullptr unbinds). The kernel of a bound node receives the
  // state on every run; e.g. the rollout binds each sparse attention node to
  // its layer's KV cache (runtime/block_kv_cache.h).
  std::vector<const Node*> state_slots() const;
  void bind_state(const Node& node, std::shared_ptr<OpState> state);

 private:
  struct Impl;
  struct Plan;
  Plan& plan_for(const TensorMap& inputs);
  std::unique_ptr<Plan> build_plan(const TensorMap& inputs);
  CompiledOp* compile(int64_t node_index, const std::vector<DeviceTensor>& ins, const std::vector<DeviceTensor>& outs,
                      const std::unordered_map<const Value*, ValueState>& state);
  std::list<std::pair<std::string, std::unique_ptr<Plan>>> plans_;  // most recently used first
  std::unique_ptr<Graph> graph_;
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<Impl> impl_;
  RunStats stats_;
};

}  // namespace vdrt
