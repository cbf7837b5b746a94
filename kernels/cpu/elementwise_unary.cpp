// One-operand elementwise ops. f32 runs through per-op loops compiled for
// AVX2 and baseline (VDRT_MULTIVERSION) over contiguous blocks, tbb-parallel;
// exp/tanh/erf/sigmoid use the vectorisable approximations of vector_math.h.
// f64 uses libm, f16/bf16 go through f32, and the integer-capable ops
// (Abs, Neg, Sign, Relu, Clip, BitwiseNot) have templated integer paths.
#include <cmath>
#include <limits>
#include <type_traits>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include "kernels/cpu/dtype_dispatch.h"
#include "kernels/cpu/half_float.h"
#include "kernels/cpu/kernel.h"
#include "kernels/cpu/multiversion.h"
#include "kernels/cpu/vector_math.h"
#include "kernels/cpu/wrapping.h"

namespace vdrt::cpu {
namespace {

constexpr int64_t kUnaryGrain = 16384;

struct UnaryParams {
  float alpha = 0, beta = 0, gamma = 0;
};
using F32Loop = void (*)(const float*, float*, int64_t, const UnaryParams&);
using F64Fn = double (*)(double, const UnaryParams&);
using ParamsFn = UnaryParams (*)(const AttributeMap&);

#define VDRT_F32_LOOP(fname, expr)                                                    \
  VDRT_MULTIVERSION void fname(const float* x, float* y, int64_t n, const UnaryParams& p) { \
    for (int64_t i = 0; i < n; ++i) {                                                 \
      const float v = x[i];                                                           \
      y[i] = (expr);                                                                  \
    }                                                                                 \
  }

float softplus_f(float v) { return (v > 0 ? v : 0.0f) + std::log1p(vmath::exp(-std::fabs(v))); }
double softplus_d(double v) { return (v > 0 ? v : 0.0) + std::log1p(std::exp(-std::fabs(v))); }

VDRT_F32_LOOP(abs_f32, std::fabs(v))
VDRT_F32_LOOP(neg_f32, -v)
VDRT_F32_LOOP(sqrt_f32, std::sqrt(v))
VDRT_F32_LOOP(reciprocal_f32, 1.0f / v)
VDRT_F32_LOOP(exp_f32, vmath::exp(v))
VDRT_F32_LOOP(log_f32, std::log(v))
VDRT_F32_LOOP(cos_f32, std::cos(v))
VDRT_F32_LOOP(sin_f32, std::sin(v))
VDRT_F32_LOOP(tan_f32, std::tan(v))
VDRT_F32_LOOP(acos_f32, std::acos(v))
VDRT_F32_LOOP(asin_f32, std::asin(v))
VDRT_F32_LOOP(atan_f32, std::atan(v))
VDRT_F32_LOOP(sinh_f32, std::sinh(v))
VDRT_F32_LOOP(cosh_f32, std::cosh(v))
VDRT_F32_LOOP(asinh_f32, std::asinh(v))
VDRT_F32_LOOP(acosh_f32, std::acosh(v))
VDRT_F32_LOOP(atanh_f32, std::atanh(v))
VDRT_F32_LOOP(tanh_f32, vmath::tanh(v))
VDRT_F32_LOOP(sigmoid_f32, vmath::sigmoid(v))
VDRT_F32_LOOP(erf_f32, vmath::erf(v))
VDRT_F32_LOOP(relu_f32, v < 0 ? 0.0f : v)
VDRT_F32_LOOP(leaky_relu_f32, v < 0 ? p.alpha * v : v)
VDRT_F32_LOOP(elu_f32, v < 0 ? p.alpha * std::expm1(v) : v)
VDRT_F32_LOOP(selu_f32, v <= 0 ? p.gamma * (p.alpha * vmath::exp(v) - p.alpha) : p.gamma * v)
VDRT_F32_LOOP(celu_f32, (v > 0 ? v : 0.0f) + std::fmin(0.0f, p.alpha * std::expm1(v / p.alpha)))
VDRT_F32_LOOP(hard_sigmoid_f32, std::fmax(0.0f, std::fmin(1.0f, p.alpha * v + p.beta)))
VDRT_F32_LOOP(hard_swish_f32, v * std::fmax(0.0f, std::fmin(1.0f, v * (1.0f / 6.0f) + 0.5f)))
VDRT_F32_LOOP(softplus_f32, softplus_f(v))
VDRT_F32_LOOP(softsign_f32, v / (1.0f + std::fabs(v)))
VDRT_F32_LOOP(mish_f32, v * vmath::tanh(softplus_f(v)))
VDRT_F32_LOOP(thresholded_relu_f32, v > p.alpha ? v : 0.0f)
VDRT_F32_LOOP(shrink_f32, v < -p.alpha ? v + p.beta : (v > p.alpha ? v - p.beta : 0.0f))
VDRT_F32_LOOP(floor_f32, std::floor(v))
VDRT_F32_LOOP(ceil_f32, std::ceil(v))
VDRT_F32_LOOP(round_f32, std::nearbyint(v))
VDRT_F32_LOOP(sign_f32, v > 0 ? 1.0f : (v < 0 ? -1.0f : v))
VDRT_F32_LOOP(gelu_f32, vmath::gelu(v))
VDRT_F32_LOOP(gelu_tanh_f32, vmath::gelu_tanh(v))

double gelu_d(double v, const UnaryParams&) { return 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0))); }
double gelu_tanh_d(double v, const UnaryParams&) {
  return 0.5 * v * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v)));
}

