#include "passes/symbolic_shapes.h"

#include <algorithm>
#include <map>
#include <set>

#include "passes/rewrite.h"

namespace vdrt {
namespace {

// A product as integer coefficient times a sorted multiset of symbol atoms.
struct Monomial {
  int64_t coeff = 1;
  std::vector<std::string> atoms;
};

// Splits "a*(b+c)*d" at top-level '*'.
std::vector<std::string> split_product(const std::string& s) {
  std::vector<std::string> parts;
  int depth = 0;
  std::string cur;
  for (char c : s) {
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (c == '*' && depth == 0) {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  parts.push_back(cur);
  return parts;
}

std::optional<Monomial> to_monomial(const Dim& d) {
  Monomial m;
  if (d.is_symbol() && d.name() == "-1") return std::nullopt;  // the infer marker is no size
  if (d.known()) {
    m.coeff = d.value();
    return m;
  }
  if (!d.is_symbol()) return std::nullopt;
  for (std::string part : split_product(d.name())) {
    // "(T+S)" and "T+S" are the same atom.
    if (part.size() > 2 && part.front() == '(' && part.back() == ')' &&
        split_product(part.substr(1, part.size() - 2)).size() == 1)
      part = part.substr(1, part.size() - 2);
    // Numbers fold into the coefficient; absurdly long ones stay opaque atoms.
    bool digits = !part.empty() && part.size() <= 15 &&
                  std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!digits) m.atoms.push_back(part);
    else if (__builtin_mul_overflow(m.coeff, std::stoll(part), &m.coeff)) return std::nullopt;
  }
  std::sort(m.atoms.begin(), m.atoms.end());
  return m;
}

Dim from_monomial(const Monomial& m) {
  if (m.atoms.empty()) return Dim(m.coeff);
  std::string s = m.coeff == 1 ? "" : std::to_string(m.coeff);
  for (const auto& a : m.atoms) s += (s.empty() ? "" : "*") + a;
  return Dim::symbol(s);
}

bool is_int_tensor(const Value* v) { return v && is_integer(v->dtype()); }

std::optional<int64_t> scalar_int(const Value* v) {
  auto c = int_constant(v);
  if (!c || c->size() != 1) return std::nullopt;
  return (*c)[0];
}

// Python-style slice bounds clamping, as ONNX Slice defines it.
std::optional<Dims> slice_dims(const Dims& in, int64_t start, int64_t end, int64_t step) {
  int64_t n = static_cast<int64_t>(in.size());
  if (step == 0) return std::nullopt;
  auto clamp = [&](int64_t i, int64_t lo, int64_t hi) {
    if (i < 0) i += n;
    return std::min(std::max(i, lo), hi);
  };
  Dims out;
  if (step > 0) {
    for (int64_t i = clamp(start, 0, n), e = clamp(end, 0, n); i < e; i += step) out.push_back(in[i]);
  } else {
    for (int64_t i = clamp(start, -1, n - 1), e = clamp(end, -1, n - 1); i > e; i += step) out.push_back(in[i]);
  }
  return out;
}

// Elements ONNX Slice picks from an axis of n (step != 0).
int64_t slice_length(int64_t n, int64_t start, int64_t end, int64_t step) {
  auto clamp = [&](int64_t i, int64_t lo, int64_t hi) {
    if (i < 0) i = i < -n ? lo : i + n;  // no overflow for INT64_MIN
    return std::min(std::max(i, lo), hi);
  };
  if (step > 0) {
    int64_t s = clamp(start, 0, n), e = clamp(end, 0, n);
    return e > s ? (e - s + step - 1) / step : 0;
  }
  int64_t s = clamp(start, -1, n - 1), e = clamp(end, -1, n - 1);
  return s > e ? (s - e + (-step) - 1) / (-step) : 0;
}

std::optional<Dims> shape_tensor_impl(const Value* v, int depth);

std::optional<Dims> eval_node(const Node& n, int depth) {
  const std::string& op = n.op_type();
  if (!n.domain().empty()) return std::nullopt;
  if (op == "Shape") {
    auto d = symbolic_dims(n.input(0));
    if (!d) return std::nullopt;
    int64_t rank = static_cast<int64_t>(d->size());
    int64_t start = n.attrs().get_int("start", 0), end = n.attrs().get_int("end", rank);
    return slice_dims(*d, start, end, 1);
  }
  if (op == "Size") {
    auto d = symbolic_dims(n.input(0));
    if (!d) return std::nullopt;
    return Dims{product_dim(*d)};
  }
  if (op == "Identity" || op == "Cast") {
    return shape_tensor_impl(n.input(0), depth + 1);
  }
  if (op == "Concat") {
    Dims out;
    for (Value* in : n.inputs()) {
      auto d = shape_tensor_impl(in, depth + 1);
      if (!d) return std::nullopt;
      out.insert(out.end(), d->begin(), d->end());
    }
    return out;
  }
  if (op == "Unsqueeze" || op == "Squeeze") {
    // On shape tensors these only move between a scalar and one element.
    return shape_tensor_impl(n.input(0), depth + 1);
  }
  if (op == "Gather") {
    if (n.attrs().get_int("axis", 0) != 0) return std::nullopt;
    auto data = shape_tensor_impl(n.input(0), depth + 1);
    auto idx = int_constant(n.input(1));
    if (!data || !idx) return std::nullopt;
    Dims out;
    int64_t size = static_cast<int64_t>(data->size());
    for (int64_t i : *idx) {
      if (i < 0) i += size;
      if (i < 0 || i >= size) return std::nullopt;
      out.push_back((*data)[i]);
    }
    return out;
  }
  if (op == "Slice") {
    auto data = shape_tensor_impl(n.input(0), depth + 1);
    if (!data) return std::nullopt;
    int64_t start = 0, end = 0, step = 1;
    if (n.inputs().size() >= 3) {  // opset >= 10: starts/ends/axes/steps as inputs
      auto s = scalar_int(n.input(1)), e = scalar_int(n.input(2));
      if (!s || !e) return std::nullopt;
      start = *s;
      end = *e;
      if (n.input(3)) {
        auto a = scalar_int(n.input(3));
        if (!a || (*a != 0 && *a != -1)) return std::nullopt;
      }
      if (n.input(4)) {
        auto st = scalar_int(n.input(4));
        if (!st) return std::nullopt;
        step = *st;
      }
    } else {
      auto s = n.attrs().get_ints("starts", {}), e = n.attrs().get_ints("ends", {});
      if (s.size() != 1 || e.size() != 1) return std::nullopt;
      start = s[0];
      end = e[0];
    }
    return slice_dims(*data, start, end, step);
  }
  return std::nullopt;
}

std::optional<Dims> shape_tensor_impl(const Value* v, int depth) {
  if (!v || depth > 64 || !is_int_tensor(v)) return std::nullopt;
  if (v->is_constant()) {
    const Tensor& t = v->constant();
    if (t.dims().size() > 1) return std::nullopt;
    Dims out;
    for (int64_t x : t.as_int64()) {
      if (x < -1) return std::nullopt;  // not a dim; nothing here reads such tensors
      out.push_back(x == -1 ? infer_dim() : Dim(x));
    }
    return out;
  }
  if (!v->producer()) return std::nullopt;
  return eval_node(*v->producer(), depth);
}

std::optional<Dims> derive_dims(const Value* v, int depth);

std::optional<Dims> dims_impl(const Value* v, int depth) {
  if (!v) return std::nullopt;
  const Shape& inferred = v->shape();
  bool complete = inferred.rank_known() &&
                  std::none_of(inferred.dims().begin(), inferred.dims().end(), [](const Dim& x) { return x.unknown(); });
  // Fill unknown dims (or an unknown rank) from what the producer lets us derive.
  std::optional<Dims> derived = complete || depth > 64 ? std::nullopt : derive_dims(v, depth);
  if (!inferred.rank_known() && !derived) return std::nullopt;
  Dims d = inferred.rank_known() ? inferred.dims() : *derived;
  for (size_t i = 0; i < d.size(); ++i) {
    if (!d[i].unknown()) continue;
    if (derived && derived->size() == d.size() && !(*derived)[i].unknown()) d[i] = (*derived)[i];
    else d[i] = Dim::symbol("?" + v->name() + "[" + std::to_string(i) + "]");
  }
  return d;
}

std::optional<Dims> derive_dims(const Value* v, int depth) {
  const Node* n = v->producer();
  if (!n || !n->domain().empty() || n->output(0) != v) return std::nullopt;
  if (n->op_type() == "Transpose") {
    auto in = dims_impl(n->input(0), depth + 1);
    if (!in) return std::nullopt;
    std::vector<int64_t> perm = n->attrs().get_ints("perm", {});
    if (perm.empty())
      for (int64_t i = static_cast<int64_t>(in->size()) - 1; i >= 0; --i) perm.push_back(i);
    if (perm.size() != in->size()) return std::nullopt;
    Dims out;
    for (int64_t p : perm) {
      if (p < 0 || p >= static_cast<int64_t>(in->size())) return std::nullopt;
      out.push_back((*in)[p]);
    }
    return out;
  }
  if (n->op_type() == "Reshape") {
    auto in = dims_impl(n->input(0), depth + 1);
    auto target = shape_tensor_dims(n->input(1));
    if (!in || !target) return std::nullopt;
    return reshape_dims(*in, *target, n->attrs().get_int("allowzero", 0) != 0);
  }
  const std::string& op = n->op_type();
  // Ops whose first output has their first input's shape (RoPE, activations,
  // normalisations, casts sit between a view() and the attention).
  static const std::set<std::string> same_shape = {
      "Identity", "Cast", "CastLike", "Neg", "Abs", "Relu", "Sigmoid", "Tanh", "Erf", "Exp", "Log", "Sqrt",
      "Reciprocal", "Sin", "Cos", "Softmax", "LogSoftmax", "Dropout", "LayerNormalization", "RMSNormalization",
      "InstanceNormalization", "Gelu", "LeakyRelu", "Clip", "Floor", "Ceil", "Round", "Sign", "Not"};
  if (same_shape.count(op) && n->input(0)) return dims_impl(n->input(0), depth + 1);
  // Multidirectional broadcasting, with dims compared symbolically.
  static const std::set<std::string> broadcasting = {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min",
                                                     "Where", "Equal", "Less", "Greater", "And", "Or", "Mod"};
  if (broadcasting.count(op) && !n->inputs().empty()) {
    std::optional<Dims> out;
    for (Value* i : n->inputs()) {
      auto x = dims_impl(i, depth + 1);
      if (!x) return std::nullopt;
      if (!out) { out = x; continue; }
      Dims a = *out, b = *x;
      if (a.size() < b.size()) std::swap(a, b);
      b.insert(b.begin(), a.size() - b.size(), Dim(1));
      for (size_t k = 0; k < a.size(); ++k) {
        if (a[k].known() && a[k].value() == 1) a[k] = b[k];
        else if (b[k].known() && b[k].value() == 1) continue;
        else if (same_dim(a[k], b[k]) || a[k].known()) continue;
        else if (b[k].known()) a[k] = b[k];
        else a[k] = Dim();  // two different symbols: left to the placeholder
      }
      out = a;
    }
    return out;
  }
  if (op == "Slice" && n->inputs().size() >= 3) {  // opset >= 10, constant starts/ends/axes/steps
    auto in = dims_impl(n->input(0), depth + 1);
    auto starts = int_constant(n->input(1)), ends = int_constant(n->input(2));
    if (!in || !starts || !ends || starts->size() != ends->size()) return std::nullopt;
    const int64_t rank = static_cast<int64_t>(in->size());
    std::vector<int64_t> axes, steps(starts->size(), 1);
    if (n->inputs().size() > 3 && n->input(3)) {
      auto a = int_constant(n->input(3));
      if (!a || a->size() != starts->size()) return std::nullopt;
      axes = *a;
    } else {
      for (size_t k = 0; k < starts->size(); ++k) axes.push_back(static_cast<int64_t>(k));
    }
    if (n->inputs().size() > 4 && n->input(4)) {
      auto st = int_constant(n->input(4));
      if (!st || st->size() != starts->size()) return std::nullopt;
      steps = *st;
    }
    Dims out = *in;
    for (size_t k = 0; k < axes.size(); ++k) {
      int64_t ax = axes[k] < 0 ? axes[k] + rank : axes[k];
      if (ax < 0 || ax >= rank || steps[k] == 0) return std::nullopt;
      const Dim& d = (*in)[ax];
      if (d.known()) {
        out[ax] = Dim(slice_length(d.value(), (*starts)[k], (*ends)[k], steps[k]));
      } else if ((*starts)[k] == 0 && steps[k] == 1 && (*ends)[k] >= (int64_t{1} << 62)) {
        out[ax] = d;  // the whole axis
      } else {
        out[ax] = Dim();
      }
    }
    return out;
  }
  if (op == "Concat" && !n->inputs().empty()) {
    std::vector<Dims> ins;
    for (Value* i : n->inputs()) {
      auto x = dims_impl(i, depth + 1);
      if (!x || (!ins.empty() && x->size() != ins[0].size())) return std::nullopt;
      ins.push_back(*x);
    }
    int64_t rank = static_cast<int64_t>(ins[0].size());
    int64_t axis = n->attrs().get_int("axis", 0);
    if (axis < 0) axis += rank;
    if (axis < 0 || axis >= rank) return std::nullopt;
    Dims out = ins[0];
    for (size_t k = 1; k < ins.size(); ++k) out[axis] = out[axis] + ins[k][axis];
    return out;
  }
  return std::nullopt;
}

}  // namespace

std::optional<Dims> symbolic_dims(const Value* v) { return dims_impl(v, 0); }

Dim infer_dim() { return Dim::symbol("-1"); }
bool is_infer_dim(const Dim& d) { return d.is_symbol() && d.name() == "-1"; }

std::optional<std::vector<int64_t>> concrete_values(const Dims& d) {
  std::vector<int64_t> out;
  for (const Dim& x : d) {
    if (is_infer_dim(x)) out.push_back(-1);
    else if (x.known()) out.push_back(x.value());
    else return std::nullopt;
  }
  return out;
}

std::optional<Dims> shape_tensor_dims(const Value* v) { return shape_tensor_impl(v, 0); }

Dim product_dim(const Dims& dims) {
  Monomial m;
  for (const Dim& d : dims) {
    auto x = to_monomial(d);
    if (!x || __builtin_mul_overflow(m.coeff, x->coeff, &m.coeff)) return Dim();
    m.atoms.insert(m.atoms.end(), x->atoms.begin(), x->atoms.end());
  }
  std::sort(m.atoms.begin(), m.atoms.end());
  return from_monomial(m);
}

bool same_dim(const Dim& a, const Dim& b) {
  if (a.unknown() || b.unknown()) return false;
  if (a.known() || b.known()) return a.known() && b.known() && a.value() == b.value();
  auto x = to_monomial(a), y = to_monomial(b);
  return x && y && x->coeff == y->coeff && x->atoms == y->atoms;
}

bool same_dims(const Dims& a, const Dims& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!same_dim(a[i], b[i])) return false;
  return true;
}

bool all_known(const Dims& d) {
  return std::all_of(d.begin(), d.end(), [](const Dim& x) { return x.known(); });
}

std::optional<Dims> reshape_dims(const Dims& input, const Dims& target, bool allowzero) {
  Dims out = target;
  int infer_at = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (is_infer_dim(out[i])) {
      if (infer_at >= 0) return std::nullopt;
      infer_at = static_cast<int>(i);
    } else if (out[i].known() && out[i].value() == 0 && !allowzero) {
      if (i >= input.size()) return std::nullopt;
      out[i] = input[i];
    } else if (out[i].unknown()) {
      return std::nullopt;
    }
  }
  if (infer_at < 0) return out;
  auto total = to_monomial(product_dim(input));
  Dims rest;
  for (size_t i = 0; i < out.size(); ++i)
    if (static_cast<int>(i) != infer_at) rest.push_back(out[i]);
  auto known = to_monomial(product_dim(rest));
  if (!total || !known || known->coeff == 0 || total->coeff % known->coeff != 0) return std::nullopt;
  Monomial q;
  q.coeff = total->coeff / known->coeff;
  q.atoms = total->atoms;
  for (const auto& a : known->atoms) {
    auto it = std::find(q.atoms.begin(), q.atoms.end(), a);
    if (it == q.atoms.end()) return std::nullopt;
    q.atoms.erase(it);
  }
  out[infer_at] = from_monomial(q);
  return out;
}

}  // namespace vdrt
