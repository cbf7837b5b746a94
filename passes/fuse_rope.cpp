// fuse-rope: rewrites rotary position embeddings written out elementwise
// into one RotaryEmbedding node (ONNX opset >= 23) or vdrt.RotaryEmbedding,
// its twin with the same semantics for older models. Two spellings:
//
//  * interleaved (Wan's complex form in real arithmetic, tiny_wan.apply_rope):
//      P = Reshape(x, [..., D/2, 2]); re = Gather(P, 0, last axis), im = Gather(P, 1, last axis)
//      Concat(Unsqueeze(re*cos - im*sin, -1), Unsqueeze(re*sin + im*cos, -1), -1) [-> Reshape]
//  * rotate-half (GPT-NeoX / Llama):
//      x*cos + Concat(-x[..., D/2:], x[..., :D/2], -1)*sin
//    with cos/sin full width, whose halves must provably be equal (a constant
//    checked element by element, or Cos/Sin of Concat(f, f) on the last axis,
//    through row selections (Slice, Gather) and views that keep the last axis).
//
// x is [B, S, N, D] (the op takes it as 3-D [B, S, N*D]) or [B, N, S, D] (4-D,
// as is); cos/sin must broadcast over the heads and match D/2 (interleaved)
// or D (rotate-half) in the last axis; they become [B, S, D/2] caches
// (Reshape, and Expand when they broadcast over B or S, or over x's S at run
// time when their length is not provably x's) shared by every use. Products and sums may come in any order. B and S may be symbolic
// (views then copy them with Reshape's 0, caches take -1); heads, D and the
// cos/sin batch must be static, x f32 (the kernels' type). Anything else that
// still looks like RoPE is left alone and reported through explain.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "passes/pass_registry.h"
#include "passes/pattern.h"
#include "passes/rewrite.h"
#include "passes/symbolic_shapes.h"

