#include "graph/shape_inference.h"

#include "graph/op_registry.h"

namespace vdrt {

void infer_shapes(Graph& graph) {
  for (const auto& node : graph.nodes()) {
    std::vector<ValueInfo> ins;
    for (Value* v : node->inputs()) {
      if (!v) { ins.emplace_back(); continue; }
      ins.push_back(ValueInfo{v->dtype(), v->shape(), v->is_constant() ? &v->constant() : nullptr, true});
    }
    std::vector<ValueInfo> outs = infer_node(*node, ins, graph.opset(node->domain()), graph.source_path);
    for (size_t i = 0; i < node->outputs().size(); ++i) {
      Value* o = node->output(i);
      if (!o || !outs[i].present) continue;
      o->set_dtype(outs[i].dtype);
      o->set_shape(outs[i].shape);
    }
  }
}

}  // namespace vdrt
