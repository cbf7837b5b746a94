// Two-operand elementwise ops with numpy broadcasting (arithmetic,
// comparison, logic, bitwise) and the variadic Sum/Mean/Max/Min. All go
// through binary_loop: collapsed broadcast dims, runs of the innermost dim,
// tbb-parallel over blocks of the flat output. Integer division checks for
// zero divisors up front instead of trapping.
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "kernels/cpu/binary_loop.h"
#include "kernels/cpu/dtype_dispatch.h"
#include "kernels/cpu/half_float.h"
#include "kernels/cpu/kernel.h"
#include "kernels/cpu/wrapping.h"

namespace vdrt::cpu {
namespace {


struct AddOp { template <typename T> T operator()(T a, T b) const { return wrapping_add(a, b); } };
struct SubOp { template <typename T> T operator()(T a, T b) const { return wrapping_sub(a, b); } };
struct MulOp { template <typename T> T operator()(T a, T b) const { return wrapping_mul(a, b); } };
struct DivOp {
  template <typename T> T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>) return a / b;
    // Divisors were checked for zero; -1 avoids the INT_MIN / -1 trap.
    else if constexpr (std::is_signed_v<T>) return b == -1 ? wrapping_neg(a) : static_cast<T>(a / b);
    else return static_cast<T>(a / b);
  }
};
// numpy's maximum/minimum: NaN in either operand wins.
struct MaxOp {
  template <typename T> T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>) return a != a ? a : (b != b ? b : (a < b ? b : a));
    else return a < b ? b : a;
  }
};
struct MinOp {
  template <typename T> T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>) return a != a ? a : (b != b ? b : (b < a ? b : a));
    else return b < a ? b : a;
  }
};
// Mod with fmod=0: the result takes the divisor's sign (Python, numpy.mod).
struct FloorModOp {
  template <typename T> T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>) {
      T r = std::fmod(a, b);
      return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
    } else if constexpr (std::is_signed_v<T>) {
      if (b == -1) return 0;
      T r = static_cast<T>(a % b);
      return (r != 0 && ((r < 0) != (b < 0))) ? static_cast<T>(r + b) : r;
    } else {
      return static_cast<T>(a % b);
    }
  }
};
// Mod with fmod=1: C's fmod, the result takes the dividend's sign.
struct TruncModOp {
  template <typename T> T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>) return std::fmod(a, b);
    else if constexpr (std::is_signed_v<T>) return b == -1 ? T(0) : static_cast<T>(a % b);
    else return static_cast<T>(a % b);
  }
};
struct PReluOp { template <typename T> T operator()(T x, T slope) const { return x < 0 ? wrapping_mul(slope, x) : x; } };
struct BitAndOp { template <typename T> T operator()(T a, T b) const { return static_cast<T>(a & b); } };
struct BitOrOp { template <typename T> T operator()(T a, T b) const { return static_cast<T>(a | b); } };
struct BitXorOp { template <typename T> T operator()(T a, T b) const { return static_cast<T>(a ^ b); } };

struct EqualOp { template <typename T> uint8_t operator()(T a, T b) const { return a == b; } };
struct LessOp { template <typename T> uint8_t operator()(T a, T b) const { return a < b; } };
struct LessEqOp { template <typename T> uint8_t operator()(T a, T b) const { return a <= b; } };
struct GreaterOp { template <typename T> uint8_t operator()(T a, T b) const { return a > b; } };
struct GreaterEqOp { template <typename T> uint8_t operator()(T a, T b) const { return a >= b; } };
struct AndOp { uint8_t operator()(uint8_t a, uint8_t b) const { return (a != 0) & (b != 0); } };
struct OrOp { uint8_t operator()(uint8_t a, uint8_t b) const { return (a != 0) | (b != 0); } };
struct XorOp { uint8_t operator()(uint8_t a, uint8_t b) const { return (a != 0) ^ (b != 0); } };

void check_same_dtype(const KernelContext& ctx, const char* op) {
  for (size_t i = 1; i < ctx.inputs.size(); ++i)
    if (ctx.has(i) && ctx.in(i).dtype != ctx.in(0).dtype)
      throw Error(std::string(op) + ": inputs have different dtypes (" + dtype_name(ctx.in(0).dtype) + " and " +
                  dtype_name(ctx.in(i).dtype) + ")");
}

template <typename T>
void check_no_zero_divisor(const TensorView& b) {
  if constexpr (!std::is_floating_point_v<T>) {
    const T* p = static_cast<const T*>(b.data);
    for (int64_t i = 0, n = b.numel(); i < n; ++i)
      if (p[i] == 0) throw Error("integer division by zero");
  }
}