namespace vdrt {
namespace {

Node* producer_op(const Value* v, const char* op) {
  Node* n = v ? v->producer() : nullptr;
  return n && n->domain().empty() && n->op_type() == op ? n : nullptr;
}

std::optional<std::vector<int64_t>> static_dims(const Value* v) {
  if (!v || !v->shape().rank_known() || !v->shape().fully_known()) return std::nullopt;
  return v->shape().concrete();
}

bool is_one(const Dim& d) { return d.known() && d.value() == 1; }
// Equal dims: the same number, or the same symbol.
bool dim_eq(const Dim& a, const Dim& b) { return (a.known() && b.known() && a.value() == b.value()) || same_dim(a, b); }
bool dims_eq(const std::optional<Dims>& a, const Dims& b) {
  if (!a || a->size() != b.size()) return false;
  for (size_t i = 0; i < b.size(); ++i)
    if (!dim_eq((*a)[i], b[i])) return false;
  return true;
}
std::string dims_text(const Dims& d) { return Shape(d).str(); }

// The axis attribute or axes input of `n` as one normalized axis, given the rank.
std::optional<int64_t> single_axis(const Node& n, int64_t rank) {
  std::vector<int64_t> axes;
  if (n.attrs().has("axes")) axes = n.attrs().get_ints("axes");
  else if (n.attrs().has("axis")) axes = {n.attrs().get_int("axis")};
  else if (auto c = int_constant(n.input(1))) axes = *c;
  if (axes.size() != 1) return std::nullopt;
  return axes[0] < 0 ? axes[0] + rank : axes[0];
}

// Mul(a, b) -> {a, b}.
bool mul_operands(const Value* v, Value*& a, Value*& b, Node*& node) {
  node = producer_op(v, "Mul");
  if (!node || node->inputs().size() != 2) return false;
  a = node->input(0);
  b = node->input(1);
  return true;
}

// Within {a, b}, which one is `want`: the other, or nullptr.
Value* other_of(Value* a, Value* b, const Value* want) { return a == want ? b : b == want ? a : nullptr; }

// Whether the two halves of `v` along its last axis are provably equal.
bool halves_equal(const Value* v, int depth = 0) {
  if (!v || depth > 6) return false;
  if (v->is_constant()) {
    const Tensor& t = v->constant();
    if (t.dtype() != DType::F32 || t.dims().empty()) return false;
    const int64_t d = t.dims().back();
    if (d % 2) return false;
    const float* p = t.data<float>();
    for (int64_t r = 0; r < t.numel() / d; ++r)
      for (int64_t i = 0; i < d / 2; ++i)
        if (p[r * d + i] != p[r * d + d / 2 + i]) return false;
    return true;
  }
  Node* n = v->producer();
  if (!n || !n->domain().empty()) return false;
  const std::string& op = n->op_type();
  if (op == "Concat" && n->inputs().size() == 2 && n->input(0) == n->input(1) && v->shape().rank_known()) {
    auto axis = single_axis(*n, static_cast<int64_t>(v->shape().rank()));
    return axis && *axis == static_cast<int64_t>(v->shape().rank()) - 1;
  }
  // Elementwise maps and views that keep the last axis whole.
  const Value* in = n->input(0);
  const bool last_kept = in && in->shape().rank_known() && v->shape().rank_known() && in->shape().rank() > 0 &&
                         v->shape().rank() > 0 && in->shape()[in->shape().rank() - 1] == v->shape()[v->shape().rank() - 1] &&
                         in->shape()[in->shape().rank() - 1].known();
  if (op == "Cos" || op == "Sin" || op == "Cast" || op == "Identity") return halves_equal(in, depth + 1);
  if ((op == "Unsqueeze" || op == "Reshape" || op == "Expand") && last_kept) return halves_equal(in, depth + 1);
  if ((op == "Mul" || op == "Div") && n->inputs().size() == 2 && scalar_constant(n->input(1)) && last_kept)
    return halves_equal(in, depth + 1);
  if (op == "Slice" && last_kept && n->inputs().size() >= 4 && in->shape().rank_known()) {  // rows of a table
    auto axes = int_constant(n->input(3));
    const int64_t r = static_cast<int64_t>(in->shape().rank());
    bool rows_only = axes.has_value();
    for (int64_t a : axes.value_or(std::vector<int64_t>{})) rows_only &= (a < 0 ? a + r : a) != r - 1;
    return rows_only && halves_equal(in, depth + 1);
  }
  if (op == "Gather" && last_kept && in->shape().rank_known()) {  // table[position_ids]
    const int64_t r = static_cast<int64_t>(in->shape().rank());
    const int64_t a = n->attrs().get_int("axis", 0);
    return (a < 0 ? a + r : a) != r - 1 && halves_equal(in, depth + 1);
  }
  return false;
}

// Whether `a` and `b` have the same shape whatever the inputs: the same value,
// or the same shape-keeping chain (elementwise maps, views with the same
// arguments) from one value or from constants of one shape, as cos and sin
// computed from one angle tensor or sliced from two tables.
bool same_shape_chain(const Value* a, const Value* b, int depth = 0) {
  if (a == b) return true;
  if (!a || !b || depth > 8) return false;
  if (a->is_constant() && b->is_constant()) return a->constant().dims() == b->constant().dims();
  const Node* p = a->producer();
  const Node* q = b->producer();
  if (!p || !q || !p->domain().empty() || !q->domain().empty()) return false;
  static const std::set<std::string> unary{"Cos", "Sin", "Neg", "Cast", "Identity"};
  if (unary.count(p->op_type()) && unary.count(q->op_type()))
    return (p->op_type() != "Cast" || p->attrs().get_int("to", 0) == q->attrs().get_int("to", 0)) &&
           same_shape_chain(p->input(0), q->input(0), depth + 1);
  static const std::set<std::string> views{"Unsqueeze", "Squeeze", "Reshape", "Expand", "Slice"};
  if (p->op_type() != q->op_type() || !views.count(p->op_type()) || p->inputs().size() != q->inputs().size())
    return false;
  for (size_t i = 1; i < p->inputs().size(); ++i)
    if (p->input(i) != q->input(i)) return false;
  for (const char* attr : {"axes", "allowzero"})
    if (p->attrs().has(attr) != q->attrs().has(attr) ||
        (p->attrs().has(attr) && attribute_str(p->attrs().all().at(attr)) != attribute_str(q->attrs().all().at(attr))))
      return false;
  return same_shape_chain(p->input(0), q->input(0), depth + 1);
}

struct RopeMatch {
  bool interleaved = true;
  Value* x = nullptr;                  // the unrotated tensor, [B, S, N, D] or [B, N, S, D] as data
  Dims dims;                           // x's 4 dims in that order (B and S may be symbolic)
  bool heads_first = false;            // [B, N, S, D]
  Value* cos = nullptr;
  Value* sin = nullptr;
  bool halve_caches = false;           // rotate-half: caches are full width with equal halves
  bool seq_unproven = false;           // the tables' sequence dim is not known equal to x's: expand to it
  Node* root = nullptr;                // replaced by a Reshape of the op's output
  Value* out_shape = nullptr;          // the root's own Reshape target, reused when its dims are symbolic
  std::vector<Node*> nodes;            // everything the rewrite replaces
};

class FuseRope final : public Pass {
 public:
  std::string name() const override { return "fuse-rope"; }
  std::string description() const override {
    return "Rewrites rotary position embeddings written out elementwise (Wan's interleaved pairs, or "
           "rotate-half) into one RotaryEmbedding node (vdrt.RotaryEmbedding below opset 23).";
  }
  std::vector<OptionSpec> option_specs() const override {
    return {{"interleaved", true, "Fuse the interleaved (adjacent pairs, complex) form."},
            {"rotate_half", true, "Fuse the rotate-half form."},
            {"onnx_ops", true, "Emit ONNX RotaryEmbedding when the model's opset has it; false always emits "
                               "vdrt.RotaryEmbedding."}};
  }

