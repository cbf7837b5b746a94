#include "importer/onnx_import.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <set>

#include "importer/attribute_proto.h"
#include "importer/data_type.h"
#include "importer/onnx_proto.h"
#include "importer/proto_io.h"
#include "importer/tensor_proto.h"
#include "importer/type_proto.h"

namespace vdrt {

namespace {

using onnx_io::DeclaredType;
using onnx_io::TensorReadContext;

constexpr int64_t kMinOnnxOpset = 13;
constexpr int64_t kMaxOnnxOpset = 23;
constexpr const char* kCorrupt = "not a valid ONNX model (truncated or corrupt?)";

std::string normalise_domain(const std::string& d) { return d == "ai.onnx" ? "" : d; }

std::string qualified(const std::string& domain, const std::string& op) {
  return domain.empty() ? op : domain + "." + op;
}

// Builds a Graph from a parsed ModelProto. One instance per import; every
// error it raises names `label_` (and the node where one is involved).
class Importer {
 public:
  // `model` is consumed: initializer bytes are freed once converted, so that
  // a large model is not held twice in memory.
  Importer(onnx::ModelProto& model, std::string label, TensorReadContext ctx)
      : model_(model),
        had_graph_(model.has_graph()),
        proto_(*model.mutable_graph()),
        label_(std::move(label)),
        ctx_(std::move(ctx)) {}

  std::unique_ptr<Graph> run() {
    check_plausible();
    g_ = std::make_unique<Graph>();
    g_->source_path = label_;
    read_model_fields();
    read_initializers();
    read_inputs();
    collect_defined_names();
    read_nodes();
    read_value_infos();
    read_outputs();
    check_opset_imports();
    g_->sort();
    g_->validate();
    return std::move(g_);
  }

 private:
  [[noreturn]] void fail(const std::string& reason, const std::string& node = "", const std::string& op = "") const {
    throw Error(reason, {label_, node, op});
  }

  // Protobuf accepts many byte strings (even an empty one) as a ModelProto;
  // a model without these essentials is a damaged file, not a strange model.
  void check_plausible() const {
    if (!had_graph_) fail(std::string(kCorrupt) + ": it has no graph");
    if (model_.ir_version() <= 0) fail(std::string(kCorrupt) + ": it has no IR version");
    if (proto_.node_size() == 0) {
      std::set<std::string> available;
      for (const auto& i : proto_.input()) available.insert(i.name());
      for (const auto& t : proto_.initializer()) available.insert(t.name());
      for (const auto& o : proto_.output())
        if (!available.count(o.name())) fail(std::string(kCorrupt) + ": the graph has no nodes but claims outputs");
    }
  }

  void read_model_fields() {
    g_->ir_version = model_.ir_version();
    if (g_->ir_version < 7 || g_->ir_version > 11)
      spdlog::debug("{}: IR version {} is outside 7..11; loading anyway", label_, g_->ir_version);
    g_->producer_name = model_.producer_name();
    g_->producer_version = model_.producer_version();
    g_->name = proto_.name();
    for (const auto& p : model_.metadata_props()) g_->metadata[p.key()] = p.value();
    std::set<std::string> seen;
    for (const auto& o : model_.opset_import()) {
      std::string domain = normalise_domain(o.domain());
      if (!seen.insert(domain).second) {
        spdlog::warn("{}: opset of domain '{}' imported twice; using the first", label_, domain);
        continue;
      }
      g_->opsets.push_back({domain, o.version()});
      if (domain.empty() && (o.version() < kMinOnnxOpset || o.version() > kMaxOnnxOpset))
        spdlog::warn("{}: ai.onnx opset {} is outside the supported range {}..{}; loading anyway", label_,
                     o.version(), kMinOnnxOpset, kMaxOnnxOpset);
    }
    if (model_.functions_size() > 0)
      spdlog::warn("{}: {} model-local function(s) ignored; nodes calling them will be reported as unsupported ops",
                   label_, model_.functions_size());
  }

