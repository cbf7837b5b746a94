// ReduceSum / ReduceMean / ReduceMax / ReduceMin over f32 when the reduced
// dims (ignoring size-1 dims) are contiguous: x is viewed as
// [outer, reduced, inner]; inner == 1 runs one row per output on
// reduce_rows.comp, otherwise reduce_cols.comp walks the strided axis.
// Axes come from the attribute or (ReduceSum >= 13, others >= 18) from a
// constant second input; noop_with_empty_axes as ONNX. Other layouts, dtypes
// and non-constant axes stay on the CPU.
#include <map>

#include "kernels/gpu/row_kernels.h"

namespace vdrt::gpu {
namespace {

RowOp reduce_op(const std::string& op) {
  static const std::map<std::string, RowOp> ops{
      {"ReduceSum", kRowSum}, {"ReduceMean", kRowMean}, {"ReduceMax", kRowMax}, {"ReduceMin", kRowMin}};
  return ops.at(op);
}

// Reduced-dim mask for `rank` dims; `dims` may hold -1 for unknown sizes.
std::vector<bool> reduce_mask(const std::vector<int64_t>& axes, bool noop, size_t rank) {
  std::vector<bool> red(rank, axes.empty() && !noop);
  for (int64_t ax : axes) red[static_cast<size_t>(normalize_axis(ax, static_cast<int64_t>(rank)))] = true;
  return red;
}

// [first, last] non-size-1 reduced dims, when every non-size-1 dim between
// them is reduced too. dims may hold -1 (unknown, treated as not 1).
bool contiguous_run(const std::vector<int64_t>& dims, const std::vector<bool>& red, int64_t& first, int64_t& last) {
  first = -1;
  last = -1;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] == 1) continue;
    if (red[i]) {
      if (first < 0) first = static_cast<int64_t>(i);
      else if (last != static_cast<int64_t>(i) - 1) {
        // a kept non-1 dim since `last`?
        for (int64_t j = last + 1; j < static_cast<int64_t>(i); ++j)
          if (dims[j] != 1 && !red[j]) return false;
      }
      last = static_cast<int64_t>(i);
    }
  }
  return true;
}

Program build_reduce(const KernelArgs& a) {
  const auto& dims = a.inputs[0].dims;
  std::vector<int64_t> axes;
  if (a.has(1)) {
    const Tensor* t = a.known.size() > 1 ? a.known[1] : nullptr;
    if (!t && a.node.input(1) && a.node.input(1)->is_constant()) t = &a.node.input(1)->constant();
    VDRT_CHECK(t != nullptr, "GPU " + a.node.op_type() + ": axes must be known on the host");
    axes = t->as_int64();
  } else {
    axes = a.attrs().get_ints("axes", {});
  }
  const std::vector<bool> red = reduce_mask(axes, a.attrs().get_int("noop_with_empty_axes", 0) != 0, dims.size());
  int64_t first, last;
  VDRT_CHECK(contiguous_run(dims, red, first, last),
             "GPU " + a.node.op_type() + ": reduced axes are not contiguous in " + dims_str(dims));
  const RowOp op = reduce_op(a.node.op_type());
  Program prog;
  if (a.outputs[0].numel() == 0) return prog;
  if (first < 0) {  // nothing of size > 1 reduced: an elementwise copy (or empty-axes identity)
    int64_t rc = 1;
    for (size_t i = 0; i < dims.size(); ++i)
      if (red[i]) rc *= dims[i];
    prog.dispatches.push_back(col_dispatch(op, 1, static_cast<uint64_t>(rc), static_cast<uint64_t>(a.outputs[0].numel()),
                                           in(0), out(0), a.caps));
    return prog;
  }
  int64_t outer = 1, len = 1, inner = 1;
  for (int64_t i = 0; i < first; ++i) outer *= dims[i];
  for (int64_t i = first; i <= last; ++i) len *= dims[i];
  for (int64_t i = last + 1; i < static_cast<int64_t>(dims.size()); ++i) inner *= dims[i];
  prog.dispatches.push_back(reduce_dispatch(op, outer, len, inner, a.caps));
  return prog;
}

bool supports_reduce(const Node& node, const DeviceCaps&) {
  const Value* x = node.input(0);
  const Value* y = node.output(0);
  if (!x || !y || x->dtype() != DType::F32 || y->dtype() != DType::F32) return false;
  std::vector<int64_t> axes;
  if (const Value* ax = node.input(1)) {
    if (!ax->is_constant()) return false;
    axes = ax->constant().as_int64();
  } else {
    axes = node.attrs().get_ints("axes", {});
  }
  // Rank unknown at load (shapes computed at run time): a reduction over the
  // last axis is always one contiguous run.
  if (!x->shape().rank_known()) return axes.size() == 1 && axes[0] == -1;
  const size_t rank = x->shape().rank();
  for (int64_t ax : axes)
    if (ax < -static_cast<int64_t>(rank) || ax >= static_cast<int64_t>(rank)) return false;
  std::vector<int64_t> dims;
  for (const Dim& d : x->shape().dims()) dims.push_back(d.known() ? d.value() : -1);
  const std::vector<bool> red = reduce_mask(axes, node.attrs().get_int("noop_with_empty_axes", 0) != 0, rank);
  int64_t first, last;
  return contiguous_run(dims, red, first, last);
}

}  // namespace

VDRT_GPU_KERNEL("", "ReduceSum", build_reduce, supports_reduce);
VDRT_GPU_KERNEL("", "ReduceMean", build_reduce, supports_reduce);
VDRT_GPU_KERNEL("", "ReduceMax", build_reduce, supports_reduce);
VDRT_GPU_KERNEL("", "ReduceMin", build_reduce, supports_reduce);

}  // namespace vdrt::gpu