  bool run(Graph& graph, PassContext& ctx) override {
    caches_.clear();
    return rewrite_sweep(graph, false, [&](Node& n, const std::set<Node*>& gone) -> std::optional<std::vector<Node*>> {
      if (!n.domain().empty() || n.outputs().size() != 1) return std::nullopt;
      std::optional<RopeMatch> m;
      if (n.op_type() == "Concat" && opt_bool("interleaved")) m = match_interleaved(graph, n, ctx);
      else if (n.op_type() == "Add" && opt_bool("rotate_half")) m = match_rotate_half(graph, n, ctx);
      if (!m) return std::nullopt;
      for (Node* x : m->nodes)
        if (gone.count(x)) return std::nullopt;  // overlaps a rewrite of this sweep
      rewrite(graph, *m, ctx);
      return m->nodes;
    });
  }

 private:
  // The cos/sin layout against x's [d0, d1, d2, half-or-D] view: which axis
  // is the sequence. False (with why) when they vary across heads.
  static bool place_caches(RopeMatch& m, int64_t cache_width, std::string& why) {
    auto cd = symbolic_dims(m.cos), sd = symbolic_dims(m.sin);
    if (!cd || !sd) return why = "the rank of cos/sin is not known", false;
    if (!dims_eq(cd, *sd) && !same_shape_chain(m.cos, m.sin)) return why = "cos and sin have different shapes " + dims_text(*cd) + ", " + dims_text(*sd), false;
    if (cd->size() > 4 || cd->empty()) return why = "cos/sin have rank " + std::to_string(cd->size()), false;
    Dims c(4 - cd->size(), Dim(1));
    c.insert(c.end(), cd->begin(), cd->end());
    if (!c[3].known() || c[3].value() != cache_width)
      return why = "cos/sin last dim is " + c[3].str() + ", not " + std::to_string(cache_width), false;
    // A dim of cos/sin equals x's, or is 1 and x's is static (the cache is then expanded).
    auto fits = [&](const Dim& have, const Dim& want) { return dim_eq(have, want) || (is_one(have) && want.known()); };
    // The sequence dim may also be unknown, or 1 against a symbolic S: it is then S or 1
    // (the graph broadcasts it against x), and the cache is expanded to x's S at run
    // time, which is exact either way.
    auto fits_seq = [&](const Dim& have, const Dim& want) { return fits(have, want) || !have.known() || is_one(have); };
    if (!c[0].known()) return why = "cos/sin batch " + c[0].str() + " is not static", false;
    if (!fits(c[0], m.dims[0])) return why = "cos/sin batch " + c[0].str() + " does not broadcast to " + m.dims[0].str(), false;
    if (is_one(c[2]) && fits_seq(c[1], m.dims[1])) m.heads_first = false;
    else if (is_one(c[1]) && fits_seq(c[2], m.dims[2])) m.heads_first = true;
    else return why = "cos/sin " + dims_text(*cd) + " vary across heads of x " + dims_text(m.dims), false;
    m.seq_unproven = !fits(m.heads_first ? c[2] : c[1], m.heads_first ? m.dims[2] : m.dims[1]);
    const Dim& heads = m.heads_first ? m.dims[1] : m.dims[2];
    if (!heads.known()) return why = "the number of heads " + heads.str() + " is not static", false;
    return true;
  }

