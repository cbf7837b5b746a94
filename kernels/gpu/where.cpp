// Where (f32 x / y, Bool condition, NumPy broadcasting of all three, up to
// 4 non-mergeable dims): where.comp.
#include "kernels/gpu/strided_copy.h"
#include "kernels/gpu/gpu_kernel.h"

namespace vdrt::gpu {
namespace {

Program build_where(const KernelArgs& a) {
  std::vector<int64_t> dims = a.outputs[0].dims;
  const uint64_t n = static_cast<uint64_t>(numel(dims));
  Program prog;
  if (!n) return prog;
  VDRT_CHECK(n < (uint64_t(1) << 32), "GPU Where indexes tensors with 32-bit offsets");
  std::vector<int64_t> sc = broadcast_strides(a.inputs[0].dims, dims), sx = broadcast_strides(a.inputs[1].dims, dims),
                       sy = broadcast_strides(a.inputs[2].dims, dims);
  collapse_dims(dims, {&sc, &sx, &sy});
  VDRT_CHECK(dims.size() <= 4, "GPU Where broadcast over more than 4 non-mergeable dims");
  while (dims.size() < 4) {
    dims.insert(dims.begin(), 1);
    sc.insert(sc.begin(), 0);
    sx.insert(sx.begin(), 0);
    sy.insert(sy.begin(), 0);
  }
  Dispatch d;
  d.shader = "where";
  d.args = {in(0), in(1), in(2), out(0)};
  d.u32(static_cast<uint32_t>(n));
  for (const auto* v : {&dims, &sc, &sx, &sy})
    for (int64_t x : *v) d.u32(static_cast<uint32_t>(x));
  set_groups_1d(d, n, 256, a.caps);
  prog.dispatches.push_back(d);
  return prog;
}

bool supports_where(const Node& node, const DeviceCaps&) {
  if (node.inputs().size() != 3 || node.outputs().size() != 1 || !node.output(0)) return false;
  for (const Value* v : node.inputs())
    if (!v || !v->shape().rank_known() || v->shape().rank() > 4) return false;
  return node.input(0)->dtype() == DType::Bool && node.input(1)->dtype() == DType::F32 &&
         node.input(2)->dtype() == DType::F32 && node.output(0)->dtype() == DType::F32;
}

}  // namespace

VDRT_GPU_KERNEL("", "Where", build_where, supports_where);

}  // namespace vdrt::gpu
