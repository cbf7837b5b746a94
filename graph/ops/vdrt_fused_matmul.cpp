// vdrt.FusedMatMul: a MatMul by a 2-D matrix together with what follows it
// in a transformer's Linear layers, so the CPU applies it to each output
// tile while the tile is in cache instead of in separate passes:
//
//   P = act(X W + bias) + residual        act: none, gelu (erf) or gelu_tanh
//
// X is [..., K] and W [K, N], P [..., N] as MatMul would give. With `split`
// the node has one output per entry, the columns of P cut in order (a fused
// Q/K/V projection feeding q, k and v without a Split copying them);
// without it, one output P. fuse-gemm-epilogue writes it.
#include <numeric>

#include "graph/op_registry.h"

namespace vdrt {
namespace {

bool dims_conflict(const Dim& a, const Dim& b) { return a.known() && b.known() && a.value() != b.value(); }

void infer_fused_matmul(InferContext& ctx) {
  const ValueInfo &x = ctx.input(0), &w = ctx.input(1);
  const DType dt = x.dtype;
  for (size_t i = 1; i < 4; ++i)
    if (ctx.has_input(i) && ctx.input(i).dtype != dt)
      ctx.fail(std::string("vdrt.FusedMatMul inputs must share one type, got ") + dtype_name(dt) + " and " +
               dtype_name(ctx.input(i).dtype));
  if (dt != DType::Undefined && !is_float(dt))
    ctx.fail(std::string("vdrt.FusedMatMul takes float tensors, got ") + dtype_name(dt));
  const std::string act = ctx.attrs().get_string("activation", "none");
  if (act != "none" && act != "gelu" && act != "gelu_tanh")
    ctx.fail("vdrt.FusedMatMul activation must be none, gelu or gelu_tanh, got '" + act + "'");

  if (w.shape.rank_known() && w.shape.rank() != 2) ctx.fail("vdrt.FusedMatMul needs a 2-D W, got " + w.shape.str());
  if (x.shape.rank_known() && x.shape.rank() == 0) ctx.fail("vdrt.FusedMatMul needs X of rank >= 1");
  const Dim n = w.shape.rank_known() ? w.shape[1] : Dim();
  if (x.shape.rank_known() && w.shape.rank_known() && dims_conflict(x.shape[x.shape.rank() - 1], w.shape[0]))
    ctx.fail("vdrt.FusedMatMul inner dimensions differ: " + x.shape.str() + " x " + w.shape.str());
  Shape y;
  if (x.shape.rank_known()) {
    std::vector<Dim> d = x.shape.dims();
    d.back() = n;
    y = Shape(d);
  }
  if (ctx.has_input(2)) {
    const Shape& b = ctx.input(2).shape;
    if (b.rank_known() && (b.rank() != 1 || dims_conflict(b[0], n)))
      ctx.fail("vdrt.FusedMatMul bias must be [N] = [" + n.str() + "], got " + b.str());
  }
  if (ctx.has_input(3)) {
    const Shape& r = ctx.input(3).shape;
    bool ok = !r.rank_known() || !y.rank_known() || r.rank() == y.rank();
    for (size_t i = 0; ok && r.rank_known() && y.rank_known() && i < r.rank(); ++i) ok = !dims_conflict(r[i], y[i]);
    if (!ok) ctx.fail("vdrt.FusedMatMul residual must have the product's shape " + y.str() + ", got " + r.str());
  }

  const size_t outs = ctx.num_outputs();
  if (!ctx.attrs().has("split")) {
    if (outs != 1) ctx.fail("vdrt.FusedMatMul with " + std::to_string(outs) + " outputs needs a split attribute");
    ctx.set_output(0, dt, y);
    return;
  }
  const std::vector<int64_t> split = ctx.attrs().get_ints("split");
  if (split.size() != outs)
    ctx.fail("vdrt.FusedMatMul has " + std::to_string(outs) + " outputs but split lists " +
             std::to_string(split.size()) + " sizes");
  for (int64_t s : split)
    if (s <= 0) ctx.fail("vdrt.FusedMatMul split sizes must be positive, got " + std::to_string(s));
  const int64_t total = std::accumulate(split.begin(), split.end(), int64_t(0));
  if (n.known() && n.value() != total)
    ctx.fail("vdrt.FusedMatMul split sizes add up to " + std::to_string(total) + ", but W has " +
             std::to_string(n.value()) + " columns");
  for (size_t i = 0; i < outs; ++i) {
    Shape s = y;
    if (s.rank_known()) s[s.rank() - 1] = Dim(split[i]);
    ctx.set_output(i, dt, s);
  }
}

VDRT_REGISTER_OP("vdrt", "FusedMatMul")
    .inputs(2, 4)
    .outputs(1, 1 << 10)
    .set_infer(infer_fused_matmul)
    .describe("act(X W + bias) + residual with X [..., K], W [K, N], optional bias [N] and residual [..., N]; "
              "attributes activation (none, gelu, gelu_tanh; default none) and split (ints: the outputs are the "
              "product's columns cut in order).");

}  // namespace
}  // namespace vdrt