UnaryParams no_params(const AttributeMap&) { return {}; }

void run_float_unary(KernelContext& ctx, F32Loop f32, F64Fn f64, const UnaryParams& p, const char* name) {
  const TensorView& in = ctx.in(0);
  TensorView& out = ctx.out(0);
  const int64_t n = out.numel();
  if (in.dtype == DType::F32) {
    const float* x = static_cast<const float*>(in.data);
    float* y = static_cast<float*>(out.data);
    if (n <= kUnaryGrain) {
      f32(x, y, n, p);
      return;
    }
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, n, kUnaryGrain), [&](const tbb::blocked_range<int64_t>& r) {
      f32(x + r.begin(), y + r.begin(), r.size(), p);
    });
  } else if (in.dtype == DType::F64) {
    const double* x = static_cast<const double*>(in.data);
    double* y = static_cast<double*>(out.data);
    for (int64_t i = 0; i < n; ++i) y[i] = f64(x[i], p);
  } else {
    throw Error(std::string(name) + " does not support dtype " + dtype_name(in.dtype));
  }
}

KernelFn float_unary(const char* name, F32Loop f32, F64Fn f64, ParamsFn params = no_params) {
  return with_half_float([=](KernelContext& ctx) { run_float_unary(ctx, f32, f64, params(ctx.attrs), name); });
}

// Ops that also take integers: floats use the f32 loop, integers `IntOp`.
template <typename IntOp>
KernelFn numeric_unary(const char* name, F32Loop f32, F64Fn f64) {
  return with_half_float([=](KernelContext& ctx) {
    const DType t = ctx.in(0).dtype;
    if (t == DType::F32 || t == DType::F64) {
      run_float_unary(ctx, f32, f64, {}, name);
      return;
    }
    dispatch_numeric(t, name, [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* x = static_cast<const T*>(ctx.in(0).data);
      T* y = static_cast<T*>(ctx.out(0).data);
      for (int64_t i = 0, n = ctx.out(0).numel(); i < n; ++i) y[i] = IntOp{}(x[i]);
    });
  });
}

struct IntAbs { template <typename T> T operator()(T v) const { if constexpr (std::is_signed_v<T>) return v < 0 ? wrapping_neg(v) : v; else return v; } };
struct IntNeg { template <typename T> T operator()(T v) const { return wrapping_neg(v); } };
struct IntSign { template <typename T> T operator()(T v) const { return static_cast<T>((v > 0) - (v < 0)); } };
struct IntRelu { template <typename T> T operator()(T v) const { return v < 0 ? T(0) : v; } };

