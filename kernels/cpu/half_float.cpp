#include "kernels/cpu/half_float.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "kernels/cpu/dtype_dispatch.h"
#include "kernels/cpu/half_convert.h"

namespace vdrt::cpu {
namespace {

// The one bulk f32 <-> f16/bf16 conversion is half_convert.h (F16C where available).
void half_to_f32(const TensorView& src, float* dst) {
  const auto* s = static_cast<const uint16_t*>(src.data);
  if (src.dtype == DType::F16) f16_to_f32(s, dst, src.numel());
  else bf16_to_f32(s, dst, src.numel());
}

void f32_to_half(const float* src, const TensorView& dst) {
  auto* d = static_cast<uint16_t*>(dst.data);
  if (dst.dtype == DType::F16) f32_to_f16(src, d, dst.numel());
  else f32_to_bf16(src, d, dst.numel());
}

}  // namespace

bool has_half_float(const KernelContext& ctx) {
  for (const auto& v : ctx.inputs)
    if (is_half_float(v.dtype)) return true;
  for (const auto& v : ctx.outputs)
    if (is_half_float(v.dtype)) return true;
  return false;
}

void run_in_f32(KernelContext& ctx, const KernelFn& body) {
  std::vector<std::unique_ptr<float[]>> storage;
  auto widen = [&](const TensorView& v) {
    TensorView w = v;
    if (!is_half_float(v.dtype)) return w;
    storage.emplace_back(new float[static_cast<size_t>(std::max<int64_t>(v.numel(), 1))]);
    w.dtype = DType::F32;
    w.data = storage.back().get();
    return w;
  };
  KernelContext wide{ctx};  // copies every other field (attributes, opset, bound state)
  wide.inputs.clear();
  wide.outputs.clear();
  for (const auto& v : ctx.inputs) {
    TensorView w = widen(v);
    if (is_half_float(v.dtype)) half_to_f32(v, static_cast<float*>(w.data));
    wide.inputs.push_back(w);
  }
  for (const auto& v : ctx.outputs) wide.outputs.push_back(widen(v));
  body(wide);
  for (size_t i = 0; i < ctx.outputs.size(); ++i)
    if (is_half_float(ctx.outputs[i].dtype)) f32_to_half(static_cast<const float*>(wide.outputs[i].data), ctx.outputs[i]);
}

KernelFn with_half_float(KernelFn body) {
  return [body](KernelContext& ctx) {
    if (has_half_float(ctx)) run_in_f32(ctx, body);
    else body(ctx);
  };
}

SupportsFn f32_or_half() {
  return [](const AttributeMap&, const std::vector<DType>& dts, int64_t) {
    for (DType t : dts)
      if (is_float(t) && t != DType::F32 && !is_half_float(t)) return false;
    return true;
  };
}

}  // namespace vdrt::cpu
