// Ops that only move elements (Reshape and kin, Transpose, Slice, Expand,
// Concat, Split, Gather) and Cast. Everything but Gather and Cast is one
// strided copy (copy.comp) per input or output.
#include <numeric>

#include "kernels/gpu/strided_copy.h"
#include "kernels/gpu/gpu_kernel.h"

namespace vdrt::gpu {
namespace {

size_t elem_bytes(const KernelArgs& a) { return dtype_size(a.outputs[0].dtype); }

bool supports_copyable(const Node& node, const DeviceCaps&) {
  for (const Value* v : node.outputs())
    if (v && !copyable(v->dtype())) return false;
  return node.input(0) && copyable(node.input(0)->dtype());
}

Program single(Dispatch d) {
  Program p;
  if (d.groups[0] && d.push[0]) p.dispatches.push_back(std::move(d));
  return p;
}

// Reshape, Squeeze, Unsqueeze, Flatten, Identity: the bytes are unchanged.
Program build_reshape(const KernelArgs& a) {
  std::vector<int64_t> dims{a.outputs[0].numel()};
  return single(strided_copy(dims, {1}, {1}, 0, 0, elem_bytes(a), in(0), out(0), a.caps));
}

Program build_transpose(const KernelArgs& a) {
  const auto& in_dims = a.inputs[0].dims;
  size_t r = in_dims.size();
  std::vector<int64_t> perm = a.attrs().get_ints("perm", {});
  if (perm.empty())
    for (size_t i = 0; i < r; ++i) perm.push_back(static_cast<int64_t>(r - 1 - i));
  std::vector<int64_t> in_strides = contiguous_strides(in_dims), src(r);
  for (size_t i = 0; i < r; ++i) src[i] = in_strides[perm[i]];
  return single(strided_copy(a.outputs[0].dims, src, contiguous_strides(a.outputs[0].dims), 0, 0, elem_bytes(a),
                             in(0), out(0), a.caps));
}

Program build_expand(const KernelArgs& a) {
  const auto& od = a.outputs[0].dims;
  return single(strided_copy(od, broadcast_strides(a.inputs[0].dims, od), contiguous_strides(od), 0, 0, elem_bytes(a),
                             in(0), out(0), a.caps));
}

Program build_slice(const KernelArgs& a) {
  const auto& id = a.inputs[0].dims;
  const int64_t r = static_cast<int64_t>(id.size());
  std::vector<int64_t> starts, ends, axes, steps;
  if (a.opset < 10) {
    starts = a.attrs().get_ints("starts");
    ends = a.attrs().get_ints("ends");
    axes = a.attrs().get_ints("axes", {});
  } else {
    VDRT_CHECK(a.known.size() > 2 && a.known[1] && a.known[2], "Slice starts/ends must be known on the host");
    starts = a.known[1]->as_int64();
    ends = a.known[2]->as_int64();
    if (a.known.size() > 3 && a.known[3]) axes = a.known[3]->as_int64();
    if (a.known.size() > 4 && a.known[4]) steps = a.known[4]->as_int64();
  }
  if (axes.empty()) {
    axes.resize(starts.size());
    std::iota(axes.begin(), axes.end(), 0);
  }
  if (steps.empty()) steps.assign(starts.size(), 1);
  std::vector<int64_t> begin(r, 0), step(r, 1);
  for (size_t k = 0; k < axes.size(); ++k) {
    int64_t ax = axes[k] < 0 ? axes[k] + r : axes[k];
    int64_t dim = id[ax], s = starts[k];
    if (s < 0) s += dim;
    if (steps[k] > 0) s = std::clamp<int64_t>(s, 0, dim);
    else s = std::clamp<int64_t>(s, 0, dim - 1);
    begin[ax] = s;
    step[ax] = steps[k];
  }
  std::vector<int64_t> cs = contiguous_strides(id), src(r);
  int64_t off = 0;
  for (int64_t i = 0; i < r; ++i) {
    src[i] = cs[i] * step[i];
    off += begin[i] * cs[i];
  }
  return single(strided_copy(a.outputs[0].dims, src, contiguous_strides(a.outputs[0].dims), off, 0, elem_bytes(a),
                             in(0), out(0), a.caps));
}

Program build_concat(const KernelArgs& a) {
  const auto& od = a.outputs[0].dims;
  int64_t r = static_cast<int64_t>(od.size());
  int64_t axis = a.attrs().get_int("axis");
  if (axis < 0) axis += r;
  std::vector<int64_t> os = contiguous_strides(od);
  Program p;
  int64_t at = 0;
  for (size_t i = 0; i < a.inputs.size(); ++i) {
    const auto& id = a.inputs[i].dims;
    if (!a.inputs[i].present() || numel(id) == 0) continue;
    p.dispatches.push_back(strided_copy(id, contiguous_strides(id), os, 0, at * os[axis], elem_bytes(a),
                                        in(static_cast<uint32_t>(i)), out(0), a.caps));
    at += id[axis];
  }
  return p;
}

Program build_split(const KernelArgs& a) {
  const auto& id = a.inputs[0].dims;
  int64_t r = static_cast<int64_t>(id.size());
  int64_t axis = a.attrs().get_int("axis", 0);
  if (axis < 0) axis += r;
  std::vector<int64_t> is = contiguous_strides(id);
  Program p;
  int64_t at = 0;
  for (size_t k = 0; k < a.outputs.size(); ++k) {
    const auto& od = a.outputs[k].dims;
    if (!a.outputs[k].present()) continue;
    if (numel(od) > 0)
      p.dispatches.push_back(strided_copy(od, is, contiguous_strides(od), at * is[axis], 0, elem_bytes(a), in(0),
                                          out(static_cast<uint32_t>(k)), a.caps));
    at += od[axis];
  }
  return p;
}

Program build_gather(const KernelArgs& a) {
  const auto& id = a.inputs[0].dims;
  int64_t r = static_cast<int64_t>(id.size());
  int64_t axis = a.attrs().get_int("axis", 0);
  if (axis < 0) axis += r;
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= id[i];
  for (int64_t i = axis + 1; i < r; ++i) inner *= id[i];
  Dispatch d;
  d.shader = "gather";
  d.spec = {static_cast<uint32_t>(elem_bytes(a) / 4), a.inputs[1].dtype == DType::I64 ? 1u : 0u};
  d.args = {in(0), in(1), out(0)};
  uint64_t n = static_cast<uint64_t>(a.outputs[0].numel());
  d.u32(static_cast<uint32_t>(n)).u32(static_cast<uint32_t>(id[axis])).u32(static_cast<uint32_t>(inner))
      .u32(static_cast<uint32_t>(a.inputs[1].numel()));
  set_groups_1d(d, n, 256, a.caps);
  return single(d);
}

bool supports_gather(const Node& node, const DeviceCaps& c) {
  const Value* idx = node.input(1);
  return supports_copyable(node, c) && idx && (idx->dtype() == DType::I64 || idx->dtype() == DType::I32);
}

uint32_t cast_code(DType t) {
  switch (t) {
    case DType::F32: return 0;
    case DType::I32: return 1;
    case DType::I64: return 2;
    default: return 3;  // F16
  }
}

Program build_cast(const KernelArgs& a) {
  DType from = a.inputs[0].dtype, to = a.outputs[0].dtype;
  if (from == to) return build_reshape(a);
  const uint64_t n = static_cast<uint64_t>(a.outputs[0].numel());
  Dispatch d;
  d.shader = "cast";
  d.spec = {cast_code(from), cast_code(to)};
  d.args = {in(0), out(0)};
  d.u32(static_cast<uint32_t>(n));
  // f16 casts take a pair of elements an invocation (cast.comp).
  const bool half = from == DType::F16 || to == DType::F16;
  set_groups_1d(d, half ? (n + 1) / 2 : n, 256, a.caps);
  return single(d);
}

// f32, i32 and i64 among themselves; f16 to and from f32 (a KV cache kept in
// f16, runtime/kv_cache.h).
bool supports_cast(const Node& node, const DeviceCaps&) {
  if (!node.input(0) || !node.output(0)) return false;
  const DType from = node.input(0)->dtype(), to = node.output(0)->dtype();
  auto word = [](DType t) { return t == DType::F32 || t == DType::I32 || t == DType::I64; };
  if (word(from) && word(to)) return true;
  return (from == DType::F16 && to == DType::F32) || (from == DType::F32 && to == DType::F16);
}

}  // namespace

VDRT_GPU_KERNEL("", "Reshape", build_reshape, supports_copyable);
VDRT_GPU_KERNEL("", "Squeeze", build_reshape, supports_copyable);
VDRT_GPU_KERNEL("", "Unsqueeze", build_reshape, supports_copyable);
VDRT_GPU_KERNEL("", "Flatten", build_reshape, supports_copyable);
VDRT_GPU_KERNEL("", "Identity", build_reshape, supports_copyable);
VDRT_GPU_KERNEL("", "Dropout", build_reshape, [](const Node& n, const DeviceCaps& c) {
  return n.outputs().size() == 1 && supports_copyable(n, c);
});
VDRT_GPU_KERNEL("", "Transpose", build_transpose, supports_copyable);
VDRT_GPU_KERNEL("", "Expand", build_expand, supports_copyable);
VDRT_GPU_KERNEL("", "Slice", build_slice, supports_copyable);
VDRT_GPU_KERNEL("", "Concat", build_concat, supports_copyable);
VDRT_GPU_KERNEL("", "Split", build_split, supports_copyable);
VDRT_GPU_KERNEL("", "Gather", build_gather, supports_gather);
VDRT_GPU_KERNEL("", "Cast", build_cast, supports_cast);

}  // namespace vdrt::gpu
