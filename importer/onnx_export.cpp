#include "importer/onnx_export.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include "importer/attribute_proto.h"
#include "importer/onnx_proto.h"
#include "importer/proto_io.h"
#include "importer/tensor_proto.h"
#include "importer/type_proto.h"

namespace vdrt {

namespace {

namespace fs = std::filesystem;

// The lowest IR version written; newer graphs keep their own.
constexpr int64_t kMinIrVersion = 8;
// float8 element types arrived with IR version 9.
constexpr int64_t kFloat8IrVersion = 9;
// A graph built by hand may import no ai.onnx opset; its ops are written
// against the newest opset vdrt implements.
constexpr int64_t kDefaultOnnxOpset = 23;
// Offsets in the data file are aligned so that it can be memory-mapped and
// read with vector loads in place.
constexpr uint64_t kExternalAlignment = 64;

// Appends large tensors to one data file beside the model, opened lazily so
// that a model with no large constants leaves no empty file behind.
class ExternalDataSink {
 public:
  ExternalDataSink(fs::path file, size_t threshold) : file_(std::move(file)), threshold_(threshold) {}

  bool wants(const Tensor& t) const { return threshold_ > 0 && t.nbytes() >= threshold_; }

  void write(const Tensor& t, onnx::TensorProto* proto) {
    if (!out_.is_open()) {
      out_.open(file_, std::ios::binary | std::ios::trunc);
      VDRT_CHECK(out_.good(), "cannot open the external data file for writing", {file_.string()});
    }
    static const char zeros[kExternalAlignment] = {};
    uint64_t pad = (kExternalAlignment - offset_ % kExternalAlignment) % kExternalAlignment;
    out_.write(zeros, static_cast<std::streamsize>(pad));
    offset_ += pad;
    out_.write(static_cast<const char*>(t.raw()), static_cast<std::streamsize>(t.nbytes()));
    VDRT_CHECK(out_.good(), "writing the external data file failed (disk full?)", {file_.string()});

    proto->set_data_location(onnx::TensorProto::EXTERNAL);
    add_entry(proto, "location", file_.filename().string());
    add_entry(proto, "offset", std::to_string(offset_));
    add_entry(proto, "length", std::to_string(t.nbytes()));
    offset_ += t.nbytes();
  }

  void finish() {
    if (!out_.is_open()) return;
    out_.close();
    VDRT_CHECK(out_.good(), "writing the external data file failed (disk full?)", {file_.string()});
  }

 private:
  static void add_entry(onnx::TensorProto* proto, const std::string& key, const std::string& value) {
    auto* e = proto->add_external_data();
    e->set_key(key);
    e->set_value(value);
  }

