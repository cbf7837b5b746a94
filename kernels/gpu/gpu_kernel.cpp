#include "kernels/gpu/gpu_kernel.h"

#include <algorithm>

namespace vdrt::gpu {

KernelRegistry& KernelRegistry::instance() {
  static KernelRegistry r;
  return r;
}

void KernelRegistry::add(Kernel k) {
  kernels_.push_back(std::move(k));
  const Kernel* p = &kernels_.back();
  index_.emplace(p->domain + "|" + p->op, p);
}

const Kernel* KernelRegistry::find(const std::string& domain, const std::string& op) const {
  auto it = index_.find(domain + "|" + op);
  return it == index_.end() ? nullptr : it->second;
}

void set_groups_1d(Dispatch& d, uint64_t n, uint32_t local, const DeviceCaps& caps) {
  uint64_t groups = std::max<uint64_t>(1, (n + local - 1) / local);
  uint64_t x = std::min<uint64_t>(groups, caps.max_groups_x);
  uint64_t rest = (groups + x - 1) / x;
  uint64_t y = std::min<uint64_t>(rest, caps.max_groups_y);
  uint64_t z = (rest + y - 1) / y;
  VDRT_CHECK(z <= caps.max_groups_z, "GPU: too many work groups for " + std::to_string(n) + " items");
  d.groups[0] = static_cast<uint32_t>(x);
  d.groups[1] = static_cast<uint32_t>(y);
  d.groups[2] = static_cast<uint32_t>(z);
}

void set_groups_2d(Dispatch& d, int64_t gx, int64_t gy, const DeviceCaps& caps, const std::string& op) {
  VDRT_CHECK(gx <= caps.max_groups_x && gy <= caps.max_groups_y, "GPU " + op + ": too many work groups");
  d.groups[0] = static_cast<uint32_t>(gx);
  d.groups[1] = static_cast<uint32_t>(gy);
}

bool all_float32(const Node& node) {
  for (const Value* v : node.inputs())
    if (v && v->dtype() != DType::F32) return false;
  for (const Value* v : node.outputs())
    if (v && v->dtype() != DType::F32) return false;
  return true;
}

namespace detail {
KernelRegistrar::KernelRegistrar(const char* domain, const char* op, BuildFn build, SupportsFn supports) {
  KernelRegistry::instance().add(Kernel{domain, op, std::move(build), std::move(supports)});
}
}  // namespace detail

}  // namespace vdrt::gpu