// Arithmetic ops whose output has the inputs' dtype.
template <typename Op, bool IntegerOnly = false, bool CheckDivisor = false>
KernelFn arithmetic(const char* name) {
  return with_half_float([name](KernelContext& ctx) {
    check_same_dtype(ctx, name);
    dispatch_numeric(ctx.in(0).dtype, name, [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (IntegerOnly && std::is_floating_point_v<T>) {
        throw Error(std::string(name) + " needs integer inputs");
      } else {
        if constexpr (CheckDivisor) check_no_zero_divisor<T>(ctx.in(1));
        binary_loop<T, T>(ctx.in(0), ctx.in(1), ctx.out(0), Op{});
      }
    });
  });
}

template <typename Op>
KernelFn comparison(const char* name) {
  return with_half_float([name](KernelContext& ctx) {
    check_same_dtype(ctx, name);
    dispatch_numeric_or_bool(ctx.in(0).dtype, name, [&](auto tag) {
      using T = typename decltype(tag)::type;
      binary_loop<T, uint8_t>(ctx.in(0), ctx.in(1), ctx.out(0), Op{});
    });
  });
}

template <typename Op>
KernelFn logical(const char* name) {
  return [name](KernelContext& ctx) {
    for (size_t i = 0; i < 2; ++i)
      VDRT_CHECK(ctx.in(i).dtype == DType::Bool, std::string(name) + " needs bool inputs");
    binary_loop<uint8_t, uint8_t>(ctx.in(0), ctx.in(1), ctx.out(0), Op{});
  };
}

void mod_kernel(KernelContext& ctx) {
  check_same_dtype(ctx, "Mod");
  const bool fmod = ctx.attrs.get_int("fmod", 0) != 0;
  dispatch_numeric(ctx.in(0).dtype, "Mod", [&](auto tag) {
    using T = typename decltype(tag)::type;
    check_no_zero_divisor<T>(ctx.in(1));
    if (fmod) binary_loop<T, T>(ctx.in(0), ctx.in(1), ctx.out(0), TruncModOp{});
    else binary_loop<T, T>(ctx.in(0), ctx.in(1), ctx.out(0), FloorModOp{});
  });
}

// Sum, Mean, Max, Min over any number of inputs: the first step broadcasts
// inputs 0 and 1 into the output, later steps fold input i into it.
template <typename Op>
void fold_inputs(KernelContext& ctx, const char* name) {
  check_same_dtype(ctx, name);
  TensorView& out = ctx.out(0);
  dispatch_numeric(out.dtype, name, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* po = static_cast<T*>(out.data);
    const TensorView& first = ctx.in(0);
    if (ctx.inputs.size() == 1) {
      binary_loop(static_cast<const T*>(first.data), first.dims, static_cast<const T*>(first.data), first.dims, po,
                  out.dims, [](T a, T) { return a; });
      return;
    }
    binary_loop<T, T>(first, ctx.in(1), out, Op{});
    for (size_t i = 2; i < ctx.inputs.size(); ++i)
      binary_loop(static_cast<const T*>(po), out.dims, static_cast<const T*>(ctx.in(i).data), ctx.in(i).dims, po,
                  out.dims, Op{});
  });
}

void mean_kernel(KernelContext& ctx) {
  fold_inputs<AddOp>(ctx, "Mean");
  TensorView& out = ctx.out(0);
  dispatch_float(out.dtype, "Mean", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = static_cast<T*>(out.data);
    const T inv = T(1) / static_cast<T>(ctx.inputs.size());
    for (int64_t i = 0, n = out.numel(); i < n; ++i) p[i] *= inv;
  });
}

// Pow allows a different exponent dtype; the output has the base's dtype.
template <typename T, typename E>
T pow_mixed(T base, E e) {
  if constexpr (!std::is_floating_point_v<T> && !std::is_floating_point_v<E>) {
    // Integer power by squaring: exact where double would round.
    if (e < 0) return base == 1 ? T(1) : (base == T(-1) ? (e % 2 ? T(-1) : T(1)) : T(0));
    T r = 1, b = base;
    for (auto k = static_cast<uint64_t>(e); k; k >>= 1) {
      if (k & 1) r = wrapping_mul(r, b);
      b = wrapping_mul(b, b);
    }
    return r;
  } else if constexpr (std::is_same_v<T, float> && std::is_same_v<E, float>) {
    return std::pow(base, e);
  } else {
    return static_cast<T>(std::pow(static_cast<double>(base), static_cast<double>(e)));
  }
}