  fs::path file_;
  size_t threshold_;
  std::ofstream out_;
  uint64_t offset_ = 0;
};

// The IR version that came with an ai.onnx opset (ONNX's versioning table);
// runtimes may refuse a file that claims an opset newer than its IR.
int64_t ir_version_for_onnx_opset(int64_t opset) {
  if (opset >= 23) return 11;
  if (opset >= 21) return 10;
  if (opset >= 19) return 9;
  if (opset >= 15) return 8;
  return 7;
}

bool uses_float8(const Graph& g) {
  auto f8 = [](DType t) { return t == DType::F8E4M3 || t == DType::F8E5M2; };
  for (const Value* v : g.values())
    if (f8(v->dtype()) || (v->is_constant() && f8(v->constant().dtype()))) return true;
  for (const auto& n : g.nodes())
    for (const auto& [_, a] : n->attrs().all())
      if (const Tensor* t = std::get_if<Tensor>(&a); t && f8(t->dtype())) return true;
  return false;
}

int64_t ir_version_to_write(const Graph& g, const onnx::ModelProto& m) {
  int64_t ir = std::max(g.ir_version, kMinIrVersion);
  for (const auto& o : m.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") ir = std::max(ir, ir_version_for_onnx_opset(o.version()));
  if (uses_float8(g)) ir = std::max(ir, kFloat8IrVersion);
  return ir;
}

void write_opsets(const Graph& g, onnx::ModelProto* m) {
  std::set<std::string> imported;
  for (const auto& o : g.opsets) {
    auto* op = m->add_opset_import();
    op->set_domain(o.domain);
    op->set_version(o.version);
    imported.insert(o.domain == "ai.onnx" ? "" : o.domain);
  }
  // ONNX requires an import for every domain a node uses; vdrt's own ops
  // (fused/sparse attention, ...) are version 1 of the "vdrt" domain.
  for (const auto& n : g.nodes()) {
    if (!imported.insert(n->domain()).second) continue;
    auto* op = m->add_opset_import();
    op->set_domain(n->domain());
    op->set_version(n->domain().empty() ? kDefaultOnnxOpset : 1);
  }
}

void write_node(const Node& n, onnx::NodeProto* p) {
  p->set_name(n.name());
  p->set_op_type(n.op_type());
  if (!n.domain().empty()) p->set_domain(n.domain());
  for (const Value* v : n.inputs()) p->add_input(v ? v->name() : "");
  for (const Value* v : n.outputs()) p->add_output(v ? v->name() : "");
  for (const auto& [name, value] : n.attrs().all()) onnx_io::attribute_to_proto(name, value, p->add_attribute());
}

// Constants that anything reads, in order of first use so that the file reads
// top to bottom; unused constants (left behind by passes) are dropped.
std::vector<const Value*> constants_to_write(const Graph& g) {
  std::vector<const Value*> out;
  std::set<const Value*> seen;
  auto take = [&](const Value* v) {
    if (v && v->is_constant() && seen.insert(v).second) out.push_back(v);
  };
  for (const Value* v : g.inputs()) take(v);
  for (const auto& n : g.nodes())
    for (const Value* v : n->inputs()) take(v);
  for (const Value* v : g.outputs()) take(v);
  return out;
}

void build_model(const Graph& g, onnx::ModelProto* m, ExternalDataSink* sink) {
  write_opsets(g, m);
  m->set_ir_version(ir_version_to_write(g, *m));
  if (!g.producer_name.empty()) m->set_producer_name(g.producer_name);
  if (!g.producer_version.empty()) m->set_producer_version(g.producer_version);
  for (const auto& [k, v] : g.metadata) {
    auto* p = m->add_metadata_props();
    p->set_key(k);
    p->set_value(v);
  }

  onnx::GraphProto* gp = m->mutable_graph();
  gp->set_name(g.name.empty() ? "graph" : g.name);  // the ONNX checker wants a name
  for (const Value* v : g.inputs()) onnx_io::write_value_info(*v, gp->add_input());
  for (const Value* v : g.outputs()) onnx_io::write_value_info(*v, gp->add_output());
  for (const Value* c : constants_to_write(g)) {
    onnx::TensorProto* t = gp->add_initializer();
    const Tensor& tensor = c->constant();
    VDRT_CHECK(tensor.defined(), "constant '" + c->name() + "' holds no tensor");
    if (sink && sink->wants(tensor)) {
      onnx_io::tensor_header_to_proto(tensor, c->name(), t);
      sink->write(tensor, t);
    } else {
      onnx_io::tensor_to_proto(tensor, c->name(), t);
    }
  }
  for (const auto& n : g.nodes()) {
    try {
      write_node(*n, gp->add_node());
    } catch (const Error& e) {
      throw e.with_site({"", n->name(), n->qualified_op()});
    }
  }
  // Known types of intermediate values let other tools skip shape inference.
  for (const auto& n : g.nodes())
    for (const Value* v : n->outputs())
      if (v && v->dtype() != DType::Undefined && !v->is_constant() && !g.is_graph_output(v) &&
          !g.is_graph_input(v))
        onnx_io::write_value_info(*v, gp->add_value_info());
}

}  // namespace

void save_onnx(const Graph& graph, const std::string& path, const ExportOptions& options) {
  try {
    fs::path model_path(path);
    ExternalDataSink sink(model_path.parent_path() / (model_path.filename().string() + ".data"),
                          options.external_data_threshold);
    onnx::ModelProto model;
    build_model(graph, &model, &sink);
    sink.finish();
    onnx_io::write_file_bytes(path, onnx_io::serialize_proto(model, path));
  } catch (const Error& e) {
    throw e.with_site({path});
  }
}

std::string serialize_onnx(const Graph& graph) {
  onnx::ModelProto model;
  build_model(graph, &model, nullptr);
  return onnx_io::serialize_proto(model, graph.name.empty() ? "graph" : graph.name);
}

}  // namespace vdrt
