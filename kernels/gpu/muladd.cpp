// vdrt.MulAdd on the GPU: one muladd.comp / muladd.cl dispatch,
// y = a * (b + offset) + c with NumPy broadcasting. Broadcasts are planned
// as in binary.comp: the shapes collapse to at most 6 dims and each operand
// gets its element strides (0 where it repeats); MODE 1 is the same-shape
// case without index math. float32 only.
#include "kernels/gpu/gpu_kernel.h"
#include "kernels/gpu/strided_copy.h"

namespace vdrt::gpu {
namespace {

constexpr size_t kMaxDims = 6;

Program build_muladd(const KernelArgs& a) {
  std::vector<int64_t> dims = a.outputs[0].dims;
  const uint64_t n = static_cast<uint64_t>(numel(dims));
  Program prog;
  if (!n) return prog;
  Dispatch d;
  d.shader = "muladd";
  d.args = {in(0), in(1), in(2), out(0)};
  const bool same = a.inputs[0].dims == dims && a.inputs[1].dims == dims && a.inputs[2].dims == dims;
  std::vector<int64_t> sa = broadcast_strides(a.inputs[0].dims, dims), sb = broadcast_strides(a.inputs[1].dims, dims),
                       sc = broadcast_strides(a.inputs[2].dims, dims);
  collapse_dims(dims, {&sa, &sb, &sc});
  VDRT_CHECK(dims.size() <= kMaxDims, "vdrt.MulAdd on the GPU: more than 6 non-mergeable dims");
  // Broadcasts (adaLN's [T, C] * [1, C]) by 4 outputs a work item where each
  // operand runs along the innermost dim or repeats along it: the index math
  // (a division per dim) was most of the kernel's time on the H200.
  const bool by4 = !same && !dims.empty() && dims.back() % 4 == 0 && sa.back() <= 1 && sb.back() <= 1 && sc.back() <= 1;
  if (same) d.spec = {1u};
  else if (by4) d.spec = {2u, uint32_t(dims.size()), uint32_t(sa.back()), uint32_t(sb.back()), uint32_t(sc.back())};
  else d.spec = {0u};
  while (dims.size() < kMaxDims) {
    dims.insert(dims.begin(), 1);
    for (auto* s : {&sa, &sb, &sc}) s->insert(s->begin(), 0);
  }
  d.u32(static_cast<uint32_t>(n));
  for (const auto* v : {&dims, &sa, &sb, &sc})
    for (int64_t x : *v) d.u32(static_cast<uint32_t>(x));
  d.f32(a.attrs().get_float("offset", 0.0f));
  set_groups_1d(d, by4 ? n / 4 : n, 256, a.caps);
  prog.dispatches.push_back(d);
  return prog;
}

bool supports_muladd(const Node& node, const DeviceCaps&) {
  if (!all_float32(node) || node.inputs().size() != 3) return false;
  // A rank unknown at load is checked when the node is compiled for concrete shapes.
  for (const Value* v : node.inputs())
    if (!v || (v->shape().rank_known() && v->shape().rank() > kMaxDims)) return false;
  return true;
}

}  // namespace

VDRT_GPU_KERNEL("vdrt", "MulAdd", build_muladd, supports_muladd);

}  // namespace vdrt::gpu
