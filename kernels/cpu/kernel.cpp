#include "kernels/cpu/kernel.h"

#include <algorithm>

namespace vdrt::cpu {

std::vector<int64_t> TensorView::to_int64() const {
  std::vector<int64_t> out(static_cast<size_t>(numel()));
  for (size_t i = 0; i < out.size(); ++i) {
    switch (dtype) {
      case DType::I64: out[i] = static_cast<const int64_t*>(data)[i]; break;
      case DType::I32: out[i] = static_cast<const int32_t*>(data)[i]; break;
      case DType::I16: out[i] = static_cast<const int16_t*>(data)[i]; break;
      case DType::I8: out[i] = static_cast<const int8_t*>(data)[i]; break;
      case DType::U8: case DType::Bool: out[i] = static_cast<const uint8_t*>(data)[i]; break;
      default: throw Error(std::string("expected an integer tensor, got ") + dtype_name(dtype));
    }
  }
  return out;
}

const TensorView& KernelContext::in(size_t i) const {
  VDRT_CHECK(has(i), "kernel input " + std::to_string(i) + " is missing");
  return inputs[i];
}

TensorView& KernelContext::out(size_t i) {
  VDRT_CHECK(i < outputs.size(), "kernel output " + std::to_string(i) + " is missing");
  return outputs[i];
}

KernelRegistry& KernelRegistry::instance() {
  static KernelRegistry r;
  return r;
}

void KernelRegistry::add(Kernel k) {
  kernels_.push_back(std::move(k));
  index_.emplace(kernels_.back().domain + "|" + kernels_.back().op, &kernels_.back());
}

const Kernel* KernelRegistry::find(const std::string& domain, const std::string& op) const {
  auto it = index_.find((domain == "ai.onnx" ? std::string() : domain) + "|" + op);
  return it == index_.end() ? nullptr : it->second;
}

std::vector<const Kernel*> KernelRegistry::all() const {
  std::vector<const Kernel*> out;
  for (const auto& k : kernels_) out.push_back(&k);
  return out;
}

SupportsFn float32_only() {
  return [](const AttributeMap&, const std::vector<DType>& dts, int64_t) {
    return std::all_of(dts.begin(), dts.end(), [](DType t) { return !is_float(t) || t == DType::F32; });
  };
}

SupportsFn dtypes_in(std::vector<DType> allowed) {
  return [allowed](const AttributeMap&, const std::vector<DType>& dts, int64_t) {
    return std::all_of(dts.begin(), dts.end(), [&](DType t) {
      return t == DType::Undefined || std::find(allowed.begin(), allowed.end(), t) != allowed.end();
    });
  };
}

detail::KernelRegistrar::KernelRegistrar(const char* domain, const char* op, KernelFn fn, SupportsFn sup) {
  KernelRegistry::instance().add(Kernel{domain, op, std::move(fn), std::move(sup)});
}

}  // namespace vdrt::cpu
