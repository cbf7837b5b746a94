// CPU kernels of the indexed writes ScatterND and ScatterElements (plus the
// deprecated Scatter). The output starts as a copy of the data; updates are
// applied in index order so that repeated indices behave like the ONNX
// reference (last write wins for "none", reductions accumulate).
#include <algorithm>

#include "kernels/cpu/index_util.h"
#include "kernels/cpu/kernel.h"
#include "kernels/cpu/strided_copy.h"

namespace vdrt::cpu {
namespace {

enum class Reduction { None, Add, Mul, Max, Min };

Reduction reduction_of(const KernelContext& ctx) {
  std::string r = ctx.attrs.get_string("reduction", "none");
  if (r == "none") return Reduction::None;
  if (r == "add") return Reduction::Add;
  if (r == "mul") return Reduction::Mul;
  if (r == "max") return Reduction::Max;
  if (r == "min") return Reduction::Min;
  throw Error("reduction must be none, add, mul, max or min, got '" + r + "'");
}

template <typename T>
T combine(Reduction r, T a, T b) {
  switch (r) {
    case Reduction::Add: return static_cast<T>(a + b);
    case Reduction::Mul: return static_cast<T>(a * b);
    case Reduction::Max: return std::max(a, b);
    case Reduction::Min: return std::min(a, b);
    case Reduction::None: break;
  }
  return b;
}

// dst[i * dstep] = dst[i * dstep] (op) src[i] for n elements; 16-bit floats
// are combined in float and rounded back.
void reduce_into(DType t, Reduction r, uint8_t* dst, int64_t dstep, const uint8_t* src, int64_t n) {
  auto loop = [&]<typename T>(auto load, auto store) {
    T* d = reinterpret_cast<T*>(dst);
    const T* s = reinterpret_cast<const T*>(src);
    for (int64_t i = 0; i < n; ++i) d[i * dstep] = store(combine(r, load(d[i * dstep]), load(s[i])));
  };
  auto same = [](auto x) { return x; };
  switch (t) {
    case DType::F32: return loop.template operator()<float>(same, same);
    case DType::F64: return loop.template operator()<double>(same, same);
    case DType::I8: return loop.template operator()<int8_t>(same, same);
    case DType::U8: return loop.template operator()<uint8_t>(same, same);
    case DType::I16: return loop.template operator()<int16_t>(same, same);
    case DType::I32: return loop.template operator()<int32_t>(same, same);
    case DType::I64: return loop.template operator()<int64_t>(same, same);
    case DType::F16: return loop.template operator()<uint16_t>(half_to_float, float_to_half);
    case DType::BF16: return loop.template operator()<uint16_t>(bf16_to_float, float_to_bf16);
    default: throw Error(std::string("scatter reductions do not handle ") + dtype_name(t));
  }
}

void copy_data(KernelContext& ctx) {
  const TensorView& data = ctx.in(0);
  TensorView& out = ctx.out(0);
  VDRT_CHECK(out.dims == data.dims && out.dtype == data.dtype, "scatter output must match the data");
  parallel_memcpy(out.data, data.data, data.nbytes());
}

void scatter_nd_kernel(KernelContext& ctx) {
  const TensorView& data = ctx.in(0);
  const TensorView& ind = ctx.in(1);
  const TensorView& upd = ctx.in(2);
  const Reduction red = reduction_of(ctx);
  const int64_t r = static_cast<int64_t>(data.rank());
  VDRT_CHECK(ind.dtype == DType::I64 && ind.rank() >= 1, "ScatterND indices must be int64 of rank >= 1");
  const int64_t k = ind.dims.back();
  VDRT_CHECK(k >= 1 && k <= r, "ScatterND index tuples of length " + std::to_string(k) + " do not fit data " +
                                   dims_str(data.dims));
  std::vector<int64_t> want(ind.dims.begin(), ind.dims.end() - 1);
  want.insert(want.end(), data.dims.begin() + k, data.dims.end());
  VDRT_CHECK(upd.dims == want, "ScatterND updates " + dims_str(upd.dims) + " should have shape " + dims_str(want));
  const std::vector<int64_t> idx = ind.to_int64();
  const std::vector<int64_t> ds = contiguous_strides(data.dims);
  const size_t es = dtype_size(data.dtype);
  const int64_t slice = k < r ? ds[k - 1] : 1;  // elements per tuple
  const int64_t tuples = k ? static_cast<int64_t>(idx.size()) / k : 0;
  std::vector<int64_t> offsets(tuples);
  for (int64_t t = 0; t < tuples; ++t) {
    int64_t off = 0;
    for (int64_t j = 0; j < k; ++j) {
      int64_t v = idx[t * k + j];
      if (v < -data.dims[j] || v >= data.dims[j])
        throw Error("ScatterND index " + std::to_string(v) + " is out of range for axis " + std::to_string(j) +
                    " of size " + std::to_string(data.dims[j]));
      off += (v < 0 ? v + data.dims[j] : v) * ds[j];
    }
    offsets[t] = off;
  }
  copy_data(ctx);
  auto* dst = static_cast<uint8_t*>(ctx.out(0).data);
  auto* src = static_cast<const uint8_t*>(upd.data);
  const size_t slice_bytes = static_cast<size_t>(slice) * es;
  for (int64_t t = 0; t < tuples; ++t) {
    uint8_t* d = dst + offsets[t] * static_cast<int64_t>(es);
    const uint8_t* s = src + t * static_cast<int64_t>(slice_bytes);
    if (red == Reduction::None) parallel_memcpy(d, s, slice_bytes);
    else reduce_into(data.dtype, red, d, 1, s, slice);
  }
}

void scatter_elements_kernel(KernelContext& ctx) {
  const TensorView& data = ctx.in(0);
  const TensorView& ind = ctx.in(1);
  const TensorView& upd = ctx.in(2);
  const Reduction red = reduction_of(ctx);
  const int64_t r = static_cast<int64_t>(data.rank());
  VDRT_CHECK(r >= 1 && ind.rank() == data.rank() && upd.dims == ind.dims,
             "ScatterElements needs indices and updates of one shape and the data's rank");
  const int64_t axis = normalize_axis(ctx.attrs.get_int("axis", 0), r);
  for (int64_t i = 0; i < r; ++i)
    VDRT_CHECK(i == axis || ind.dims[i] <= data.dims[i],
               "ScatterElements indices " + dims_str(ind.dims) + " exceed data " + dims_str(data.dims));
  check_indices(ind, data.dims[axis], "ScatterElements", axis);
  copy_data(ctx);
  if (ind.numel() == 0) return;
  std::vector<int64_t> ds = contiguous_strides(data.dims);
  const int64_t axis_stride = ds[axis], n = data.dims[axis];
  ds[axis] = 0;
  const std::vector<int64_t> us = contiguous_strides(ind.dims);
  const size_t es = dtype_size(data.dtype);
  auto* dst = static_cast<uint8_t*>(ctx.out(0).data);
  auto* src = static_cast<const uint8_t*>(upd.data);
  with_index_type(ind, [&](const auto* idx) {
    // In index order, so repeated indices resolve as in the reference.
    OffsetWalker w(ind.dims, us, ds, 0);  // src = position in updates, dst = data offset without the axis
    for (int64_t i = 0, count = ind.numel(); i < count; ++i, w.next()) {
      uint8_t* d = dst + (w.dst + normalized_index(idx[i], n) * axis_stride) * static_cast<int64_t>(es);
      const uint8_t* s = src + w.src * static_cast<int64_t>(es);
      if (red == Reduction::None) std::memcpy(d, s, es);
      else reduce_into(data.dtype, red, d, 1, s, 1);
    }
  });
}

}  // namespace

VDRT_CPU_KERNEL("", "ScatterND", scatter_nd_kernel);
VDRT_CPU_KERNEL("", "ScatterElements", scatter_elements_kernel);
VDRT_CPU_KERNEL("", "Scatter", scatter_elements_kernel);

}  // namespace vdrt::cpu