void not_kernel(KernelContext& ctx) {
  VDRT_CHECK(ctx.in(0).dtype == DType::Bool, "Not needs a bool input");
  const auto* x = static_cast<const uint8_t*>(ctx.in(0).data);
  auto* y = static_cast<uint8_t*>(ctx.out(0).data);
  for (int64_t i = 0, n = ctx.out(0).numel(); i < n; ++i) y[i] = x[i] == 0;
}

void bitwise_not_kernel(KernelContext& ctx) {
  dispatch_numeric(ctx.in(0).dtype, "BitwiseNot", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_floating_point_v<T>) {
      throw Error("BitwiseNot needs an integer input");
    } else {
      const T* x = static_cast<const T*>(ctx.in(0).data);
      T* y = static_cast<T*>(ctx.out(0).data);
      for (int64_t i = 0, n = ctx.out(0).numel(); i < n; ++i) y[i] = static_cast<T>(~x[i]);
    }
  });
}

// IsNaN / IsInf read floats and write bools.
void is_nan_kernel(KernelContext& ctx) {
  dispatch_float(ctx.in(0).dtype, "IsNaN", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* x = static_cast<const T*>(ctx.in(0).data);
    auto* y = static_cast<uint8_t*>(ctx.out(0).data);
    for (int64_t i = 0, n = ctx.out(0).numel(); i < n; ++i) y[i] = std::isnan(x[i]);
  });
}

void is_inf_kernel(KernelContext& ctx) {
  const bool neg = ctx.attrs.get_int("detect_negative", 1) != 0, pos = ctx.attrs.get_int("detect_positive", 1) != 0;
  dispatch_float(ctx.in(0).dtype, "IsInf", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* x = static_cast<const T*>(ctx.in(0).data);
    auto* y = static_cast<uint8_t*>(ctx.out(0).data);
    for (int64_t i = 0, n = ctx.out(0).numel(); i < n; ++i)
      y[i] = std::isinf(x[i]) && ((x[i] > 0 && pos) || (x[i] < 0 && neg));
  });
}

// Clip: bounds are attributes before opset 11 and optional scalar inputs from 11.
void clip_kernel(KernelContext& ctx) {
  dispatch_numeric(ctx.in(0).dtype, "Clip", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T lo = std::numeric_limits<T>::lowest(), hi = std::numeric_limits<T>::max();
    if (ctx.opset > 0 && ctx.opset < 11) {
      lo = static_cast<T>(ctx.attrs.get_float("min", -std::numeric_limits<float>::max()));
      hi = static_cast<T>(ctx.attrs.get_float("max", std::numeric_limits<float>::max()));
    } else {
      auto bound = [&](size_t i, T& v) {
        if (!ctx.has(i)) return;
        const TensorView& b = ctx.in(i);
        VDRT_CHECK(b.numel() == 1, "Clip bounds must be scalars, got shape " + dims_str(b.dims));
        VDRT_CHECK(b.dtype == ctx.in(0).dtype, "Clip bounds must have the input's dtype");
        v = *static_cast<const T*>(b.data);
      };
      bound(1, lo);
      bound(2, hi);
    }
    const T* x = static_cast<const T*>(ctx.in(0).data);
    T* y = static_cast<T*>(ctx.out(0).data);
    const int64_t n = ctx.out(0).numel();
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, n, kUnaryGrain), [&](const tbb::blocked_range<int64_t>& r) {
      // NaN passes through unchanged, as in numpy.clip; max wins when lo > hi.
      for (int64_t i = r.begin(); i < r.end(); ++i) {
        const T v = x[i] < lo ? lo : x[i];
        y[i] = v > hi ? hi : v;
      }
    });
  });
}

