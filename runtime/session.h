#pragma once
// A Session owns an imported graph and runs it: it picks the backend,
// assigns every node to it or falls back to the CPU, infers concrete shapes
// for the bound inputs (computing small integer shape tensors on the host),
// plans memory by liveness into one arena per backend, and runs the nodes.
#include <list>
#include <set>
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
  // The same as TOML text (used when pass_pipeline is empty), named in
  // messages by pass_pipeline_label, e.g. "<default>" or "--passes a,b".
  std::string pass_pipeline_text, pass_pipeline_label = "<pipeline>";
  // Reshape, Squeeze, Unsqueeze, Flatten and Identity share their input's
  // bytes in the arena instead of copying them, on every backend (off: every
  // one copies, for comparison).
  bool alias_views = true;
  // Graph inputs and outputs (name patterns) that carry a KV cache from one
  // call to the next. Where the backend keeps KV caches in f16
  // (Backend::half_kv_pools: Vulkan at fp16 precision) the session takes and
  // gives them as float16 (pass store-f16, run after the pass pipeline): the
  // cache a rollout holds between calls takes half the bytes. VideoPipeline
  // names the contract's past_* / present_*; empty: nothing changes.
  // half_kv_cache = false keeps them float32 there too (for comparison).
  std::vector<std::string> kv_cache_inputs, kv_cache_outputs;
  bool half_kv_cache = true;
};

struct RunStats {
  size_t arena_bytes = 0;        // planned activation memory of the last run
  size_t naive_bytes = 0;        // what one buffer per value would have taken
  size_t constant_bytes = 0;     // weights resident on the device(s)
  double seconds = 0;
  size_t host_uploads = 0;       // host tensors (inputs, host-computed values) copied to a device, last run
  size_t cross_copies = 0;       // values copied between backends (e.g. GPU -> CPU fallback), last run
  size_t nodes_on_fallback = 0;  // nodes the CPU fallback ran, last run
  size_t aliased_views = 0;      // view nodes (Reshape...) that ran as no-ops on their input's bytes
};

// Execution time of every node, summed over the runs made while profiling
// is on (Session::set_profiling). A node's time is the time its backend's
// enqueue took: the kernel itself on the CPU backend, which runs kernels to
// completion; only the host-side submission on GPU backends (their own
// profilers, VDRT_VULKAN_PROFILE=1 and VDRT_OPENCL_PROFILE=1, time kernels).
struct NodeProfile {
  std::vector<double> seconds;  // per node index
  std::vector<int64_t> calls;   // per node index; nodes run on the host or as views are not called
  double run_seconds = 0;       // wall time of the profiled runs, whole
  int64_t runs = 0;
};

using TensorMap = std::map<std::string, Tensor>;
struct ValueState;  // a value's shape and host contents within a run plan

// A tensor held in the memory of a session's primary device (ONNX Runtime's
// OrtValue on a device). Valid while the session lives.
struct DeviceArray {
  std::shared_ptr<Buffer> buffer;
  TensorDesc desc;
  bool defined() const { return buffer != nullptr; }
};
using DeviceMap = std::map<std::string, DeviceArray>;

// Device-resident I/O (ONNX Runtime's IOBinding): inputs given as host tensors
// or device arrays, and the outputs to leave on the device. A rollout keeps
// its latents and KV caches on the GPU this way and moves only what it shows.
struct IoBinding {
  TensorMap host_inputs;
  DeviceMap device_inputs;
  std::set<std::string> device_outputs;  // outputs returned as DeviceArrays
};
struct IoResult {
  TensorMap host_outputs;
  DeviceMap device_outputs;
};
struct Feed;

class Session {
 public:
  Session(std::unique_ptr<Graph> graph, const SessionOptions& options = {});
  ~Session();
  static std::unique_ptr<Session> load(const std::string& model_path, const SessionOptions& options = {});

  // Runs the graph. Inputs are matched by name; every graph input must be
  // bound and have a dtype and shape that fit its declaration.
  TensorMap run(const TensorMap& inputs);
  IoResult run(const IoBinding& binding);
  // Copies between the host and the primary device, for IoBinding.
  DeviceArray to_device(const Tensor& t);
  Tensor to_host(const DeviceArray& a);

  const Graph& graph() const { return *graph_; }
  Graph& mutable_graph() { return *graph_; }
  Backend& backend() { return *backend_; }
  // Backend name each node is assigned to, by node index.
  std::vector<std::string> placement() const;
  // Where each node ran in the last run: a backend name, or "host" for the
  // small shape computations done once per plan on the host.
  std::vector<std::string> last_placement() const;
  const RunStats& last_stats() const { return stats_; }

  // Per-node timing (see NodeProfile). Turning it on clears what was
  // gathered; off (the default) costs one branch per node.
  void set_profiling(bool on);
  const NodeProfile& profile() const;

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
  Plan& plan_for(const Feed& feed);
  std::unique_ptr<Plan> build_plan(const Feed& feed);
  IoResult run_feed(const Feed& feed, const std::set<std::string>& device_outputs);
  void place_stateful(size_t node_index);
  CompiledOp* compile(int64_t node_index, const std::vector<DeviceTensor>& ins, const std::vector<DeviceTensor>& outs,
                      const std::unordered_map<const Value*, ValueState>& state);
  std::list<std::unique_ptr<Plan>> plans_;  // most recently used first
  std::unique_ptr<Graph> graph_;
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<Impl> impl_;
  RunStats stats_;
};

}  // namespace vdrt
