#include "runtime/pass_pipeline.h"

#include <spdlog/spdlog.h>

#include "passes/pass_manager.h"
#include "passes/pipeline.h"
#include "runtime/host_eval.h"

namespace vdrt {

NodeEvaluator host_node_evaluator() {
  return [](const Node& node, const std::vector<Tensor>& inputs, int64_t opset) {
    std::vector<const Tensor*> ptrs;
    for (const Tensor& t : inputs) ptrs.push_back(t.defined() ? &t : nullptr);
    return evaluate_on_host(node, opset, ptrs);
  };
}

namespace {

PassContext run(Graph& graph, const PassManager& manager, const std::string& label, const DeviceRuns& device_runs) {
  PassContext ctx;
  ctx.evaluator = host_node_evaluator();
  ctx.device_runs = device_runs;
  const size_t before = graph.nodes().size();
  try {
    manager.run(graph, ctx);
  } catch (const Error& e) {
    throw e.with_site({graph.source_path});
  }
  spdlog::info("{}: pass pipeline {} ran ({} -> {} nodes)", graph.source_path, label, before, graph.nodes().size());
  return ctx;
}

}  // namespace

const std::string& default_pass_pipeline_toml() { return default_pipeline_toml(); }

PassContext run_pass_pipeline_file(Graph& graph, const std::string& path, const DeviceRuns& device_runs) {
  return run(graph, PassManager(load_pipeline(path)), path, device_runs);
}

PassContext run_pass_pipeline_text(Graph& graph, const std::string& toml, const std::string& label,
                                   const DeviceRuns& device_runs) {
  return run(graph, PassManager(parse_pipeline(toml, label)), label, device_runs);
}

}  // namespace vdrt
