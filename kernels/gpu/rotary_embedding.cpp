// RotaryEmbedding (ONNX opset 23) and vdrt.RotaryEmbedding, f32: one
// dispatch of rotary_embedding.comp / .cl, one invocation per output element.
// X is [B, N, S, H] (4-D) or [B, S, N*H] (3-D); the caches are [B, S, R/2], or
// [P, R/2] indexed through int64 position_ids [B, S] (bound in place of the
// absent input otherwise, never read). Ids outside [0, P) are clamped on the
// device (the CPU kernel reports them).
#include "kernels/gpu/gpu_kernel.h"

namespace vdrt::gpu {
namespace {

Program build_rotary(const KernelArgs& a) {
  const std::vector<int64_t>& x = a.inputs[0].dims;
  const uint64_t n = static_cast<uint64_t>(a.outputs[0].numel());
  Program prog;
  if (!n) return prog;
  VDRT_CHECK(n < (uint64_t(1) << 32), "GPU RotaryEmbedding indexes tensors with 32-bit offsets");
  VDRT_CHECK(x.size() == 3 || x.size() == 4, "GPU RotaryEmbedding needs a 3-D or 4-D X");
  const bool four = x.size() == 4;
  const int64_t heads = four ? x[1] : a.attrs().get_int("num_heads", 0);
  VDRT_CHECK(heads > 0 && (four || x[2] % heads == 0), "GPU RotaryEmbedding: bad num_heads");
  const int64_t seq = four ? x[2] : x[1];
  const int64_t head = four ? x[3] : x[2] / heads;
  const int64_t rot_attr = a.attrs().get_int("rotary_embedding_dim", 0);
  const int64_t rot = rot_attr ? rot_attr : head;
  VDRT_CHECK(rot % 2 == 0 && rot <= head, "GPU RotaryEmbedding: rotary_embedding_dim must be even and <= the head size");
  const bool positions = a.has(3);
  const std::vector<int64_t>& cache = a.inputs[1].dims;
  VDRT_CHECK(!cache.empty() && cache.back() == rot / 2, "GPU RotaryEmbedding: caches must end in R/2");
  Dispatch d;
  d.shader = "rotary_embedding";
  d.args = {in(0), in(1), in(2), positions ? in(3) : in(1), out(0)};
  d.writes = {false, false, false, false, true};
  d.u32(static_cast<uint32_t>(n))
      .u32(static_cast<uint32_t>(head))
      .u32(static_cast<uint32_t>(rot / 2))
      .u32(static_cast<uint32_t>(heads))
      .u32(static_cast<uint32_t>(seq))
      .u32(four ? 1u : 0u)
      .u32(a.attrs().get_int("interleaved", 0) ? 1u : 0u)
      .u32(positions ? 1u : 0u)
      .u32(static_cast<uint32_t>(positions ? cache[0] : 0));
  set_groups_1d(d, n, 256, a.caps);
  prog.dispatches.push_back(d);
  return prog;
}

bool supports_rotary(const Node& node, const DeviceCaps&) {
  if (node.inputs().size() < 3 || node.outputs().size() != 1 || !node.output(0)) return false;
  for (size_t i = 0; i < 3; ++i)
    if (!node.input(i) || node.input(i)->dtype() != DType::F32) return false;
  if (node.inputs().size() > 3 && node.input(3) && node.input(3)->dtype() != DType::I64) return false;
  const Value* x = node.input(0);
  if (x->shape().rank_known() && x->shape().rank() != 3 && x->shape().rank() != 4) return false;
  return node.output(0)->dtype() == DType::F32;
}

}  // namespace

VDRT_GPU_KERNEL("", "RotaryEmbedding", build_rotary, supports_rotary);
VDRT_GPU_KERNEL("vdrt", "RotaryEmbedding", build_rotary, supports_rotary);

}  // namespace vdrt::gpu