  void read_initializers() {
    if (proto_.sparse_initializer_size() > 0) {
      const auto& s = proto_.sparse_initializer(0);
      fail("sparse initializer '" + (s.has_values() ? s.values().name() : std::string()) +
           "' is not supported (store it dense)");
    }
    for (auto& t : *proto_.mutable_initializer()) {
      if (t.name().empty()) fail("an initializer has no name");
      if (initializers_.count(t.name())) fail("initializer '" + t.name() + "' is defined twice");
      initializers_.insert(t.name());
      g_->add_constant(t.name(), onnx_io::tensor_from_proto(t, "initializer '" + t.name() + "'", ctx_));
      // clear_raw_data() would keep the buffer; swapping it out frees it.
      if (t.has_raw_data()) std::string().swap(*t.mutable_raw_data());
    }
  }

  // Reads the declared type of a graph input or output; vdrt can only bind
  // tensors of its own dtypes there.
  DeclaredType io_type(const onnx::ValueInfoProto& info, const char* role) const {
    DeclaredType t = onnx_io::read_declared_type(info);
    if (!t.is_tensor)
      fail("graph " + std::string(role) + " '" + info.name() + "' has " +
           (std::string("aeiou").find(t.kind[0]) == std::string::npos ? "a " : "an ") + t.kind +
           " type; vdrt supports tensors only");
    if (!t.dtype_supported)
      fail("graph " + std::string(role) + " '" + info.name() + "' has element type " +
           onnx_io::onnx_type_name(t.onnx_elem_type) + ", which vdrt does not support");
    return t;
  }

  void read_inputs() {
    std::set<std::string> seen;
    for (const auto& info : proto_.input()) {
      if (info.name().empty()) fail("a graph input has no name");
      // IR >= 4 lets an input override its initializer; vdrt treats the
      // weights as fixed, so such an input is simply the constant.
      if (initializers_.count(info.name())) continue;
      if (!seen.insert(info.name()).second) fail("graph input '" + info.name() + "' is listed twice");
      DeclaredType t = io_type(info, "input");
      Value* v = g_->value(info.name());
      v->set_dtype(t.dtype);
      v->set_shape(t.shape);
      g_->inputs().push_back(v);
    }
  }

  // Names a node input may refer to: nodes may appear in any order in the
  // file (sort() orders them), so every node output counts.
  void collect_defined_names() {
    for (Value* v : g_->inputs()) defined_.insert(v->name());
    defined_.insert(initializers_.begin(), initializers_.end());
    for (const auto& n : proto_.node()) {
      if (!n.name().empty()) explicit_names_.insert(n.name());
      for (const auto& o : n.output())
        if (!o.empty()) defined_.insert(o);
    }
  }

  // Unnamed nodes get "<op>_<index>" so that every error can point at one.
  std::string node_name(const onnx::NodeProto& n, int index) {
    if (!n.name().empty()) return n.name();
    std::string base = n.op_type() + "_" + std::to_string(index), name = base;
    for (int k = 1; explicit_names_.count(name) || generated_names_.count(name); ++k)
      name = base + "_" + std::to_string(k);
    generated_names_.insert(name);
    return name;
  }

  void read_nodes() {
    std::set<std::string> produced;
    for (int i = 0; i < proto_.node_size(); ++i) {
      const onnx::NodeProto& n = proto_.node(i);
      const std::string name = node_name(n, i);
      const std::string domain = normalise_domain(n.domain());
      const std::string op = qualified(domain, n.op_type());
      if (n.op_type().empty()) fail("node has no op type", name);

      std::vector<Value*> inputs;
      for (const auto& in : n.input()) {
        if (in.empty()) {
          inputs.push_back(nullptr);  // an absent optional input
          continue;
        }
        if (!defined_.count(in))
          fail("input '" + in + "' is not defined: it is neither a graph input, an initializer, nor the output of "
               "any node", name, op);
        inputs.push_back(g_->value(in));
      }
      std::vector<Value*> outputs;
      for (const auto& out : n.output()) {
        if (out.empty()) {
          outputs.push_back(nullptr);  // an unused optional output
          continue;
        }
        if (initializers_.count(out)) fail("output '" + out + "' redefines an initializer", name, op);
        Value* v = g_->find_value(out);
        if (v && g_->is_graph_input(v)) fail("output '" + out + "' redefines a graph input", name, op);
        if (!produced.insert(out).second) fail("output '" + out + "' is produced by more than one node", name, op);
        outputs.push_back(g_->value(out));
      }

      Node* node = g_->add_node(n.op_type(), inputs, outputs, name, domain);
      for (const auto& a : n.attribute()) {
        if (node->attrs().has(a.name())) fail("attribute '" + a.name() + "' is given twice", name, op);
        try {
          node->attrs().set(a.name(), onnx_io::attribute_from_proto(a, ctx_));
        } catch (const Error& e) {
          throw e.with_site({label_, name, op});
        }
      }
    }
  }

