#pragma once
// Runs a pipeline of passes over a graph: after every pass that changed the
// graph it re-sorts, validates and re-infers shapes (so the next pass sees a
// consistent graph and a broken rewrite is caught at the pass that made it),
// logs one line (time, node count, the pass's counters) and optionally
// dumps the graph as DOT and, through a hook, as ONNX.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "passes/pass.h"
#include "passes/pipeline.h"

namespace vdrt {

struct PassManagerOptions {
  // When set, the graph is written there before the first pass
  // (00-input.*) and after every pass (NN-<pass>.*).
  std::string dump_dir;
  // Writes a graph as a model file (e.g. importer's save_onnx); passes/ does
  // not link the importer, so the caller supplies it. Without it dumps are DOT only.
  std::function<void(const Graph& graph, const std::string& path)> write_model;
  std::string model_extension = ".onnx";
  bool validate = true;
};

struct PassRecord {
  std::string pass;
  bool changed = false;
  size_t nodes_before = 0, nodes_after = 0;
  double milliseconds = 0;
  std::map<std::string, int64_t> counters;
};

class PassManager {
 public:
  PassManager() = default;
  // Creates and configures the pipeline's enabled passes; unknown passes or
  // options throw vdrt::Error naming the pipeline file.
  explicit PassManager(const Pipeline& pipeline);

  void add(std::unique_ptr<Pass> pass) { passes_.push_back(std::move(pass)); }
  const std::vector<std::unique_ptr<Pass>>& passes() const { return passes_; }

  std::vector<PassRecord> run(Graph& graph, PassContext& ctx, const PassManagerOptions& options = {}) const;

 private:
  std::vector<std::unique_ptr<Pass>> passes_;
};

// Re-infers shapes where the registry knows every op; returns false (after a
// debug log line) when some op has no shape function, leaving shapes as they were.
bool try_infer_shapes(Graph& graph);

}  // namespace vdrt
