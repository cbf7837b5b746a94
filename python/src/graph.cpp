// vdrt.load(path) / vdrt.Graph: read-only inspection of a model as vdrt
// imported it (nodes, ops, declared and inferred shapes, metadata), and the
// NodeArg type shared with InferenceSession.get_inputs().
#include <map>
#include <memory>

#include <nanobind/stl/map.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>
#include <spdlog/spdlog.h>

#include "common.h"
#include "graph/shape_inference.h"
#include "importer/onnx_import.h"
#include "python_graph.h"

namespace vdrt::python {
namespace {

nb::object attribute_to_python(const Attribute& a) {
  return std::visit(
      [](const auto& v) -> nb::object {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, Tensor>) return to_numpy(v.clone());
        else return nb::cast(v);
      },
      a);
}

std::vector<std::string> value_names(const std::vector<Value*>& values) {
  std::vector<std::string> out;
  for (const Value* v : values) out.push_back(v ? v->name() : "");
  return out;
}

}  // namespace

std::vector<NodeArg> GraphView::inputs() const {
  std::vector<NodeArg> out;
  for (const Value* v : graph->inputs()) out.push_back(node_arg(*v));
  return out;
}

std::vector<NodeArg> GraphView::outputs() const {
  std::vector<NodeArg> out;
  for (const Value* v : graph->outputs()) out.push_back(node_arg(*v));
  return out;
}


void bind_graph(nb::module_& m) {
  using namespace nb::literals;
  nb::class_<NodeArg>(m, "NodeArg",
                      "A model input, output or value as declared: name, dtype and shape\n"
                      "(ONNX Runtime's NodeArg). shape holds ints, str for symbolic dims\n"
                      "('batch', 'past+48') and None for unknown ones; it is None when even the\n"
                      "rank is unknown.")
      .def_ro("name", &NodeArg::name, "The tensor's name.")
      .def_ro("type", &NodeArg::type, "ONNX Runtime's type string, e.g. 'tensor(float)'.")
      .def_ro("dtype", &NodeArg::dtype, "NumPy's dtype name, e.g. 'float32'.")
      .def_ro("shape", &NodeArg::shape, "Dims: int, str (symbolic) or None (unknown).")
      .def("__repr__", [](const NodeArg& a) {
        return "NodeArg(name='" + a.name + "', dtype='" + a.dtype + "', shape=" +
               nb::cast<std::string>(nb::repr(a.shape)) + ")";
      });

  nb::class_<NodeView>(m, "Node", "One node of a vdrt.Graph (read-only).")
      .def_prop_ro("name", [](const NodeView& n) { return n.node->name(); }, "The node's name.")
      .def_prop_ro("op_type", [](const NodeView& n) { return n.node->op_type(); }, "The op, e.g. 'MatMul'.")
      .def_prop_ro("domain", [](const NodeView& n) { return n.node->domain(); },
                   "The op's domain: '' for ONNX, 'vdrt' for vdrt's fused and sparse ops.")
      .def_prop_ro("op", [](const NodeView& n) { return n.node->qualified_op(); },
                   "The op with its domain when not ONNX: 'Conv', 'vdrt.Attention'.")
      .def_prop_ro("inputs", [](const NodeView& n) { return value_names(n.node->inputs()); },
                   "Input value names ('' for an absent optional input).")
      .def_prop_ro("outputs", [](const NodeView& n) { return value_names(n.node->outputs()); },
                   "Output value names.")
      .def_prop_ro(
          "attributes",
          [](const NodeView& n) {
            nb::dict d;
            for (const auto& [name, a] : n.node->attrs().all()) d[nb::str(name.c_str())] = attribute_to_python(a);
            return d;
          },
          "Attributes as a dict: int, float, str, lists of them, or NumPy arrays.")
      .def("__repr__", [](const NodeView& n) {
        return "Node(name='" + n.node->name() + "', op='" + n.node->qualified_op() + "')";
      });

  nb::class_<GraphView>(m, "Graph",
                        "A model as vdrt imported it (read-only): vdrt.load(path), or\n"
                        "InferenceSession.graph for the graph a session runs (after its passes).")
      .def_prop_ro("name", [](const GraphView& g) { return g.graph->name; }, "The graph's name.")
      .def_prop_ro("path", [](const GraphView& g) { return g.graph->source_path; }, "The file it came from.")
      .def_prop_ro("producer_name", [](const GraphView& g) { return g.graph->producer_name; }, "The exporter.")
      .def_prop_ro("producer_version", [](const GraphView& g) { return g.graph->producer_version; },
                   "The exporter's version.")
      .def_prop_ro("ir_version", [](const GraphView& g) { return g.graph->ir_version; }, "ONNX IR version.")
      .def_prop_ro(
          "opsets",
          [](const GraphView& g) {
            std::map<std::string, int64_t> out;
            for (const OpsetImport& o : g.graph->opsets) out[o.domain.empty() ? "ai.onnx" : o.domain] = o.version;
            return out;
          },
          "Imported opsets: {'ai.onnx': 17, ...}.")
      .def_prop_ro("metadata", [](const GraphView& g) { return g.graph->metadata; },
                   "The model's metadata_props (e.g. vdrt.frames_per_chunk).")
      .def_prop_ro("inputs", &GraphView::inputs, "Graph inputs (NodeArg), initializers excluded.")
      .def_prop_ro("outputs", &GraphView::outputs, "Graph outputs (NodeArg).")
      .def_prop_ro(
          "nodes",
          [](const GraphView& g) {
            std::vector<NodeView> out;
            for (const auto& n : g.graph->nodes()) out.push_back(NodeView{g.graph, n.get()});
            return out;
          },
          "The nodes in topological order.")
      .def(
          "op_counts",
          [](const GraphView& g) {
            std::map<std::string, int> counts;
            for (const auto& n : g.graph->nodes()) ++counts[n->qualified_op()];
            return counts;
          },
          "How many nodes of each op: {'MatMul': 12, 'vdrt.Attention': 2, ...}.")
      .def(
          "value",
          [](const GraphView& g, const std::string& name) {
            const Value* v = g.graph->find_value(name);
            if (!v) throw nb::key_error(("no value named '" + name + "' in " + g.graph->source_path).c_str());
            return node_arg(*v);
          },
          "name"_a, "The declaration (inferred where shape inference ran) of any value, by name.")
      .def("__len__", [](const GraphView& g) { return g.graph->nodes().size(); }, "The number of nodes.")
      .def("__repr__", [](const GraphView& g) {
        return "Graph('" + g.graph->source_path + "', " + std::to_string(g.graph->nodes().size()) + " nodes)";
      });

  m.def(
      "load",
      [](nb::object path, bool infer) {
        std::unique_ptr<Graph> g = load_onnx(fspath(path, "path"));
        if (infer) {
          try {
            infer_shapes(*g);
          } catch (const Error& e) {
            spdlog::warn("vdrt.load: shape inference stopped: {}", e.what());
          }
        }
        return GraphView{std::shared_ptr<const Graph>(std::move(g))};
      },
      "path"_a, "infer_shapes"_a = true, nb::sig("def load(path: str | os.PathLike[str], infer_shapes: bool = True) -> Graph"),
      "Imports an ONNX model into vdrt's IR for inspection and returns a vdrt.Graph.\n\n"
      "With infer_shapes (the default), every value's dtype and (symbolic) shape is\n"
      "inferred as `vdrt inspect` shows it. Raises vdrt.Error naming the file for a\n"
      "model vdrt cannot import.");
}

}  // namespace vdrt::python