void pow_f32_scalar_exponent(const TensorView& a, float e, TensorView& out) {
  const float* x = static_cast<const float*>(a.data);
  float* y = static_cast<float*>(out.data);
  const int64_t n = out.numel();
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, n, kElementwiseGrain), [&](const tbb::blocked_range<int64_t>& r) {
    if (e == 2.0f) for (int64_t i = r.begin(); i < r.end(); ++i) y[i] = x[i] * x[i];
    else if (e == 0.5f) for (int64_t i = r.begin(); i < r.end(); ++i) y[i] = std::sqrt(x[i]);
    else if (e == 1.0f) for (int64_t i = r.begin(); i < r.end(); ++i) y[i] = x[i];
    else if (e == 3.0f) for (int64_t i = r.begin(); i < r.end(); ++i) y[i] = x[i] * x[i] * x[i];
    else for (int64_t i = r.begin(); i < r.end(); ++i) y[i] = std::pow(x[i], e);
  });
}

void pow_kernel(KernelContext& ctx) {
  const TensorView &a = ctx.in(0), &b = ctx.in(1);
  TensorView& out = ctx.out(0);
  if (a.dtype == DType::F32 && b.dtype == DType::F32 && b.numel() == 1 && a.dims == out.dims) {
    pow_f32_scalar_exponent(a, *static_cast<const float*>(b.data), out);
    return;
  }
  dispatch_numeric(a.dtype, "Pow", [&](auto base_tag) {
    using T = typename decltype(base_tag)::type;
    dispatch_numeric(b.dtype, "Pow", [&](auto exp_tag) {
      using E = typename decltype(exp_tag)::type;
      binary_loop(static_cast<const T*>(a.data), a.dims, static_cast<const E*>(b.data), b.dims,
                  static_cast<T*>(out.data), out.dims, [](T x, E e) { return pow_mixed<T, E>(x, e); });
    });
  });
}

VDRT_CPU_KERNEL("", "Add", arithmetic<AddOp>("Add"));
VDRT_CPU_KERNEL("", "Sub", arithmetic<SubOp>("Sub"));
VDRT_CPU_KERNEL("", "Mul", arithmetic<MulOp>("Mul"));
VDRT_CPU_KERNEL("", "Div", (arithmetic<DivOp, false, true>("Div")));
VDRT_CPU_KERNEL("", "PRelu", arithmetic<PReluOp>("PRelu"));
VDRT_CPU_KERNEL("", "BitwiseAnd", (arithmetic<BitAndOp, true>("BitwiseAnd")));
VDRT_CPU_KERNEL("", "BitwiseOr", (arithmetic<BitOrOp, true>("BitwiseOr")));
VDRT_CPU_KERNEL("", "BitwiseXor", (arithmetic<BitXorOp, true>("BitwiseXor")));
VDRT_CPU_KERNEL("", "Mod", with_half_float(mod_kernel));
VDRT_CPU_KERNEL("", "Pow", with_half_float(pow_kernel));
VDRT_CPU_KERNEL("", "Equal", comparison<EqualOp>("Equal"));
VDRT_CPU_KERNEL("", "Less", comparison<LessOp>("Less"));
VDRT_CPU_KERNEL("", "LessOrEqual", comparison<LessEqOp>("LessOrEqual"));
VDRT_CPU_KERNEL("", "Greater", comparison<GreaterOp>("Greater"));
VDRT_CPU_KERNEL("", "GreaterOrEqual", comparison<GreaterEqOp>("GreaterOrEqual"));
VDRT_CPU_KERNEL("", "And", logical<AndOp>("And"));
VDRT_CPU_KERNEL("", "Or", logical<OrOp>("Or"));
VDRT_CPU_KERNEL("", "Xor", logical<XorOp>("Xor"));
VDRT_CPU_KERNEL("", "Sum", with_half_float([](KernelContext& c) { fold_inputs<AddOp>(c, "Sum"); }));
VDRT_CPU_KERNEL("", "Max", with_half_float([](KernelContext& c) { fold_inputs<MaxOp>(c, "Max"); }));
VDRT_CPU_KERNEL("", "Min", with_half_float([](KernelContext& c) { fold_inputs<MinOp>(c, "Min"); }));
VDRT_CPU_KERNEL("", "Mean", with_half_float(mean_kernel));

}  // namespace
}  // namespace vdrt::cpu
