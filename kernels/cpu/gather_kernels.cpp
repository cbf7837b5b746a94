// CPU kernels of the indexed reads Gather, GatherElements and GatherND.
// Indices are validated up front (index_util); the copies then move whole
// contiguous slices with memcpy where the layout allows, in parallel.
#include <atomic>

#include "kernels/cpu/index_util.h"
#include "kernels/cpu/kernel.h"
#include "kernels/cpu/strided_copy.h"

namespace vdrt::cpu {
namespace {

int64_t product(const std::vector<int64_t>& d, size_t lo, size_t hi) {
  int64_t p = 1;
  for (size_t i = lo; i < hi; ++i) p *= d[i];
  return p;
}

// Copies `rows` slices of `slice_bytes`, slice r from src + src_offset(r).
template <typename Offset>
void copy_slices(int64_t rows, size_t slice_bytes, const uint8_t* src, uint8_t* dst, Offset src_offset) {
  parallel_rows(rows, static_cast<int64_t>(slice_bytes), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r)
      copy_slice(dst + r * static_cast<int64_t>(slice_bytes), src + src_offset(r), slice_bytes);
  });
}

void gather_kernel(KernelContext& ctx) {
  const TensorView& data = ctx.in(0);
  TensorView& out = ctx.out(0);
  const int64_t r = static_cast<int64_t>(data.rank());
  VDRT_CHECK(r >= 1, "Gather needs data of rank >= 1");
  const int64_t axis = normalize_axis(ctx.attrs.get_int("axis", 0), r);
  const std::vector<int64_t> idx = checked_indices(ctx.in(1), data.dims[axis], "Gather", axis);
  const size_t es = dtype_size(data.dtype);
  const int64_t outer = product(data.dims, 0, axis), n = data.dims[axis];
  const int64_t inner_bytes = product(data.dims, axis + 1, r) * static_cast<int64_t>(es);
  const int64_t m = static_cast<int64_t>(idx.size());
  VDRT_CHECK(out.numel() * static_cast<int64_t>(es) == outer * m * inner_bytes, "Gather output has the wrong size");
  if (m == 0) return;
  const auto* src = static_cast<const uint8_t*>(data.data);
  auto* dst = static_cast<uint8_t*>(out.data);
  if (m == 1) {  // one index (a scalar, as in RoPE's pair split): no division per row
    const int64_t at = idx[0];
    copy_slices(outer, static_cast<size_t>(inner_bytes), src, dst, [&](int64_t row) { return (row * n + at) * inner_bytes; });
    return;
  }
  copy_slices(outer * m, static_cast<size_t>(inner_bytes), src, dst,
              [&](int64_t row) { return ((row / m) * n + idx[row % m]) * inner_bytes; });
}

