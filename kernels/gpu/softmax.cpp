// Softmax and LogSoftmax (opset 13 semantics: one axis; before 13 the input
// is coerced to 2-D at the axis, so the row is every dim from the axis on).
// Contiguous rows run on reduce_rows.comp, a middle axis on reduce_cols.comp.
#include "kernels/gpu/row_kernels.h"

namespace vdrt::gpu {
namespace {

Program build_softmax(const KernelArgs& a) {
  const RowOp op = a.node.op_type() == "LogSoftmax" ? kRowLogSoftmax : kRowSoftmax;
  const auto& dims = a.inputs[0].dims;
  const int64_t rank = static_cast<int64_t>(dims.size());
  const bool legacy = a.opset > 0 && a.opset < 13;
  const int64_t axis = normalize_axis(a.attrs().get_int("axis", legacy ? 1 : -1), rank);
  int64_t outer = 1, len = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= dims[i];
  if (legacy) {
    for (int64_t i = axis; i < rank; ++i) len *= dims[i];
  } else {
    len = rank ? dims[axis] : 1;
    for (int64_t i = axis + 1; i < rank; ++i) inner *= dims[i];
  }
  Program prog;
  if (outer * len * inner == 0) return prog;
  prog.dispatches.push_back(reduce_dispatch(op, outer, len, inner, a.caps));
  return prog;
}

bool supports_softmax(const Node& node, const DeviceCaps&) {
  if (!all_float32(node) || !node.input(0)) return false;
  const Shape& s = node.input(0)->shape();
  if (!s.rank_known()) return false;
  const int64_t rank = static_cast<int64_t>(s.rank());
  const int64_t axis = node.attrs().get_int("axis", -1);
  return rank == 0 || (axis >= -rank && axis < rank);
}

}  // namespace

VDRT_GPU_KERNEL("", "Softmax", build_softmax, supports_softmax);
VDRT_GPU_KERNEL("", "LogSoftmax", build_softmax, supports_softmax);

}  // namespace vdrt::gpu
