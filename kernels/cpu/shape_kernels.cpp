// CPU kernels of the ops that make tensors from shapes or attributes:
// Constant, ConstantOfShape, Shape, Size, Range, EyeLike, Identity. The
// runtime also runs them on the host while inferring shapes, so they must be
// exact on int64 data and cheap on tiny tensors.
#include <algorithm>
#include <cmath>

#include "graph/ops/constant_attribute.h"
#include "kernels/cpu/kernel.h"
#include "kernels/cpu/strided_copy.h"

namespace vdrt::cpu {
namespace {

void constant_kernel(KernelContext& ctx) {
  Tensor t = constant_from_attributes(ctx.attrs);
  TensorView& out = ctx.out(0);
  VDRT_CHECK(out.dtype == t.dtype() && out.dims == t.dims(), "Constant output does not match its value attribute");
  parallel_memcpy(out.data, t.raw(), t.nbytes());
}

void constant_of_shape_kernel(KernelContext& ctx) {
  TensorView& out = ctx.out(0);
  if (ctx.attrs.has("value")) {
    const Tensor& v = ctx.attrs.get_tensor("value");
    VDRT_CHECK(v.numel() == 1 && v.dtype() == out.dtype, "ConstantOfShape value must be one element of the output type");
    fill_elements(out.data, out.numel(), v.raw(), dtype_size(out.dtype));
  } else {
    std::memset(out.data, 0, out.nbytes());
  }
}

void shape_kernel(KernelContext& ctx) {
  const TensorView& in = ctx.in(0);
  TensorView& out = ctx.out(0);
  const int64_t r = static_cast<int64_t>(in.rank());
  auto clamp_index = [r](int64_t i) { return std::clamp<int64_t>(i < 0 ? i + r : i, 0, r); };
  const int64_t start = clamp_index(ctx.attrs.get_int("start", 0));
  const int64_t end = ctx.attrs.has("end") ? clamp_index(ctx.attrs.get_int("end")) : r;
  VDRT_CHECK(out.numel() == std::max<int64_t>(end - start, 0), "Shape output has the wrong length");
  int64_t* o = out.as<int64_t>();
  for (int64_t i = start; i < end; ++i) o[i - start] = in.dims[i];
}

void size_kernel(KernelContext& ctx) { *ctx.out(0).as<int64_t>() = ctx.in(0).numel(); }

void identity_kernel(KernelContext& ctx) { parallel_memcpy(ctx.out(0).data, ctx.in(0).data, ctx.in(0).nbytes()); }

// start + i * delta, computed exactly for integers and in double for floats
// (no accumulated rounding), then stored in the output type.
template <typename T, typename Load, typename Store>
void range_fill(KernelContext& ctx, Load load, Store store) {
  const double start = load(ctx.in(0)), delta = load(ctx.in(2));
  T* o = static_cast<T*>(ctx.out(0).data);
  for (int64_t i = 0, n = ctx.out(0).numel(); i < n; ++i) o[i] = store(start + static_cast<double>(i) * delta);
}

template <typename T>
void range_int(KernelContext& ctx) {
  const int64_t start = ctx.in(0).to_int64()[0], delta = ctx.in(2).to_int64()[0];
  T* o = ctx.out(0).as<T>();
  // Unsigned arithmetic wraps instead of overflowing (the shape function
  // has already bounded the count, not the values).
  for (int64_t i = 0, n = ctx.out(0).numel(); i < n; ++i)
    o[i] = static_cast<T>(static_cast<uint64_t>(start) + static_cast<uint64_t>(i) * static_cast<uint64_t>(delta));
}

void range_kernel(KernelContext& ctx) {
  switch (ctx.out(0).dtype) {
    case DType::I64: return range_int<int64_t>(ctx);
    case DType::I32: return range_int<int32_t>(ctx);
    case DType::I16: return range_int<int16_t>(ctx);
    case DType::I8: return range_int<int8_t>(ctx);
    case DType::U8: return range_int<uint8_t>(ctx);
    case DType::F32:
      return range_fill<float>(ctx, [](const TensorView& v) { return double(*v.as<float>()); },
                               [](double x) { return static_cast<float>(x); });
    case DType::F64:
      return range_fill<double>(ctx, [](const TensorView& v) { return *v.as<double>(); }, [](double x) { return x; });
    case DType::F16:
      return range_fill<uint16_t>(ctx, [](const TensorView& v) { return double(half_to_float(*static_cast<const uint16_t*>(v.data))); },
                                  [](double x) { return float_to_half(static_cast<float>(x)); });
    case DType::BF16:
      return range_fill<uint16_t>(ctx, [](const TensorView& v) { return double(bf16_to_float(*static_cast<const uint16_t*>(v.data))); },
                                  [](double x) { return float_to_bf16(static_cast<float>(x)); });
    default: throw Error(std::string("Range does not handle ") + dtype_name(ctx.out(0).dtype));
  }
}

// The bytes of the value 1 in `t`.
uint64_t one_of(DType t) {
  switch (t) {
    case DType::F32: { float f = 1.0f; uint32_t b; std::memcpy(&b, &f, 4); return b; }
    case DType::F64: { double f = 1.0; uint64_t b; std::memcpy(&b, &f, 8); return b; }
    case DType::F16: return 0x3c00;
    case DType::BF16: return 0x3f80;
    case DType::F8E4M3: return 0x38;
    case DType::F8E5M2: return 0x3c;
    default: return 1;  // integers and bool, little-endian
  }
}

void eye_like_kernel(KernelContext& ctx) {
  TensorView& out = ctx.out(0);
  VDRT_CHECK(out.rank() == 2, "EyeLike needs a 2-D tensor");
  const int64_t rows = out.dims[0], cols = out.dims[1];
  const int64_t k = std::clamp<int64_t>(ctx.attrs.get_int("k", 0), -rows, cols);
  const size_t es = dtype_size(out.dtype);
  std::memset(out.data, 0, out.nbytes());
  const uint64_t one = one_of(out.dtype);
  auto* d = static_cast<uint8_t*>(out.data);
  for (int64_t i = std::max<int64_t>(0, -k); i < rows && i + k < cols; ++i)
    std::memcpy(d + (i * cols + i + k) * static_cast<int64_t>(es), &one, es);
}

}  // namespace

VDRT_CPU_KERNEL("", "Constant", constant_kernel);
VDRT_CPU_KERNEL("", "ConstantOfShape", constant_of_shape_kernel);
VDRT_CPU_KERNEL("", "Shape", shape_kernel);
VDRT_CPU_KERNEL("", "Size", size_kernel);
VDRT_CPU_KERNEL("", "Identity", identity_kernel);
VDRT_CPU_KERNEL_IF("", "Range", range_kernel,
                   dtypes_in({DType::F32, DType::F64, DType::F16, DType::BF16, DType::I8, DType::U8, DType::I16,
                              DType::I32, DType::I64}));
VDRT_CPU_KERNEL("", "EyeLike", eye_like_kernel);

}  // namespace vdrt::cpu
