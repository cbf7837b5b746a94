// Shape functions of the ops that only reinterpret a tensor's dims without
// reordering its elements: Reshape, Flatten, Squeeze, Unsqueeze. Their
// kernels are plain copies; all the logic is here, including the symbolic
// case (a transformer's [B, T, H*D] -> [B, T, H, D] keeps B and T).
#include <algorithm>

#include "graph/op_registry.h"
#include "graph/ops/shape_fn_util.h"

namespace vdrt {
namespace {

// Splits a list of dims into its concrete product and its symbolic factors.
struct Factors {
  int64_t concrete = 1;
  std::vector<Dim> symbols;
  bool unknown = false;
};

Factors factor(const std::vector<Dim>& dims) {
  Factors f;
  for (const Dim& d : dims) {
    if (d.known()) f.concrete = checked_mul(f.concrete, d.value(), "Reshape");
    else if (d.is_symbol()) f.symbols.push_back(d);
    else f.unknown = true;
  }
  return f;
}

// The size of Reshape's -1 dim from the input dims and the other output dims,
// cancelling symbols that appear on both sides; Dim() when not derivable.
Dim infer_minus_one(const Shape& in, const std::vector<Dim>& others, const std::vector<int64_t>& target,
                    InferContext& ctx) {
  Factors fi = factor(in.dims()), fo = factor(others);
  if (fi.unknown || fo.unknown) return Dim();
  for (auto it = fo.symbols.begin(); it != fo.symbols.end();) {
    auto m = std::find(fi.symbols.begin(), fi.symbols.end(), *it);
    if (m == fi.symbols.end()) return Dim();  // an output symbol the input does not have
    fi.symbols.erase(m);
    it = fo.symbols.erase(it);
  }
  if (fo.concrete == 0)
    ctx.fail("cannot reshape " + in.str() + " to " + dims_str(target) + ": -1 is ambiguous next to a 0 dim");
  if (fi.concrete % fo.concrete != 0) {
    if (!fi.symbols.empty()) return Dim();  // the symbols may supply the missing factor
    ctx.fail("cannot reshape " + in.str() + " to " + dims_str(target) + ": " + std::to_string(fi.concrete) +
             " elements do not divide into " + std::to_string(fo.concrete));
  }
  Dim d(fi.concrete / fo.concrete);
  for (const Dim& s : fi.symbols) d = d * s;
  return d;
}

void infer_reshape(InferContext& ctx) {
  const ValueInfo& data = ctx.input(0);
  const ValueInfo& shape_in = ctx.input(1);
  auto target = known_ints(ctx, 1);
  if (!target) {
    bool len_known = shape_in.shape.rank_known() && shape_in.shape.rank() == 1 && shape_in.shape[0].known();
    return ctx.set_output(0, data.dtype, len_known ? unknown_dims(shape_in.shape[0].value()) : Shape());
  }
  const bool allowzero = ctx.opset() >= 14 && ctx.attrs().get_int("allowzero", 0) != 0;
  const Shape& in = data.shape;
  std::vector<Dim> out;
  int minus_one = -1;
  bool has_zero = false;
  for (size_t i = 0; i < target->size(); ++i) {
    int64_t v = (*target)[i];
    if (v == -1) {
      if (minus_one >= 0) ctx.fail("Reshape target " + dims_str(*target) + " has more than one -1");
      minus_one = static_cast<int>(i);
      out.emplace_back();
    } else if (v < -1) {
      ctx.fail("Reshape target " + dims_str(*target) + " has the invalid dim " + std::to_string(v));
    } else if (v == 0 && !allowzero) {
      if (!in.rank_known()) { out.emplace_back(); continue; }
      if (i >= in.rank())
        ctx.fail("Reshape target " + dims_str(*target) + " copies dim " + std::to_string(i) + " (0) from " +
                 in.str() + ", which has no such dim");
      out.push_back(in[i]);
    } else {
      has_zero |= v == 0;
      out.emplace_back(v);
    }
  }
  if (minus_one >= 0 && has_zero)
    ctx.fail("Reshape target " + dims_str(*target) + " combines -1 with a 0 dim while allowzero is set");
  if (minus_one >= 0 && in.rank_known()) {
    std::vector<Dim> others = out;
    others.erase(others.begin() + minus_one);
    out[minus_one] = infer_minus_one(in, others, *target, ctx);
  }
  Shape result(out);
  if (result.fully_known()) checked_shape(result.concrete(), "Reshape");
  if (in.fully_known() && result.fully_known() && *in.numel() != *result.numel())
    ctx.fail("cannot reshape " + in.str() + " (" + std::to_string(*in.numel()) + " elements) to " +
             dims_str(*target) + " (" + std::to_string(*result.numel()) + " elements)");
  ctx.set_output(0, data.dtype, result);
}

void infer_flatten(InferContext& ctx) {
  const ValueInfo& in = ctx.input(0);
  if (!in.shape.rank_known()) return ctx.set_output(0, in.dtype, unknown_dims(2));
  const int64_t r = static_cast<int64_t>(in.shape.rank());
  int64_t axis = ctx.attrs().get_int("axis", 1);
  if (axis < -r || axis > r)
    ctx.fail("Flatten axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(r));
  if (axis < 0) axis += r;
  ctx.set_output(0, in.dtype, Shape({dim_product(in.shape, 0, axis), dim_product(in.shape, axis, r)}));
}

// Axes come from an attribute before opset 13 and from input 1 since.
// Returns false when they are an input whose contents are unknown.
bool read_axes(InferContext& ctx, std::vector<int64_t>& axes, bool& given) {
  given = false;
  if (ctx.attrs().has("axes")) {
    axes = ctx.attrs().get_ints("axes");
    given = true;
    return true;
  }
  if (!ctx.has_input(1)) return true;
  given = true;
  auto v = known_ints(ctx, 1);
  if (!v) return false;
  axes = *v;
  return true;
}

void infer_squeeze(InferContext& ctx) {
  const ValueInfo& in = ctx.input(0);
  std::vector<int64_t> axes;
  bool given;
  if (!read_axes(ctx, axes, given)) {
    const Shape& as = ctx.input(1).shape;
    bool ok = in.shape.rank_known() && as.rank_known() && as.rank() == 1 && as[0].known() &&
              as[0].value() <= static_cast<int64_t>(in.shape.rank());
    return ctx.set_output(0, in.dtype, ok ? unknown_dims(in.shape.rank() - as[0].value()) : Shape());
  }
  if (!in.shape.rank_known()) return ctx.set_output(0, in.dtype, Shape());
  const Shape& s = in.shape;
  std::vector<Dim> out;
  if (!given || axes.empty()) {
    for (const Dim& d : s.dims()) {
      if (!d.known()) return ctx.set_output(0, in.dtype, Shape());  // cannot tell which dims are 1
      if (d.value() != 1) out.push_back(d);
    }
    return ctx.set_output(0, in.dtype, Shape(out));
  }
  std::vector<int64_t> norm = normalize_axes(axes, static_cast<int64_t>(s.rank()), "Squeeze axes");
  for (int64_t a : norm)
    if (s[a].known() && s[a].value() != 1)
      ctx.fail("cannot squeeze axis " + std::to_string(a) + " of shape " + s.str() + ": its size is " +
               std::to_string(s[a].value()) + ", not 1");
  for (size_t i = 0; i < s.rank(); ++i)
    if (std::find(norm.begin(), norm.end(), static_cast<int64_t>(i)) == norm.end()) out.push_back(s[i]);
  ctx.set_output(0, in.dtype, Shape(out));
}

void infer_unsqueeze(InferContext& ctx) {
  const ValueInfo& in = ctx.input(0);
  std::vector<int64_t> axes;
  bool given;
  if (!read_axes(ctx, axes, given)) {
    const Shape& as = ctx.input(1).shape;
    bool ok = in.shape.rank_known() && as.rank_known() && as.rank() == 1 && as[0].known();
    return ctx.set_output(0, in.dtype, ok ? unknown_dims(in.shape.rank() + as[0].value()) : Shape());
  }
  if (!given) ctx.fail("Unsqueeze needs axes");
  if (!in.shape.rank_known()) return ctx.set_output(0, in.dtype, Shape());
  const int64_t out_rank = static_cast<int64_t>(in.shape.rank() + axes.size());
  std::vector<int64_t> norm = normalize_axes(axes, out_rank, "Unsqueeze axes");
  std::vector<Dim> out(out_rank);
  std::vector<bool> inserted(out_rank, false);
  for (int64_t a : norm) inserted[a] = true;
  size_t j = 0;
  for (int64_t i = 0; i < out_rank; ++i) out[i] = inserted[i] ? Dim(1) : in.shape[j++];
  ctx.set_output(0, in.dtype, Shape(out));
}

}  // namespace

VDRT_REGISTER_OP("", "Reshape").inputs(2, 2).outputs(1, 1).needs_values({1}).set_infer(infer_reshape);
VDRT_REGISTER_OP("", "Flatten").inputs(1, 1).outputs(1, 1).set_infer(infer_flatten);
VDRT_REGISTER_OP("", "Squeeze").inputs(1, 2).outputs(1, 1).needs_values({1}).set_infer(infer_squeeze);
VDRT_REGISTER_OP("", "Unsqueeze").inputs(1, 2).outputs(1, 1).needs_values({1}).set_infer(infer_unsqueeze);

}  // namespace vdrt
