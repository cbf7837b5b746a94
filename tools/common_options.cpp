#include "tools/common_options.h"


#include <fstream>
#include <sstream>
#include <thread>

#include <spdlog/fmt/fmt.h>

#include "backends/registry.h"
#include "passes/pass_manager.h"
#include "passes/pipeline.h"

namespace vdrt::cli {

namespace {

int max_threads() {
  const int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return 4 * hw;
}

}  // namespace

std::string device_help() {
  std::string names;
  for (const std::string& n : BackendRegistry::instance().backend_names())
    names += ", " + n + (n == "cpu" ? "" : "[:N]");
  return "Device: auto" + names +
         " (the backends compiled into this binary; `vdrt devices` lists their devices). auto takes a discrete GPU, "
         "then an integrated one, then the CPU";
}

void add_device_options(CLI::App& sub, DeviceOptions& o, bool with_precision) {
  sub.add_option("-d,--device,--backend", o.device, device_help())->capture_default_str();
  sub.add_option("-t,--threads", o.threads,
                 "CPU threads (0 = all cores; at most " + std::to_string(max_threads()) + ")")
      ->capture_default_str();
  if (with_precision)
    sub.add_option("--precision", o.precision,
                   "GPU arithmetic: fp32, or fp16 (matmul/conv/attention in fp16, fp32 accumulation)")
        ->check(CLI::IsMember({"fp32", "fp16"}))
        ->capture_default_str();
}

void add_pipeline_options(CLI::App& sub, PipelineOptions& o, const std::string& what) {
  sub.add_option("--pipeline", o.pipeline,
                 "Pass pipeline TOML run over " + what + " at load (default: the default pipeline, "
                 "`vdrt opt --print-pipeline`), e.g. passes/pipelines/sparse_pbsa.toml")
      ->check(CLI::ExistingFile);
  sub.add_option("--passes", o.passes, "Comma-separated passes run at load instead (default options)");
  sub.add_option("-O", o.level, "Optimisation level: -O0 runs the graph as imported, -O1 (default) the pipeline")
      ->check(CLI::Range(0, 1))
      ->capture_default_str();
}

void validate(const DeviceOptions& o) {
  if (o.threads < 0 || o.threads > max_threads())
    throw UsageError(fmt::format("--threads must be in 0..{} (0 = all cores), got {}", max_threads(), o.threads));
  const std::string& sel = o.device;
  if (sel.empty() || sel == "auto") return;
  std::string name = sel;
  int index = -1;
  if (auto colon = sel.find(':'); colon != std::string::npos) {
    name = sel.substr(0, colon);
    const std::string idx = sel.substr(colon + 1);
    size_t used = 0;
    try {
      index = std::stoi(idx, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (idx.empty() || used != idx.size() || index < 0)
      throw UsageError("--device '" + sel + "': bad device index (expected e.g. " + name + ":0)");
  }
  auto names = BackendRegistry::instance().backend_names();
  if (std::find(names.begin(), names.end(), name) == names.end()) {
    std::string known = "auto";
    for (const auto& n : names) known += ", " + n;
    throw UsageError("--device '" + sel + "': backend '" + name + "' is not compiled into this binary (available: " +
                     known + ")");
  }
  if (index >= 0) {
    int count = 0;
    for (const auto& d : BackendRegistry::instance().devices())
      if (d.backend == name) ++count;
    // A backend without any device fails when it is created (exit 1, with the reason).
    if (count > 0 && index >= count)
      throw UsageError(fmt::format("--device '{}': backend '{}' has {} device(s) ({}:0{}); see `vdrt devices`", sel,
                                   name, count, name, count > 1 ? fmt::format("..{}:{}", name, count - 1) : ""));
  }
}

std::string pipeline_toml(const PipelineOptions& o, std::string* label) {
  if (!o.passes.empty()) {
    std::string toml;
    std::stringstream list(o.passes);
    std::string name;
    while (std::getline(list, name, ','))
      if (!name.empty()) toml += "[[pass]]\nname = \"" + name + "\"\n";
    if (label) *label = "--passes " + o.passes;
    return toml;
  }
  if (!o.pipeline.empty()) {
    std::ifstream f(o.pipeline);
    if (label) *label = o.pipeline;
    return std::string(std::istreambuf_iterator<char>(f), {});
  }
  if (o.level == 0) return "";
  if (label) *label = "<default>";
  return default_pipeline_toml();
}

void validate(const PipelineOptions& o) {
  if (!o.passes.empty() && !o.pipeline.empty())
    throw UsageError("give either --passes or --pipeline, not both (--passes " + o.passes + ", --pipeline " +
                     o.pipeline + ")");
  if (o.level == 0 && (!o.passes.empty() || !o.pipeline.empty()))
    throw UsageError("-O0 runs the graph as imported: it cannot be combined with --passes or --pipeline");
  if (!o.passes.empty()) {
    bool any = false;
    for (char c : o.passes) any = any || (c != ',' && c != ' ');
    if (!any) throw UsageError("--passes is empty");
  }
  std::string label;
  const std::string toml = pipeline_toml(o, &label);
  if (toml.empty()) return;
  usage_check("", [&] { PassManager check(parse_pipeline(toml, label)); });
}

void set_session_pipeline(SessionOptions& so, const PipelineOptions& o) {
  if (!o.pipeline.empty()) {
    so.pass_pipeline = o.pipeline;
    return;
  }
  so.pass_pipeline_text = pipeline_toml(o, &so.pass_pipeline_label);
}

void check_pass_preconditions(const Graph& graph, const std::string& toml, const std::string& label) {
  bool fused = false;
  for (const auto& n : graph.nodes()) fused = fused || n->qualified_op() == "vdrt.Attention";
  for (const PipelineStep& step : parse_pipeline(toml, label).steps) {
    if (!step.enabled) continue;
    if (step.pass == "fuse-attention") fused = true;
    if (step.pass == "sparsify-attention" && !fused)
      throw UsageError(label + ": sparsify-attention rewrites fused attention (vdrt.Attention), and " +
                       graph.source_path +
                       " has none and no fuse-attention runs before it: put fold-constants,fuse-attention first "
                       "(e.g. --passes fold-constants,fuse-attention,sparsify-attention)");
  }
}

void pipeline_at_load(const Graph& graph, const PipelineOptions& o, SessionOptions& so) {
  std::string label;
  const std::string toml = pipeline_toml(o, &label);
  if (toml.empty()) return;
  check_pass_preconditions(graph, toml, label);
  so.pass_pipeline.clear();
  so.pass_pipeline_text = toml;
  so.pass_pipeline_label = label;
}

SessionOptions session_options(const DeviceOptions& o) {
  SessionOptions so;
  so.device = o.device;
  so.threads = o.threads;
  so.precision = o.precision;
  return so;
}

void require_at_least(const char* flag, double value, double min) {
  if (!(value >= min)) throw UsageError(fmt::format("{} must be >= {:g}, got {:g}", flag, min, value));
}

void require_positive(const char* flag, double value) {
  if (!(value > 0)) throw UsageError(fmt::format("{} must be > 0, got {:g}", flag, value));
}

}  // namespace vdrt::cli
