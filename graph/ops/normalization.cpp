// Shape functions of the normalisation ops: Y always has X's shape; they
// check what can be checked before run time (axis range, channel counts).
#include <string>

#include "graph/op_registry.h"

namespace vdrt {
namespace {

int64_t checked_axis(InferContext& ctx, const Shape& s) {
  const int64_t rank = static_cast<int64_t>(s.rank());
  const int64_t axis = ctx.attrs().get_int("axis", -1);
  if (axis < -rank || axis >= rank)
    ctx.fail("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return axis < 0 ? axis + rank : axis;
}

void infer_layer_norm(InferContext& ctx) {
  const ValueInfo& x = ctx.input(0);
  ctx.set_output(0, x.dtype, x.shape);
  if (!x.shape.rank_known()) {
    for (size_t i = 1; i < ctx.num_outputs(); ++i) ctx.set_output(i, DType::F32, Shape());
    return;
  }
  const int64_t axis = checked_axis(ctx, x.shape);
  // Mean and InvStdDev keep the leading dims and set the normalised ones to 1.
  std::vector<Dim> stat;
  for (int64_t i = 0; i < static_cast<int64_t>(x.shape.rank()); ++i) stat.push_back(i < axis ? x.shape[i] : Dim(1));
  const int64_t stash = ctx.attrs().get_int("stash_type", 1);
  const DType stat_type = stash == 1 ? DType::F32 : x.dtype;
  for (size_t i = 1; i < ctx.num_outputs(); ++i) ctx.set_output(i, stat_type, Shape(stat));
}

void infer_rms_norm(InferContext& ctx) {
  const ValueInfo& x = ctx.input(0);
  if (x.shape.rank_known()) checked_axis(ctx, x.shape);
  ctx.set_output(0, x.dtype, x.shape);
}

// X is [N, C, ...]; `per_channel_inputs` must hold C elements (or, for
// GroupNormalization, C or num_groups).
void check_channel_params(InferContext& ctx, const std::vector<size_t>& inputs, int64_t groups) {
  const Shape& x = ctx.input(0).shape;
  if (!x.rank_known()) return;
  if (x.rank() < 2) ctx.fail("input must be [N, C, ...], got shape " + x.str());
  const Dim& c = x[1];
  if (groups > 0 && c.known() && c.value() % groups != 0)
    ctx.fail("num_groups " + std::to_string(groups) + " does not divide the " + std::to_string(c.value()) + " channels");
  for (size_t i : inputs) {
    if (!ctx.has_input(i)) continue;
    auto n = ctx.input(i).shape.numel();
    if (!n || !c.known()) continue;
    if (*n != c.value() && (groups <= 0 || *n != groups))
      ctx.fail("input " + std::to_string(i) + " has " + std::to_string(*n) + " elements, expected " +
               std::to_string(c.value()) + (groups > 0 ? " or " + std::to_string(groups) : std::string()));
  }
}

void infer_group_norm(InferContext& ctx) {
  const int64_t groups = ctx.attrs().get_int("num_groups");
  if (groups <= 0) ctx.fail("num_groups must be positive");
  check_channel_params(ctx, {1, 2}, groups);
  ctx.set_output(0, ctx.input(0).dtype, ctx.input(0).shape);
}

void infer_instance_norm(InferContext& ctx) {
  check_channel_params(ctx, {1, 2}, 0);
  ctx.set_output(0, ctx.input(0).dtype, ctx.input(0).shape);
}

void infer_batch_norm(InferContext& ctx) {
  check_channel_params(ctx, {1, 2, 3, 4}, 0);
  const ValueInfo& x = ctx.input(0);
  ctx.set_output(0, x.dtype, x.shape);
  // Training outputs: running mean and variance (and, before opset 14, the
  // saved batch statistics), all one value per channel.
  for (size_t i = 1; i < ctx.num_outputs(); ++i) ctx.set_output(i, ctx.input(3).dtype, ctx.input(3).shape);
}

VDRT_REGISTER_OP("", "LayerNormalization").inputs(2, 3).outputs(1, 3).set_infer(infer_layer_norm);
VDRT_REGISTER_OP("", "RMSNormalization").inputs(2, 2).outputs(1, 1).set_infer(infer_rms_norm);
VDRT_REGISTER_OP("", "GroupNormalization").inputs(3, 3).outputs(1, 1).set_infer(infer_group_norm);
VDRT_REGISTER_OP("", "InstanceNormalization").inputs(3, 3).outputs(1, 1).set_infer(infer_instance_norm);
VDRT_REGISTER_OP("", "BatchNormalization").inputs(5, 5).outputs(1, 5).set_infer(infer_batch_norm);

}  // namespace
}  // namespace vdrt
