// Shape function of Pad. Pads come from an attribute before opset 11 and from
// inputs (pads, constant_value, axes since 18) after; pad_params.cpp holds
// the resolution shared with the kernel.
#include "graph/op_registry.h"
#include "graph/ops/pad_params.h"
#include "graph/ops/shape_fn_util.h"

namespace vdrt {
namespace {

void infer_pad(InferContext& ctx) {
  const ValueInfo& in = ctx.input(0);
  std::string mode = ctx.attrs().get_string("mode", "constant");
  if (mode != "constant" && mode != "reflect" && mode != "edge" && mode != "wrap")
    ctx.fail("Pad mode must be constant, reflect, edge or wrap, got '" + mode + "'");
  if (ctx.has_input(2) && ctx.input(2).dtype != in.dtype)
    ctx.fail(std::string("Pad constant_value is ") + dtype_name(ctx.input(2).dtype) + " but data is " +
             dtype_name(in.dtype));
  if (!in.shape.rank_known()) return ctx.set_output(0, in.dtype, Shape());
  const size_t r = in.shape.rank();
  std::optional<std::vector<int64_t>> pads, axes = std::vector<int64_t>{};
  if (ctx.opset() < 11) pads = ctx.attrs().get_ints("pads");
  else pads = known_ints(ctx, 1);
  if (ctx.has_input(3)) axes = known_ints(ctx, 3);
  if (!pads || !axes) return ctx.set_output(0, in.dtype, unknown_dims(r));
  PadAmounts p = resolve_pads(r, *pads, *axes);
  std::vector<Dim> out(r);
  for (size_t i = 0; i < r; ++i) {
    if (!in.shape[i].known()) {
      out[i] = p.begin[i] == 0 && p.end[i] == 0 ? in.shape[i] : Dim();
      continue;
    }
    out[i] = Dim(padded_dims({in.shape[i].value()}, PadAmounts{{p.begin[i]}, {p.end[i]}})[0]);
    if (mode != "constant" && in.shape[i].value() == 0 && out[i].value() > 0)
      ctx.fail("Pad mode " + mode + " cannot pad the empty axis " + std::to_string(i) + " of " + in.shape.str());
  }
  ctx.set_output(0, in.dtype, Shape(out));
}

}  // namespace

VDRT_REGISTER_OP("", "Pad").inputs(1, 4).outputs(1, 1).needs_values({1, 3}).set_infer(infer_pad);

}  // namespace vdrt
