#include "passes/algebra.h"

#include <algorithm>
#include <cmath>

#include "passes/rewrite.h"

namespace vdrt {
namespace {

bool expandable(const Graph& graph, Value* v, bool is_root, const char* const* ops, size_t nops) {
  Node* n = v ? v->producer() : nullptr;
  if (!n || !n->domain().empty()) return false;
  if (std::find(ops, ops + nops, n->op_type()) == ops + nops) return false;
  if (!is_root && !sole_consumer(graph, v)) return false;
  // Broadcasting may widen the result beyond either operand; that is fine
  // for a formula over one tensor, which is all the callers match.
  for (Value* in : n->inputs())
    if (!in) return false;
  return true;
}

void product_into(const Graph& graph, Value* v, int power, bool is_root, Product& p) {
  static const char* const ops[] = {"Mul", "Div", "Reciprocal"};
  if (auto c = scalar_constant(v)) {
    if (power > 0) p.coefficient *= *c;
    else if (*c != 0) p.coefficient /= *c;
    else p.factors.push_back({v, power});
    return;
  }
  if (!expandable(graph, v, is_root, ops, 3)) {
    p.factors.push_back({v, power});
    return;
  }
  Node* n = v->producer();
  p.nodes.push_back(n);
  if (n->op_type() == "Reciprocal") {
    product_into(graph, n->input(0), -power, false, p);
  } else if (n->op_type() == "Div") {
    product_into(graph, n->input(0), power, false, p);
    product_into(graph, n->input(1), -power, false, p);
  } else {
    product_into(graph, n->input(0), power, false, p);
    product_into(graph, n->input(1), power, false, p);
  }
}

void sum_into(const Graph& graph, Value* v, int sign, bool is_root, Sum& s) {
  static const char* const ops[] = {"Add", "Sub", "Neg"};
  if (auto c = scalar_constant(v)) {
    s.constant += sign * *c;
    return;
  }
  if (!expandable(graph, v, is_root, ops, 3)) {
    s.terms.push_back({v, sign});
    return;
  }
  Node* n = v->producer();
  s.nodes.push_back(n);
  if (n->op_type() == "Neg") {
    sum_into(graph, n->input(0), -sign, false, s);
  } else {
    sum_into(graph, n->input(0), sign, false, s);
    sum_into(graph, n->input(1), n->op_type() == "Sub" ? -sign : sign, false, s);
  }
}

}  // namespace

Product flatten_product(const Graph& graph, Value* root) {
  Product p;
  product_into(graph, root, 1, true, p);
  return p;
}

Sum flatten_sum(const Graph& graph, Value* root) {
  Sum s;
  sum_into(graph, root, 1, true, s);
  return s;
}

bool near(double a, double b, double rel_tol) { return std::fabs(a - b) <= rel_tol * std::max(1.0, std::fabs(b)); }

}  // namespace vdrt
