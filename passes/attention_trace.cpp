#include "passes/attention_trace.h"

#include <algorithm>
#include <cctype>
#include <deque>

#include "passes/rewrite.h"
#include "passes/symbolic_shapes.h"

namespace vdrt {
namespace {

Node* producer_op(const Value* v, const char* op) {
  Node* n = v ? v->producer() : nullptr;
  return n && n->domain().empty() && n->op_type() == op ? n : nullptr;
}

std::vector<int64_t> transpose_perm(const Node& t, size_t rank) {
  std::vector<int64_t> perm = t.attrs().get_ints("perm", {});
  if (perm.empty())
    for (int64_t i = static_cast<int64_t>(rank) - 1; i >= 0; --i) perm.push_back(i);
  return perm;
}

// Layout of a Transpose's input given its output's layout: out[i] = in[perm[i]].
std::optional<Layout> through_transpose(const Layout& out, const std::vector<int64_t>& perm) {
  if (perm.size() != out.size()) return std::nullopt;
  Layout in(out.size(), -1);
  for (size_t i = 0; i < perm.size(); ++i) {
    if (perm[i] < 0 || perm[i] >= static_cast<int64_t>(out.size()) || in[perm[i]] != -1) return std::nullopt;
    in[perm[i]] = out[i];
  }
  return in;
}

bool is_scalar_like(const Value* v) {
  if (v->is_constant()) return v->constant().numel() == 1;
  auto n = v->shape().numel();
  return n && *n == 1;
}

}  // namespace

std::vector<int64_t> TracedOperand::perm_to_bshd() const {
  // Output position i holds logical axis i; find where `layout` keeps it.
  std::vector<int64_t> perm(4);
  for (int64_t axis = 0; axis < 4; ++axis) {
    auto it = std::find(layout.begin(), layout.end(), axis);
    perm[axis] = it - layout.begin();
  }
  for (int64_t i = 0; i < 4; ++i)
    if (perm[i] != i) return perm;
  return {};
}

std::optional<std::pair<Value*, std::vector<Node*>>> last_two_axes_swap(const Value* v) {
  Node* r2 = producer_op(v, "Reshape");
  Node* t = r2 ? producer_op(r2->input(0), "Transpose") : nullptr;
  Node* r1 = t ? producer_op(t->input(0), "Reshape") : nullptr;
  if (!r1 || transpose_perm(*t, 3) != std::vector<int64_t>{0, 2, 1}) return std::nullopt;
  Value* x = r1->input(0);
  auto dx = symbolic_dims(x);
  auto target1 = shape_tensor_dims(r1->input(1));
  auto target2 = shape_tensor_dims(r2->input(1));
  if (!dx || dx->size() != 4 || !target1 || !target2) return std::nullopt;
  const Dims& d = *dx;
  auto mid = reshape_dims(d, *target1, r1->attrs().get_int("allowzero", 0) != 0);
  if (!mid || mid->size() != 3) return std::nullopt;
  if (!same_dim((*mid)[0], product_dim({d[0], d[1]})) || !same_dim((*mid)[1], d[2]) || !same_dim((*mid)[2], d[3]))
    return std::nullopt;
  Dims swapped = {(*mid)[0], (*mid)[2], (*mid)[1]};
  auto out = reshape_dims(swapped, *target2, r2->attrs().get_int("allowzero", 0) != 0);
  if (!out || !same_dims(*out, {d[0], d[1], d[3], d[2]})) return std::nullopt;
  return std::make_pair(x, std::vector<Node*>{r2, t, r1});
}

std::optional<TracedOperand> trace_operand(const Graph& graph, Value* v, Layout layout, const TraceOptions& options,
                                           std::string* why) {
  TracedOperand op;
  for (int guard = 0; guard < 64; ++guard) {
    Node* n = v->producer();
    if (n && n->domain().empty() && n->op_type() == "Transpose") {
      auto in = through_transpose(layout, transpose_perm(*n, layout.size()));
      if (!in) break;
      op.walked.push_back(n);
      layout = *in;
      v = n->input(0);
      continue;
    }
    if (auto swap = last_two_axes_swap(v)) {
      auto in = through_transpose(layout, {0, 1, 3, 2});
      op.walked.insert(op.walked.end(), swap->second.begin(), swap->second.end());
      layout = *in;
      v = swap->first;
      continue;
    }
    if (options.through_scale && n && n->domain().empty() && (n->op_type() == "Mul" || n->op_type() == "Div")) {
      Value* a = n->input(0);
      Value* b = n->input(1);
      if (!a || !b) break;
      bool div = n->op_type() == "Div";
      // The data operand is the one with the full shape; the other is the scale.
      Value* data = nullptr;
      Value* factor = nullptr;
      if (is_scalar_like(b)) { data = a; factor = b; }
      else if (!div && is_scalar_like(a)) { data = b; factor = a; }
      if (!data) break;
      auto c = scalar_constant(factor);
      if (!c) {
        if (why) *why = "scaled by '" + factor->name() + "', which is not a constant (fold-constants runs first in the default pipeline)";
        return std::nullopt;
      }
      if (div && *c == 0) break;
      op.scale *= div ? 1.0 / *c : *c;
      op.walked.push_back(n);
      v = data;
      continue;
    }
    break;
  }
  op.base = v;
  op.layout = layout;
  return op;
}

bool split_cache_concat(const Graph& graph, TracedOperand& op) {
  Node* c = producer_op(op.base, "Concat");
  if (!c || c->inputs().size() != 2 || !c->input(0) || !c->input(1)) return false;
  int64_t axis = c->attrs().get_int("axis", 0);
  if (axis < 0) axis += 4;
  if (axis < 0 || axis >= 4 || op.layout[axis] != kAxisS) return false;
  Value* past = c->input(0);
  if (!graph.is_graph_input(past) || past->is_constant()) return false;
  op.past = past;
  op.fresh = c->input(1);
  op.walked.push_back(c);
  return true;
}

int64_t cache_layer_index(const std::string& name) {
  size_t end = name.size(), start = end;
  while (start > 0 && std::isdigit(static_cast<unsigned char>(name[start - 1]))) --start;
  if (start == end || end - start > 9) return -1;
  return std::stoll(name.substr(start));
}

namespace {

bool is_projection(const Node& n, Value** activation) {
  if (!n.domain().empty() || (n.op_type() != "MatMul" && n.op_type() != "Gemm")) return false;
  Value* a = n.input(0);
  Value* b = n.input(1);
  if (!a || !b) return false;
  if (b->is_constant() && !a->is_constant()) { *activation = a; return true; }
  if (a->is_constant() && !b->is_constant()) { *activation = b; return true; }
  return false;
}

std::set<const Value*> sources(const Graph& graph, Value* start, const Value* ignore) {
  std::set<const Value*> found, seen;
  std::deque<Value*> queue{start};
  size_t budget = 2000;
  while (!queue.empty() && budget-- > 0) {
    Value* v = queue.front();
    queue.pop_front();
    if (!v || v == ignore || v->is_constant() || !seen.insert(v).second) continue;
    Node* n = v->producer();
    if (!n) {
      if (graph.is_graph_input(v)) found.insert(v);
      continue;
    }
    // Shape/Size read only dims: a view(b, -1, n, d) on the key side that
    // takes b from the query's tensor does not make them share data.
    if (n->domain().empty() && (n->op_type() == "Shape" || n->op_type() == "Size")) continue;
    Value* act = nullptr;
    if (is_projection(*n, &act)) {
      found.insert(act);
      continue;
    }
    for (Value* in : n->inputs()) queue.push_back(in);
  }
  return found;
}

}  // namespace

bool same_source(const Graph& graph, Value* query, Value* key, const Value* ignore) {
  auto q = sources(graph, query, ignore);
  auto k = sources(graph, key, ignore);
  return std::any_of(q.begin(), q.end(), [&](const Value* v) { return k.count(v) != 0; });
}

}  // namespace vdrt