  // Whether x's data can be given to the op as [B, S, N*D] (or [B, N, S, D]).
  static bool x_viewable(const RopeMatch& m, std::string& why) {
    auto xd = symbolic_dims(m.x);
    if (m.heads_first) {
      if (dims_eq(xd, m.dims) || all_known(m.dims)) return true;
    } else if (all_known(m.dims) || (xd && xd->size() >= 2 && dim_eq((*xd)[0], m.dims[0]) && dim_eq((*xd)[1], m.dims[1]))) {
      return true;
    }
    why = "x " + (xd ? dims_text(*xd) : std::string("of unknown rank")) + " cannot be viewed as " + dims_text(m.dims) +
          " without static dims";
    return false;
  }

  std::optional<RopeMatch> match_interleaved(const Graph& graph, Node& concat, PassContext& ctx) const {
    if (concat.inputs().size() != 2) return std::nullopt;
    Node* u0 = producer_op(concat.input(0), "Unsqueeze");
    Node* u1 = producer_op(concat.input(1), "Unsqueeze");
    if (!u0 || !u1) return std::nullopt;
    Node* sub = producer_op(u0->input(0), "Sub");
    Node* add = producer_op(u1->input(0), "Add");
    if (!sub || !add) return std::nullopt;
    Value *a1, *a2, *b1, *b2, *c1, *c2, *d1, *d2;
    Node *ma, *mb, *mc, *md;
    if (!mul_operands(sub->input(0), a1, a2, ma) || !mul_operands(sub->input(1), b1, b2, mb) ||
        !mul_operands(add->input(0), c1, c2, mc) || !mul_operands(add->input(1), d1, d2, md))
      return std::nullopt;
    // From here on it is a rotation of pairs in all but the details.
    auto miss = [&](const std::string& why) {
      ctx.explain(concat, "looks like an interleaved RoPE but " + why + "; not fused");
      return std::nullopt;
    };
    // re and im: element 0 / 1 of P's last axis, P = [..., D/2, 2]: Gather(P, k) (indexing),
    // or Squeeze of Slice(P, k, k+1) or of Split(P) output k (unbind).
    auto pair_part = [](Value* v, int64_t which, std::vector<Node*>& nodes) -> Value* {
      auto pairs_of = [](const Value* p) -> int64_t {  // P's rank when its last dim is 2, else 0
        if (!p || !p->shape().rank_known() || p->shape().rank() == 0) return 0;
        const Dim& last = p->shape()[p->shape().rank() - 1];
        return last.known() && last.value() == 2 ? static_cast<int64_t>(p->shape().rank()) : 0;
      };
      if (Node* n = producer_op(v, "Gather")) {
        const int64_t rank = pairs_of(n->input(0));
        auto idx = int_constant(n->input(1));
        int64_t axis = n->attrs().get_int("axis", 0);
        if (axis < 0) axis += rank;
        if (!rank || axis != rank - 1 || !idx || idx->size() != 1 || n->input(1)->shape().rank() != 0 ||
            (*idx)[0] != which)
          return nullptr;
        nodes.push_back(n);
        return n->input(0);
      }
      Node* sq = producer_op(v, "Squeeze");
      if (!sq) return nullptr;
      Value* part = sq->input(0);
      const int64_t prank = part && part->shape().rank_known() ? static_cast<int64_t>(part->shape().rank()) : 0;
      auto sq_axis = single_axis(*sq, prank);
      if (!prank || !sq_axis || *sq_axis != prank - 1) return nullptr;
      if (Node* sl = producer_op(part, "Slice")) {
        const int64_t rank = pairs_of(sl->input(0));
        if (!rank || sl->inputs().size() < 4 || (sl->inputs().size() > 4 && sl->input(4))) return nullptr;
        auto st = int_constant(sl->input(1)), en = int_constant(sl->input(2)), ax = int_constant(sl->input(3));
        if (!st || !en || !ax || st->size() != 1 || en->size() != 1 || ax->size() != 1) return nullptr;
        const int64_t a = (*ax)[0] < 0 ? (*ax)[0] + rank : (*ax)[0];
        const int64_t b = (*st)[0] < 0 ? (*st)[0] + 2 : (*st)[0];
        const int64_t e = std::min<int64_t>((*en)[0] < 0 ? (*en)[0] + 2 : (*en)[0], 2);
        if (a != rank - 1 || b != which || e != which + 1) return nullptr;
        nodes.insert(nodes.end(), {sq, sl});
        return sl->input(0);
      }
      if (Node* sp = producer_op(part, "Split")) {
        const int64_t rank = pairs_of(sp->input(0));
        int64_t axis = sp->attrs().get_int("axis", 0);
        if (axis < 0) axis += rank;
        if (!rank || axis != rank - 1 || sp->outputs().size() != 2 || sp->output(which) != part) return nullptr;
        nodes.insert(nodes.end(), {sq, sp});
        return sp->input(0);
      }
      return nullptr;
    };
    std::vector<Node*> parts;
    Value *re = nullptr, *im = nullptr, *cos = nullptr, *sin = nullptr, *p0 = nullptr, *p1 = nullptr;
    for (Value* cand : {a1, a2})
      if (!re && (p0 = pair_part(cand, 0, parts))) { re = cand; cos = other_of(a1, a2, cand); }
    for (Value* cand : {b1, b2})
      if (!im && (p1 = pair_part(cand, 1, parts))) { im = cand; sin = other_of(b1, b2, cand); }
    if (!re || !im) return miss("the rotated values are not elements 0 and 1 of a last axis of 2 (Gather, Slice or Split)");
    if (p0 != p1) return miss("re and im come from different tensors");
    // imag = re*sin + im*cos, the two products in either order.
    auto is_pair = [](Value* p, Value* q, Value* u, Value* w) { return (p == u && q == w) || (p == w && q == u); };
    const bool imag_ok = (is_pair(c1, c2, re, sin) && is_pair(d1, d2, im, cos)) ||
                         (is_pair(c1, c2, im, cos) && is_pair(d1, d2, re, sin));
    if (!imag_ok) return miss("the pair is not rotated as (re*cos - im*sin, re*sin + im*cos)");
    Value* pairs = p0;
    const int64_t prank = static_cast<int64_t>(pairs->shape().rank());
    for (Node* u : {u0, u1}) {
      auto ax = single_axis(*u, prank);
      if (!ax || *ax != prank - 1) return miss("the halves are not unsqueezed on the last axis");
    }
    auto cax = single_axis(concat, prank);
    if (!cax || *cax != prank - 1) return miss("the halves are not stacked on the last axis");
    Node* split = producer_op(pairs, "Reshape");
    if (!split) return miss("the pairs do not come from a Reshape of x");
    auto pd = symbolic_dims(pairs);
    if (!pd || pd->size() != 5 || !(*pd)[3].known())
      return miss("the pairs tensor is not [B, S, N, D/2, 2] with a static D");
    RopeMatch m;
    m.x = split->input(0);
    m.dims.assign(pd->begin(), pd->end() - 1);
    const int64_t half = m.dims[3].value();
    m.dims[3] = Dim(2 * half);
    if (m.x->dtype() != DType::F32) return miss("x is " + std::string(dtype_name(m.x->dtype())) + ", not f32");
    m.cos = cos;
    m.sin = sin;
    std::string why;
    if (!place_caches(m, half, why) || !x_viewable(m, why)) return miss(why);
    m.nodes = {&concat, u0, u1, sub, add, ma, mb, mc, md, split};
    m.nodes.insert(m.nodes.end(), parts.begin(), parts.end());
    // A Reshape that only merges the stacked pairs back is absorbed.
    m.root = &concat;
    if (Node* after = sole_consumer(graph, concat.output(0)); after && after->domain().empty() &&
                                                                 after->op_type() == "Reshape" &&
                                                                 after->input(0) == concat.output(0)) {
      m.root = after;
      m.nodes.push_back(after);
    }
    if (!static_dims(m.root->output(0))) {
      // Symbolic B or S: the root's own target, when its zeros copy only B and S.
      auto target = m.root == &concat ? std::nullopt : shape_tensor_dims(m.root->input(1));
      bool ok = target && m.root->attrs().get_int("allowzero", 0) == 0;
      for (size_t i = 2; ok && i < target->size(); ++i) ok = !((*target)[i].known() && (*target)[i].value() == 0);
      if (m.root == &concat) ok = true;  // [0, 0, ...] then keeps B and S
      if (!ok) return miss("the result's shape is neither static nor a target that keeps B and S");
      if (m.root != &concat) m.out_shape = m.root->input(1);
    }
    std::vector<Node*> uniq;
    for (Node* n : m.nodes)
      if (std::find(uniq.begin(), uniq.end(), n) == uniq.end()) uniq.push_back(n);
    if (!interior_is_private(graph, uniq, m.root, &why)) return miss(why);
    m.nodes = uniq;
    return m;
  }

