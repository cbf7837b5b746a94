// fuse-group-norm: puts back GroupNorm that exporters spelled with
// InstanceNormalization (TorchScript opset 17 and dynamo opset 18 both
// write torch.nn.GroupNorm this way) into one GroupNormalization node:
//
//   Reshape(x [N, C, ...] -> [N, G, L]) -> InstanceNormalization(s[G], b[G], eps)
//     -> Reshape(back to x's shape) [-> Mul(gamma)] [-> Add(beta)]
//
// gamma and beta are constants holding one value per channel ([C, 1, ...],
// [1, C, 1, ...] or a scalar); the instance norm's per-group s and b are
// folded in, so the node takes per-channel scale'[c] = gamma[c] * s[g] and
// bias'[c] = gamma[c] * b[g] + beta[c]. The result is ONNX
// GroupNormalization (opset >= 21, per-channel scale and bias) or, in older
// models whose declared opset must not change, vdrt.GroupNormalization with
// the same semantics. Refused and reported through explain: a group
// reshape that is not [N, G, C/G * spatial], a reshape back to another
// shape, non-f32 or non-per-channel affine constants, intermediates used
// elsewhere.
#include <set>

#include "passes/pass_registry.h"
#include "passes/pattern.h"
#include "passes/rewrite.h"
#include "passes/symbolic_shapes.h"

namespace vdrt {
namespace {

Node* sole_op_consumer(const Graph& graph, const Value* v, const char* op) {
  Node* c = sole_consumer(graph, v);
  return c && c->domain().empty() && c->op_type() == op ? c : nullptr;
}

// A constant's f32 values, or nullopt for other dtypes or non-constants.
std::optional<std::vector<float>> f32_values(const Value* v) {
  if (!v || !v->is_constant() || v->constant().dtype() != DType::F32) return std::nullopt;
  const Tensor& t = v->constant();
  return std::vector<float>(t.data<float>(), t.data<float>() + t.numel());
}

// One value per channel of an [N, C, ...] tensor of rank `rank`: a scalar,
// or C values on the channel axis with every other axis 1 (right-aligned).
std::optional<std::vector<float>> per_channel(const Value* v, size_t rank, int64_t channels) {
  auto vals = f32_values(v);
  if (!vals) return std::nullopt;
  const auto& dims = v->constant().dims();
  if (vals->size() == 1) return std::vector<float>(static_cast<size_t>(channels), (*vals)[0]);
  if (dims.size() > rank || dims.size() < rank - 1) return std::nullopt;
  const size_t channel_axis = dims.size() - (rank - 1);  // axis 1 of x, right-aligned
  for (size_t i = 0; i < dims.size(); ++i)
    if (dims[i] != (i == channel_axis ? channels : 1)) return std::nullopt;
  return vals;
}

struct GroupNormMatch {
  Value* x = nullptr;
  Value* out = nullptr;  // the value the fused node produces
  int64_t groups = 0;
  float epsilon = 1e-5f;
  std::vector<float> scale, bias;  // per channel
  std::vector<Node*> nodes;        // replaced, root first
};

class FuseGroupNorm final : public Pass {
 public:
  std::string name() const override { return "fuse-group-norm"; }
  std::string description() const override {
    return "Rewrites GroupNorm that exporters wrote as Reshape/InstanceNormalization/Reshape/Mul/Add into one "
           "GroupNormalization node (vdrt.GroupNormalization below opset 21).";
  }
  std::vector<OptionSpec> option_specs() const override {
    return {{"onnx_ops", true,
             "Emit ONNX GroupNormalization when the model's opset is >= 21; false always emits "
             "vdrt.GroupNormalization."}};
  }

  bool run(Graph& graph, PassContext& ctx) override {
    std::vector<Node*> order;
    for (const auto& n : graph.nodes())
      if (n->domain().empty() && n->op_type() == "InstanceNormalization") order.push_back(n.get());
    bool changed = false;
    for (Node* inst : order) {
      auto m = match(graph, *inst, ctx);
      if (!m) continue;
      rewrite(graph, *m, ctx);
      changed = true;
    }
    if (changed) remove_dead_nodes(graph);
    return changed;
  }

 private:
  static std::nullopt_t miss(PassContext& ctx, const Node& inst, const std::string& why) {
    ctx.explain(inst, "group norm: " + why + "; not fused");
    return std::nullopt;
  }

