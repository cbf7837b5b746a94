#include "tools/inspect_shapes.h"

#include <algorithm>

#include "graph/error.h"
#include "graph/shape_inference.h"
#include "passes/pass_registry.h"
#include "passes/symbolic_shapes.h"
#include "runtime/host_eval.h"
#include "tools/test_inputs.h"

namespace vdrt::cli {
namespace {

// How much a shape says: concrete dims count most, symbolic ones ("past_len+48") next.
int known_dims(const Shape& s) {
  if (!s.rank_known()) return -1;
  int n = 0;
  for (const Dim& d : s.dims()) n += d.known() ? 2 : d.is_symbol() ? 1 : 0;
  return n;
}

}  // namespace

std::string refine_shapes(Graph& graph, const std::string& inputs_dir) {
  std::string error;
  if (!inputs_dir.empty()) {
    const TensorMap feed = load_feed(graph, inputs_dir);
    for (Value* v : graph.inputs()) {
      auto it = feed.find(v->name());
      if (it == feed.end()) continue;
      v->set_shape(Shape::from(it->second.dims()));
      if (v->dtype() == DType::Undefined) v->set_dtype(it->second.dtype());
    }
    try {
      infer_shapes(graph);
    } catch (const Error& e) {
      error = e.what();
    }
  }
  // Shape arithmetic folds on a copy; only small results are computed.
  auto folded = graph.clone();
  try {
    infer_shapes(*folded);
    auto fold = PassRegistry::instance().create("fold-constants");
    PassOptions options;
    options.set("max_bytes", int64_t{1} << 16);
    fold->configure(options);
    PassContext ctx;
    ctx.evaluator = [](const Node& node, const std::vector<Tensor>& inputs, int64_t opset) {
      std::vector<const Tensor*> ptrs;
      for (const Tensor& t : inputs) ptrs.push_back(t.defined() ? &t : nullptr);
      return evaluate_on_host(node, opset, ptrs);
    };
    fold->run(*folded, ctx);
    infer_shapes(*folded);
  } catch (const Error&) {
    // Keep whatever the copy got to; the original graph's error is reported as is.
  }
  for (Value* v : graph.values()) {
    if (v->shape().fully_known()) continue;
    const Value* f = folded->find_value(v->name());
    if (!f || (!f->producer() && !f->is_constant() && !folded->is_graph_input(f))) {
      // Folded away with its consumers (the value is left without producer or
      // contents): a Shape still has one entry per dim of its input that it
      // reads, and fold-constants may have derived those dims symbolically.
      const Node* n = v->producer();
      const Value* in = n && n->domain().empty() && n->op_type() == "Shape" && n->input(0)
                            ? folded->find_value(n->input(0)->name())
                            : nullptr;
      auto d = in ? symbolic_dims(in) : std::nullopt;
      if (!d) continue;
      const int64_t rank = static_cast<int64_t>(d->size());
      auto at = [&](int64_t i) { return std::clamp(i < 0 ? i + rank : i, int64_t{0}, rank); };
      const int64_t start = at(n->attrs().get_int("start", 0)), end = at(n->attrs().get_int("end", rank));
      v->set_shape(Shape({Dim(std::max<int64_t>(end - start, 0))}));
      continue;
    }
    const Shape s = f->is_constant() ? Shape::from(f->constant().dims()) : f->shape();
    if (known_dims(s) > known_dims(v->shape()) && (!v->shape().rank_known() || s.rank() == v->shape().rank()))
      v->set_shape(s);
    if (v->dtype() == DType::Undefined && f->dtype() != DType::Undefined) v->set_dtype(f->dtype());
  }
  return error;
}

}  // namespace vdrt::cli
