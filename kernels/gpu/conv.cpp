// Conv (f32; 1-D, 2-D, 3-D; any group; strides, dilations, explicit pads or
// auto_pad; optional bias) with the semantics of kernels/cpu/conv.cpp.
// Geometry comes from graph/ops/conv_params (the CPU kernel's source too).
//
// Main path: conv.comp, an implicit GEMM per (image, group):
//   Y (Cout/g x pixels) = W_g (Cout/g x Cin/g*taps) * col (Cin/g*taps x pixels)
// with the im2col gather done while staging col tiles in shared memory.
// The tile shape is picked from the output channels per group (small Cout
// gets short, wide tiles). A patch embedding (kernel == stride, no pads)
// needs no special case: its gather is in bounds and the GEMM is plain.
// Few output channels per group (depthwise): conv_direct.comp, one
// invocation per output element.
#include <string>
#include <vector>

#include "graph/ops/conv_params.h"
#include "kernels/gpu/gpu_kernel.h"

namespace vdrt::gpu {
namespace {

struct Tile {
  uint32_t bm, bn, bk, tm, tn;
  uint32_t wg() const { return (bm / tm) * (bn / tn); }
  uint32_t shared_bytes() const { return (bm + bn) * bk * 4; }
};

Tile pick_tile(int64_t mg, int64_t pixels, int64_t groups_z, const DeviceCaps& caps) {
  const Tile big{128, 128, 16, 8, 8}, mid{64, 64, 16, 4, 4}, m32{32, 128, 16, 4, 4}, m16{16, 128, 16, 2, 4},
      m8{8, 128, 16, 1, 4};
  auto fits = [&](const Tile& t) { return t.shared_bytes() <= caps.max_shared_bytes && t.wg() <= caps.max_workgroup_invocations; };
  if (mg >= 128 && pixels >= 1024 && fits(big)) {
    // Enough work groups to fill a large GPU with 128 x 128 tiles?
    const int64_t tiles = ((mg + 127) / 128) * ((pixels + 127) / 128) * groups_z;
    if (tiles >= 128) return big;
  }
  if (mg > 32 && fits(mid)) return mid;
  if (mg > 16 && fits(m32)) return m32;
  if (mg > 8 && fits(m16)) return m16;
  if (fits(m8)) return m8;
  return Tile{8, 32, 16, 1, 1};  // 256 invocations; tiny devices only
}

Program build_conv(const KernelArgs& a) {
  const auto& xd = a.inputs[0].dims;
  const auto& wd = a.inputs[1].dims;
  VDRT_CHECK(xd.size() >= 3 && xd.size() <= 5 && wd.size() == xd.size(),
             "GPU Conv needs X [N, C, D...] (1-3 spatial dims) and W of equal rank");
  const int64_t n = xd[0], c = xd[1], m = wd[0];
  const int64_t group = a.attrs().get_int("group", 1);
  VDRT_CHECK(group >= 1 && c % group == 0 && m % group == 0 && wd[1] * group == c, "Conv channels do not fit the group");
  const int64_t cg = c / group, mg = m / group;
  std::vector<int64_t> isz(xd.begin() + 2, xd.end());
  const std::vector<int64_t> k(wd.begin() + 2, wd.end());
  std::vector<ConvAxis> axes = conv_axes(a.attrs(), isz, k);
  // As 3-D: unit leading axes for 1-D and 2-D.
  while (axes.size() < 3) {
    axes.insert(axes.begin(), ConvAxis{1, 1, 1, 0, 0, 1});
    isz.insert(isz.begin(), 1);
  }
  int64_t pixels = 1, taps = 1;
  for (const ConvAxis& ax : axes) pixels *= ax.out, taps *= ax.kernel;
  VDRT_CHECK(a.outputs[0].numel() == n * m * pixels, "Conv output shape does not fit the input");
  Program prog;
  if (a.outputs[0].numel() == 0) return prog;
  const int64_t K = cg * taps;
  constexpr int64_t kMax32 = int64_t(1) << 32;
  VDRT_CHECK(a.inputs[0].numel() < kMax32 && a.inputs[1].numel() < kMax32 && a.outputs[0].numel() < kMax32,
             "GPU Conv indexes tensors with 32-bit offsets");
  const bool has_bias = a.has(2);

  auto geometry = [&](Dispatch& d) {
    for (int64_t s : isz) d.u32(static_cast<uint32_t>(s));
    for (const ConvAxis& ax : axes) d.u32(static_cast<uint32_t>(ax.out));
    for (const ConvAxis& ax : axes) d.u32(static_cast<uint32_t>(ax.kernel));
    for (const ConvAxis& ax : axes) d.u32(static_cast<uint32_t>(ax.stride));
    for (const ConvAxis& ax : axes) d.u32(static_cast<uint32_t>(ax.dilation));
    for (const ConvAxis& ax : axes) d.i32(static_cast<int32_t>(ax.pad_begin));
  };

  Dispatch d;
  d.args = {in(0), in(1), has_bias ? in(2) : in(1), out(0)};
  if (mg <= 2) {
    d.shader = "conv_direct";
    d.spec = {has_bias ? 1u : 0u};
    const uint64_t total = static_cast<uint64_t>(a.outputs[0].numel());
    d.u32(static_cast<uint32_t>(cg)).u32(static_cast<uint32_t>(mg)).u32(static_cast<uint32_t>(group));
    d.u32(static_cast<uint32_t>(total));
    geometry(d);
    set_groups_1d(d, total, 256, a.caps);
  } else {
    const Tile t = pick_tile(mg, pixels, n * group, a.caps);
    d.shader = "conv";
    d.spec = {t.bm, t.bn, t.bk, t.tm, t.tn, has_bias ? 1u : 0u, t.wg()};
    d.u32(static_cast<uint32_t>(cg)).u32(static_cast<uint32_t>(mg)).u32(static_cast<uint32_t>(group));
    d.u32(static_cast<uint32_t>(K));
    geometry(d);
    const uint64_t gx = (static_cast<uint64_t>(pixels) + t.bn - 1) / t.bn;
    const uint64_t gy = (static_cast<uint64_t>(mg) + t.bm - 1) / t.bm;
    const uint64_t gz = static_cast<uint64_t>(n * group);
    VDRT_CHECK(gx <= a.caps.max_groups_x && gy <= a.caps.max_groups_y && gz <= a.caps.max_groups_z,
               "GPU Conv grid exceeds the device's work-group limits");
    d.groups[0] = static_cast<uint32_t>(gx);
    d.groups[1] = static_cast<uint32_t>(gy);
    d.groups[2] = static_cast<uint32_t>(gz);
  }
  prog.dispatches.push_back(d);
  return prog;
}

bool supports_conv(const Node& node, const DeviceCaps&) {
  if (!all_float32(node) || node.inputs().size() < 2 || !node.input(0) || !node.input(1)) return false;
  const Shape& s = node.input(0)->shape();
  if (!s.rank_known() || s.rank() < 3 || s.rank() > 5) return false;
  const Shape& ws = node.input(1)->shape();
  if (ws.rank_known() && ws.rank() != s.rank()) return false;
  return true;
}

}  // namespace

VDRT_GPU_KERNEL("", "Conv", build_conv, supports_conv);

}  // namespace vdrt::gpu
