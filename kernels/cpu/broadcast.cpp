#include "kernels/cpu/broadcast.h"

#include <string>

#include "graph/error.h"
#include "graph/shape.h"

namespace vdrt::cpu {

BroadcastPlan make_broadcast_plan(const std::vector<int64_t>& out_dims,
                                  const std::vector<std::vector<int64_t>>& in_dims) {
  const size_t rank = out_dims.size(), n = in_dims.size();
  // Right-align every operand and give broadcast dims stride 0.
  std::vector<std::vector<int64_t>> full(n, std::vector<int64_t>(rank, 0));
  for (size_t k = 0; k < n; ++k) {
    const auto& d = in_dims[k];
    if (d.size() > rank)
      throw Error("operand of shape " + dims_str(d) + " cannot be broadcast to " + dims_str(out_dims));
    int64_t stride = 1;
    for (size_t j = 0; j < d.size(); ++j) {
      const size_t i = rank - 1 - j, src = d.size() - 1 - j;
      if (d[src] == out_dims[i]) full[k][i] = d[src] == 1 ? 0 : stride;
      else if (d[src] != 1)
        throw Error("operand of shape " + dims_str(d) + " cannot be broadcast to " + dims_str(out_dims));
      stride *= d[src];
    }
  }
  BroadcastPlan plan;
  plan.total = numel(out_dims);
  plan.strides.assign(n, {});
  for (size_t i = 0; i < rank; ++i) {
    if (out_dims[i] == 1) continue;
    bool merge = !plan.dims.empty();
    for (size_t k = 0; k < n && merge; ++k) {
      // Mergeable when the previous dim continues this one contiguously.
      const int64_t prev = plan.strides[k].back();
      merge = prev == full[k][i] * out_dims[i] && (prev != 0 || full[k][i] == 0);
    }
    if (merge) {
      plan.dims.back() *= out_dims[i];
      for (size_t k = 0; k < n; ++k) plan.strides[k].back() = full[k][i];
    } else {
      plan.dims.push_back(out_dims[i]);
      for (size_t k = 0; k < n; ++k) plan.strides[k].push_back(full[k][i]);
    }
  }
  if (plan.dims.empty()) {
    plan.dims.push_back(1);
    for (auto& s : plan.strides) s.push_back(0);
  }
  return plan;
}

}  // namespace vdrt::cpu
