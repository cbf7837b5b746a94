// vdrt.optimize(model_in, model_out, pipeline=... | passes=[...], device=...): what
// `vdrt opt` does (tools/cmd_opt.cpp), returning its report as a dict whose
// "text" is what the CLI prints (the summary line, and with explain=True the
// explain: lines), and vdrt.list_passes() / vdrt.default_pipeline().
#include <map>

#include <nanobind/stl/string.h>
#include <spdlog/fmt/fmt.h>

#include "common.h"
#include "backends/registry.h"
#include "importer/onnx_export.h"
#include "importer/onnx_import.h"
#include "passes/pass_manager.h"
#include "passes/pass_registry.h"
#include "passes/pipeline.h"
#include "runtime/pass_pipeline.h"

namespace vdrt::python {
namespace {

nb::dict optimize(nb::handle model_in, nb::handle model_out, nb::handle pipeline, nb::handle passes, bool explain,
                  nb::handle dump_dir, size_t external_data, nb::handle device) {
  const std::string in = fspath(model_in, "model_in");
  const std::string out = model_out.is_none() ? std::string() : fspath(model_out, "model_out");
  const std::string dump = dump_dir.is_none() ? std::string() : fspath(dump_dir, "dump_dir");
  std::string label;
  const std::string toml = pipeline_text(pipeline, passes, &label);
  const std::string target_name = device.is_none() ? std::string() : nb::cast<std::string>(device);

  std::vector<PassRecord> records;
  std::unique_ptr<Graph> graph;
  PassContext ctx;
  size_t nodes_before = 0;
  {
    nb::gil_scoped_release release;
    PassManager manager(parse_pipeline(toml, label));
    graph = load_onnx(in);
    nodes_before = graph->nodes().size();
    ctx.evaluator = host_node_evaluator();
    // As `vdrt opt --device`: passes that write ops only some devices run
    // (GEMM epilogues) write them only for this device; without one the
    // model stays fast everywhere.
    std::unique_ptr<Backend> target;
    if (!target_name.empty()) {
      target = BackendRegistry::instance().create(target_name, BackendOptions{});
      ctx.device_runs = [&target](const Node& n) { return target->supports(n); };
    }
    PassManagerOptions options;
    options.dump_dir = dump;
    options.write_model = [](const Graph& g, const std::string& path) { save_onnx(g, path); };
    records = manager.run(*graph, ctx, options);
    if (!out.empty()) {
      ExportOptions eo;
      eo.external_data_threshold = external_data;
      save_onnx(*graph, out, eo);
    }
  }
  raise_pending_signals();

  std::map<std::string, int> counts;
  for (const auto& n : graph->nodes()) ++counts[n->qualified_op()];
  std::string fused;
  nb::dict fused_ops, ops;
  for (const auto& [op, count] : counts) {
    ops[nb::str(op.c_str())] = count;
    if (op.rfind("vdrt.", 0) == 0) {
      fused += (fused.empty() ? "" : ", ") + std::to_string(count) + " " + op;
      fused_ops[nb::str(op.c_str())] = count;
    }
  }
  std::string text = fmt::format("{}: {} -> {} nodes{}\n", out.empty() ? "optimised" : "wrote " + out, nodes_before,
                                 graph->nodes().size(), fused.empty() ? "" : " (" + fused + ")");
  nb::list expl;
  for (const Explanation& e : ctx.explanations()) {
    nb::dict j;
    j["pass"] = e.pass;
    j["node"] = e.node.empty() ? nb::none() : nb::object(nb::str(e.node.c_str()));
    j["op"] = e.op.empty() ? nb::none() : nb::object(nb::str(e.op.c_str()));
    j["message"] = e.message;
    expl.append(j);
  }
  nb::list pass_list;
  bool any_changed = false;
  for (const PassRecord& r : records) {
    nb::dict p;
    p["pass"] = r.pass;
    p["changed"] = r.changed;
    p["nodes_before"] = r.nodes_before;
    p["nodes_after"] = r.nodes_after;
    p["milliseconds"] = r.milliseconds;
    nb::dict c;
    for (const auto& [k, v] : r.counters) c[nb::str(k.c_str())] = v;
    p["counters"] = c;
    pass_list.append(p);
    any_changed = any_changed || r.changed;
  }
  if (explain) {  // the CLI's --explain lines, in its order
    if (ctx.explanations().empty()) text += "explain: no near-misses\n";
    for (const Explanation& e : ctx.explanations()) text += "explain: " + e.str() + "\n";
    if (!any_changed)
      text += fmt::format("explain: no pass changed the graph ({} nodes): nothing matched what the passes rewrite\n",
                          nodes_before);
    for (const PassRecord& r : records)
      if (!r.changed) text += "explain: pass " + r.pass + " changed nothing\n";
    if (out.empty()) text += "explain: dry run, nothing written (give model_out to write)\n";
  }
  nb::dict d;
  d["model"] = in;
  d["output"] = out.empty() ? nb::none() : nb::object(nb::str(out.c_str()));
  d["pipeline"] = label;
  d["device"] = target_name.empty() ? nb::none() : nb::object(nb::str(target_name.c_str()));
  d["nodes_before"] = nodes_before;
  d["nodes_after"] = graph->nodes().size();
  d["ops"] = ops;
  d["fused"] = fused_ops;
  d["passes"] = pass_list;
  d["explanations"] = expl;
  d["text"] = text;
  return d;
}

}  // namespace

void bind_optimize(nb::module_& m) {
  using namespace nb::literals;
  m.def("optimize", &optimize, "model_in"_a, "model_out"_a.none() = nb::none(), "pipeline"_a.none() = nb::none(),
        "passes"_a.none() = nb::none(), "explain"_a = false, "dump_dir"_a.none() = nb::none(), "external_data"_a = 0,
        "device"_a.none() = nb::none(),
        nb::sig("def optimize(model_in: str | os.PathLike[str], model_out: str | os.PathLike[str] | None = None, "
                "pipeline: str | os.PathLike[str] | collections.abc.Sequence[str] | bool | None = None, "
                "passes: collections.abc.Sequence[str] | str | None = None, explain: bool = False, "
                "dump_dir: str | os.PathLike[str] | None = None, external_data: int = 0, device: str | None = None) "
                "-> dict[str, typing.Any]"),
        "Optimises an ONNX model as `vdrt opt` does and writes the result to model_out\n"
        "(ONNX that vdrt runs, vdrt-domain ops included); model_out=None is a dry run.\n\n"
        "pipeline: None (the default pipeline: fold constants, fuse norms, GELU and\n"
        "attention), a pipeline TOML path, or a list of pass names; passes: a list of pass\n"
        "names (or 'a,b' as the CLI spells it) instead; not both. dump_dir: write the graph\n"
        "before and after every pass (NN-<pass>.dot/.onnx). external_data: constants of at\n"
        "least this many bytes go to model_out + '.data' (0: all inline). device: optimise\n"
        "for this device ('cpu', 'vulkan:0', ...) as `vdrt opt --device` does: passes that\n"
        "write ops only some devices run (the CPU's fused GEMM epilogues) write them only\n"
        "for it; None (the default): the model runs everywhere.\n\n"
        "Returns the report as a dict: model, output, pipeline, device, nodes_before, nodes_after,\n"
        "ops ({op: count} after), fused ({vdrt op: count}), passes (one dict per pass:\n"
        "pass, changed, nodes_before, nodes_after, milliseconds, counters), explanations\n"
        "(pass, node, op, message: why candidate patterns were not rewritten) and text (what\n"
        "`vdrt opt` prints; with explain=True its explain: lines too).\n"
        "Raises vdrt.Error for an unknown pass or option (naming the pipeline and entry) or\n"
        "a model vdrt cannot import.");
  m.def("list_passes", [] { return describe_passes(); },
        "Every pass with its options, defaults and allowed values (`vdrt opt --list-passes`).");
  m.def("default_pipeline", [] { return default_pipeline_toml(); },
        "The default pass pipeline as TOML (`vdrt opt --print-pipeline`).");
}

}  // namespace vdrt::python