  // value_info entries are hints about intermediate values; ones vdrt cannot
  // use (non-tensor types, unknown names) are dropped rather than refused.
  void read_value_infos() {
    for (const auto& info : proto_.value_info()) {
      Value* v = g_->find_value(info.name());
      if (!v || v->is_constant() || g_->is_graph_input(v)) continue;
      DeclaredType t = onnx_io::read_declared_type(info);
      if (!t.is_tensor || !t.dtype_supported) continue;
      if (t.dtype != DType::Undefined) v->set_dtype(t.dtype);
      if (t.shape.rank_known()) v->set_shape(t.shape);
    }
  }

  void read_outputs() {
    for (const auto& info : proto_.output()) {
      if (info.name().empty()) fail("a graph output has no name");
      if (!defined_.count(info.name()))
        fail("graph output '" + info.name() + "' is not produced by any node, graph input or initializer");
      DeclaredType t = io_type(info, "output");
      Value* v = g_->value(info.name());
      if (!v->is_constant() && !g_->is_graph_input(v)) {
        if (t.dtype != DType::Undefined) v->set_dtype(t.dtype);
        if (t.shape.rank_known()) v->set_shape(t.shape);
      }
      g_->outputs().push_back(v);
    }
  }

  // Shape inference and the passes read the ai.onnx opset version; a model
  // using ONNX ops without importing it cannot be interpreted.
  void check_opset_imports() const {
    std::set<std::string> imported;
    for (const auto& o : g_->opsets) imported.insert(o.domain);
    std::set<std::string> warned;
    for (const auto& n : g_->nodes()) {
      if (imported.count(n->domain())) continue;
      if (n->domain().empty())
        fail("the model uses ai.onnx ops but imports no ai.onnx opset", n->name(), n->qualified_op());
      if (warned.insert(n->domain()).second)
        spdlog::warn("{}: node '{}' uses domain '{}', which the model does not import", label_, n->name(),
                     n->domain());
    }
  }

  onnx::ModelProto& model_;
  bool had_graph_;  // read before mutable_graph() creates an empty one
  onnx::GraphProto& proto_;
  std::string label_;
  TensorReadContext ctx_;
  std::unique_ptr<Graph> g_;
  std::set<std::string> initializers_, defined_, explicit_names_, generated_names_;
};

// Whatever goes wrong inside `body`, the caller gets a vdrt::Error naming the file.
template <typename Body>
std::unique_ptr<Graph> with_file_errors(const std::string& label, Body body) {
  try {
    return body();
  } catch (const OutOfMemory& e) {
    ErrorSite site = e.site();
    if (site.file.empty()) site.file = label;
    throw OutOfMemory(e.reason(), site);
  } catch (const Error& e) {
    throw e.with_site({label});
  } catch (const std::bad_alloc&) {
    throw OutOfMemory("out of memory while importing the model", {label});
  } catch (const std::exception& e) {
    throw Error(std::string("import failed: ") + e.what(), {label});
  }
}

}  // namespace

std::unique_ptr<Graph> load_onnx_bytes(const std::string& bytes, const std::string& base_dir,
                                       const std::string& label, const ImportOptions& options) {
  return with_file_errors(label, [&] {
    onnx::ModelProto model;
    if (!onnx_io::parse_proto(bytes, model)) throw Error(kCorrupt, {label});
    return Importer(model, label, {base_dir, options.load_external_data}).run();
  });
}

std::unique_ptr<Graph> load_onnx(const std::string& path, const ImportOptions& options) {
  return with_file_errors(path, [&] {
    onnx::ModelProto model;
    if (!onnx_io::parse_proto_file(path, model)) throw Error(kCorrupt, {path});
    std::string dir = std::filesystem::path(path).parent_path().string();
    return Importer(model, path, {dir.empty() ? "." : dir, options.load_external_data}).run();
  });
}

}  // namespace vdrt