  std::optional<GroupNormMatch> match(const Graph& graph, Node& inst, PassContext& ctx) const {
    Node* to_groups = inst.input(0) ? inst.input(0)->producer() : nullptr;
    if (!to_groups || !to_groups->domain().empty() || to_groups->op_type() != "Reshape")
      return std::nullopt;  // a plain InstanceNormalization
    GroupNormMatch m;
    m.x = to_groups->input(0);
    auto xd = symbolic_dims(m.x);
    auto gd = symbolic_dims(inst.input(0));
    if (!xd || !gd) return miss(ctx, inst, "the shapes around the group reshape are unknown");
    if (xd->size() < 3) return miss(ctx, inst, "the input has rank " + std::to_string(xd->size()) + ", not [N, C, ...]");
    if (gd->size() != 3) return miss(ctx, inst, "the group reshape gives rank " + std::to_string(gd->size()) + ", not [N, G, L]");
    const Dim& c = (*xd)[1];
    const Dim& g = (*gd)[1];
    if (!c.known() || !g.known() || g.value() <= 0 || c.value() % g.value() != 0)
      return miss(ctx, inst, "the channels " + c.str() + " are not known to split into " + g.str() + " groups");
    if (!((*gd)[0] == (*xd)[0])) return miss(ctx, inst, "the group reshape changes the batch dim");
    int64_t spatial = 1;
    bool spatial_known = true;
    for (size_t i = 2; i < xd->size(); ++i) {
      if (!(*xd)[i].known()) spatial_known = false;
      else spatial *= (*xd)[i].value();
    }
    if (!spatial_known || !(*gd)[2].known() || (*gd)[2].value() != c.value() / g.value() * spatial)
      return miss(ctx, inst, "the group reshape is not [N, G, C/G * spatial] with static spatial dims");
    m.groups = g.value();
    m.epsilon = inst.attrs().get_float("epsilon", 1e-5f);

    Node* back = sole_op_consumer(graph, inst.output(0), "Reshape");
    if (!back) return miss(ctx, inst, "the normalised groups do not go to one Reshape");
    auto bd = symbolic_dims(back->output(0));
    if (!bd || *bd != *xd) return miss(ctx, inst, "the reshape after it does not restore the input's shape");
    if (sole_consumer(graph, inst.input(0)) != &inst || graph.is_graph_output(inst.input(0)))
      return miss(ctx, inst, "the grouped input is used elsewhere");

    auto s = f32_values(inst.input(1));
    auto b = f32_values(inst.input(2));
    if (!s || !b || static_cast<int64_t>(s->size()) != m.groups || static_cast<int64_t>(b->size()) != m.groups)
      return miss(ctx, inst, "its scale and bias are not f32 constants of one value per group");
    const int64_t channels = c.value(), cpg = channels / m.groups;
    m.scale.resize(static_cast<size_t>(channels));
    m.bias.resize(static_cast<size_t>(channels));
    for (int64_t ch = 0; ch < channels; ++ch) {
      m.scale[ch] = (*s)[ch / cpg];
      m.bias[ch] = (*b)[ch / cpg];
    }
    m.nodes = {back, &inst, to_groups};
    m.out = back->output(0);

    // The affine part, when its constants are per channel.
    const size_t rank = xd->size();
    if (Node* mul = sole_op_consumer(graph, m.out, "Mul")) {
      Value* other = mul->input(0) == m.out ? mul->input(1) : mul->input(0);
      if (auto gamma = per_channel(other, rank, channels)) {
        for (int64_t ch = 0; ch < channels; ++ch) {
          m.scale[ch] *= (*gamma)[ch];
          m.bias[ch] *= (*gamma)[ch];
        }
        m.nodes.insert(m.nodes.begin(), mul);
        m.out = mul->output(0);
      } else {
        ctx.explain(inst, "group norm: the Mul after it is not by an f32 constant with one value per channel; "
                          "fused without it");
      }
    }
    if (Node* add = sole_op_consumer(graph, m.out, "Add")) {
      Value* other = add->input(0) == m.out ? add->input(1) : add->input(0);
      if (auto beta = per_channel(other, rank, channels)) {
        for (int64_t ch = 0; ch < channels; ++ch) m.bias[ch] += (*beta)[ch];
        m.nodes.insert(m.nodes.begin(), add);
        m.out = add->output(0);
      }
    }
    for (size_t i = 1; i < m.nodes.size(); ++i)
      if (graph.is_graph_output(m.nodes[i]->output(0)))
        return miss(ctx, inst, "an intermediate '" + m.nodes[i]->output(0)->name() + "' is a graph output");
    return m;
  }

  void rewrite(Graph& graph, GroupNormMatch& m, PassContext& ctx) const {
    const bool onnx = opt_bool("onnx_ops") && graph.opset("") >= 21;
    const std::string domain = onnx ? "" : kVdrtDomain;
    if (!onnx) ensure_opset(graph, kVdrtDomain, 1);
    Node* inst = m.nodes[m.nodes.size() - 2];
    std::string base = inst->name();
    if (auto slash = base.rfind('/'); slash != std::string::npos && slash > 0) base = base.substr(0, slash);
    base += "/GroupNormalization";
    const int64_t channels = static_cast<int64_t>(m.scale.size());
    Value* scale = add_constant_fresh(graph, base + "/scale", Tensor::from_vector<float>({channels}, m.scale));
    Value* bias = add_constant_fresh(graph, base + "/bias", Tensor::from_vector<float>({channels}, m.bias));
    Node* fused = replace_producer(graph, m.nodes.front(), "GroupNormalization", {m.x, scale, bias}, domain);
    fused->attrs().set("num_groups", m.groups);
    fused->attrs().set("epsilon", m.epsilon);
    infer_node_outputs(graph, *fused);
    ctx.count("group-norm");
  }
};

VDRT_REGISTER_PASS(FuseGroupNorm);

}  // namespace
}  // namespace vdrt