  std::optional<RopeMatch> match_rotate_half(const Graph& graph, Node& add, PassContext& ctx) const {
    if (add.inputs().size() != 2) return std::nullopt;
    Value *a1, *a2, *b1, *b2;
    Node *ma, *mb;
    if (!mul_operands(add.input(0), a1, a2, ma) || !mul_operands(add.input(1), b1, b2, mb)) return std::nullopt;
    // One product is rotated * sin with rotated = Concat(Neg(x2), x1), the other x * cos.
    Node* cat = nullptr;
    Node *m_rot = nullptr, *m_x = nullptr;
    Value *x = nullptr, *cos = nullptr, *sin = nullptr;
    for (int pick = 0; pick < 2 && !cat; ++pick) {
      Value *p1 = pick ? b1 : a1, *p2 = pick ? b2 : a2, *q1 = pick ? a1 : b1, *q2 = pick ? a2 : b2;
      for (Value* cand : {p1, p2}) {
        Node* c = producer_op(cand, "Concat");
        if (!c || c->inputs().size() != 2 || !producer_op(c->input(0), "Neg")) continue;
        cat = c;
        m_rot = pick ? mb : ma;
        m_x = pick ? ma : mb;
        sin = other_of(p1, p2, cand);
        Node* s1 = producer_op(c->input(1), "Slice");
        Value* src = s1 ? s1->input(0) : nullptr;
        if (src && (q1 == src || q2 == src)) {
          x = src;
          cos = other_of(q1, q2, src);
        }
        break;
      }
    }
    if (!cat) return std::nullopt;
    auto miss = [&](const std::string& why) {
      ctx.explain(add, "looks like a rotate-half RoPE but " + why + "; not fused");
      return std::nullopt;
    };
    if (!x) return miss("x * cos and the halves rotated are not of the same x");
    if (!halves_equal(cos) || !halves_equal(sin))
      return miss("cos/sin are full width and their two halves cannot be shown equal");
    Node* neg = producer_op(cat->input(0), "Neg");
    Node* s2 = producer_op(neg->input(0), "Slice");
    Node* s1 = producer_op(cat->input(1), "Slice");
    auto xd = symbolic_dims(x);
    if (!xd || xd->size() != 4 || !(*xd)[3].known()) return miss("x is not 4-D with a static head size");
    const int64_t d = (*xd)[3].value(), rank = 4;
    if (d % 2) return miss("the head size is odd");
    auto cax = single_axis(*cat, rank);
    if (!cax || *cax != rank - 1) return miss("the halves are not concatenated on the last axis");
    // Slice(x, starts, ends, axes[, steps]): s1 takes [0, D/2), s2 takes [D/2, D).
    auto half_of = [&](Node* s, int64_t lo, int64_t hi) {
      if (!s || s->input(0) != x || s->inputs().size() < 4) return false;
      auto st = int_constant(s->input(1)), en = int_constant(s->input(2)), ax = int_constant(s->input(3));
      if (!st || !en || !ax || st->size() != 1 || en->size() != 1 || ax->size() != 1) return false;
      if (s->inputs().size() > 4 && s->input(4)) {
        auto stp = int_constant(s->input(4));
        if (!stp || stp->size() != 1 || (*stp)[0] != 1) return false;
      }
      const int64_t a = (*ax)[0] < 0 ? (*ax)[0] + rank : (*ax)[0];
      const int64_t e = std::min((*en)[0] < 0 ? (*en)[0] + d : (*en)[0], d);
      const int64_t b = (*st)[0] < 0 ? (*st)[0] + d : (*st)[0];
      return a == rank - 1 && b == lo && e == hi;
    };
    if (!half_of(s1, 0, d / 2) || !half_of(s2, d / 2, d)) return miss("the halves are not x[..., :D/2] and x[..., D/2:]");
    if (x->dtype() != DType::F32) return miss("x is " + std::string(dtype_name(x->dtype())) + ", not f32");
    RopeMatch m;
    m.interleaved = false;
    m.x = x;
    m.dims = *xd;
    m.cos = cos;
    m.sin = sin;
    m.halve_caches = true;
    std::string why;
    if (!place_caches(m, d, why) || !x_viewable(m, why)) return miss(why);
    m.root = &add;
    m.nodes = {&add, m_rot, m_x, cat, neg, s1, s2};
    if (!interior_is_private(graph, m.nodes, m.root, &why)) return miss(why);
    return m;
  }

