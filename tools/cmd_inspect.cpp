// `vdrt inspect MODEL`: what a model is made of and what vdrt can run of it:
// metadata, inputs and outputs with symbolic shapes, ops with their counts and
// which backend supports each, optionally every node with its shapes.
#include <cstdio>
#include <map>

#include "backends/registry.h"
#include "graph/op_registry.h"
#include "graph/shape_inference.h"
#include "importer/onnx_import.h"
#include "tools/command.h"
#include "tools/inspect_shapes.h"
#include "tools/json_output.h"

namespace vdrt::cli {
namespace {

struct InspectArgs {
  std::string model;
  std::string inputs;  // a test_data_set folder whose input shapes make the rest concrete
  bool nodes = false, json = false;
};

std::string value_str(const Value* v) {
  return std::string(dtype_name(v->dtype())) + v->shape().str();
}

int inspect(const InspectArgs& a) {
  auto g = load_onnx(a.model);
  std::string shape_error;
  try {
    infer_shapes(*g);
  } catch (const Error& e) {
    shape_error = e.what();
  }
  if (std::string why = refine_shapes(*g, a.inputs); shape_error.empty()) shape_error = why;
  if (a.json) {
    Json doc = inspect_json(a.model, *g, shape_error, a.nodes);
    print_json(doc);
    return !shape_error.empty() || doc["unknown_ops"].dump() != "0" ? kExitError : kExitOk;  // as in text mode
  }
  std::printf("model     %s\n", a.model.c_str());
  std::printf("producer  %s %s, IR %lld\n", g->producer_name.c_str(), g->producer_version.c_str(),
              static_cast<long long>(g->ir_version));
  std::printf("opsets   ");
  for (const auto& o : g->opsets)
    std::printf(" %s:%lld", o.domain.empty() ? "ai.onnx" : o.domain.c_str(), static_cast<long long>(o.version));
  std::printf("\n");
  if (!g->metadata.empty()) {
    std::printf("\nmetadata\n");
    for (const auto& [k, v] : g->metadata) std::printf("  %-28s %s\n", k.c_str(), v.c_str());
  }
  std::printf("\ninputs\n");
  for (const Value* v : g->inputs()) std::printf("  %-28s %s\n", v->name().c_str(), value_str(v).c_str());
  std::printf("\noutputs\n");
  for (const Value* v : g->outputs()) std::printf("  %-28s %s\n", v->name().c_str(), value_str(v).c_str());

  size_t weights = 0, weight_bytes = 0;
  for (const Value* v : g->values())
    if (v->is_constant()) { ++weights; weight_bytes += v->constant().nbytes(); }
  std::printf("\n%zu nodes, %zu constants (%.2f MiB)\n", g->nodes().size(), weights, weight_bytes / 1048576.0);

  // One backend instance per backend name, to ask what it supports.
  std::vector<std::unique_ptr<Backend>> backends;
  for (const std::string& name : BackendRegistry::instance().backend_names()) {
    try {
      backends.push_back(BackendRegistry::instance().create(name));
    } catch (const Error&) {
      // A backend without devices on this machine is simply not listed.
    }
  }
  struct OpRow { int count = 0; std::vector<int> supported; bool known = false; };
  std::map<std::string, OpRow> ops;
  for (const auto& n : g->nodes()) {
    OpRow& row = ops[n->qualified_op()];
    row.supported.resize(backends.size());
    row.known = OpRegistry::instance().find(n->domain(), n->op_type()) != nullptr;
    ++row.count;
    for (size_t b = 0; b < backends.size(); ++b) row.supported[b] += backends[b]->supports(*n);
  }
  std::printf("\n  %-32s %6s", "op", "count");
  for (const auto& b : backends) std::printf(" %8s", b->info().backend.c_str());
  std::printf("\n");
  int unsupported = 0;
  for (const auto& [op, row] : ops) {
    std::printf("  %-32s %6d", op.c_str(), row.count);
    for (int s : row.supported) {
      std::string cell = s == row.count ? "yes" : s == 0 ? "no" : std::to_string(s) + "/" + std::to_string(row.count);
      std::printf(" %8s", cell.c_str());
    }
    if (!row.known) { std::printf("   (unknown op)"); ++unsupported; }
    std::printf("\n");
  }
  if (a.nodes) {
    std::printf("\nnodes\n");
    for (const auto& n : g->nodes()) {
      std::printf("  %-40s %-22s", n->name().c_str(), n->qualified_op().c_str());
      for (const Value* o : n->outputs())
        if (o) std::printf(" %s:%s", o->name().c_str(), value_str(o).c_str());
      std::printf("\n");
    }
  }
  if (!shape_error.empty()) {
    std::printf("\nshape inference stopped: %s\n", shape_error.c_str());
    return kExitError;
  }
  return unsupported ? kExitError : kExitOk;
}

Action setup_inspect(CLI::App& sub) {
  auto a = std::make_shared<InspectArgs>();
  sub.add_option("model", a->model, "ONNX model file")->required()->check(CLI::ExistingFile);
  sub.add_flag("--nodes", a->nodes, "List every node with its output shapes");
  sub.add_option("-i,--inputs", a->inputs,
                 "A test_data_set folder: show the shapes that its input_K.pb tensors give every value")
      ->check(CLI::ExistingDirectory);
  add_json_flag(sub, a->json);
  return [a] { return inspect(*a); };
}

CommandRegistrar reg("inspect", "Show a model's metadata, inputs, outputs, ops and backend support", setup_inspect);

}  // namespace
}  // namespace vdrt::cli
