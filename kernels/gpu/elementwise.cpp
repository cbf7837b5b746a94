// One- and two-operand float ops: unary.comp and binary.comp, the op chosen
// by a specialization constant.
#include <limits>
#include <map>

#include "kernels/gpu/strided_copy.h"
#include "kernels/gpu/gpu_kernel.h"

namespace vdrt::gpu {
namespace {

enum UnaryOp : uint32_t {
  kIdentity = 0, kRelu, kSigmoid, kTanh, kExp, kLog, kSqrt, kReciprocal, kNeg, kAbs, kSin, kCos, kErf, kGeluErf,
  kGeluTanh, kFloor, kCeil, kRound, kSign, kSoftplus, kLeakyRelu, kElu, kSilu, kHardSigmoid, kClip,
};

const std::map<std::string, UnaryOp>& unary_ops() {
  static const std::map<std::string, UnaryOp> ops{
      {"Relu", kRelu}, {"Sigmoid", kSigmoid}, {"Tanh", kTanh}, {"Exp", kExp}, {"Log", kLog}, {"Sqrt", kSqrt},
      {"Reciprocal", kReciprocal}, {"Neg", kNeg}, {"Abs", kAbs}, {"Sin", kSin}, {"Cos", kCos}, {"Erf", kErf},
      {"Floor", kFloor}, {"Ceil", kCeil}, {"Round", kRound}, {"Sign", kSign}, {"Softplus", kSoftplus},
      {"LeakyRelu", kLeakyRelu}, {"Elu", kElu}, {"HardSigmoid", kHardSigmoid}, {"Gelu", kGeluErf},
      {"Clip", kClip}};
  return ops;
}

Program build_unary(const KernelArgs& a) {
  const Node& node = a.node;
  uint32_t op;
  float alpha = 0, beta = 0;
  if (node.domain() == kVdrtDomain && node.op_type() == "Gelu") {
    op = a.attrs().get_string("approximate", "none") == "tanh" ? kGeluTanh : kGeluErf;
  } else if (node.domain() == kVdrtDomain && node.op_type() == "Silu") {
    op = kSilu;
  } else {
    op = unary_ops().at(node.op_type());
    if (op == kGeluErf && a.attrs().get_string("approximate", "none") == "tanh") op = kGeluTanh;
    if (op == kLeakyRelu) alpha = a.attrs().get_float("alpha", 0.01f);
    if (op == kElu) alpha = a.attrs().get_float("alpha", 1.0f);
    if (op == kHardSigmoid) alpha = a.attrs().get_float("alpha", 0.2f), beta = a.attrs().get_float("beta", 0.5f);
    if (op == kClip) {
      alpha = -std::numeric_limits<float>::infinity();
      beta = std::numeric_limits<float>::infinity();
      if (a.opset < 11) {
        alpha = a.attrs().get_float("min", alpha);
        beta = a.attrs().get_float("max", beta);
      } else {
        if (a.known.size() > 1 && a.known[1]) alpha = static_cast<float>(a.known[1]->as_double()[0]);
        if (a.known.size() > 2 && a.known[2]) beta = static_cast<float>(a.known[2]->as_double()[0]);
      }
    }
  }
  Program prog;
  Dispatch d;
  d.shader = "unary";
  d.spec = {op};
  d.args = {in(0), out(0)};
  uint64_t n = static_cast<uint64_t>(a.outputs[0].numel());
  d.u32(static_cast<uint32_t>(n)).f32(alpha).f32(beta);
  set_groups_1d(d, n, 256, a.caps);
  if (n) prog.dispatches.push_back(d);
  return prog;
}

bool supports_unary(const Node& node, const DeviceCaps&) {
  if (!all_float32(node)) return false;
  if (node.op_type() == "Clip" && node.inputs().size() > 1) {
    // min/max must be constants: they become push constants.
    for (size_t i = 1; i < node.inputs().size(); ++i)
      if (node.input(i) && !node.input(i)->is_constant()) return false;
  }
  return true;
}

enum BinaryOp : uint32_t { kAdd = 0, kSub, kMul, kDiv, kPow, kMax, kMin, kModFloor, kModTrunc, kPRelu };

const std::map<std::string, BinaryOp>& binary_ops() {
  static const std::map<std::string, BinaryOp> ops{{"Add", kAdd}, {"Sub", kSub}, {"Mul", kMul}, {"Div", kDiv},
                                                   {"Pow", kPow}, {"Max", kMax}, {"Min", kMin}, {"Mod", kModFloor},
                                                   {"PRelu", kPRelu}};
  return ops;
}

Program build_binary(const KernelArgs& a) {
  uint32_t op = binary_ops().at(a.node.op_type());
  if (op == kModFloor && a.attrs().get_int("fmod", 0) == 1) op = kModTrunc;
  std::vector<int64_t> dims = a.outputs[0].dims;
  uint64_t n = static_cast<uint64_t>(numel(dims));
  Program prog;
  if (!n) return prog;
  Dispatch d;
  d.shader = "binary";
  d.args = {in(0), in(1), out(0)};
  uint32_t mode = 0;
  if (a.inputs[0].dims == dims && a.inputs[1].dims == dims) mode = 1;
  else if (a.inputs[0].dims == dims && a.inputs[1].numel() == 1) mode = 2;
  d.spec = {op, mode};
  std::vector<int64_t> sa = broadcast_strides(a.inputs[0].dims, dims), sb = broadcast_strides(a.inputs[1].dims, dims);
  collapse_dims(dims, {&sa, &sb});
  VDRT_CHECK(dims.size() <= 6, "GPU broadcast over more than 6 non-mergeable dims");
  while (dims.size() < 6) {
    dims.insert(dims.begin(), 1);
    sa.insert(sa.begin(), 0);
    sb.insert(sb.begin(), 0);
  }
  d.u32(static_cast<uint32_t>(n));
  for (int64_t x : dims) d.u32(static_cast<uint32_t>(x));
  for (int64_t x : sa) d.u32(static_cast<uint32_t>(x));
  for (int64_t x : sb) d.u32(static_cast<uint32_t>(x));
  set_groups_1d(d, n, 256, a.caps);
  prog.dispatches.push_back(d);
  return prog;
}

bool supports_binary(const Node& node, const DeviceCaps&) {
  if (!all_float32(node) || node.inputs().size() != 2) return false;
  // Up to 6 dims after merging; a rank unknown at load is checked when the
  // node is compiled for concrete shapes.
  for (const Value* v : node.inputs())
    if (!v || (v->shape().rank_known() && v->shape().rank() > 6)) return false;
  return true;
}

}  // namespace

VDRT_GPU_KERNEL("", "Relu", build_unary, supports_unary);
VDRT_GPU_KERNEL("", "Sigmoid", build_unary, supports_unary);
VDRT_GPU_KERNEL("", "Tanh", build_unary, supports_unary);
VDRT_GPU_KERNEL("", "Exp", build_unary, supports_unary);
VDRT_GPU_KERNEL("", "Log", build_unary, supports_unary);
VDRT_GPU_KERNEL("", "Sqrt", build_unary, supports_unary);
VDRT_GPU_KERNEL("", "Reciprocal", build_unary, supports_unary);
VDRT_GPU_KERNEL("", "Neg", build_unary, supports_unary);
VDRT_GPU_KERNEL("", "Abs", build_unary, supports_unary);
VDRT_GPU_KERNEL("", "Sin", build_unary, supports_unary);
VDRT_GPU_KERNEL("", "Cos", build_unary, supports_unary);
VDRT_GPU_KERNEL("", "Erf", build_unary, supports_unary);
VDRT_GPU_KERNEL("", "Floor", build_unary, supports_unary);
VDRT_GPU_KERNEL("", "Ceil", build_unary, supports_unary);
VDRT_GPU_KERNEL("", "Round", build_unary, supports_unary);
VDRT_GPU_KERNEL("", "Sign", build_unary, supports_unary);
VDRT_GPU_KERNEL("", "Softplus", build_unary, supports_unary);
VDRT_GPU_KERNEL("", "LeakyRelu", build_unary, supports_unary);
VDRT_GPU_KERNEL("", "Elu", build_unary, supports_unary);
VDRT_GPU_KERNEL("", "HardSigmoid", build_unary, supports_unary);
VDRT_GPU_KERNEL("", "Gelu", build_unary, supports_unary);
VDRT_GPU_KERNEL("", "Clip", build_unary, supports_unary);
VDRT_GPU_KERNEL("vdrt", "Gelu", build_unary, supports_unary);
VDRT_GPU_KERNEL("", "Add", build_binary, supports_binary);
VDRT_GPU_KERNEL("", "Sub", build_binary, supports_binary);
VDRT_GPU_KERNEL("", "Mul", build_binary, supports_binary);
VDRT_GPU_KERNEL("", "Div", build_binary, supports_binary);
VDRT_GPU_KERNEL("", "Pow", build_binary, supports_binary);
VDRT_GPU_KERNEL("", "Max", build_binary, supports_binary);
VDRT_GPU_KERNEL("", "Min", build_binary, supports_binary);
VDRT_GPU_KERNEL("", "Mod", build_binary, supports_binary);
VDRT_GPU_KERNEL("", "PRelu", build_binary, supports_binary);

}  // namespace vdrt::gpu
