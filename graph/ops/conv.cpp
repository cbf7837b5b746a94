// Shape functions of Conv ([N, C, D...] * [M, C/group, K...] -> [N, M, O...])
// and ConvTranspose ([N, C, D...] * [C, M/group, K...] -> [N, M, O...]).
#include <string>

#include "graph/op_registry.h"
#include "graph/ops/conv_params.h"

namespace vdrt {
namespace {

std::vector<int64_t> spatial_of(const Shape& s) {
  std::vector<int64_t> v;
  for (size_t i = 2; i < s.rank(); ++i) v.push_back(s[i].known() ? s[i].value() : -1);
  return v;
}

bool conflict(const Dim& a, int64_t b) { return a.known() && a.value() != b; }

void infer_conv_like(InferContext& ctx, bool transpose) {
  const ValueInfo &x = ctx.input(0), &w = ctx.input(1);
  if (x.dtype != DType::Undefined && w.dtype != DType::Undefined && x.dtype != w.dtype)
    ctx.fail(std::string("X and W have different dtypes: ") + dtype_name(x.dtype) + " and " + dtype_name(w.dtype));
  if (!x.shape.rank_known() || !w.shape.rank_known()) {
    ctx.set_output(0, x.dtype, Shape());
    return;
  }
  if (x.shape.rank() < 3) ctx.fail("X must be [N, C, D1, ...], got shape " + x.shape.str());
  if (w.shape.rank() != x.shape.rank())
    ctx.fail("W of shape " + w.shape.str() + " does not have the rank of X " + x.shape.str());
  const int64_t group = ctx.attrs().get_int("group", 1);
  if (group < 1) ctx.fail("group must be positive");
  const Dim &c = x.shape[1], &w0 = w.shape[0], &w1 = w.shape[1];
  Dim m;
  if (!transpose) {
    // C = group * W[1]; M = W[0], divisible by group.
    if (c.known() && w1.known() && c.value() != w1.value() * group)
      ctx.fail("X has " + c.str() + " channels but W expects " + w1.str() + " per group x " + std::to_string(group));
    if (w0.known() && w0.value() % group != 0) ctx.fail("output channels " + w0.str() + " are not divisible by group");
    m = w0;
  } else {
    if (c.known() && w0.known() && c.value() != w0.value())
      ctx.fail("X has " + c.str() + " channels but W expects " + w0.str());
    if (c.known() && c.value() % group != 0) ctx.fail("input channels are not divisible by group");
    m = w1 * Dim(group);
  }
  if (ctx.has_input(2)) {
    const Shape& b = ctx.input(2).shape;
    if (b.rank_known() && (b.rank() != 1 || (m.known() && conflict(b[0], m.value()))))
      ctx.fail("B of shape " + b.str() + " must be [" + m.str() + "]");
  }
  std::vector<ConvAxis> axes;
  try {
    axes = transpose ? conv_transpose_axes(ctx.attrs(), spatial_of(x.shape), spatial_of(w.shape))
                     : conv_axes(ctx.attrs(), spatial_of(x.shape), spatial_of(w.shape));
  } catch (const Error& e) {
    ctx.fail(e.reason());
  }
  std::vector<Dim> out{x.shape[0], m};
  for (const ConvAxis& a : axes) out.push_back(a.out >= 0 ? Dim(a.out) : Dim());
  ctx.set_output(0, x.dtype, Shape(out));
}

VDRT_REGISTER_OP("", "Conv").inputs(2, 3).outputs(1, 1).set_infer([](InferContext& ctx) { infer_conv_like(ctx, false); });
VDRT_REGISTER_OP("", "ConvTranspose").inputs(2, 3).outputs(1, 1).set_infer([](InferContext& ctx) {
  infer_conv_like(ctx, true);
});

}  // namespace
}  // namespace vdrt