void gather_elements_kernel(KernelContext& ctx) {
  const TensorView& data = ctx.in(0);
  const TensorView& ind = ctx.in(1);
  TensorView& out = ctx.out(0);
  const int64_t r = static_cast<int64_t>(data.rank());
  VDRT_CHECK(r >= 1 && ind.rank() == data.rank(), "GatherElements data and indices must have one rank >= 1");
  const int64_t axis = normalize_axis(ctx.attrs.get_int("axis", 0), r);
  for (int64_t i = 0; i < r; ++i)
    VDRT_CHECK(i == axis || ind.dims[i] <= data.dims[i],
               "GatherElements indices " + dims_str(ind.dims) + " exceed data " + dims_str(data.dims) +
                   " outside the axis");
  VDRT_CHECK(ind.dtype == DType::I64 || ind.dtype == DType::I32, "GatherElements indices must be int32 or int64");
  if (ind.numel() == 0) return;
  std::vector<int64_t> ds = contiguous_strides(data.dims);
  const int64_t axis_stride = ds[axis], n = data.dims[axis];
  ds[axis] = 0;  // the axis position comes from the index instead
  const std::vector<int64_t> os = contiguous_strides(ind.dims);
  const size_t es = dtype_size(data.dtype);
  const int64_t last = ind.dims.back(), rows = ind.numel() / last;
  const std::vector<int64_t> outer(ind.dims.begin(), ind.dims.end() - 1);
  const std::vector<int64_t> outer_s(ds.begin(), ds.end() - 1), outer_o(os.begin(), os.end() - 1);
  const int64_t step = ds.back();
  std::atomic<bool> any_bad{false};
  // One pass: indices are checked while they are used (see guarded_index).
  with_index_type(ind, [&](const auto* idx) {
    with_uint_of_size(es, [&]<typename T>() {
      const T* src = static_cast<const T*>(data.data);
      T* dst = static_cast<T*>(out.data);
      parallel_rows(rows, last * static_cast<int64_t>(es), [&](int64_t b, int64_t e) {
        OffsetWalker w(outer, outer_s, outer_o, b);
        bool bad = false;
        for (int64_t row = b; row < e; ++row, w.next()) {
          const auto* irow = idx + w.dst;
          T* drow = dst + w.dst;
          const T* srow = src + w.src;
          for (int64_t j = 0; j < last; ++j) drow[j] = srow[j * step + guarded_index(irow[j], n, bad) * axis_stride];
        }
        if (bad) any_bad = true;
      });
    });
  });
  if (any_bad) check_indices(ind, n, "GatherElements", axis);  // throws with the first bad index
}

void gather_nd_kernel(KernelContext& ctx) {
  const TensorView& data = ctx.in(0);
  const TensorView& ind = ctx.in(1);
  TensorView& out = ctx.out(0);
  const int64_t b = ctx.attrs.get_int("batch_dims", 0);
  const int64_t r = static_cast<int64_t>(data.rank()), q = static_cast<int64_t>(ind.rank());
  VDRT_CHECK(q >= 1 && b >= 0 && b < std::min(r, q), "GatherND batch_dims does not fit the ranks");
  const int64_t k = ind.dims[q - 1];
  VDRT_CHECK(k >= 1 && k <= r - b, "GatherND index tuples do not fit the data");
  const std::vector<int64_t> idx = ind.to_int64();
  const std::vector<int64_t> ds = contiguous_strides(data.dims);
  const int64_t batches = product(data.dims, 0, b);
  const int64_t batch_stride = product(data.dims, b, r);
  const int64_t tuples = product(ind.dims, b, q - 1);
  const size_t es = dtype_size(data.dtype);
  const int64_t slice_bytes = product(data.dims, b + k, r) * static_cast<int64_t>(es);
  // Resolve and check every tuple first so the copy loop cannot fail.
  std::vector<int64_t> offsets(static_cast<size_t>(batches * tuples));
  for (int64_t t = 0; t < batches * tuples; ++t) {
    int64_t off = (t / std::max<int64_t>(tuples, 1)) * batch_stride;
    for (int64_t j = 0; j < k; ++j) {
      int64_t v = idx[t * k + j];
      const int64_t dim = data.dims[b + j];
      if (v < -dim || v >= dim)
        throw Error("GatherND index " + std::to_string(v) + " is out of range for axis " + std::to_string(b + j) +
                    " of size " + std::to_string(dim));
      off += (v < 0 ? v + dim : v) * ds[b + j];
    }
    offsets[t] = off * static_cast<int64_t>(es);
  }
  VDRT_CHECK(out.nbytes() == offsets.size() * static_cast<size_t>(slice_bytes), "GatherND output has the wrong size");
  copy_slices(static_cast<int64_t>(offsets.size()), static_cast<size_t>(slice_bytes),
              static_cast<const uint8_t*>(data.data), static_cast<uint8_t*>(out.data),
              [&](int64_t row) { return offsets[row]; });
}

}  // namespace

VDRT_CPU_KERNEL("", "Gather", gather_kernel);
VDRT_CPU_KERNEL("", "GatherElements", gather_elements_kernel);
VDRT_CPU_KERNEL("", "GatherND", gather_nd_kernel);

}  // namespace vdrt::cpu
