// Resize (opsets 10-19): nearest (every nearest_mode) and linear (any number
// of resampled axes, up to rank 5), with every coordinate_transformation_mode
// but tf_crop_and_resize; scales or sizes must be known on the host. Same
// semantics as kernels/cpu/resize_kernel.cpp: the effective scales come
// from graph/ops/resize_params (plan_resize), and each axis's sampling
// position is the affine x = a * o + b the CPU evaluates in double. cubic,
// antialias and tf_crop_and_resize fall back to the CPU.
#include <cmath>
#include <string>
#include <vector>

#include "graph/ops/resize_params.h"
#include "kernels/gpu/gpu_kernel.h"

namespace vdrt::gpu {
namespace {

// Source coordinate of output o on one axis: x = a * o + b.
void affine(const std::string& mode, int64_t n_in, int64_t n_out, double scale, double& a, double& b) {
  const double in = static_cast<double>(n_in);
  const double out_width = scale * in;
  a = 1 / scale;
  b = 0;
  if (mode == "half_pixel") b = 0.5 / scale - 0.5;
  else if (mode == "asymmetric") b = 0;
  else if (mode == "pytorch_half_pixel") {
    if (out_width == 1) a = 0, b = -0.5;
    else b = 0.5 / scale - 0.5;
  } else if (mode == "align_corners") {
    if (out_width == 1) a = 0, b = 0;
    else a = (in - 1) / (out_width - 1), b = 0;
  } else if (mode == "tf_half_pixel_for_nn") b = 0.5 / scale;
  else if (mode == "half_pixel_symmetric") {
    const double adjustment = static_cast<double>(n_out) / out_width;
    const double offset = in / 2 * (1 - adjustment);
    b = offset + 0.5 / scale - 0.5;
  } else {
    VDRT_CHECK(false, "GPU Resize does not handle coordinate_transformation_mode " + mode);
  }
}

uint32_t nearest_code(const std::string& nm) {
  if (nm == "round_prefer_floor") return 0;
  if (nm == "round_prefer_ceil") return 1;
  if (nm == "floor") return 2;
  if (nm == "ceil") return 3;
  return 4;  // simple
}

Program build_resize(const KernelArgs& a) {
  const ResizeAttrs at = resize_attrs(a.attrs(), a.opset, false);
  const auto& id = a.inputs[0].dims;
  const auto& od = a.outputs[0].dims;
  const size_t scales_at = a.opset < 11 ? 1 : 2;
  std::vector<float> scales;
  std::vector<int64_t> sizes;
  if (a.has(scales_at)) {
    VDRT_CHECK(a.known.size() > scales_at && a.known[scales_at], "GPU Resize needs its scales on the host");
    for (double v : a.known[scales_at]->as_double()) scales.push_back(static_cast<float>(v));
  }
  if (scales_at == 2 && a.has(3)) {
    VDRT_CHECK(a.known.size() > 3 && a.known[3], "GPU Resize needs its sizes on the host");
    sizes = a.known[3]->as_int64();
  }
  const ResizePlan plan = plan_resize(id, scales, sizes, at.axes, at.policy);
  VDRT_CHECK(plan.out_dims == od, "Resize output " + dims_str(od) + " does not match the planned " +
                                      dims_str(plan.out_dims));
  const size_t r = id.size();
  VDRT_CHECK(r >= 1 && r <= 5, "GPU Resize handles ranks 1 to 5");
  Program prog;
  const uint64_t n = static_cast<uint64_t>(a.outputs[0].numel());
  if (n == 0) return prog;
  VDRT_CHECK(a.inputs[0].numel() > 0, "Resize cannot sample an empty input into " + dims_str(od));
  VDRT_CHECK(n < (uint64_t(1) << 31) && a.inputs[0].numel() < (int64_t(1) << 31),
             "GPU Resize indexes tensors with 32-bit offsets");
  const bool linear = at.mode == "linear";
  uint32_t interp = 0, down = 0;
  std::vector<uint32_t> ins(5, 1), outs(5, 1);
  std::vector<float> fa(5, 1.0f), fb(5, 0.0f);
  for (size_t d = 0; d < r; ++d) {
    const size_t s = 5 - r + d;  // right-aligned in the 5 slots
    const double scale = plan.scales[d];
    ins[s] = static_cast<uint32_t>(id[d]);
    outs[s] = static_cast<uint32_t>(od[d]);
    const bool identity = id[d] == od[d] && std::fabs(scale - 1) <= 1e-9;
    // Nearest maps every axis, as the CPU kernel does (some modes shift
    // even an unscaled axis); linear skips unchanged ones.
    if (linear && identity) continue;
    double ca, cb;
    affine(at.coord, id[d], od[d], scale, ca, cb);
    fa[s] = static_cast<float>(ca);
    fb[s] = static_cast<float>(cb);
    interp |= 1u << s;
    if (scale < 1) down |= 1u << s;
  }
  Dispatch d;
  d.shader = "resize";
  const uint32_t words = static_cast<uint32_t>(dtype_size(a.inputs[0].dtype) / 4);
  d.spec = {linear ? 1u : 0u, nearest_code(at.nearest_mode), words, at.exclude_outside ? 1u : 0u};
  d.args = {in(0), out(0)};
  d.u32(static_cast<uint32_t>(n)).u32(interp).u32(down);
  for (uint32_t v : ins) d.u32(v);
  for (uint32_t v : outs) d.u32(v);
  for (float v : fa) d.f32(v);
  for (float v : fb) d.f32(v);
  set_groups_1d(d, n, 256, a.caps);
  prog.dispatches.push_back(d);
  return prog;
}

bool supports_resize(const Node& node, const DeviceCaps&) {
  const Value* x = node.input(0);
  if (!x || node.outputs().empty() || !node.output(0) || node.output(0)->dtype() != x->dtype()) return false;
  if (!x->shape().rank_known() || x->shape().rank() < 1 || x->shape().rank() > 5) return false;
  const AttributeMap& at = node.attrs();
  const std::string mode = at.get_string("mode", "nearest");
  const std::string coord = at.get_string("coordinate_transformation_mode", "half_pixel");
  if (coord == "tf_crop_and_resize") return false;
  if (mode == "nearest") {
    const DType t = x->dtype();
    return t == DType::F32 || t == DType::I32 || t == DType::I64 || t == DType::F64;
  }
  if (mode == "linear" || mode == "bilinear" || mode == "trilinear")
    return x->dtype() == DType::F32 && at.get_int("antialias", 0) == 0;
  return false;  // cubic
}

}  // namespace

VDRT_GPU_KERNEL("", "Resize", build_resize, supports_resize);

}  // namespace vdrt::gpu