KernelFn gelu_kernel() {
  return with_half_float([](KernelContext& ctx) {
    const std::string mode = ctx.attrs.get_string("approximate", "none");
    if (mode == "none") run_float_unary(ctx, gelu_f32, gelu_d, {}, "Gelu");
    else if (mode == "tanh") run_float_unary(ctx, gelu_tanh_f32, gelu_tanh_d, {}, "Gelu");
    else throw Error("Gelu: approximate must be 'none' or 'tanh', got '" + mode + "'");
  });
}

#define VDRT_F64(expr) [](double v, const UnaryParams& p) -> double { (void)p; return (expr); }

VDRT_CPU_KERNEL("", "Abs", numeric_unary<IntAbs>("Abs", abs_f32, VDRT_F64(std::fabs(v))));
VDRT_CPU_KERNEL("", "Neg", numeric_unary<IntNeg>("Neg", neg_f32, VDRT_F64(-v)));
VDRT_CPU_KERNEL("", "Sign", numeric_unary<IntSign>("Sign", sign_f32, VDRT_F64(v > 0 ? 1.0 : (v < 0 ? -1.0 : v))));
VDRT_CPU_KERNEL("", "Relu", numeric_unary<IntRelu>("Relu", relu_f32, VDRT_F64(v < 0 ? 0.0 : v)));
VDRT_CPU_KERNEL("", "Sqrt", float_unary("Sqrt", sqrt_f32, VDRT_F64(std::sqrt(v))));
VDRT_CPU_KERNEL("", "Reciprocal", float_unary("Reciprocal", reciprocal_f32, VDRT_F64(1.0 / v)));
VDRT_CPU_KERNEL("", "Exp", float_unary("Exp", exp_f32, VDRT_F64(std::exp(v))));
VDRT_CPU_KERNEL("", "Log", float_unary("Log", log_f32, VDRT_F64(std::log(v))));
VDRT_CPU_KERNEL("", "Cos", float_unary("Cos", cos_f32, VDRT_F64(std::cos(v))));
VDRT_CPU_KERNEL("", "Sin", float_unary("Sin", sin_f32, VDRT_F64(std::sin(v))));
VDRT_CPU_KERNEL("", "Tan", float_unary("Tan", tan_f32, VDRT_F64(std::tan(v))));
VDRT_CPU_KERNEL("", "Acos", float_unary("Acos", acos_f32, VDRT_F64(std::acos(v))));
VDRT_CPU_KERNEL("", "Asin", float_unary("Asin", asin_f32, VDRT_F64(std::asin(v))));
VDRT_CPU_KERNEL("", "Atan", float_unary("Atan", atan_f32, VDRT_F64(std::atan(v))));
VDRT_CPU_KERNEL("", "Sinh", float_unary("Sinh", sinh_f32, VDRT_F64(std::sinh(v))));
VDRT_CPU_KERNEL("", "Cosh", float_unary("Cosh", cosh_f32, VDRT_F64(std::cosh(v))));
VDRT_CPU_KERNEL("", "Asinh", float_unary("Asinh", asinh_f32, VDRT_F64(std::asinh(v))));
VDRT_CPU_KERNEL("", "Acosh", float_unary("Acosh", acosh_f32, VDRT_F64(std::acosh(v))));
VDRT_CPU_KERNEL("", "Atanh", float_unary("Atanh", atanh_f32, VDRT_F64(std::atanh(v))));
VDRT_CPU_KERNEL("", "Tanh", float_unary("Tanh", tanh_f32, VDRT_F64(std::tanh(v))));
VDRT_CPU_KERNEL("", "Sigmoid", float_unary("Sigmoid", sigmoid_f32, VDRT_F64(1.0 / (1.0 + std::exp(-v)))));
VDRT_CPU_KERNEL("", "Erf", float_unary("Erf", erf_f32, VDRT_F64(std::erf(v))));
VDRT_CPU_KERNEL("", "Floor", float_unary("Floor", floor_f32, VDRT_F64(std::floor(v))));
VDRT_CPU_KERNEL("", "Ceil", float_unary("Ceil", ceil_f32, VDRT_F64(std::ceil(v))));
VDRT_CPU_KERNEL("", "Round", float_unary("Round", round_f32, VDRT_F64(std::nearbyint(v))));
VDRT_CPU_KERNEL("", "Softplus", float_unary("Softplus", softplus_f32, VDRT_F64(softplus_d(v))));
VDRT_CPU_KERNEL("", "Softsign", float_unary("Softsign", softsign_f32, VDRT_F64(v / (1.0 + std::fabs(v)))));
VDRT_CPU_KERNEL("", "Mish", float_unary("Mish", mish_f32, VDRT_F64(v * std::tanh(softplus_d(v)))));
VDRT_CPU_KERNEL("", "HardSwish", float_unary("HardSwish", hard_swish_f32,
                                             VDRT_F64(v * std::fmax(0.0, std::fmin(1.0, v / 6.0 + 0.5)))));