  // cos or sin as a [B, S, half] cache, built once per source value.
  // `x` is the op's X, whose sequence length a cache of unproven length is expanded to.
  Value* cache_of(Graph& graph, const RopeMatch& m, Value* table, Value* x) {
    const Dim b = m.dims[0], s = m.heads_first ? m.dims[2] : m.dims[1];
    const int64_t half = m.dims[3].value() / 2;
    const std::string key = table->name() + "|" + b.str() + "|" + s.str() + "|" + (m.heads_first ? "1" : "0");
    if (auto it = caches_.find(key); it != caches_.end()) return it->second;
    Dims c = *symbolic_dims(table);
    const int64_t width = c.back().value();
    c.insert(c.begin(), 4 - c.size(), Dim(1));
    const Dim cb = c[0], cs = m.heads_first ? c[2] : c[1];
    // Dims the cache is expanded along: the table's is 1 and x's larger (static, see place_caches).
    const int64_t eb = is_one(cb) && !is_one(b) ? b.value() : 1, es = !m.seq_unproven && is_one(cs) && !is_one(s) ? s.value() : 1;
    Value* v = table;
    const std::string base = table->name() + "_rope_cache";
    if (table->is_constant() && table->constant().dtype() == DType::F32 && !m.seq_unproven) {
      // A constant table becomes the cache itself: first `half` of each row, broadcast to [B, S].
      const int64_t nb = cb.value() * eb, ns = cs.value() * es;
      Tensor t(DType::F32, {nb, ns, half});
      const float* src = table->constant().data<float>();
      float* dst = t.data<float>();
      for (int64_t i = 0; i < nb; ++i)
        for (int64_t j = 0; j < ns; ++j)
          std::copy_n(src + ((eb > 1 ? 0 : i) * cs.value() + (es > 1 ? 0 : j)) * width, half, dst + (i * ns + j) * half);
      v = add_constant_fresh(graph, base, std::move(t));
    } else {
      if (m.halve_caches && width != half) {
        const int64_t r = static_cast<int64_t>(symbolic_dims(table)->size());
        v = add_node_fresh(graph, "Slice",
                           {v, add_int64s(graph, base + "_starts", {0}), add_int64s(graph, base + "_ends", {half}),
                            add_int64s(graph, base + "_axes", {r - 1})},
                           1, base + "_half")
                ->output(0);
      }
      if (!dims_eq(symbolic_dims(v), Dims{cb, cs, Dim(half)})) {
        // Every other dim of the table is 1, so [cb, -1, half] is its data as it lies.
        v = add_node_fresh(graph, "Reshape", {v, add_int64s(graph, base + "_shape", {cb.value(), -1, half})}, 1,
                           base + "_3d")
                ->output(0);
      }
      if (m.seq_unproven) {
        // [eb, S, 1] with S from x when it is not static: broadcasting [cb, S or 1, half] to it.
        Value* target;
        if (s.known()) {
          target = add_int64s(graph, base + "_expand", {eb, s.value(), 1});
        } else {
          const int64_t at = m.heads_first ? 2 : 1;
          Value* shape = add_node_fresh(graph, "Shape", {x}, 1, base + "_x_shape")->output(0);
          Value* seq = add_node_fresh(graph, "Slice",
                                      {shape, add_int64s(graph, base + "_seq_start", {at}),
                                       add_int64s(graph, base + "_seq_end", {at + 1})},
                                      1, base + "_seq")
                           ->output(0);
          target = add_node_fresh(graph, "Concat",
                                  {add_int64s(graph, base + "_eb", {eb}), seq, add_int64s(graph, base + "_one", {1})},
                                  1, base + "_expand")
                       ->output(0);
          target->producer()->attrs().set("axis", int64_t{0});
          infer_node_outputs(graph, *target->producer());
        }
        v = add_node_fresh(graph, "Expand", {v, target}, 1, base + "_bs")->output(0);
      } else if (eb > 1 || es > 1) {
        v = add_node_fresh(graph, "Expand", {v, add_int64s(graph, base + "_expand", {eb, es, half})}, 1, base + "_bs")
                ->output(0);
      }
    }
    caches_[key] = v;
    return v;
  }

