// Shape functions of the indexed reads and writes: Gather, GatherElements,
// GatherND, ScatterND, ScatterElements (and its deprecated name Scatter).
// Index values are checked by the kernels; here only shapes and types.
#include "graph/op_registry.h"
#include "graph/ops/shape_fn_util.h"

namespace vdrt {
namespace {

void check_index_type(InferContext& ctx, size_t i) {
  DType t = ctx.input(i).dtype;
  if (t != DType::I64 && t != DType::I32)
    ctx.fail(std::string("indices must be int32 or int64, got ") + dtype_name(t));
}

void infer_gather(InferContext& ctx) {
  const ValueInfo& data = ctx.input(0);
  const ValueInfo& idx = ctx.input(1);
  check_index_type(ctx, 1);
  if (!data.shape.rank_known() || !idx.shape.rank_known()) return ctx.set_output(0, data.dtype, Shape());
  const int64_t r = static_cast<int64_t>(data.shape.rank());
  if (r == 0) ctx.fail("Gather needs data of rank >= 1");
  const int64_t axis = normalize_axis(ctx.attrs().get_int("axis", 0), r);
  std::vector<Dim> out(data.shape.dims().begin(), data.shape.dims().begin() + axis);
  out.insert(out.end(), idx.shape.dims().begin(), idx.shape.dims().end());
  out.insert(out.end(), data.shape.dims().begin() + axis + 1, data.shape.dims().end());
  ctx.set_output(0, data.dtype, Shape(out));
}

void infer_gather_elements(InferContext& ctx) {
  const ValueInfo& data = ctx.input(0);
  const ValueInfo& idx = ctx.input(1);
  check_index_type(ctx, 1);
  if (data.shape.rank_known() && idx.shape.rank_known()) {
    if (data.shape.rank() != idx.shape.rank())
      ctx.fail("GatherElements data " + data.shape.str() + " and indices " + idx.shape.str() + " differ in rank");
    if (data.shape.rank() == 0) ctx.fail("GatherElements needs data of rank >= 1");
    normalize_axis(ctx.attrs().get_int("axis", 0), static_cast<int64_t>(data.shape.rank()));
  }
  ctx.set_output(0, data.dtype, idx.shape);
}

void infer_gather_nd(InferContext& ctx) {
  const ValueInfo& data = ctx.input(0);
  const ValueInfo& idx = ctx.input(1);
  if (idx.dtype != DType::I64) ctx.fail(std::string("GatherND indices must be int64, got ") + dtype_name(idx.dtype));
  const int64_t b = ctx.attrs().get_int("batch_dims", 0);
  if (!data.shape.rank_known() || !idx.shape.rank_known()) return ctx.set_output(0, data.dtype, Shape());
  const int64_t r = static_cast<int64_t>(data.shape.rank()), q = static_cast<int64_t>(idx.shape.rank());
  if (r < 1 || q < 1) ctx.fail("GatherND needs data and indices of rank >= 1");
  if (b < 0 || b >= std::min(r, q))
    ctx.fail("GatherND batch_dims " + std::to_string(b) + " must be less than both ranks (" + std::to_string(r) +
             ", " + std::to_string(q) + ")");
  for (int64_t i = 0; i < b; ++i)
    if (data.shape[i].known() && idx.shape[i].known() && data.shape[i] != idx.shape[i])
      ctx.fail("GatherND batch dims differ: data " + data.shape.str() + ", indices " + idx.shape.str());
  const Dim& kd = idx.shape[q - 1];
  if (!kd.known()) return ctx.set_output(0, data.dtype, Shape());
  const int64_t k = kd.value();
  if (k < 1 || k > r - b)
    ctx.fail("GatherND index tuples of length " + std::to_string(k) + " do not fit data " + data.shape.str() +
             " with batch_dims " + std::to_string(b));
  std::vector<Dim> out(idx.shape.dims().begin(), idx.shape.dims().end() - 1);
  out.insert(out.end(), data.shape.dims().begin() + b + k, data.shape.dims().end());
  ctx.set_output(0, data.dtype, Shape(out));
}

void check_reduction(InferContext& ctx) {
  std::string red = ctx.attrs().get_string("reduction", "none");
  if (red != "none" && red != "add" && red != "mul" && red != "max" && red != "min")
    ctx.fail("reduction must be none, add, mul, max or min, got '" + red + "'");
}

void infer_scatter_nd(InferContext& ctx) {
  const ValueInfo& data = ctx.input(0);
  const ValueInfo& idx = ctx.input(1);
  const ValueInfo& upd = ctx.input(2);
  check_reduction(ctx);
  if (idx.dtype != DType::I64) ctx.fail(std::string("ScatterND indices must be int64, got ") + dtype_name(idx.dtype));
  if (upd.dtype != data.dtype)
    ctx.fail(std::string("ScatterND updates are ") + dtype_name(upd.dtype) + " but data is " + dtype_name(data.dtype));
  const Shape &ds = data.shape, &is = idx.shape, &us = upd.shape;
  if (ds.rank_known() && is.rank_known() && us.rank_known() && is.rank() >= 1 && is[is.rank() - 1].known()) {
    const int64_t k = is[is.rank() - 1].value();
    if (k < 1 || k > static_cast<int64_t>(ds.rank()))
      ctx.fail("ScatterND index tuples of length " + std::to_string(k) + " do not fit data " + ds.str());
    std::vector<Dim> want(is.dims().begin(), is.dims().end() - 1);
    want.insert(want.end(), ds.dims().begin() + k, ds.dims().end());
    bool ok = want.size() == us.rank();
    for (size_t i = 0; ok && i < want.size(); ++i) ok = !(want[i].known() && us[i].known() && want[i] != us[i]);
    if (!ok)
      ctx.fail("ScatterND updates " + us.str() + " do not match indices " + is.str() + " and data " + ds.str() +
               " (expected " + Shape(want).str() + ")");
  }
  ctx.set_output(0, data.dtype, ds);
}

void infer_scatter_elements(InferContext& ctx) {
  const ValueInfo& data = ctx.input(0);
  const ValueInfo& idx = ctx.input(1);
  const ValueInfo& upd = ctx.input(2);
  check_reduction(ctx);
  check_index_type(ctx, 1);
  if (upd.dtype != data.dtype)
    ctx.fail(std::string("updates are ") + dtype_name(upd.dtype) + " but data is " + dtype_name(data.dtype));
  if (idx.shape.rank_known() && upd.shape.rank_known()) {
    bool same = idx.shape.rank() == upd.shape.rank();
    for (size_t i = 0; same && i < idx.shape.rank(); ++i)
      same = !(idx.shape[i].known() && upd.shape[i].known() && idx.shape[i] != upd.shape[i]);
    if (!same) ctx.fail("indices " + idx.shape.str() + " and updates " + upd.shape.str() + " must have one shape");
  }
  if (data.shape.rank_known()) {
    if (idx.shape.rank_known() && idx.shape.rank() != data.shape.rank())
      ctx.fail("indices " + idx.shape.str() + " and data " + data.shape.str() + " differ in rank");
    if (data.shape.rank() == 0) ctx.fail("data must have rank >= 1");
    normalize_axis(ctx.attrs().get_int("axis", 0), static_cast<int64_t>(data.shape.rank()));
  }
  ctx.set_output(0, data.dtype, data.shape);
}

}  // namespace

VDRT_REGISTER_OP("", "Gather").inputs(2, 2).outputs(1, 1).set_infer(infer_gather);
VDRT_REGISTER_OP("", "GatherElements").inputs(2, 2).outputs(1, 1).set_infer(infer_gather_elements);
VDRT_REGISTER_OP("", "GatherND").inputs(2, 2).outputs(1, 1).set_infer(infer_gather_nd);
VDRT_REGISTER_OP("", "ScatterND").inputs(3, 3).outputs(1, 1).set_infer(infer_scatter_nd);
VDRT_REGISTER_OP("", "ScatterElements").inputs(3, 3).outputs(1, 1).set_infer(infer_scatter_elements);
VDRT_REGISTER_OP("", "Scatter").inputs(3, 3).outputs(1, 1).set_infer(infer_scatter_elements);

}  // namespace vdrt
