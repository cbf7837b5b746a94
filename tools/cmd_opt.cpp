// `vdrt opt MODEL -o OUT.onnx`: runs the optimisation pipeline (the default
// one or --pipeline FILE.toml) over a model and writes the rewritten model,
// vdrt-domain ops included, as ONNX that vdrt runs.
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>

#include <spdlog/spdlog.h>

#include "backends/registry.h"
#include "importer/onnx_export.h"
#include "importer/onnx_import.h"
#include "passes/pass_manager.h"
#include "passes/pass_registry.h"
#include "passes/pipeline.h"
#include "runtime/host_eval.h"
#include "tools/command.h"
#include "tools/common_options.h"
#include "tools/json_output.h"
#include "tools/opt_report.h"

namespace vdrt::cli {
namespace {

struct OptArgs {
  std::string model, output, pipeline, dump_dir, passes, inputs, device;
  bool explain = false, list_passes = false, print_pipeline = false, report = false, json = false;
  size_t external_data = 0;
};

NodeEvaluator host_evaluator() {
  return [](const Node& node, const std::vector<Tensor>& inputs, int64_t opset) {
    std::vector<const Tensor*> ptrs;
    for (const Tensor& t : inputs) ptrs.push_back(t.defined() ? &t : nullptr);
    return evaluate_on_host(node, opset, ptrs);
  };
}

PipelineOptions pipeline_options(const OptArgs& a) {
  PipelineOptions p;
  p.pipeline = a.pipeline;
  p.passes = a.passes;
  return p;
}

std::map<std::string, int> op_counts(const Graph& g) {
  std::map<std::string, int> counts;
  for (const auto& n : g.nodes()) ++counts[n->qualified_op()];
  return counts;
}

int optimize(const OptArgs& a) {
  if (a.list_passes) {
    if (a.json) { print_json(passes_json()); return kExitOk; }
    std::printf("%s", describe_passes().c_str());
    return kExitOk;
  }
  validate(pipeline_options(a));  // unknown passes or options, --passes with --pipeline: exit 2
  if (!a.device.empty()) {
    DeviceOptions d;
    d.device = a.device;
    validate(d);  // a backend not compiled in, a bad index: exit 2
  }
  if (a.print_pipeline) {
    if (a.pipeline.empty()) {
      std::printf("%s", default_pipeline_toml().c_str());
    } else {
      PassManager check(load_pipeline(a.pipeline));  // unknown passes or options fail here
      std::ifstream f(a.pipeline);
      std::printf("%s", std::string(std::istreambuf_iterator<char>(f), {}).c_str());
    }
    return kExitOk;
  }
  if (a.model.empty() || (a.output.empty() && !a.report && !a.explain)) {
    std::fprintf(stderr,
                 "vdrt opt: MODEL and -o OUT.onnx (or --report, or --explain for a dry run) are required (see vdrt opt "
                 "--help)\n");
    return kExitUsage;
  }
  std::string label;
  const std::string toml = pipeline_toml(pipeline_options(a), &label);
  PassManager manager(parse_pipeline(toml, label));
  auto graph = load_onnx(a.model);
  check_pass_preconditions(*graph, toml, label);
  const size_t nodes_before = graph->nodes().size();

  PassContext ctx;
  ctx.evaluator = host_evaluator();
  std::unique_ptr<Backend> target;
  if (!a.device.empty()) {
    target = BackendRegistry::instance().create(a.device, BackendOptions{});
    ctx.device_runs = [&target](const Node& n) { return target->supports(n); };
  }
  PassManagerOptions options;
  options.dump_dir = a.dump_dir;
  options.write_model = [](const Graph& g, const std::string& path) { save_onnx(g, path); };
  const std::vector<PassRecord> records = manager.run(*graph, ctx, options);

  if (!a.output.empty()) {
    ExportOptions eo;
    eo.external_data_threshold = a.external_data;
    save_onnx(*graph, a.output, eo);
  }

  std::string fused;
  for (const auto& [op, count] : op_counts(*graph))
    if (op.rfind("vdrt.", 0) == 0) fused += (fused.empty() ? "" : ", ") + std::to_string(count) + " " + op;
  spdlog::info("{}: {} -> {} nodes{}", a.output.empty() ? "optimised" : "wrote " + a.output, nodes_before, graph->nodes().size(),
               fused.empty() ? "" : " (" + fused + ")");
  if (a.json) return print_opt_json(a.model, a.output, nodes_before, *graph, ctx.explanations(), a.report, a.inputs);
  if (a.explain) {
    if (ctx.explanations().empty()) std::printf("explain: no near-misses\n");
    for (const auto& e : ctx.explanations()) std::printf("explain: %s\n", e.str().c_str());
    bool any_changed = false;
    for (const PassRecord& r : records) any_changed = any_changed || r.changed;
    if (!any_changed)
      std::printf("explain: no pass changed the graph (%zu nodes): nothing matched what the passes rewrite\n",
                  nodes_before);
    for (const PassRecord& r : records)
      if (!r.changed) std::printf("explain: pass %s changed nothing\n", r.pass.c_str());
    if (a.output.empty() && !a.report) std::printf("explain: dry run, nothing written (give -o OUT.onnx to write)\n");
  }
  if (a.report) return print_quantization_report(a.model, *graph, a.inputs);
  return kExitOk;
}

std::string help_footer() {
  return "\nPipeline files are TOML: a list of [[pass]] tables with `name = \"<pass>\"`,\n"
         "optional `enabled = false`, and the pass's options as further keys, e.g.\n\n"
         "  [[pass]]\n  name = \"fold-constants\"\n  max_bytes = 1048576\n\n"
         "`vdrt opt --print-pipeline` prints the default pipeline.\n\nPasses and their options:\n" +
         describe_passes();
}

Action setup_opt(CLI::App& sub) {
  auto a = std::make_shared<OptArgs>();
  sub.add_option("model", a->model, "ONNX model to optimise")->check(CLI::ExistingFile);
  sub.add_option("-o,--output", a->output, "Where to write the optimised ONNX model");
  sub.add_option("--pipeline", a->pipeline, "Pipeline TOML file (default: the built-in pipeline)")
      ->check(CLI::ExistingFile);
  sub.add_option("--passes", a->passes,
                 "Comma-separated pass names to run with default options, instead of a pipeline file (not with "
                 "--pipeline)");
  sub.add_option("-d,--device", a->device,
                 "Optimise for this device (cpu, vulkan[:N], opencl[:N]): passes that write ops only some devices run "
                 "(fuse-gemm-epilogue: vdrt.FusedMatMul; its split form CPU only) write them only when it runs them. Default: no "
                 "device, the model runs everywhere as fast as it did; sessions fuse those at load for their device");
  sub.add_option("--dump-dir", a->dump_dir,
                 "Write the graph as DOT and ONNX before the first pass and after every pass (NN-<pass>.dot/.onnx)");
  sub.add_flag("--explain", a->explain,
               "Print why candidate patterns were not rewritten (near-misses) and which passes changed nothing; "
               "without -o a dry run");
  add_json_flag(sub, a->json);
  sub.add_flag("--list-passes", a->list_passes, "List the passes with their options and exit");
  sub.add_flag("--print-pipeline", a->print_pipeline,
               "Print the pipeline that would run (the default one, or --pipeline after checking it) and exit");
  sub.add_flag("--report", a->report,
               "Print each quantised layer's relative error against the float model on sample inputs");
  sub.add_option("-i,--inputs", a->inputs,
                 "Sample inputs for --report: a test_data_set folder (default: the model's test_data_set_0)")
      ->check(CLI::ExistingDirectory);
  sub.add_option("--external-data", a->external_data,
                 "Write constants of at least this many bytes to OUT.onnx.data (0: all inline)");
  sub.footer(help_footer());
  return [a] { return optimize(*a); };
}

CommandRegistrar reg("opt", "Optimise a model (fold constants, fuse norms, GELU, RoPE and attention) and write ONNX",
                     setup_opt);

}  // namespace
}  // namespace vdrt::cli
