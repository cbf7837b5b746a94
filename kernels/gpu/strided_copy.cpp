#include "kernels/gpu/strided_copy.h"

namespace vdrt::gpu {

std::vector<int64_t> contiguous_strides(const std::vector<int64_t>& dims) {
  std::vector<int64_t> s(dims.size(), 1);
  for (int64_t i = static_cast<int64_t>(dims.size()) - 2; i >= 0; --i) s[i] = s[i + 1] * dims[i + 1];
  return s;
}

std::vector<int64_t> broadcast_strides(const std::vector<int64_t>& dims, const std::vector<int64_t>& out) {
  std::vector<int64_t> s(out.size(), 0);
  std::vector<int64_t> cs = contiguous_strides(dims);
  size_t off = out.size() - dims.size();
  for (size_t i = 0; i < dims.size(); ++i) s[off + i] = dims[i] == 1 ? 0 : cs[i];
  return s;
}

void collapse_dims(std::vector<int64_t>& dims, std::vector<std::vector<int64_t>*> strides) {
  std::vector<int64_t> d;
  std::vector<std::vector<int64_t>> s(strides.size());
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] == 1) continue;
    bool merge = !d.empty();
    for (size_t k = 0; k < strides.size() && merge; ++k) merge = s[k].back() == (*strides[k])[i] * dims[i];
    if (merge) {
      d.back() *= dims[i];
      for (size_t k = 0; k < strides.size(); ++k) s[k].back() = (*strides[k])[i];
    } else {
      d.push_back(dims[i]);
      for (size_t k = 0; k < strides.size(); ++k) s[k].push_back((*strides[k])[i]);
    }
  }
  dims = d;
  for (size_t k = 0; k < strides.size(); ++k) *strides[k] = s[k];
}

bool copyable(DType t) { return dtype_size(t) == 4 || dtype_size(t) == 8; }

Dispatch strided_copy(std::vector<int64_t> dims, std::vector<int64_t> in_strides, std::vector<int64_t> out_strides,
                      int64_t in_offset, int64_t out_offset, size_t elem_bytes, Arg src, Arg dst,
                      const DeviceCaps& caps) {
  VDRT_CHECK(elem_bytes == 4 || elem_bytes == 8, "GPU copy of " + std::to_string(elem_bytes) + "-byte elements");
  int64_t n = numel(dims);
  collapse_dims(dims, {&in_strides, &out_strides});
  VDRT_CHECK(dims.size() <= 6, "GPU copy over more than 6 non-mergeable dims");
  VDRT_CHECK(n < (int64_t(1) << 32), "GPU copy of more than 2^32 elements");
  while (dims.size() < 6) {
    dims.insert(dims.begin(), 1);
    in_strides.insert(in_strides.begin(), 0);
    out_strides.insert(out_strides.begin(), 0);
  }
  Dispatch d;
  d.shader = "copy";
  d.spec = {static_cast<uint32_t>(elem_bytes / 4)};
  d.args = {src, dst};
  d.u32(static_cast<uint32_t>(n)).u32(static_cast<uint32_t>(in_offset)).u32(static_cast<uint32_t>(out_offset));
  // Strides may be negative (Slice with negative steps): uint arithmetic
  // wraps to the right index.
  for (int64_t x : dims) d.u32(static_cast<uint32_t>(x));
  for (int64_t x : in_strides) d.u32(static_cast<uint32_t>(x));
  for (int64_t x : out_strides) d.u32(static_cast<uint32_t>(x));
  set_groups_1d(d, static_cast<uint64_t>(n), 256, caps);
  return d;
}

}  // namespace vdrt::gpu
