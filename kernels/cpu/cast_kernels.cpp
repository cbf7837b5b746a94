// CPU kernels of Cast and CastLike. Every (source, target) pair is one
// instantiation of a typed loop, so the common f32 <-> f16 casts run as tight
// loops. Values travel through the narrowest exact intermediate: int64 for
// integers and bool, float for f32 and narrower floats, double for f64 (with
// round-to-odd before a second rounding, so f64 -> f16 rounds once).
#include <cmath>
#include <type_traits>

#include "graph/ops/dtype_attribute.h"
#include "kernels/cpu/float8.h"
#include "kernels/cpu/half_convert.h"
#include "kernels/cpu/kernel.h"
#include "kernels/cpu/strided_copy.h"

namespace vdrt::cpu {
namespace {

// Storage types of the non-native formats, distinct so overloads can tell them apart.
struct Half { uint16_t v; };
struct BFloat { uint16_t v; };
struct E4M3 { uint8_t v; };
struct E5M2 { uint8_t v; };
struct Bool8 { uint8_t v; };

template <typename T> constexpr bool is_int_v = std::is_integral_v<T>;
template <typename T> constexpr bool is_narrow_float_v =
    std::is_same_v<T, float> || std::is_same_v<T, Half> || std::is_same_v<T, BFloat> || std::is_same_v<T, E4M3> ||
    std::is_same_v<T, E5M2>;

float widen(float x) { return x; }
float widen(Half x) { return half_to_float(x.v); }
float widen(BFloat x) { return bf16_to_float(x.v); }
float widen(E4M3 x) { return f8e4m3_to_float(x.v); }
float widen(E5M2 x) { return f8e5m2_to_float(x.v); }

// Float to integer truncates toward zero (ONNX). NaN and values beyond int64
// are undefined in ONNX; they map to 0 and the int64 limits instead of UB,
// then wrap into narrower types like C++ integer conversion.
template <typename D>
D truncate_to(double x) {
  if (std::isnan(x)) return D(0);
  constexpr double lim = 9223372036854775808.0;  // 2^63
  const int64_t i = x >= lim ? INT64_MAX : x < -lim ? INT64_MIN : static_cast<int64_t>(x);
  return static_cast<D>(i);
}

// Stores a float (already exact or rounded once) into D.
template <typename D>
D narrow(float x, bool saturate) {
  if constexpr (std::is_same_v<D, float>) return x;
  else if constexpr (std::is_same_v<D, double>) return x;
  else if constexpr (std::is_same_v<D, Half>) return Half{float_to_half(x)};
  else if constexpr (std::is_same_v<D, BFloat>) return BFloat{float_to_bf16(x)};
  else if constexpr (std::is_same_v<D, E4M3>) return E4M3{float_to_f8e4m3(x, saturate)};
  else if constexpr (std::is_same_v<D, E5M2>) return E5M2{float_to_f8e5m2(x, saturate)};
  else if constexpr (std::is_same_v<D, Bool8>) return Bool8{x != 0.0f};
  else return truncate_to<D>(x);
}

template <typename D>
D from_double(double x, bool saturate) {
  if constexpr (std::is_same_v<D, double>) return x;
  else if constexpr (std::is_same_v<D, float>) return static_cast<float>(x);
  else if constexpr (std::is_same_v<D, Bool8>) return Bool8{x != 0.0};
  else if constexpr (is_int_v<D>) return truncate_to<D>(x);
  else return narrow<D>(round_to_odd_float(x), saturate);
}

template <typename D>
D from_int(int64_t x, bool saturate) {
  if constexpr (std::is_same_v<D, Bool8>) return Bool8{x != 0};
  else if constexpr (is_int_v<D>) return static_cast<D>(x);
  else if constexpr (std::is_same_v<D, float>) return static_cast<float>(x);
  else return from_double<D>(static_cast<double>(x), saturate);
}

template <typename S, typename D>
D convert(S x, bool saturate) {
  if constexpr (std::is_same_v<S, Bool8>) return from_int<D>(x.v != 0, saturate);
  else if constexpr (is_int_v<S>) return from_int<D>(static_cast<int64_t>(x), saturate);
  else if constexpr (std::is_same_v<S, double>) return from_double<D>(x, saturate);
  else {
    static_assert(is_narrow_float_v<S>);
    return narrow<D>(widen(x), saturate);
  }
}

template <typename F>
void with_storage_type(DType t, F&& f) {
  switch (t) {
    case DType::F32: return f.template operator()<float>();
    case DType::F64: return f.template operator()<double>();
    case DType::F16: return f.template operator()<Half>();
    case DType::BF16: return f.template operator()<BFloat>();
    case DType::F8E4M3: return f.template operator()<E4M3>();
    case DType::F8E5M2: return f.template operator()<E5M2>();
    case DType::I8: return f.template operator()<int8_t>();
    case DType::U8: return f.template operator()<uint8_t>();
    case DType::I16: return f.template operator()<int16_t>();
    case DType::I32: return f.template operator()<int32_t>();
    case DType::I64: return f.template operator()<int64_t>();
    case DType::Bool: return f.template operator()<Bool8>();
    default: throw Error(std::string("Cast does not handle ") + dtype_name(t));
  }
}

// The f32 <-> 16-bit float pairs have vectorised bulk routines.
bool cast_half_fast(const TensorView& in, TensorView& out, int64_t n, int64_t chunk) {
  using Bulk = void (*)(const void*, void*, int64_t);
  Bulk f = nullptr;
  if (in.dtype == DType::F32 && out.dtype == DType::F16)
    f = [](const void* s, void* d, int64_t k) { f32_to_f16(static_cast<const float*>(s), static_cast<uint16_t*>(d), k); };
  else if (in.dtype == DType::F16 && out.dtype == DType::F32)
    f = [](const void* s, void* d, int64_t k) { f16_to_f32(static_cast<const uint16_t*>(s), static_cast<float*>(d), k); };
  else if (in.dtype == DType::F32 && out.dtype == DType::BF16)
    f = [](const void* s, void* d, int64_t k) { f32_to_bf16(static_cast<const float*>(s), static_cast<uint16_t*>(d), k); };
  else if (in.dtype == DType::BF16 && out.dtype == DType::F32)
    f = [](const void* s, void* d, int64_t k) { bf16_to_f32(static_cast<const uint16_t*>(s), static_cast<float*>(d), k); };
  if (!f) return false;
  const size_t is = dtype_size(in.dtype), os = dtype_size(out.dtype);
  parallel_rows((n + chunk - 1) / chunk, chunk * static_cast<int64_t>(is + os), [&](int64_t b, int64_t e) {
    const int64_t lo = b * chunk, hi = std::min(n, e * chunk);
    f(static_cast<const uint8_t*>(in.data) + lo * is, static_cast<uint8_t*>(out.data) + lo * os, hi - lo);
  });
  return true;
}

void cast_into(const TensorView& in, TensorView& out, bool saturate) {
  VDRT_CHECK(in.numel() == out.numel(), "Cast output size does not match its input");
  if (in.dtype == out.dtype) return parallel_memcpy(out.data, in.data, in.nbytes());
  constexpr int64_t kChunk = 1 << 14;  // elements per task
  const int64_t n = in.numel();
  if (cast_half_fast(in, out, n, kChunk)) return;
  with_storage_type(in.dtype, [&]<typename S>() {
    with_storage_type(out.dtype, [&]<typename D>() {
      const S* s = static_cast<const S*>(in.data);
      D* d = static_cast<D*>(out.data);
      parallel_rows((n + kChunk - 1) / kChunk, kChunk * static_cast<int64_t>(sizeof(S) + sizeof(D)),
                    [&](int64_t b, int64_t e) {
                      for (int64_t i = b * kChunk, end = std::min(n, e * kChunk); i < end; ++i)
                        d[i] = convert<S, D>(s[i], saturate);
                    });
    });
  });
}

void cast_kernel(KernelContext& ctx) {
  TensorView& out = ctx.out(0);
  VDRT_CHECK(dtype_attribute(ctx.attrs, "to") == out.dtype, "Cast output type does not match 'to'");
  cast_into(ctx.in(0), out, ctx.attrs.get_int("saturate", 1) != 0);
}

void cast_like_kernel(KernelContext& ctx) {
  TensorView& out = ctx.out(0);
  VDRT_CHECK(ctx.in(1).dtype == out.dtype, "CastLike output type does not match target_type");
  cast_into(ctx.in(0), out, ctx.attrs.get_int("saturate", 1) != 0);
}

}  // namespace

VDRT_CPU_KERNEL("", "Cast", cast_kernel);
VDRT_CPU_KERNEL("", "CastLike", cast_like_kernel);

}  // namespace vdrt::cpu