  // A Reshape target taking `from`'s dims to `to`'s: the dims as numbers when
  // static, else 0 (copy) where they agree index by index and numbers elsewhere.
  static Value* view_target(Graph& graph, const std::string& base, const Dims& from, const Dims& to) {
    std::vector<int64_t> t;
    const bool fixed = all_known(to);
    for (size_t i = 0; i < to.size(); ++i) {
      if (fixed) t.push_back(to[i].value());
      else if (i < from.size() && dim_eq(from[i], to[i])) t.push_back(0);
      else t.push_back(to[i].known() ? to[i].value() : -1);
    }
    return add_int64s(graph, base, t);
  }

  void rewrite(Graph& graph, const RopeMatch& m, PassContext& ctx) {
    const bool onnx = opt_bool("onnx_ops") && graph.opset("") >= 23;
    const std::string domain = onnx ? "" : kVdrtDomain;
    if (!onnx) ensure_opset(graph, kVdrtDomain, 1);
    const int64_t heads = (m.heads_first ? m.dims[1] : m.dims[2]).value();
    // The op's X: 4-D [B, N, S, D] as is, else 3-D [B, S, N*D].
    const Dims want = m.heads_first ? m.dims : Dims{m.dims[0], m.dims[1], Dim(heads * m.dims[3].value())};
    Value* x = m.x;
    for (int hops = 0; hops < 2 && !dims_eq(symbolic_dims(x), want); ++hops) {
      Node* r = producer_op(x, "Reshape");
      if (!r || !r->input(0)) break;
      x = r->input(0);
    }
    const std::string base = m.root->name().empty() ? graph.unique_name("rope") : m.root->name();
    if (!dims_eq(symbolic_dims(x), want)) {
      const Dims from = *symbolic_dims(m.x);
      x = add_node_fresh(graph, "Reshape", {m.x, view_target(graph, base + "_x_shape", from, want)}, 1, base + "_x")
              ->output(0);
    }
    std::vector<Value*> inputs{x, cache_of(graph, m, m.cos, x), cache_of(graph, m, m.sin, x)};
    const Dims out_dims = *symbolic_dims(m.root->output(0));
    const std::string root_name = m.root->name();
    Node *rope, *fin = nullptr;
    // Rotate-half on [B, N, S, D] keeps x's shape whatever dims inference could prove of the root.
    if (dims_eq(out_dims, want) || (!m.interleaved && m.heads_first)) {  // the op produces the root's value itself
      rope = replace_producer(graph, m.root, "RotaryEmbedding", inputs, domain);
    } else {
      rope = add_node_fresh(graph, "RotaryEmbedding", inputs, 1, base + "_rope", domain);
      Value* target = m.out_shape && !all_known(out_dims) ? m.out_shape
                                                           : view_target(graph, base + "_out_shape", want, out_dims);
      fin = replace_producer(graph, m.root, "Reshape", {rope->output(0), target});
      fin->set_name(root_name.empty() ? graph.unique_name("rope_view") : root_name + "_rope_view");
    }
    rope->set_name(graph.unique_name(base + "_rope"));
    rope->attrs().set("interleaved", static_cast<int64_t>(m.interleaved ? 1 : 0));
    if (!m.heads_first) rope->attrs().set("num_heads", heads);
    infer_node_outputs(graph, *rope);
    if (fin) infer_node_outputs(graph, *fin);
    ctx.count(m.interleaved ? "interleaved ropes" : "rotate-half ropes");
  }

  std::map<std::string, Value*> caches_;
};

VDRT_REGISTER_PASS(FuseRope);

}  // namespace
}  // namespace vdrt
