#pragma once
// Views of elementwise arithmetic as flat products and sums, so that one
// matcher recognises every way an exporter orders and groups the same
// formula: 0.5 * x * (1 + erf(x / sqrt(2))) may arrive as
// Mul(Mul(x, Add(Erf(Div(x, c)), 1)), 0.5) or Mul(x, Mul(0.5, Add(1, Erf(Mul(x, c'))))).
//
// Expansion goes through a Mul/Div/Reciprocal (products) or Add/Sub/Neg
// (sums) only when its output is used by the parent alone, so every
// expanded node can be removed with the match.
#include <vector>

#include "graph/graph.h"

namespace vdrt {

struct Factor {
  Value* value = nullptr;
  int power = 1;  // +1 multiplies, -1 divides
};

struct Product {
  double coefficient = 1;       // scalar constants multiplied in
  std::vector<Factor> factors;  // everything else
  std::vector<Node*> nodes;     // expanded nodes, root first
};

struct Term {
  Value* value = nullptr;
  int sign = 1;
};

struct Sum {
  double constant = 0;       // scalar constants added in
  std::vector<Term> terms;   // everything else
  std::vector<Node*> nodes;  // expanded nodes, root first
};

Product flatten_product(const Graph& graph, Value* root);
Sum flatten_sum(const Graph& graph, Value* root);

// Relative comparison used for the magic numbers of formulas (0.5, 0.7978...).
bool near(double a, double b, double rel_tol = 1e-3);

}  // namespace vdrt