VDRT_CPU_KERNEL("", "LeakyRelu",
                float_unary("LeakyRelu", leaky_relu_f32, VDRT_F64(v < 0 ? p.alpha * v : v),
                            [](const AttributeMap& a) { return UnaryParams{a.get_float("alpha", 0.01f)}; }));
VDRT_CPU_KERNEL("", "Elu", float_unary("Elu", elu_f32, VDRT_F64(v < 0 ? p.alpha * std::expm1(v) : v),
                                       [](const AttributeMap& a) { return UnaryParams{a.get_float("alpha", 1.0f)}; }));
VDRT_CPU_KERNEL("", "Celu",
                float_unary("Celu", celu_f32,
                            VDRT_F64(std::fmax(0.0, v) + std::fmin(0.0, p.alpha * std::expm1(v / p.alpha))),
                            [](const AttributeMap& a) { return UnaryParams{a.get_float("alpha", 1.0f)}; }));
VDRT_CPU_KERNEL("", "Selu",
                float_unary("Selu", selu_f32,
                            VDRT_F64(v <= 0 ? p.gamma * (p.alpha * std::exp(v) - p.alpha) : p.gamma * v),
                            [](const AttributeMap& a) {
                              return UnaryParams{a.get_float("alpha", 1.67326319217681884765625f), 0,
                                                 a.get_float("gamma", 1.05070102214813232421875f)};
                            }));
VDRT_CPU_KERNEL("", "HardSigmoid",
                float_unary("HardSigmoid", hard_sigmoid_f32,
                            VDRT_F64(std::fmax(0.0, std::fmin(1.0, p.alpha * v + p.beta))),
                            [](const AttributeMap& a) {
                              return UnaryParams{a.get_float("alpha", 0.2f), a.get_float("beta", 0.5f)};
                            }));
VDRT_CPU_KERNEL("", "ThresholdedRelu",
                float_unary("ThresholdedRelu", thresholded_relu_f32, VDRT_F64(v > p.alpha ? v : 0.0),
                            [](const AttributeMap& a) { return UnaryParams{a.get_float("alpha", 1.0f)}; }));
VDRT_CPU_KERNEL("", "Shrink",
                float_unary("Shrink", shrink_f32,
                            VDRT_F64(v < -p.alpha ? v + p.beta : (v > p.alpha ? v - p.beta : 0.0)),
                            [](const AttributeMap& a) {
                              return UnaryParams{a.get_float("lambd", 0.5f), a.get_float("bias", 0.0f)};
                            }));
VDRT_CPU_KERNEL("", "Gelu", gelu_kernel());
VDRT_CPU_KERNEL("", "Clip", with_half_float(clip_kernel));
VDRT_CPU_KERNEL("", "Not", not_kernel);
VDRT_CPU_KERNEL("", "BitwiseNot", bitwise_not_kernel);
VDRT_CPU_KERNEL("", "IsNaN", with_half_float(is_nan_kernel));
VDRT_CPU_KERNEL("", "IsInf", with_half_float(is_inf_kernel));

}  // namespace
}  // namespace vdrt::cpu
