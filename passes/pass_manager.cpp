#include "passes/pass_manager.h"

#include <chrono>
#include <cstdio>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "graph/dot.h"
#include "graph/error.h"
#include "graph/op_registry.h"
#include "passes/pass_registry.h"

namespace vdrt {

PassManager::PassManager(const Pipeline& pipeline) {
  int index = 0;
  for (const PipelineStep& step : pipeline.steps) {
    ++index;
    if (!step.enabled) continue;
    try {
      auto pass = PassRegistry::instance().create(step.pass);
      pass->configure(step.options);
      passes_.push_back(std::move(pass));
    } catch (const Error& e) {
      throw Error(e.reason() + " (pipeline entry #" + std::to_string(index) + ")", {pipeline.source});
    }
  }
}

bool try_infer_shapes(Graph& graph) {
  // Node by node, so that one op without a shape function (or with inputs
  // it cannot handle yet) leaves only the values downstream of it as they were.
  bool complete = true;
  std::string first_error;
  for (const auto& node : graph.nodes()) {
    std::vector<ValueInfo> ins;
    for (Value* v : node->inputs()) {
      if (!v) { ins.emplace_back(); continue; }
      ins.push_back(ValueInfo{v->dtype(), v->shape(), v->is_constant() ? &v->constant() : nullptr, true});
    }
    try {
      auto outs = infer_node(*node, ins, graph.opset(node->domain()), graph.source_path);
      for (size_t i = 0; i < node->outputs().size(); ++i) {
        Value* o = node->output(i);
        if (!o || !outs[i].present) continue;
        o->set_dtype(outs[i].dtype);
        o->set_shape(outs[i].shape);
      }
    } catch (const Error& e) {
      if (complete) first_error = e.what();
      complete = false;
    }
  }
  if (!complete) spdlog::debug("shape inference incomplete: {}", first_error);
  return complete;
}

namespace {

void dump(const Graph& graph, const PassManagerOptions& o, const std::string& stem) {
  namespace fs = std::filesystem;
  fs::path base = fs::path(o.dump_dir) / stem;
  save_dot(graph, base.string() + ".dot");
  if (o.write_model) o.write_model(graph, base.string() + o.model_extension);
}

std::string counters_str(const std::map<std::string, int64_t>& counters) {
  std::string s;
  for (const auto& [k, v] : counters) s += (s.empty() ? "" : ", ") + k + " " + std::to_string(v);
  return s;
}

}  // namespace

std::vector<PassRecord> PassManager::run(Graph& graph, PassContext& ctx, const PassManagerOptions& o) const {
  if (!o.dump_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(o.dump_dir, ec);
    VDRT_CHECK(!ec, "cannot create dump directory '" + o.dump_dir + "': " + ec.message(), {o.dump_dir});
    dump(graph, o, "00-input");
  }
  // Passes read shapes (ranks, head dims); make them current once up front.
  try_infer_shapes(graph);

  std::vector<PassRecord> records;
  int index = 0;
  for (const auto& pass : passes_) {
    ++index;
    PassRecord rec;
    rec.pass = pass->name();
    rec.nodes_before = graph.nodes().size();
    ctx.set_current_pass(rec.pass);
    ctx.reset_counters();
    auto t0 = std::chrono::steady_clock::now();
    try {
      rec.changed = pass->run(graph, ctx);
      if (rec.changed) {
        graph.sort();
        graph.prune_values();
        if (o.validate) graph.validate();
        try_infer_shapes(graph);
      }
    } catch (const Error& e) {
      throw Error("pass '" + rec.pass + "' failed: " + e.reason(), e.site());
    }
    rec.milliseconds = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    rec.nodes_after = graph.nodes().size();
    rec.counters = ctx.counters();
    std::string counters = counters_str(rec.counters);
    spdlog::info("pass {:<22} {:>6.1f} ms  nodes {} -> {}{}", rec.pass, rec.milliseconds, rec.nodes_before,
                 rec.nodes_after, counters.empty() ? "" : "  (" + counters + ")");
    if (!o.dump_dir.empty()) {
      char stem[64];
      std::snprintf(stem, sizeof stem, "%02d-", index);
      dump(graph, o, stem + rec.pass);
    }
    records.push_back(std::move(rec));
  }
  ctx.set_current_pass("");
  return records;
}

}  // namespace vdrt
